/** How a thrown error becomes the protocol's error payload; the error classes are the engine's (engine/errors.ts). */
import { toAppError } from '../engine/errors';
import type { WorkerError } from './protocol';

/** The payload for a thrown error, `during` saying what the worker was doing. */
export function toWorkerError(error: unknown, during: string): WorkerError {
  return toAppError(error, during).payload();
}
