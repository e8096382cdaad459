/**
 * Glue between the worker client, the store and the browser (downloads, IndexedDB, URL).
 * Components call these intents; they never talk to the worker directly.
 */
import { DEFAULT_EXECUTION, type Execution } from '../engine/recipe';
import type { WorkerClient } from '../worker/client';
import type { DataInput, ExportFormat, ModelSource, TextEncoding } from '../worker/protocol';
import { describeRun, type DataColumns, type DataSplit, type RunConfig, type Task } from '../worker/run-config';
import { cellConfig, nextCell, withResult, type ComparePlan } from '../worker/compare';
import { cellResultOf, loadGrid, saveGrid, type CompareGrid } from './compare';
import { downloadFiles } from './exports';
import {
  deleteAllRuns,
  deleteCheckpoint,
  deleteRun,
  listRuns,
  loadCheckpoint,
  loadRun,
  loadWeights,
  resumableRun,
  resumeOfferOf,
  saveCheckpoint,
  saveRun,
  saveWeights,
  type KeptCheckpoint,
  type RunSummary,
} from './runsDb';
import { createStore, type Store } from './store';
import { INITIAL_STATE, isActive, reducer, type Action, type AppState } from './state';

export interface Controller {
  store: Store<AppState, Action>;
  /** Settles once the page's start-up reads of IndexedDB (the interrupted run, the newest kept run) are done. */
  ready: Promise<void>;
  loadModel(source: ModelSource): void;
  /** `columns`: a sample's own mapping (null: the worker guesses). */
  loadData(data: DataInput, columns: DataColumns | null, split: DataSplit): void;
  /** The last loaded files again, read with another encoding (null: detect). */
  reloadData(encoding: TextEncoding | null, split: DataSplit): void;
  mapData(columns: DataColumns, task: Task, split: DataSplit): void;
  start(config: RunConfig): void;
  /** How the worker runs the steps of the runs started from now on (the Advanced setting). */
  setExecution(execution: Execution): void;
  pause(): void;
  resume(): void;
  stop(): void;
  /** The interrupted run on offer (state.resumable), continued from its checkpoint. */
  resumeInterrupted(): Promise<void>;
  /** Forgets the interrupted run's checkpoint. */
  discardInterrupted(): Promise<void>;
  evaluate(): void;
  predict(text: string, pair?: string): void;
  exportAdapter(format: ExportFormat): void;
  /** A trained adapter (the native file, or PEFT's adapter_config.json + adapter_model.safetensors, or a zip of them). */
  importAdapter(files: File[]): void;
  savedRuns(): Promise<RunSummary[]>;
  overlay(id: string | null): Promise<void>;
  /** A kept run shown again (charts, config, and its weights back in the worker for Export and Try it). */
  openRun(id: string): Promise<void>;
  deleteRun(id: string): Promise<void>;
  deleteAllRuns(): Promise<void>;
  /** Empties the browser's cache of downloaded model files. */
  clearModelCache(): void;
  /** Bumped whenever the saved runs change, so lists can refetch. */
  runsVersion: Store<number, number>;
  /** The comparison grid (kept across reloads) and whether this page is running it now. */
  compare: Store<CompareState, CompareState>;
  /** Runs every cell of the plan, one after another, each a normal kept run. */
  startCompare(plan: ComparePlan, base: RunConfig): void;
  /** The kept grid's remaining cells (after a reload, or a Stop); the interrupted cell runs again. */
  resumeCompare(): void;
  /** Stops the running cell and the grid (the finished cells stay). */
  stopCompare(): void;
  discardCompare(): void;
}

export interface CompareState {
  grid: CompareGrid | null;
  running: boolean;
}

