/** The page side of the training worker: typed commands out, batched events in. */
import type { Command, EventBatchMessage, WorkerEvent } from './protocol';

export type EventListener = (event: WorkerEvent) => void;

export class WorkerClient {
  private readonly worker: Worker;
  private readonly listeners = new Set<EventListener>();

  constructor(worker: Worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })) {
    this.worker = worker;
    this.worker.onmessage = (message: MessageEvent<EventBatchMessage>) => {
      for (const event of message.data.events) this.emit(event);
    };
    // A worker that fails to load or throws outside the command loop reports here, without a typed event.
    this.worker.onerror = (error: ErrorEvent) => {
      error.preventDefault();
      this.emit({
        type: 'error',
        kind: 'bug',
        message: error.message || 'the training worker crashed',
        hint: 'Reload the page; if it happens again, open the browser console and report the error.',
      });
    };
  }

  send(command: Command): void {
    this.worker.postMessage(command);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  terminate(): void {
    this.worker.terminate();
  }

  private emit(event: WorkerEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
