/**
 * Loads a checkpoint of any family (config + weights + tokenizer) from the Hugging Face Hub, from user files, or
 * from a folder served by the app (the built-in model). Hub files come from
 * `${hubBase}/${repo}/resolve/${revision}/${file}` with plain fetch: @huggingface/hub's downloads report
 * no byte progress and its cache is Node-filesystem only, and these URLs are all we need.
 */
import { parseBertConfig } from '../../engine/config';
import { InputError, NetworkError } from '../../engine/errors';
import type { BertConfig, StateDict } from '../../engine/types';
import { parseJson } from '../json';
import { checkModelLimits } from '../limits';
import { parseSafetensors, toStateDict } from '../safetensors';
import { FAMILIES } from '../../engine/families';
import { loadTokenizer, TOKENIZER_FILES } from '../tokenizer/load';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { parseTorchBin, torchBinToStateDict } from '../torch-bin';
import { defaultCache, download, HttpError, type DownloadOptions, type DownloadProgress, type FetchLike, type FileCache } from './fetch';
import { checkBertHeader, normalizeBertWeights } from './weights';

export const DEFAULT_HUB_BASE = 'https://huggingface.co';

export type ModelSource =
  | { kind: 'hub'; repo: string; revision?: string; hubBase?: string }
  | { kind: 'files'; files: readonly (File | NamedBytes)[] }
  /** A folder served over HTTP, e.g. the app's public/models/builtin/. */
  | { kind: 'url'; baseUrl: string; label?: string };

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface LoadModelOptions {
  fetch?: FetchLike;
  /** undefined: Cache Storage when available; null: never cache. */
  cache?: FileCache | null;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface LoadedModel {
  /** Human-readable origin, e.g. `prajjwal1/bert-tiny@main`. */
  name: string;
  /** config.json as read (model_type filled in when an old config lacks it). */
  configJson: Record<string, unknown>;
  config: BertConfig;
  /** BertForSequenceClassification names; classifier (and maybe pooler) absent when listed in `missing`. */
  weights: StateDict;
  missing: string[];
  dropped: string[];
  tokenizer: Tokenizer;
  /** Bytes per file read. */
  sizes: Record<string, number>;
  parameterCount: number;
  weightsFile: 'model.safetensors' | 'pytorch_model.bin';
  warnings: string[];
}

/** Reads one file by name; resolves undefined when the source does not have it. */
type FileReader = (file: string) => Promise<Uint8Array | undefined>;

const WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;

function hubUrl(source: Extract<ModelSource, { kind: 'hub' }>, file: string): string {
  const base = (source.hubBase ?? DEFAULT_HUB_BASE).replace(/\/+$/, '');
  const revision = encodeURIComponent(source.revision ?? 'main');
  return `${base}/${source.repo}/resolve/${revision}/${file}`;
}

const FROM_DISK = 'Or download its files and load them with "From disk".';

/** A failed download as the error that says what to do: fix the id, log in elsewhere, retry, go online. */
function downloadError(error: unknown, describe: string, file: string, hub: { repo: string; revision: string } | null): Error {
  if (error instanceof HttpError) {
    const { status, errorCode } = error;
    if (hub && (errorCode === 'RepoNotFound' || (status === 401 && errorCode === null))) {
      // The Hub answers 401 for a repo that does not exist as for a private one.
      return new InputError(
        `There is no model "${hub.repo}" on the Hugging Face Hub (or it is private).`,
        'Check the id: it is owner/name as in the model page address, e.g. prajjwal1/bert-tiny.',
      );
    }
    if (hub && errorCode === 'RevisionNotFound') {
      return new InputError(`"${hub.repo}" has no revision "${hub.revision}".`, 'Use main, a branch or tag name, or a commit id from the model page.');
    }
    if (status === 401 || status === 403 || errorCode === 'GatedRepo') {
      return new InputError(`${describe}: ${file} needs a login (HTTP ${status}): the model is gated or private.`, `Accept its terms on the model page and ${FROM_DISK.toLowerCase()}`);
    }
    if (status === 429 || status >= 500) {
      return new NetworkError(`${describe}: the server answered HTTP ${status} for ${file}.`, 'It is busy or down for a moment: try again in a minute.');
    }
    return new InputError(`${describe}: downloading ${file} failed with HTTP ${status}.`, `Check the model id and revision. ${FROM_DISK}`);
  }
  // fetch rejects with a TypeError when no answer came at all.
  if (error instanceof TypeError) {
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    return new NetworkError(
      offline ? `${describe}: cannot download ${file}: this browser is offline.` : `${describe}: could not reach the server for ${file} (${error.message}).`,
      offline ? 'Connect to the internet and press Load model again; models you loaded before load from the cache.' : 'Check the connection (or a blocker / proxy) and press Load model again.',
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

function httpReader(urlOf: (file: string) => string, describe: string, options: DownloadOptions, hub: { repo: string; revision: string } | null = null): FileReader {
  return async (file) => {
    try {
      return await download(urlOf(file), file, options);
    } catch (error) {
      // A file the repo does not have: the caller decides whether it was needed.
      if (error instanceof HttpError && error.status === 404 && (error.errorCode === null || error.errorCode === 'EntryNotFound')) return undefined;
      throw downloadError(error, describe, file, hub);
    }
  };
}

function isFile(file: File | NamedBytes): file is File {
  return typeof (file as File).arrayBuffer === 'function';
}

async function filesReader(files: readonly (File | NamedBytes)[]): Promise<FileReader> {
  const byName = new Map<string, File | NamedBytes>();
  for (const file of files) {
    // Folder uploads carry paths ("bert-tiny/config.json"): match on the base name.
    const base = file.name.split(/[\\/]/).pop()!;
    byName.set(base, file);
  }
  return async (name) => {
    const file = byName.get(name);
    if (!file) return undefined;
    // File also has a bytes() method, so tell the two apart by arrayBuffer.
    return isFile(file) ? new Uint8Array(await file.arrayBuffer()) : file.bytes;
  };
}

function describeSource(source: ModelSource): string {
  switch (source.kind) {
    case 'hub':
      return `${source.repo}@${source.revision ?? 'main'}`;
    case 'files':
      return 'local files';
    case 'url':
      return source.label ?? source.baseUrl;
  }
}

/** config.json text -> BertConfig, checked against the limits before anything is sized by it. */
export function readConfigJson(text: string, name: string, warnings: string[] = []): { configJson: Record<string, unknown>; config: BertConfig } {
  const json = parseJson(text, `${name}: config.json`, 'Use the config.json that came with the model.');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputError(`${name}: config.json is not a JSON object.`, 'Use the config.json that came with the model.');
  }
  const configJson = withModelType(json as Record<string, unknown>, warnings);
  const config = parseBertConfig(configJson);
  checkModelLimits(config, `${name}: config.json`);
  return { configJson, config };
}

/** Old configs (e.g. prajjwal1/bert-*) have no model_type: treat BERT-shaped ones as BERT. */
function withModelType(json: Record<string, unknown>, warnings: string[]): Record<string, unknown> {
  if (json.model_type !== undefined) return json;
  const archs = Array.isArray(json.architectures) ? (json.architectures as unknown[]) : [];
  const bertLike = archs.every((a) => typeof a === 'string' && a.startsWith('Bert'));
  if (bertLike && typeof json.hidden_size === 'number' && typeof json.num_hidden_layers === 'number') {
    warnings.push('config.json has no model_type; assuming "bert".');
    return { ...json, model_type: 'bert' };
  }
  return json;
}

export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const name = describeSource(source);
  const cache = options.cache === undefined ? await defaultCache() : options.cache;
  const downloadOptions: DownloadOptions = { fetch: options.fetch, cache, onProgress: options.onProgress, signal: options.signal };
  let read: FileReader;
  if (source.kind === 'hub') {
    // No ".." segment: the id becomes a URL path, and "a/../b" would resolve to another repo (or page).
    if (!/^[\w.-]+(\/[\w.-]+)?$/.test(source.repo) || source.repo.split('/').some((part) => /^\.+$/.test(part) || part.includes('..'))) {
      throw new InputError(`"${source.repo}" is not a Hugging Face repo id.`, 'It is owner/name as in the model page address, e.g. prajjwal1/bert-tiny.');
    }
    if (/^\.+$/.test(source.revision ?? 'main')) throw new InputError(`"${source.revision}" is not a revision.`, 'Use main, a branch or tag name, or a commit id from the model page.');
    read = httpReader((file) => hubUrl(source, file), name, downloadOptions, { repo: source.repo, revision: source.revision ?? 'main' });
  } else if (source.kind === 'url') {
    const base = source.baseUrl.replace(/\/+$/, '');
    // The app serves its own files: no point caching them twice.
    read = httpReader((file) => `${base}/${file}`, name, { ...downloadOptions, cache: options.cache ?? null });
  } else {
    read = await filesReader(source.files);
  }

  const sizes: Record<string, number> = {};
  const warnings: string[] = [];
  const readText = async (file: string) => {
    const bytes = await read(file);
    if (!bytes) return undefined;
    sizes[file] = bytes.byteLength;
    return new TextDecoder().decode(bytes);
  };

  const configText = await readText('config.json');
  if (configText === undefined) {
    throw source.kind === 'hub'
      ? new InputError(`${name} has no config.json: it is not a transformers model, or its files are in a subfolder.`, `Pick a repo of a family the app runs (${Object.values(FAMILIES).map((f) => f.label).join(', ')}); its Files tab lists config.json at the top level.`)
      : new InputError(
          `${name}: config.json is missing.`,
          'Pick all of the model\'s files: config.json, the weights (model.safetensors or pytorch_model.bin) and vocab.txt or tokenizer.json.',
        );
  }
  const { configJson, config } = readConfigJson(configText, name, warnings);

  // Tokenizer before the (large) weights, so a bad repo fails fast.
  const family = FAMILIES[config.family];
  const tokenizerKind = family.tokenizer;
  const tokenizerJson = await readText('tokenizer.json');
  const fallback = tokenizerJson === undefined;
  const vocabTxt = fallback && tokenizerKind === 'wordpiece' ? await readText('vocab.txt') : undefined;
  const vocabJson = fallback && tokenizerKind === 'bpe' ? await readText('vocab.json') : undefined;
  const mergesTxt = vocabJson !== undefined ? await readText('merges.txt') : undefined;
  const spmModel = fallback && tokenizerKind === 'unigram' ? await read('spm.model') : undefined;
  if (spmModel) sizes['spm.model'] = spmModel.byteLength;
  if (tokenizerJson === undefined && vocabTxt === undefined && (vocabJson === undefined || mergesTxt === undefined) && spmModel === undefined) {
    const wanted = TOKENIZER_FILES[tokenizerKind];
    const alternative = wanted.length > 1 ? ` nor ${wanted.slice(1).join(' + ')}` : '';
    throw new InputError(
      `${name}: no tokenizer: neither ${wanted[0]}${alternative} was found.`,
      `${family.label}'s tokenizer needs ${wanted[0]}${wanted.length > 1 ? ` or ${wanted.slice(1).join(' + ')}` : ''}: add it (from disk) or pick a repo that has it.`,
    );
  }
  const tokenizerConfigJson = await readText('tokenizer_config.json');
  const tokenizer = loadTokenizer({ tokenizerJson, vocabTxt, vocabJson, mergesTxt, spmModel, tokenizerConfigJson }, tokenizerKind);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new InputError(`${name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${config.vocabSize} embeddings.`, 'Use the tokenizer files that came with this model.');
  }

  let checkpoint: StateDict | undefined;
  let weightsFile: LoadedModel['weightsFile'] | undefined;
  for (const file of WEIGHT_FILES) {
    const bytes = await read(file);
    if (!bytes) continue;
    sizes[file] = bytes.byteLength;
    weightsFile = file;
    // Shapes against the config from the header, before any tensor data is decoded.
    const checkHeader = (header: ReadonlyMap<string, { shape: readonly number[] }>) => checkBertHeader(header, config, file);
    checkpoint = file === 'model.safetensors' ? toStateDict(parseSafetensors(bytes, file, { checkHeader }).tensors) : torchBinToStateDict(parseTorchBin(bytes, file, { checkHeader }));
    break;
  }
  if (!checkpoint || !weightsFile) {
    const sharded = (await read('model.safetensors.index.json')) ?? (await read('pytorch_model.bin.index.json'));
    throw sharded
      ? new InputError(`${name}: sharded checkpoints (*.index.json) are not supported.`, 'Pick a model small enough for one weights file.')
      : new InputError(`${name}: no weights: neither model.safetensors nor pytorch_model.bin was found.`, 'TensorFlow- or Flax-only repos cannot load here: pick one with PyTorch or safetensors weights.');
  }
  const normalized = normalizeBertWeights(checkpoint, config, weightsFile);
  let parameterCount = 0;
  for (const tensor of normalized.weights.values()) parameterCount += tensor.data.length;
  return {
    name,
    configJson,
    config,
    weights: normalized.weights,
    missing: normalized.missing,
    dropped: normalized.dropped,
    tokenizer,
    sizes,
    parameterCount,
    weightsFile,
    warnings: [...warnings, ...normalized.warnings],
  };
}