export function createController(client: WorkerClient): Controller {
  const store = createStore(reducer, INITIAL_STATE);
  const runsVersion = createStore<number, number>((_, v) => v, 0);
  let requestId = 0;
  let lastData: { data: DataInput; columns: DataColumns | null } | null = null;
  const compare = createStore<CompareState, CompareState>((_, next) => next, { grid: typeof localStorage === 'undefined' ? null : loadGrid(), running: false });
  const setCompare = (next: CompareState) => {
    compare.dispatch(next);
    try {
      saveGrid(next.grid);
    } catch (error) {
      keep('the comparison')(error);
    }
  };
  /**
   * The grid's next cell as a run; none left: the grid is done. The cell a reload interrupted goes on from its
   * run's kept checkpoint (the same run, so Runs holds one per cell), or runs again when it had none yet.
   */
  let choosing = false; // a second click while the checkpoint is read starts nothing
  const runNextCell = async () => {
    const { grid } = compare.getState();
    if (!grid || choosing) return;
    choosing = true;
    const kept = grid.current?.runId ? await loadCheckpoint(grid.current.runId).catch(() => undefined) : undefined;
    choosing = false;
    const next = nextCell(grid.plan, grid.results, grid.current, (runId) => kept?.runId === runId);
    if (next.kind === 'done') {
      setCompare({ grid: { ...grid, current: null }, running: false });
      return;
    }
    if (next.kind === 'resume' && kept) {
      setCompare({ grid, running: true });
      resumeFrom(kept);
      return;
    }
    const runId = newRunId();
    setCompare({ grid: { ...grid, current: { ...next.cell, runId } }, running: true });
    const arm = grid.plan.arms.find((a) => a.id === next.cell.arm)!;
    startRun(cellConfig(grid.base, grid.plan, next.cell), `Compare · ${arm.label} · seed ${next.cell.seed}`, runId);
  };
  /** The running cell's run ended: its numbers into the grid; the next cell starts once its weights are kept. */
  const cellFinished = () => {
    const { grid, running } = compare.getState();
    const state = store.getState();
    const run = state.run;
    if (!grid || !running || !grid.current || !run?.finished || !state.model.info) return false;
    if (run.finished.reason === 'stopped') {
      setCompare({ grid, running: false });
      return false;
    }
    const result = cellResultOf(run, grid.current, grid.plan.metric, state.model.info.config);
    setCompare({ grid: { ...grid, results: withResult(grid.results, result), current: null, elapsedSeconds: grid.elapsedSeconds + run.finished.seconds }, running: true });
    return true;
  };

  const bumpRuns = () => runsVersion.dispatch(runsVersion.getState() + 1);
  const keep = (what: string) => (error: unknown) => console.warn(`could not keep ${what}`, error);
  // Checkpoint writes and deletes in the order they were asked for: a run's end must not be overtaken by its last save.
  let checkpoints: Promise<void> = Promise.resolve();
  const queueCheckpoint = (task: () => Promise<void>) => {
    checkpoints = checkpoints.then(task).catch(keep('the checkpoint for resume'));
  };

  client.subscribe((event) => {
    const starting = store.getState().training === 'starting';
    store.dispatch({ type: 'worker', event, at: performance.now() });
    // A cell the worker refused to start (other data, a lost device): the grid stops there, Resume offers it again.
    if (event.type === 'error' && starting && store.getState().training === 'idle' && compare.getState().running) {
      setCompare({ grid: compare.getState().grid, running: false });
    }
    if (event.type === 'trainedWeights') {
      const run = store.getState().run;
      if (run) {
        const cellDone = compare.getState().running && compare.getState().grid?.current === null;
        saveWeights({ runId: run.id, file: event.file, fingerprint: event.fingerprint })
          .then(() => {
            store.dispatch({ type: 'weightsKept', runId: run.id, fingerprint: event.fingerprint });
            const kept = store.getState().run;
            // The list shows which runs kept their weights: refetch once they are.
            return kept?.id === run.id ? saveRun(kept).then(bumpRuns) : undefined;
          })
          .catch(keep("the run's weights"))
          // The next cell replaces the shown run: only after this one's weights are kept with it.
          .finally(() => {
            if (cellDone) void runNextCell();
          });
      }
    }
    if (event.type === 'checkpoint') {
      // The page's record as it stands now is the run up to the checkpoint: the worker sent it after that step's events.
      const run = store.getState().run;
      if (run) {
        const kept = { runId: run.id, savedAt: Date.now(), record: run, checkpoint: event.checkpoint };
        queueCheckpoint(async () => {
          await saveCheckpoint(kept);
          store.dispatch({ type: 'checkpointKept', runId: run.id, step: event.checkpoint.trainer.step });
        });
      }
    }
    if (event.type === 'exported') {
      const modelName = store.getState().model.info?.name ?? 'model';
      downloadFiles(event.files, `${modelName.replace(/[^\w.-]+/g, '_')}-${event.format}-adapter.zip`);
    }
    if (event.type === 'finished') {
      const run = store.getState().run;
      if (run) {
        saveRun(run).then(bumpRuns).catch(keep('the run'));
        // Ended (done, stopped or failed): nothing left to resume.
        queueCheckpoint(() => deleteCheckpoint(run.id));
      }
      // A failed cell sends no weights: go on at once (it is in the grid without numbers).
      if (cellFinished() && event.reason === 'failed') void runNextCell();
    }
  });

  // A kept run on show whose weights the worker lacks gets them back once its model is loaded (after a reload,
  // or when it is opened from the list). One request per run and model load; a refusal is reported once.
  let restoring: string | null = null;
  store.subscribe(() => {
    const state = store.getState();
    const run = state.run;
    const model = state.model.info;
    if (state.model.status !== 'ready') restoring = null;
    if (!run?.keptWeights || !model || state.model.status !== 'ready' || state.inWorker === run.id || isActive(state.training)) return;
    const key = `${run.id}|${model.fingerprint}`;
    if (restoring === key || model.fingerprint !== run.keptWeights.fingerprint) return;
    restoring = key;
    loadWeights(run.id)
      .then((kept) => {
        if (store.getState().run?.id !== run.id) return;
        // Deleted meanwhile (another tab, or cleared): the run no longer claims weights it cannot get back.
        if (!kept) store.dispatch({ type: 'weightsGone', runId: run.id });
        else client.send({ type: 'restoreWeights', runId: run.id, file: kept.file, fingerprint: kept.fingerprint });
      })
      .catch(keep('the run (reading its weights)'));
  });

  // Warn before a reload or close loses a run that is going.
  if (typeof window !== 'undefined') {
    window.addEventListener('beforeunload', (event) => {
      if (!isActive(store.getState().training)) return;
      event.preventDefault();
      event.returnValue = '';
    });
  }

  const ready = Promise.all([
    // A run a reload interrupted is offered for resume.
    resumableRun()
      .then((offer) => offer && store.dispatch({ type: 'resumable', offer }))
      .catch(keep('the interrupted run (reading it)')),
    // Show the newest kept run after a reload (only when nothing else is going on).
    listRuns()
      .then(async (runs) => {
        const newest = runs[0] && (await loadRun(runs[0].id));
        if (newest) store.dispatch({ type: 'restoreRun', run: newest });
      })
      .catch((error: unknown) => console.warn('IndexedDB unavailable: runs will not be kept', error)),
  ]).then(() => undefined);

  let execution: Execution = DEFAULT_EXECUTION;

  /** A run from its kept checkpoint: the record as it stood there, then the worker goes on from that step. */
  function resumeFrom(kept: KeptCheckpoint) {
    store.dispatch({ type: 'resumable', offer: resumeOfferOf(kept) });
    store.dispatch({ type: 'resumeRequested', run: kept.record, step: kept.checkpoint.trainer.step });
    client.send({ type: 'resumeRun', config: kept.record.config, checkpoint: kept.checkpoint, execution });
  }

  function newRunId(): string {
    return `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  }

  function startRun(config: RunConfig, what: string, id = newRunId()) {
    const createdAt = Date.now();
    const time = new Date(createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    store.dispatch({
      type: 'startRequested',
      id,
      label: `${what} · ${time}`,
      createdAt,
      config,
    });
    client.send({ type: 'start', config, execution });
  }

  return {
    store,
    ready,
    runsVersion,
    compare,
    loadModel(source) {
      store.dispatch({ type: 'modelRequested' });
      client.send({ type: 'loadModel', source });
    },
    loadData(data, columns, split) {
      lastData = { data, columns };
      store.dispatch({ type: 'dataRequested', newFiles: true });
      client.send({ type: 'loadData', data, columns, task: null, split });
    },
    reloadData(encoding, split) {
      if (!lastData) return;
      const { data, columns } = lastData;
      lastData = { data: { ...data, encoding }, columns };
      store.dispatch({ type: 'dataRequested' });
      client.send({ type: 'loadData', data: lastData.data, columns: store.getState().data.preview?.mapping ?? columns, task: null, split });
    },
    mapData(columns, task, split) {
      store.dispatch({ type: 'dataRequested' });
      client.send({ type: 'mapData', columns, task, split });
    },
    start(config) {
      startRun(config, describeRun(config));
    },
    setExecution(next) {
      execution = next;
    },
    startCompare(plan, base) {
      const createdAt = Date.now();
      setCompare({ grid: { id: `compare-${createdAt}`, createdAt, plan, base, results: [], current: null, elapsedSeconds: 0 }, running: true });
      void runNextCell();
    },
    resumeCompare() {
      if (compare.getState().grid && !isActive(store.getState().training)) void runNextCell();
    },
    stopCompare() {
      const { grid } = compare.getState();
      setCompare({ grid, running: false });
      if (isActive(store.getState().training)) this.stop();
    },
    discardCompare() {
      if (compare.getState().running) return;
      setCompare({ grid: null, running: false });
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
    async resumeInterrupted() {
      const offer = store.getState().resumable;
      if (!offer || isActive(store.getState().training)) return;
      const kept = await loadCheckpoint(offer.runId);
      if (!kept) {
        store.dispatch({ type: 'resumable', offer: null });
        store.dispatch({ type: 'localError', kind: 'bad-input', message: 'The interrupted run is no longer kept in this browser.', hint: 'Start it again with Train.' });
        return;
      }
      // The grid's interrupted cell: the grid goes on with it (its numbers go into the table).
      const grid = compare.getState().grid;
      if (grid?.current?.runId === kept.runId && !compare.getState().running) setCompare({ grid, running: true });
      resumeFrom(kept);
    },
    async discardInterrupted() {
      const offer = store.getState().resumable;
      if (!offer) return;
      store.dispatch({ type: 'resumable', offer: null });
      queueCheckpoint(() => deleteCheckpoint(offer.runId));
      await checkpoints;
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
    importAdapter(files) {
      if (files.length > 0) client.send({ type: 'importAdapter', files });
    },
    savedRuns: listRuns,
    async openRun(id) {
      const run = await loadRun(id);
      if (run) store.dispatch({ type: 'restoreRun', run });
    },
    async deleteRun(id) {
      await deleteRun(id);
      // The run on show may be the deleted one: its weights are gone with it (the worker's copy stays usable).
      store.dispatch({ type: 'weightsGone', runId: id });
      if (store.getState().overlay?.id === id) store.dispatch({ type: 'setOverlay', run: null });
      bumpRuns();
    },
    async deleteAllRuns() {
      await deleteAllRuns();
      store.dispatch({ type: 'weightsGone', runId: null });
      store.dispatch({ type: 'setOverlay', run: null });
      store.dispatch({ type: 'notice', text: 'Deleted every kept run from this browser.' });
      bumpRuns();
    },
    clearModelCache() {
      client.send({ type: 'clearModelCache' });
    },
    async overlay(id) {
      store.dispatch({ type: 'setOverlay', run: id ? ((await loadRun(id)) ?? null) : null });
    },
  };
}
