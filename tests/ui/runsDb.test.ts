/**
 * The runs kept in IndexedDB (runsDb, through fake-indexeddb's in-memory IndexedDB): a run and its weights come
 * back, deleting one run takes its weights with it, and "Delete all runs" leaves neither runs nor weights.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
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
});
