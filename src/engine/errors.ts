/**
 * The project's typed errors, by what the user should do about them. Every layer throws these (io may import
 * this tensor-free module); the worker turns them into the protocol's error payload (worker/errors.ts), and the
 * page shows message and hint as they are. Anything else that reaches the worker is a bug, reported as one.
 *
 * - InputError: the user's input is wrong (a file, a setting, a Hub repo id): the message says what to fix.
 * - NetworkError: a download failed for a reason that may pass (offline, a server error): retry.
 */

export type ErrorClass = 'input' | 'network';

export abstract class AppError extends Error {
  abstract readonly errorClass: ErrorClass;

  /** `hint`: what to do, one sentence. */
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export class InputError extends AppError {
  readonly errorClass = 'input';
  constructor(message: string, hint: string) {
    super(message, hint);
    this.name = 'InputError';
  }
}

export class NetworkError extends AppError {
  readonly errorClass = 'network';
  constructor(message: string, hint: string) {
    super(message, hint);
    this.name = 'NetworkError';
  }
}
