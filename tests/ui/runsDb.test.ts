/**
 * The runs kept in IndexedDB (runsDb, through fake-indexeddb's in-memory IndexedDB): a run and its weights come
 * back, deleting one run takes its weights with it, and "Delete all runs" leaves neither runs nor weights nor a
 * checkpoint; a database of the version before checkpoints is upgraded with its runs and weights kept.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { describe, expect, it, vi } from 'vitest';
import { deleteAllRuns, deleteRun, listRuns, loadRun, loadWeights, saveRun, saveWeights } from '../../src/ui/runsDb';
import { newRun } from '../../src/ui/state';
import { buildRunConfig } from '../../src/worker/run-config';

const config = buildRunConfig({
  method: 'aflora',
  model: { name: 'built-in tiny BERT', hubId: null, revision: null },
  data: { name: 'spam-ham', train: 'spam-ham.csv', validation: null, columns: { text: 'text', textPair: null, label: 'label' }, task: 'classification', labels: ['ham', 'spam'] },
});

async function keep(id: string, createdAt: number) {
  await saveRun({ ...newRun({ id, label: `run ${id}`, createdAt, config }), keptWeights: { fingerprint: 'f' } });
  await saveWeights({ runId: id, file: new Uint8Array([createdAt]), fingerprint: 'f' });
}

describe('runsDb', () => {
  it('keeps runs with their weights, deletes one with its weights, and Delete all leaves nothing', async () => {
    await keep('a', 1);
    await keep('b', 2);
    await keep('c', 3);
    expect((await listRuns()).map((r) => r.id), 'newest first').toEqual(['c', 'b', 'a']);
    expect((await listRuns()).every((r) => r.weightsKept)).toBe(true);
    expect((await loadRun('b'))?.config).toEqual(config);
    expect((await loadWeights('b'))?.file).toEqual(new Uint8Array([2]));

    await deleteRun('b');
    expect((await listRuns()).map((r) => r.id)).toEqual(['c', 'a']);
    expect(await loadWeights('b'), 'its weights went with it').toBeUndefined();
    expect((await loadWeights('a'))?.file).toEqual(new Uint8Array([1]));

    await deleteAllRuns();
    expect(await listRuns()).toEqual([]);
    expect(await loadWeights('a')).toBeUndefined();
    expect(await loadWeights('c')).toBeUndefined();
  });

  it('upgrades a version 3 database (runs, weights) to version 4 with a checkpoint store, keeping what it held', async () => {
    globalThis.indexedDB = new IDBFactory();
    const v3 = await openDB('aflora-playground', 3, {
      upgrade(database) {
        database.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
        database.createObjectStore('weights', { keyPath: 'runId' });
      },
    });
    await v3.put('runs', { ...newRun({ id: 'old', label: 'old run', createdAt: 5, config }), keptWeights: { fingerprint: 'f' } });
    await v3.put('weights', { runId: 'old', file: new Uint8Array([9]), fingerprint: 'f' });
    v3.close();
    vi.resetModules();
    const db = await import('../../src/ui/runsDb');
    expect((await db.listRuns()).map((r) => [r.id, r.weightsKept])).toEqual([['old', true]]);
    expect((await db.loadWeights('old'))?.file).toEqual(new Uint8Array([9]));
    expect(await db.resumableRun()).toBeNull();
    const checkpoint = { trainer: { version: 1, step: 4, totalSteps: 9, variables: new Map(), optimizer: [], method: {} as never }, seconds: 3, model: 'M', data: 'D' };
    const record = newRun({ id: 'going', label: 'going run', createdAt: 6, config });
    await db.saveCheckpoint({ runId: 'going', savedAt: 7, record, checkpoint });
    expect(await db.resumableRun()).toEqual({ runId: 'going', label: 'going run', step: 4, totalSteps: 9, modelName: 'built-in tiny BERT', dataFile: 'spam-ham.csv', model: 'M', data: 'D' });
    // One interrupted run at a time: a newer one's checkpoint replaces it.
    await db.saveCheckpoint({ runId: 'newer', savedAt: 8, record: { ...record, id: 'newer' }, checkpoint });
    expect(await db.loadCheckpoint('going')).toBeUndefined();
    expect((await db.resumableRun())?.runId).toBe('newer');
    await db.deleteAllRuns();
    expect(await db.resumableRun()).toBeNull();
    expect(await db.listRuns()).toEqual([]);
  });
});
