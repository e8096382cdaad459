/**
 * What the worker holds between commands: the loaded model, the data (./data), the current run (./run), and
 * the rules of when a command may run. Every command answers with events; a thrown error becomes one.
 */
import { parseOptions } from '../engine/options';
import { DEFAULT_EXECUTION, EXECUTION_SCHEMA } from '../engine/recipe';
import { pytorchProjectZip } from '../io/export/pytorch';
import { loadModel, type LoadedModel, type ModelSource as IoModelSource } from '../io/model/model-source';
import { DataStore, datasetFingerprint } from './data';
import { toWorkerError } from './errors';
import { assertNever, type Command, type ExportFormat, type ModelInfo, type ModelSource, type RunCheckpoint, type WorkerEvent } from './protocol';
import { CHECKPOINT_EVERY_MS, Run } from './run';
import { buildRunConfig, parseRunConfig, type RunConfig } from './run-config';
import { describe, DeviceLostError, InputError } from '../engine/errors';
import { logitsWeightName } from '../engine/families';
import { readAdapterFiles, type ImportedAdapter } from '../io/export/import';
import { clearModelCache } from '../io/model/fetch';
import { modelFingerprint } from '../io/model/fingerprint';

const STOP_FIRST = 'Stop the run first.';

function during(command: Command): string {
  const what: Record<Command['type'], string> = {
    loadModel: 'loading the model',
    loadData: 'reading the data',
    mapData: 'reading the data',
    start: 'preparing the run',
    resumeRun: 'resuming the run',
    pause: 'pausing',
    resume: 'resuming',
    stop: 'stopping',
    evaluate: 'evaluating',
    predict: 'predicting',
    export: 'exporting',
    importAdapter: 'importing the adapter',
    restoreWeights: 'restoring the run',
    clearModelCache: 'clearing the downloaded models',
  };
  return what[command.type];
}

export class Session {
  private model: { loaded: LoadedModel; info: ModelInfo; source: ModelSource } | null = null;
  private readonly data = new DataStore();
  private run: Run | null = null;
  /** Data commands run one after another: a mapping must not overtake the file read it belongs to. */
  private dataQueue: Promise<void> = Promise.resolve();
  /**
   * Commands that change the model or the current run (load, start up to its first step, import, restore) run one
   * after another: a second Train pressed while the first run sets up, or a start during a model download, waits
   * and then sees the state the first one left (and is refused, or uses the new model). Pause, stop, evaluate
   * and predict do not wait here.
   */
  private setupQueue: Promise<unknown> = Promise.resolve();
  /** The last run's trained weights being read back (start); a run is disposed only after it. */
  private weightsRead: Promise<void> = Promise.resolve();
  private deviceLost = false;

  /** `checkpointEveryMs`: how often a running run is checkpointed for resume (tests: 0, at every metrics read). */
  constructor(
    private readonly emit: (event: WorkerEvent) => void,
    private readonly checkpointEveryMs = CHECKPOINT_EVERY_MS,
  ) {}

  /** The GPU is gone: the run stops, later runs are refused, exports fall back to the last CPU snapshot. */
  loseDevice(): void {
    this.deviceLost = true;
    this.run?.stop();
  }

  async handle(command: Command): Promise<void> {
    try {
      await this.dispatch(command);
    } catch (error) {
      const payload = toWorkerError(error, during(command));
      // After a device loss the follow-up errors add nothing to the one already reported.
      if (!this.deviceLost || payload.kind === 'bad-input' || error instanceof DeviceLostError) this.emit({ type: 'error', ...payload });
      if (payload.kind === 'bug') console.error(error);
    }
  }

