/**
 * The CI fuzz budget: 1,000 seeded inputs per parser (scripts/fuzz/targets.ts), each in a worker thread with
 * a heap cap and a watchdog, must end in success or a typed error. `npm run fuzz -- --count 20000` runs longer.
 */
import { describe, expect, it } from 'vitest';
import { formatTable, runCampaign } from '../scripts/fuzz/campaign';
import { TARGETS } from '../scripts/fuzz/targets';

describe('fuzz', () => {
  it('ends every input in success or a typed error, within time and memory limits', { timeout: 240_000 }, async () => {
    const results = await runCampaign({ count: 1000, seed: 1 });
    console.log(formatTable(results));
    expect(results.map((r) => r.parser)).toEqual(TARGETS.map((t) => t.name));
    for (const r of results) {
      expect(r.ok + r.clear + r.crash + r.hang + r.blowUp, r.parser).toBe(1000);
      expect(r.failures, r.parser).toEqual([]);
      // A fuzzer that only ever produces garbage proves little: some inputs of every parser must parse.
      expect(r.ok, r.parser).toBeGreaterThan(0);
    }
  });
});
