/**
 * Call-protocol fuzz per protocol: 500 calls of 20 mutated frames each (10,000 frames) for every media-server
 * protocol, from a fixed seed, through the `calls` target of `npm run fuzz` (`bench/fuzz/calls.ts`). Every call must
 * end by completing or with a coded error, and nothing may escape a socket handler; heap before and after each
 * protocol (after a GC when `--expose-gc` is given).
 *
 * Run alone: `node --expose-gc dist/bench/fuzz-calls.js`; `npm run bench -- fuzz-calls`; all protocols at scale:
 * `npm run fuzz -- --target calls --count 100000`.
 */
import { pathToFileURL } from 'node:url';
import { CALL_PROTOCOLS, callsTarget } from './fuzz/calls.js';
import { runTarget } from './fuzz/run.js';

type Row = Record<string, string | number>;

const CALLS = 500;
const FRAMES_PER_CALL = 20;
const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Fuzz every call protocol with 10,000 mutated frames each.
 * @returns one row per protocol: frames sent, calls and their outcomes, frames per second, heap growth.
 * @throws Error when a call ended uncoded or did not end.
 */
export async function benchFuzzCalls(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const protocol of CALL_PROTOCOLS) {
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const row = await runTarget(await callsTarget([protocol], FRAMES_PER_CALL), 0xca11 + protocol.length, CALLS);
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    if (row.uncaught > 0 || row.hangs > 0) throw new Error(`${protocol}: ${row.failures.join('; ')}`);
    rows.push({
      protocol,
      frames: CALLS * FRAMES_PER_CALL,
      calls: CALLS,
      outcomes: `complete ${row.results}, coded ${row.coded}`,
      'frames/s': Math.round((CALLS * FRAMES_PER_CALL) / row.seconds),
      'heap Δ (MB)': ((heapAfter - heapBefore) / 1e6).toFixed(1),
      'rss (MB)': row.peakRssMb,
    });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await benchFuzzCalls());
}