  private async dispatch(command: Command): Promise<void> {
    const run = this.run;
    const busy = run?.active ?? false;
    switch (command.type) {
      case 'loadModel':
        await this.whenIdle('Cannot change the model while training.', async () => {
          this.emit({ type: 'modelLoaded', info: await this.loadModel(command.source) });
        });
        return;
      case 'loadData':
      case 'mapData':
        if (busy) throw new InputError('Cannot change the data while training.', STOP_FIRST);
        await this.queueData(async () => {
          const preview =
            command.type === 'loadData'
              ? await this.data.load(command.data, command.columns, command.task, command.split)
              : this.data.map(command.columns, command.task, command.split);
          this.emit({ type: 'dataPreview', preview });
        });
        return;
      case 'start':
        await this.start(command.config, undefined, command.execution);
        return;
      case 'resumeRun':
        await this.start(command.config, command.checkpoint, command.execution);
        return;
      case 'pause':
        run?.pause();
        return;
      case 'resume':
        run?.resume();
        return;
      case 'stop':
        run?.stop();
        return;
      case 'evaluate':
        // While training it runs after the current step, in the step loop; paused or done, right away.
        if (busy && !run!.isPaused) run!.requestEvaluation();
        else this.emit({ type: 'evaluation', ...(await this.requireRun().evaluate()) });
        return;
      case 'predict':
        if (busy && !run!.isPaused) throw new InputError('Predictions wait until training is paused or done.', 'Pause the run to try the current model.');
        this.emit({ type: 'prediction', requestId: command.requestId, ...(await this.requireRun().predict(command.text, command.pair)) });
        return;
      case 'export':
        if (command.format === 'pytorch') {
          this.emit({ type: 'exported', format: 'pytorch', files: [await this.pytorchProject()] });
          return;
        }
        this.emit({ type: 'exported', format: command.format, files: await this.withBaseModel(command.format, await this.requireRun().exportFiles(command.format, this.deviceLost)) });
        return;
      case 'importAdapter':
        await this.whenIdle('Cannot import an adapter while training.', async () => {
          await this.importAdapter(command.files);
        });
        return;
      case 'restoreWeights':
        await this.whenIdle('Cannot restore a run while training.', async () => {
          await this.restoreWeights(command.runId, command.file, command.fingerprint);
        });
        return;
      case 'clearModelCache':
        this.emit({ type: 'modelCacheCleared', files: await clearModelCache() });
        return;
      default:
        assertNever(command, 'command');
    }
  }

  /** `task` in the set-up queue, refused (`refusal`) if a run trains by the time its turn comes. */
  private whenIdle(refusal: string, task: () => Promise<void>): Promise<void> {
    return this.exclusive(async () => {
      if (this.run?.active) throw new InputError(refusal, STOP_FIRST);
      await task();
    });
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.setupQueue.then(task);
    this.setupQueue = next.catch(() => {});
    return next;
  }

  private queueData(task: () => Promise<void>): Promise<void> {
    const next = this.dataQueue.then(task);
    this.dataQueue = next.catch(() => {});
    return next;
  }

  private async loadModel(source: ModelSource): Promise<ModelInfo> {
    const ioSource: IoModelSource =
      source.kind === 'builtin'
        ? { kind: 'url', baseUrl: source.baseUrl, label: 'built-in tiny BERT' }
        : source.kind === 'hub'
          ? { kind: 'hub', repo: source.id, revision: source.revision }
          : { kind: 'files', files: source.files };
    // A failed load leaves no model: the page shows none, and a run cannot start on the one the user replaced.
    // The current run keeps its own (export and predictions still work).
    this.model = null;
    const loaded: LoadedModel = await loadModel(ioSource, {
      onProgress: (p) => this.emit({ type: 'progress', phase: 'download', done: p.loaded, total: p.total ?? 0, message: p.file }),
    });
    await this.disposeRun();
    for (const warning of loaded.warnings) console.warn(warning);
    const info: ModelInfo = {
      name: loaded.name,
      hubId: source.kind === 'hub' ? source.id : null,
      revision: source.kind === 'hub' ? source.revision : null,
      config: loaded.config,
      sizeBytes: Object.values(loaded.sizes).reduce((a, b) => a + b, 0),
      totalParams: loaded.parameterCount,
      fingerprint: modelFingerprint(loaded.configJson, loaded.weights),
    };
    this.model = { loaded, info, source };
    return info;
  }

  /** A new run, or (`from`) an interrupted one continued from its checkpoint, on the same model and rows only. */
  private async start(raw: unknown, from?: RunCheckpoint, rawExecution?: unknown): Promise<void> {
    // Training begins inside the queue (the run is active before the next queued command looks) and goes on outside it.
    // Returned in an object: a promise returned as is would hold the queue until training ends.
    const { kept } = await this.exclusive(async () => {
      const { run, model } = await this.setUp(raw, from, rawExecution);
      const training = run.train();
      // Set before the queue moves on: whatever replaces this run (a comparison grid starts its next one on
      // 'finished') waits for its weights to be read back first.
      this.weightsRead = training.then((reason) => this.keepTrainedWeights(run, model, reason));
      return { kept: this.weightsRead };
    });
    await kept;
  }

  /** Kept with the run on the page, so Export and Try it work after a reload. A failed run's weights are not,
   * unless they are its last good adapter, put back after a NaN. */
  private async keepTrainedWeights(run: Run, model: { info: ModelInfo }, reason: string): Promise<void> {
    if ((reason === 'failed' && !run.restoredAfterFailure) || this.deviceLost) return;
    try {
      const [file] = await run.exportFiles('native', false);
      this.emit({ type: 'trainedWeights', file: file.bytes, fingerprint: model.info.fingerprint });
    } catch (error) {
      console.warn('could not read the trained weights back', error);
    }
  }

