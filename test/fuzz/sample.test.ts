/**
 * A small fixed-seed sample of every `npm run fuzz` target (the same mutator and targets, a few hundred cases each):
 * every case ends in a result or a coded error within its bound; none uncaught, none hung.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/fuzz/run.js';

const SAMPLE: Array<[string, number]> = [
  ['wav', 3000],
  ['rtp', 3000],
  ['decode', 300],
  ['client', 300],
  ['emulator-http', 120],
  ['emulator-ws', 120],
];

describe('fuzz sample (seed 7)', () => {
  it.each(SAMPLE)('%s: %i cases, each a result or a coded error', async (target, count) => {
    const [row] = await runFuzz({ seed: 7, count, targets: [target] });
    expect(row!.failures).toEqual([]);
    expect(row).toMatchObject({ cases: count, uncaught: 0, hangs: 0 });
    expect(row!.coded + row!.results).toBe(count);
    // Both outcomes occur: the mutations reach past the first check and the seeds are still valid enough to pass.
    expect(row!.coded).toBeGreaterThan(0);
    expect(row!.results).toBeGreaterThan(0);
  }, 60_000);
});
