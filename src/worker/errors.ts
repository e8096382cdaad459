/** The worker's typed errors and how a thrown error becomes the protocol's error payload (a hint included). */
import { AppError } from '../engine/errors';
import { OptionError } from '../engine/options';
import { UnknownMethodError } from '../methods/catalog';
import type { LineProblem, WorkerError } from './protocol';
import { RunConfigError } from './run-config';

/** Input the user can fix (bad rows, missing files, a config the worker cannot run): shown with its lines. */
export class BadInputError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly lines?: LineProblem[],
  ) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** A model this app cannot run (not BERT, unsupported activation, ...). */
export class UnsupportedInputError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'UnsupportedInputError';
  }
}

/** The GPU is gone: nothing more can train in this page. */
export class DeviceLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceLostError';
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The payload for a thrown error, `during` saying what the worker was doing. */
export function toWorkerError(error: unknown, during: string): WorkerError {
  const message = describe(error);
  if (error instanceof BadInputError) return { kind: 'bad-input', message, hint: error.hint, lines: error.lines };
  if (error instanceof AppError) return { kind: error.errorClass === 'network' ? 'network' : 'bad-input', message, hint: error.hint };
  if (error instanceof UnsupportedInputError) return { kind: 'unsupported-model', message, hint: error.hint };
  if (error instanceof DeviceLostError) return { kind: 'device-lost', message, hint: 'Reload the page to train again.' };
  if (error instanceof RunConfigError || error instanceof OptionError || error instanceof UnknownMethodError) {
    return { kind: 'bad-input', message, hint: 'Change that setting (the form shows its range) and start again.' };
  }
  if (/out of memory|OOM|allocation|too large/i.test(message)) {
    return { kind: 'out-of-memory', message: `Out of GPU memory while ${during}: ${message}`, hint: 'Lower the batch size or max length, or pick a smaller model.' };
  }
  return {
    kind: 'internal',
    message: `Unexpected error while ${during}: ${message}`,
    hint: 'This is a bug in the app, not in your input: reload the page and try again; if it happens again, please report it with the browser console output.',
  };
}
