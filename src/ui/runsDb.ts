/** Finished (and stopped) runs kept in IndexedDB, so a reload keeps them and two runs can be overlaid. */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { RunRecord } from './state';

interface RunsSchema extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { createdAt: number } };
}

export interface RunSummary {
  id: string;
  label: string;
  createdAt: number;
  method: string;
  dataName: string;
  steps: number;
}

let dbPromise: Promise<IDBPDatabase<RunsSchema>> | null = null;

function db(): Promise<IDBPDatabase<RunsSchema>> {
  dbPromise ??= openDB<RunsSchema>('aflora-playground', 1, {
    upgrade(database) {
      const store = database.createObjectStore('runs', { keyPath: 'id' });
      store.createIndex('createdAt', 'createdAt');
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
  await (await db()).delete('runs', id);
}

/** Newest first. */
export async function listRuns(): Promise<RunSummary[]> {
  const runs = await (await db()).getAllFromIndex('runs', 'createdAt');
  return runs.reverse().map((run) => ({
    id: run.id,
    label: run.label,
    createdAt: run.createdAt,
    method: run.settings.method,
    dataName: run.dataName,
    steps: run.metrics.step.length,
  }));
}