  /** A run checked, built and made current ('started' sent). */
  private async setUp(raw: unknown, from?: RunCheckpoint, rawExecution?: unknown) {
    if (this.run?.active) throw new InputError('A run is already in progress.', 'Stop it first.');
    if (this.deviceLost) throw new DeviceLostError('The GPU device was lost earlier.');
    const config = parseRunConfig(raw);
    const { execution } = parseOptions(EXECUTION_SCHEMA, { execution: rawExecution ?? DEFAULT_EXECUTION }, 'step setting');
    const model = this.model;
    if (!model) throw new InputError('No model is loaded.', 'Load a model first.');
    if (config.model.name !== model.info.name) throw new InputError(`The run is for ${config.model.name}, but ${model.info.name} is loaded.`, 'Load that model first.');
    if (from && from.model !== model.info.fingerprint) {
      throw new InputError(`The interrupted run was training on other weights than the loaded ${model.info.name}.`, `Load the model it was training (${config.model.name}, the same files) to resume it.`);
    }
    await this.dataQueue;
    const data = this.data.forRun(config.data);
    const rows = datasetFingerprint(data);
    if (from && from.data !== rows) {
      throw new InputError(`The loaded ${config.data.train} has other rows than the interrupted run trained on.`, 'Load the same data file (same rows, mapping and validation split) to resume it.');
    }
    await this.disposeRun();
    const run = new Run(config, model.loaded, data, this.emit, undefined, { model: model.info.fingerprint, data: rows, everyMs: this.checkpointEveryMs }, execution);
    if (from) {
      try {
        run.restore(from);
      } catch (error) {
        run.dispose();
        throw new InputError(`The interrupted run's checkpoint does not fit this run: ${describe(error)}.`, 'Start the run again with Train.');
      }
    }
    this.run = run;
    this.emit({ type: 'started', plan: run.plan });
    return { run, model };
  }

  /** A trained adapter becomes the current run (predictions, export), after it is checked against the loaded model. */
  private async importAdapter(files: File[]): Promise<void> {
    const model = this.model;
    if (!model) throw new InputError('No model is loaded.', 'Load the model the adapter was trained on first.');
    const adapter = readAdapterFiles(await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) }))));
    const config = importedConfig(adapter, model.info);
    const run = await this.adopt(adapter, config, model);
    if (!run) throw new InputError(`A run started while ${adapter.file} was read, so it was not imported.`, 'Import it again once that run has ended.');
    this.emit({ type: 'adapterImported', file: adapter.file, format: adapter.format, config, plan: run.plan });
  }

  /** A kept run's weights (the native file the worker sent at its end) onto the loaded model, which must be the one it was trained on. */
  private async restoreWeights(runId: string, file: Uint8Array, fingerprint: string): Promise<void> {
    const model = this.model;
    const adapter = readAdapterFiles([{ name: 'kept run.safetensors', bytes: file }]);
    const config = parseRunConfig(adapter.format === 'native' ? adapter.run : null);
    if (!model) throw new InputError(`No model is loaded; this run was trained on ${config.model.name}.`, `Load ${config.model.name} to export or try this run.`);
    if (fingerprint !== model.info.fingerprint) {
      throw new InputError(
        `This run was trained on ${config.model.name}; the loaded ${model.info.name} ${config.model.name === model.info.name ? 'has other weights' : 'is another model'}.`,
        `Load ${config.model.name} (the same files) to export or try this run.`,
      );
    }
    const run = await this.adopt(adapter, config, model);
    // Replaced meanwhile by a run that started: that one is the worker's; the page shows it, not the kept run.
    if (run) this.emit({ type: 'weightsRestored', runId, plan: run.plan });
  }

  /**
   * A Run for predictions and export made from trained variables, checked against the model; it becomes the current
   * run, unless another run took its place while it was checked (null; set-up commands are queued, so this is a
   * guard rather than a path a page takes).
   */
  private async adopt(adapter: ImportedAdapter, config: RunConfig, model: { loaded: LoadedModel; info: ModelInfo }): Promise<Run | null> {
    const before = this.run;
    let run: Run;
    try {
      run = new Run(config, model.loaded, null, this.emit, adapter.variables);
    } catch (error) {
      // The method's variables are built from the file's values: a shape that differs fails here.
      throw new InputError(`${adapter.file} does not fit ${model.info.name}: ${describe(error)}.`, 'It was trained on another model: load that one first, then import it again.');
    }
    try {
      await run.checkImported(adapter.variables, adapter.file);
    } catch (error) {
      run.dispose();
      throw error;
    }
    if (this.run !== before) {
      run.dispose();
      return null;
    }
    await this.disposeRun();
    this.run = run;
    return run;
  }

  /** The run as a PyTorch project: its config, the loaded data files and, off the Hub, the model's files. */
  private async pytorchProject(): Promise<{ name: string; bytes: Uint8Array }> {
    const { config } = this.requireRun();
    await this.dataQueue;
    const data = this.data.filesFor(config.data);
    let model: { name: string; bytes: Uint8Array }[] | null = null;
    if (config.model.hubId === null) {
      if (!this.model || this.model.info.name !== config.model.name) {
        throw new InputError(`The run is for ${config.model.name}, which is no longer loaded.`, 'Load that model again, or export after its run.');
      }
      model = await modelFiles(this.model.source, Object.keys(this.model.loaded.sizes));
    }
    return pytorchProjectZip({ config, data, model });
  }

  /**
   * A PEFT export of a model that is not on the Hub (the built-in one, or files from disk) stands on its own: the
   * model's files go with it in Hugging Face layout under base/ (config.json with the run's id2label / label2id),
   * and base_model_name_or_path names that folder, so PeftModel / AutoPeftModel load it from the unzipped export.
   */
  private async withBaseModel(format: ExportFormat, files: { name: string; bytes: Uint8Array }[]): Promise<{ name: string; bytes: Uint8Array }[]> {
    const { config } = this.requireRun();
    if (format !== 'peft' || config.model.hubId !== null || !this.model || this.model.info.name !== config.model.name) return files;
    const model = await modelFiles(this.model.source, Object.keys(this.model.loaded.sizes));
    const labels = config.data.task === 'regression' ? null : config.data.labelNames;
    const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');
    const base = model.map(({ name, bytes }) => {
      if (name !== 'config.json') return { name: `base/${name}`, bytes };
      const modelConfig = json(bytes);
      const extra = labels
        ? { num_labels: labels.length, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])) }
        : { num_labels: 1, problem_type: 'regression' };
      return { name: 'base/config.json', bytes: text({ ...modelConfig, ...extra }) };
    });
    const adapter = files.map((f) => (f.name === 'adapter_config.json' ? { name: f.name, bytes: text({ ...json(f.bytes), base_model_name_or_path: 'base' }) } : f));
    return [...adapter, ...base];
  }

  private requireRun(): Run {
    if (!this.run) throw new InputError('No trained model yet.', 'Train a run first.');
    return this.run;
  }

  /** Drops the current run once its trained weights are read back (keepTrainedWeights). */
  private async disposeRun(): Promise<void> {
    await this.weightsRead;
    this.run?.dispose();
    this.run = null;
  }
}

