/**
 * Glue between the worker client, the store and the browser (downloads, IndexedDB, URL).
 * Components call these intents; they never talk to the worker directly.
 */
import type { WorkerClient } from '../worker/client';
import type { ColumnMapping, DataInput, ExportFormat, ModelSource } from '../worker/protocol';
import { downloadFiles } from './exports';
import { listRuns, loadRun, saveRun, type RunSummary } from './runsDb';
import { METHODS, methodOptionsOf, recipeOf, type Settings } from './settings';
import { createStore, type Store } from './store';
import { INITIAL_STATE, reducer, type Action, type AppState } from './state';

export interface Controller {
  store: Store<AppState, Action>;
  loadModel(source: ModelSource, name: string): void;
  loadData(data: DataInput, mapping: ColumnMapping, validationFraction: number, seed: number): void;
  start(settings: Settings, modelName: string, dataName: string): void;
  pause(): void;
  resume(): void;
  stop(): void;
  evaluate(): void;
  predict(text: string, pair?: string): void;
  exportAdapter(format: ExportFormat): void;
  savedRuns(): Promise<RunSummary[]>;
  overlay(id: string | null): Promise<void>;
  /** Bumped whenever the saved runs change, so lists can refetch. */
  runsVersion: Store<number, number>;
}

export function createController(client: WorkerClient): Controller {
  const store = createStore(reducer, INITIAL_STATE);
  const runsVersion = createStore<number, number>((_, v) => v, 0);
  let requestId = 0;
  let modelName = 'model';

  client.subscribe((event) => {
    store.dispatch({ type: 'worker', event, at: performance.now() });
    if (event.type === 'exported') downloadFiles(event.files, `${modelName.replace(/[^\w.-]+/g, '_')}-${event.format}-adapter.zip`);
    if (event.type === 'finished') {
      const run = store.getState().run;
      if (run) {
        saveRun(run)
          .then(() => runsVersion.dispatch(runsVersion.getState() + 1))
          .catch((error: unknown) => console.warn('could not save the run', error));
      }
    }
  });

  // Show the newest kept run after a reload (only when nothing else is going on).
  listRuns()
    .then(async (runs) => {
      const newest = runs[0] && (await loadRun(runs[0].id));
      if (newest) store.dispatch({ type: 'restoreRun', run: newest });
    })
    .catch((error: unknown) => console.warn('IndexedDB unavailable: runs will not be kept', error));

  return {
    store,
    runsVersion,
    loadModel(source, name) {
      modelName = name;
      store.dispatch({ type: 'modelRequested' });
      client.send({ type: 'loadModel', source });
    },
    loadData(data, mapping, validationFraction, seed) {
      store.dispatch({ type: 'dataRequested' });
      client.send({ type: 'loadData', data, mapping, validation: { fraction: validationFraction, seed } });
    },
    start(settings, model, dataName) {
      const method = METHODS.find((m) => m.id === settings.method)!;
      const createdAt = Date.now();
      const time = new Date(createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      store.dispatch({
        type: 'startRequested',
        id: `${createdAt}-${Math.random().toString(36).slice(2, 8)}`,
        label: `${method.label} · ${dataName} · ${time}`,
        createdAt,
        settings,
        modelName: model,
        dataName,
      });
      client.send({ type: 'start', method: settings.method, options: methodOptionsOf(settings), recipe: recipeOf(settings) });
    },
    pause() {
      store.dispatch({ type: 'pauseRequested' });
      client.send({ type: 'pause' });
    },
    resume() {
      client.send({ type: 'resume' });
    },
    stop() {
      store.dispatch({ type: 'stopRequested' });
      client.send({ type: 'stop' });
    },
    evaluate() {
      client.send({ type: 'evaluate' });
    },
    predict(text, pair) {
      client.send({ type: 'predict', requestId: ++requestId, text, pair });
    },
    exportAdapter(format) {
      client.send({ type: 'export', format });
    },
    savedRuns: listRuns,
    async overlay(id) {
      store.dispatch({ type: 'setOverlay', run: id ? ((await loadRun(id)) ?? null) : null });
    },
  };
}
