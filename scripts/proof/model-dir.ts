/**
 * Node helpers shared by the proofs: a Hugging Face model folder on disk through src/io, and the tfjs backend.
 * Folders with a tokenizer go through io's loadModel (the app's path); the golden test model has no vocabulary,
 * so for it the same io pieces (config parse, safetensors, weight normalisation) run without a tokenizer.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseBertConfig } from '../../src/engine/config';
import type { BertConfig, StateDict } from '../../src/engine/types';
import { loadModel, type NamedBytes } from '../../src/io/model/model-source';
import { normalizeBertWeights } from '../../src/io/model/weights';
import { parseSafetensors, toStateDict } from '../../src/io/safetensors';
import type { Tokenizer } from '../../src/io/tokenizer/tokenizer';

export interface ModelDir {
  config: BertConfig;
  weights: StateDict;
  /** Tensors the engine initialises itself (e.g. the classifier of a pre-trained checkpoint). */
  missing: string[];
  tokenizer: Tokenizer | null;
}

export async function loadModelDir(dir: string): Promise<ModelDir> {
  const hasTokenizer = existsSync(join(dir, 'vocab.txt')) || existsSync(join(dir, 'tokenizer.json'));
  if (hasTokenizer) {
    const files: NamedBytes[] = readdirSync(dir)
      .filter((name) => /\.(json|txt|safetensors|bin)$/.test(name))
      .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
    const loaded = await loadModel({ kind: 'files', files }, { cache: null });
    return { config: loaded.config, weights: loaded.weights, missing: loaded.missing, tokenizer: loaded.tokenizer };
  }
  const config = parseBertConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
  const file = 'model.safetensors';
  const checkpoint = toStateDict(parseSafetensors(new Uint8Array(readFileSync(join(dir, file))), file).tensors);
  const normalized = normalizeBertWeights(checkpoint, config, file);
  return { config, weights: normalized.weights, missing: normalized.missing, tokenizer: null };
}

/**
 * cpu (default) or webgpu through Dawn: SwiftShader here, the GPU's Vulkan driver where VK_DRIVER_FILES names it
 * (the device machine). Returns the adapter in words, for the proof's record.
 */
export async function selectBackend(name: string): Promise<string> {
  if (name === 'webgpu') {
    const { setupWebGPU } = await import('../../bench/webgpu-node');
    const { adapterInfo } = await setupWebGPU();
    // As the worker: small ops stay on the GPU.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    if (tf.getBackend() !== 'webgpu') throw new Error('webgpu backend did not start');
    return adapterInfo;
  }
  if (name !== 'cpu') throw new Error(`unknown backend "${name}" (cpu or webgpu)`);
  await tf.setBackend('cpu');
  await tf.ready();
  return 'tfjs cpu';
}

/** `--name value` flags and positionals from process.argv. */
export function parseArgs(argv: readonly string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
      i++;
    } else {
      positional.push(arg);
    }
  }
  return { positional, flags };
}