/** The run config of an imported adapter: the native file's own, or a LoRA config from PEFT's (labels from id2label). */
function importedConfig(adapter: ImportedAdapter, model: ModelInfo): RunConfig {
  if (adapter.format === 'native') {
    const config = parseRunConfig(adapter.run);
    if (config.model.name !== model.name) {
      throw new InputError(`${adapter.file} was trained on ${config.model.name}, but ${model.name} is loaded.`, `Load ${config.model.name} first, then import it again.`);
    }
    return config;
  }
  const classes = adapter.variables.get(logitsWeightName(adapter.variables.keys())!)!.shape[0];
  const regression = classes === 1;
  return buildRunConfig({
    method: 'lora',
    options: { r: adapter.r, alpha: adapter.alpha, targetModules: adapter.kinds },
    model: { name: model.name, hubId: model.hubId, revision: model.revision },
    data: {
      name: `imported ${adapter.file}`,
      train: adapter.file,
      validation: null,
      columns: { text: 'text', textPair: null, label: 'label' },
      task: regression ? 'regression' : 'classification',
      labels: regression ? [] : (adapter.labels ?? Array.from({ length: classes }, (_, i) => `LABEL_${i}`)),
    },
  });
}

/** The files a model was read from (`names`), again: fetched from the built-in folder, or the user's own files. */
async function modelFiles(source: ModelSource, names: readonly string[]): Promise<{ name: string; bytes: Uint8Array }[]> {
  if (source.kind === 'hub') return [];
  if (source.kind === 'files') {
    const byName = new Map(source.files.map((f) => [f.name.split('/').pop()!, f]));
    return Promise.all(names.filter((n) => byName.has(n)).map(async (name) => ({ name, bytes: new Uint8Array(await byName.get(name)!.arrayBuffer()) })));
  }
  const base = source.baseUrl.replace(/\/+$/, '');
  return Promise.all(
    names.map(async (name) => {
      const response = await fetch(`${base}/${name}`);
      if (!response.ok) throw new InputError(`${name} of the built-in model: HTTP ${response.status}.`, 'Reload the page and export again.');
      return { name, bytes: new Uint8Array(await response.arrayBuffer()) };
    }),
  );
}
