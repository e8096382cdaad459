/** AFLoRA options, their defaults and validation; the PM ablations take a subset. */
import { ATTENTION_KINDS, FFN_KINDS, MODULE_KINDS, type ModuleKind } from '../../engine/types';
import { MethodOptionError } from '../common';
import { stepsPerEpoch, type FreezeSchedule } from './schedule';

/** Which linears' A/B matrices train (and may freeze); the others stay at their random init. */
export type TrainableMatrices = 'ffn' | 'attention' | 'both';
/** Per-element sensitivity: |g| (reference default), |p * g|, |g / p| (paper Fig. 4). */
export type Sensitivity = 'grad' | 'paramGrad' | 'gradOverParam';

export interface AfloraOptions {
  rank: number;
  trainableMatrices: TrainableMatrices;
  sensitivity: Sensitivity;
  /** Paper Table 6 "simultaneously": A and B of a module freeze together, judged by their mean score. */
  freezeTogether: boolean;
  beta1: number;
  beta2: number;
  deltaT: number;
  /** t_i in steps; null: round(tiEpochs x steps per epoch). */
  initialWarmup: number | null;
  /** t_f in steps; null: round(tfFraction x epochs x steps per epoch) (70 %, the paper's 14 of 20 epochs). */
  finalWarmup: number | null;
  tiEpochs: number;
  tfFraction: number;
  /** Initial value of Λd (Λb starts at 0). */
  lambdaDInit: number;
  /** Alias of trainableMatrices (the UI's name); wins when given. */
  abScope?: TrainableMatrices;
}

export const AFLORA_DEFAULTS: AfloraOptions = {
  rank: 4,
  trainableMatrices: 'ffn',
  sensitivity: 'grad',
  freezeTogether: false,
  beta1: 0.85,
  beta2: 0.95,
  deltaT: 10,
  initialWarmup: null,
  finalWarmup: null,
  tiEpochs: 1,
  tfFraction: 0.7,
  lambdaDInit: 0.1,
};

/** The PM ablations: the AFLoRA module with A/B never frozen (pm-trainable) or frozen from step 0 (pm-frozen). */
export interface PmOptions {
  rank: number;
  trainableMatrices: TrainableMatrices;
  lambdaDInit: number;
}

export const PM_DEFAULTS: PmOptions = { rank: 4, trainableMatrices: 'ffn', lambdaDInit: 0.1 };

const MATRIX_SCOPES: Record<TrainableMatrices, readonly ModuleKind[]> = {
  ffn: FFN_KINDS,
  attention: ATTENTION_KINDS,
  both: MODULE_KINDS,
};

export function kindsOf(scope: TrainableMatrices): readonly ModuleKind[] {
  return MATRIX_SCOPES[scope];
}

function fail(message: string): never {
  throw new MethodOptionError(`AFLoRA: ${message}`);
}

function checkKeys(options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) fail(`unknown option "${key}" (known: ${allowed.join(', ')})`);
  }
}

function checkRank(rank: number): void {
  if (!Number.isInteger(rank) || rank < 1) fail(`rank must be a positive integer (got ${rank})`);
}

function checkScope(scope: string): TrainableMatrices {
  if (!(scope in MATRIX_SCOPES)) fail(`trainableMatrices must be one of ffn, attention, both (got ${scope})`);
  return scope as TrainableMatrices;
}

function checkFinite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${name} must be a finite number (got ${value})`);
}

export function checkPmOptions(options: PmOptions): PmOptions {
  checkKeys(options, [...Object.keys(PM_DEFAULTS), 'abScope']);
  checkRank(options.rank);
  checkFinite('lambdaDInit', options.lambdaDInit);
  const scope = checkScope((options as PmOptions & { abScope?: string }).abScope ?? options.trainableMatrices);
  return { ...options, trainableMatrices: scope };
}

/** Validates the options and resolves the alias; throws MethodOptionError with a readable message. */
export function checkAfloraOptions(options: AfloraOptions): AfloraOptions {
  checkKeys(options, [...Object.keys(AFLORA_DEFAULTS), 'abScope']);
  checkRank(options.rank);
  const scope = checkScope(options.abScope ?? options.trainableMatrices);
  if (!['grad', 'paramGrad', 'gradOverParam'].includes(options.sensitivity)) {
    fail(`sensitivity must be grad, paramGrad or gradOverParam (got ${options.sensitivity})`);
  }
  for (const beta of ['beta1', 'beta2'] as const) {
    checkFinite(beta, options[beta]);
    if (options[beta] < 0 || options[beta] >= 1) fail(`${beta} must be in [0, 1) (got ${options[beta]})`);
  }
  if (!Number.isInteger(options.deltaT) || options.deltaT < 1) fail(`deltaT must be a positive integer (got ${options.deltaT})`);
  for (const warmup of ['initialWarmup', 'finalWarmup'] as const) {
    const value = options[warmup];
    if (value !== null && (!Number.isInteger(value) || value < 0)) fail(`${warmup} must be a step count >= 0 or null (got ${value})`);
  }
  checkFinite('tiEpochs', options.tiEpochs);
  checkFinite('tfFraction', options.tfFraction);
  if (options.tiEpochs < 0) fail(`tiEpochs must be >= 0 (got ${options.tiEpochs})`);
  if (options.tfFraction < 0 || options.tfFraction > 1) fail(`tfFraction must be in [0, 1] (got ${options.tfFraction})`);
  checkFinite('lambdaDInit', options.lambdaDInit);
  const resolved: AfloraOptions = { ...options, trainableMatrices: scope };
  delete resolved.abScope;
  return resolved;
}

/** t_i / t_f in steps for a run of `totalSteps` over `epochs` (the reference counts both in whole epochs). */
export function resolveSchedule(options: AfloraOptions, totalSteps: number, epochs: number): FreezeSchedule {
  const perEpoch = stepsPerEpoch(totalSteps, epochs);
  return {
    totalSteps,
    initialWarmup: options.initialWarmup ?? Math.round(options.tiEpochs * perEpoch),
    finalWarmup: options.finalWarmup ?? Math.round(options.tfFraction * epochs * perEpoch),
    deltaT: options.deltaT,
  };
}
