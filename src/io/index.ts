/** Public surface of the io layer (tensor-free: plain typed arrays and StateDicts). */
export * from './safetensors';
export * from './torch-bin';
export * from './presets';
export * from './tokenizer/wordpiece';
export * from './tokenizer/load';
export * from './model/fetch';
export * from './model/model-source';
export * from './model/weights';
export * from './datasets';
export * from './export/peft';
export * from './export/native';
export * from './export/logs';
export * from './export/zip';
