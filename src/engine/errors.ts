/**
 * The project's typed errors: one kind per thing the page must handle differently, each with a message that
 * says what is wrong and a hint that says what to do. Every layer throws these (the engine is the lowest layer,
 * so they live here); `toAppError` turns anything else thrown into one, so no raw TypeError reaches the user.
 */

export type ErrorKind =
  /** A file or setting the user can fix: the message names it, the hint says how. */
  | 'bad-input'
  /** A well-formed model this app cannot run (not BERT, an unsupported activation, ...). */
  | 'unsupported-model'
  /** A file or value beyond one of the stated limits (io/limits.ts). */
  | 'limit-exceeded'
  /** A download failed: retry, check the connection or the repo id. */
  | 'network'
  /** This browser has no usable WebGPU adapter. */
  | 'webgpu-unavailable'
  /** The GPU device was lost: nothing more can train in this page. */
  | 'device-lost'
  | 'out-of-memory'
  /** NaN or Inf in the loss, the gradients, the weights or the data. */
  | 'numerical'
  /** Our bug: report it. */
  | 'bug';

/** A problem at one line of a file (1-based). */
export interface LineProblem {
  line: number;
  message: string;
}

/** The plain form of an error, as the worker posts it and the page shows it. */
export interface ErrorPayload {
  kind: ErrorKind;
  message: string;
  hint: string;
  lines?: LineProblem[];
}

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly hint: string,
    readonly lines?: LineProblem[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }

  payload(): ErrorPayload {
    return { kind: this.kind, message: this.message, hint: this.hint, ...(this.lines ? { lines: this.lines } : {}) };
  }
}

/** Input the user can fix (bad rows, a malformed file, a config the app cannot run). */
export class InputError extends AppError {
  constructor(message: string, hint: string, lines?: LineProblem[], options?: { cause?: unknown }) {
    super('bad-input', message, hint, lines, options);
    this.name = 'InputError';
  }
}

/** A model this app cannot run. */
export class UnsupportedModelError extends AppError {
  constructor(message: string, hint = 'Pick a checkpoint of a family the app runs, e.g. google/bert_uncased_L-4_H-256_A-4 or microsoft/deberta-v3-xsmall (the model panel\'s presets).') {
    super('unsupported-model', message, hint);
    this.name = 'UnsupportedModelError';
  }
}

/** A value beyond a stated limit; `what` names the quantity, checked before anything is allocated for it. */
export class LimitError extends AppError {
  constructor(
    readonly what: string,
    readonly actual: number | string,
    readonly limit: number | string,
    hint: string,
    file?: string,
  ) {
    super('limit-exceeded', `${file ? `${file}: ` : ''}${what} is ${formatCount(actual)}; the limit is ${formatCount(limit)}.`, hint);
    this.name = 'LimitError';
  }
}

export class NetworkError extends AppError {
  constructor(message: string, hint = 'Check the connection and the repo id, then try again.', options?: { cause?: unknown }) {
    super('network', message, hint, undefined, options);
    this.name = 'NetworkError';
  }
}

export class DeviceLostError extends AppError {
  constructor(message: string, hint = 'Reload the page to train again (finished runs are kept).') {
    super('device-lost', message, hint);
    this.name = 'DeviceLostError';
  }
}

/** NaN / Inf found; the hint names the likely cause from what was checked. */
export class NumericalError extends AppError {
  constructor(message: string, hint: string) {
    super('numerical', message, hint);
    this.name = 'NumericalError';
  }
}

export const REPORT_HINT = 'This is a bug in the app, not in your input: reload the page and try again; if it happens again, please report it with the browser console output.';

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'an unprintable value was thrown';
  }
}

const OOM = /out of memory|\bOOM\b|failed to allocate|allocation failed|Array buffer allocation/i;

/**
 * Any thrown value as an AppError; `during` says what was going on ("loading the model"). A RangeError for
 * memory is out-of-memory; everything else not typed is a bug (ours: the parsers type every input problem).
 */
export function toAppError(error: unknown, during: string): AppError {
  if (error instanceof AppError) return error;
  const message = describe(error);
  if (OOM.test(message)) {
    return new AppError('out-of-memory', `Out of memory while ${during}: ${message}`, 'Lower the batch size or max length, or pick a smaller model.', undefined, { cause: error });
  }
  return new AppError('bug', `Unexpected error while ${during}: ${message}`, REPORT_HINT, undefined, { cause: error });
}

function formatCount(value: number | string): string {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) >= 10_000 ? value.toLocaleString('en-US') : String(value);
}
