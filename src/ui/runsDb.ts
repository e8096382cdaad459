/**
 * Finished (and stopped) runs kept in IndexedDB, so a reload keeps them and two runs can be overlaid; their trained
 * weights (the worker's native file, bytes) in a store of their own, so listing runs does not read them; and the
 * last checkpoint of the run that is going, so a reload can resume it (one at a time: a new one replaces it).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { CellId } from '../engine/adapter';
import { isMethodId } from '../methods/catalog';
import { SCORE_SERIES } from '../methods/entry';
import type { RunCheckpoint, TrainingPlan } from '../worker/protocol';
import { buildRunConfig, type RunConfig } from '../worker/run-config';
import { DEFAULT_METHOD } from './setup';
import { runDigest, type ResumeOffer, type RunDigest, type RunRecord } from './state';

interface RunsSchema extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { createdAt: number } };
  weights: { key: string; value: KeptWeights };
  checkpoints: { key: string; value: KeptCheckpoint };
}

/** A running run's last checkpoint, with the page's record of the run as it stood then (charts up to that step). */
export interface KeptCheckpoint {
  runId: string;
  savedAt: number;
  record: RunRecord;
  checkpoint: RunCheckpoint;
}

/** A run's trained variables as the native adapter file, and the fingerprint of the model they were trained on. */
export interface KeptWeights {
  runId: string;
  file: Uint8Array;
  fingerprint: string;
}

export interface RunSummary {
  id: string;
  label: string;
  createdAt: number;
  method: string;
  dataName: string;
  config: RunConfig;
  digest: RunDigest;
  weightsKept: boolean;
}

/** A run as version 1 kept it: the form's settings instead of the run config, scores without a series. */
type V1Record = Omit<RunRecord, 'config' | 'plan' | 'values'> & {
  settings: Record<string, unknown>;
  modelName: string;
  dataName: string;
  scoreSnapshots?: { step: number; names: string[]; values: Float64Array }[];
  plan: (Omit<TrainingPlan, 'cells' | 'exports'> & { matrices: { name: string; matrix: CellId }[] }) | null;
};

const V1_RECIPE_KEYS = ['epochs', 'batchSize', 'maxLength', 'adapterLr', 'classifierLr', 'weightDecay', 'warmupRatio', 'maxGradNorm', 'seed', 'logEvery'];

/** Upgraded in place: the method and recipe values it had, the names it stored (its data mapping was not kept). */
function upgradeV1(old: V1Record): RunRecord {
  const { settings, modelName, dataName, scoreSnapshots = [], plan, ...rest } = old;
  const base = {
    method: typeof settings.method === 'string' && isMethodId(settings.method) ? settings.method : DEFAULT_METHOD,
    model: { name: modelName, hubId: null, revision: null },
    data: { name: dataName, train: dataName, validation: null, columns: { text: '', textPair: null, label: '' }, task: 'classification' as const, labels: [] },
  };
  const recipe = Object.fromEntries(V1_RECIPE_KEYS.filter((k) => k in settings).map((k) => [k, settings[k]]));
  let config: RunConfig;
  try {
    config = buildRunConfig({ ...base, recipe });
  } catch {
    config = buildRunConfig(base);
  }
  const upgradedPlan: TrainingPlan | null = plan && {
    method: plan.method,
    totalSteps: plan.totalSteps,
    stepsPerEpoch: plan.stepsPerEpoch,
    epochs: plan.epochs,
    trainableParamsAtStart: plan.trainableParamsAtStart,
    metricNames: plan.metricNames,
    cells: plan.matrices.map((m) => ({ name: m.name, cell: m.matrix })),
    exports: [],
  };
  return { ...rest, config, plan: upgradedPlan, values: scoreSnapshots.map((v) => ({ series: SCORE_SERIES, step: v.step, names: v.names, values: v.values })) };
}

let dbPromise: Promise<IDBPDatabase<RunsSchema>> | null = null;

function db(): Promise<IDBPDatabase<RunsSchema>> {
  dbPromise ??= openDB<RunsSchema>('aflora-playground', 4, {
    async upgrade(database, oldVersion, _newVersion, transaction) {
      if (oldVersion < 4) database.createObjectStore('checkpoints', { keyPath: 'runId' });
      if (oldVersion < 3) database.createObjectStore('weights', { keyPath: 'runId' });
      if (oldVersion < 1) {
        const store = database.createObjectStore('runs', { keyPath: 'id' });
        store.createIndex('createdAt', 'createdAt');
        return;
      }
      if (oldVersion < 2) {
        const store = transaction.objectStore('runs');
        for (let cursor = await store.openCursor(); cursor; cursor = await cursor.continue()) {
          await cursor.update(upgradeV1(cursor.value as unknown as V1Record));
        }
      }
    },
  });
  return dbPromise;
}

export async function saveRun(run: RunRecord): Promise<void> {
  await (await db()).put('runs', run);
}

export async function loadRun(id: string): Promise<RunRecord | undefined> {
  return (await db()).get('runs', id);
}

export async function deleteRun(id: string): Promise<void> {
  const tx = (await db()).transaction(['runs', 'weights', 'checkpoints'], 'readwrite');
  await Promise.all([tx.objectStore('runs').delete(id), tx.objectStore('weights').delete(id), tx.objectStore('checkpoints').delete(id), tx.done]);
}

export async function deleteAllRuns(): Promise<void> {
  const tx = (await db()).transaction(['runs', 'weights', 'checkpoints'], 'readwrite');
  await Promise.all([tx.objectStore('runs').clear(), tx.objectStore('weights').clear(), tx.objectStore('checkpoints').clear(), tx.done]);
}

/** Keeps `kept` as the one resumable run (an older run's checkpoint goes: only the newest interrupted run resumes). */
export async function saveCheckpoint(kept: KeptCheckpoint): Promise<void> {
  const tx = (await db()).transaction('checkpoints', 'readwrite');
  await Promise.all([tx.store.clear(), tx.store.put(kept), tx.done]);
}

export async function loadCheckpoint(runId: string): Promise<KeptCheckpoint | undefined> {
  return (await db()).get('checkpoints', runId);
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await (await db()).delete('checkpoints', runId);
}

/** The interrupted run kept with a checkpoint, as the Train panel offers it (none: null). */
export async function resumableRun(): Promise<ResumeOffer | null> {
  const [kept] = await (await db()).getAll('checkpoints');
  return kept ? resumeOfferOf(kept) : null;
}

export function resumeOfferOf({ runId, record, checkpoint }: KeptCheckpoint): ResumeOffer {
  return {
    runId,
    label: record.label,
    step: checkpoint.trainer.step,
    totalSteps: checkpoint.trainer.totalSteps,
    modelName: record.config.model.name,
    dataFile: record.config.data.train,
    model: checkpoint.model,
    data: checkpoint.data,
  };
}

export async function saveWeights(weights: KeptWeights): Promise<void> {
  await (await db()).put('weights', weights);
}

export async function loadWeights(runId: string): Promise<KeptWeights | undefined> {
  return (await db()).get('weights', runId);
}

/** Newest first. */
export async function listRuns(): Promise<RunSummary[]> {
  const runs = await (await db()).getAllFromIndex('runs', 'createdAt');
  return runs.reverse().map((run) => ({
    id: run.id,
    label: run.label,
    createdAt: run.createdAt,
    method: run.config.method.id,
    dataName: run.config.data.name,
    config: run.config,
    digest: runDigest(run),
    weightsKept: run.keptWeights !== undefined,
  }));
}
