export * from './types';
export { METHODS, getMethod, resolveOptions, UnknownMethodError } from './registry';
export { loraMethod, type LoraOptions } from './lora';
export { eloraMethod, eloraEffectiveRank, type EloraOptions } from './elora';
export { fullMethod, type FullOptions } from './full';
