/**
 * A fixed slice of `npm run faults` (bench/faults/run.ts): the key and the temporary key minted for the realtime
 * column are grepped for in every output of the runs (error messages with their inspected `cause` chains, finals),
 * and the slice's cells are real outcomes — recovered with the baseline text or a coded error, never a leak.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLUMNS, FAULTS, KEY, leaks, matrix, select, setUp, tearDown, type Bench } from '../../bench/faults/run.js';

let b: Bench;
beforeAll(async () => {
  b = await setUp();
}, 30_000);
afterAll(async () => {
  await tearDown(b);
});

describe('fault matrix slice: the keys never appear in an output', () => {
  it('429 without Retry-After, malformed message, DNS failure × qwen3-asr-flash-realtime (temporary key), qwen3-asr-flash', async () => {
    const rows = select(FAULTS, 'none (baseline),429 without,malformed,DNS');
    const m = await matrix(b, rows, select(COLUMNS, 'qwen3-asr-flash-realtime,qwen3-asr-flash'));
    expect(m.bad).toBe(0);
    // A temporary key was minted (and is grepped for), and the outputs are many: the DNS row's errors and causes.
    expect(b.secrets.size).toBeGreaterThan(0);
    expect(m.grepped).toBeGreaterThan(10);
    expect(m.rows[2]).toBe('| none (baseline) | baseline (3 finals) | baseline (1 finals) |');
    expect(m.rows.join('\n')).toMatch(/DNS failure \| coded EARSHOT_CONNECTION_LOST/);
    expect(m.rows.join('\n')).not.toMatch(/KEY LEAKED|hang|UNCODED|DIFFERENT/);
    // The grep itself finds a key where there is one.
    expect(leaks(b, [`Authorization: Bearer ${KEY}`])).toEqual([KEY]);
    expect(leaks(b, [`?api_key=${[...b.secrets][0]}`])).toHaveLength(1);
  }, 60_000);
});
