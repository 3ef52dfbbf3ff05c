/**
 * `npm run bench`: runs every benchmark of earshot and prints one table per area. Each figure that depends on the
 * machine is given beside a baseline measured in the same run (bare ffmpeg, a pool of one, …), since these
 * machines are noisy. Pick areas with `npm run bench -- decode engine` (run in the order named).
 *
 * `npm run bench -- --repeat 3 decode engine` runs each area 3 times, each run in a fresh process (as a single
 * `npm run bench` would), one area after the other, then prints how noisy each row is: every figure as the min–max
 * over the runs, then as the median (`bench/noise.ts`). The runs' rows are also written to
 * `.tmp/bench/repeat-<area>.json`.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summariseRuns, type Row } from './noise.js';

const AREAS: Array<{ name: string; module: string; fn: string }> = [
  { name: 'decode', module: './decode.js', fn: 'benchDecode' },
  { name: 'engine', module: './engine.js', fn: 'benchEngine' },
  { name: 'pool-memory', module: './engine.js', fn: 'benchPoolMemory' },
  { name: 'near-realtime', module: './near-realtime.js', fn: 'benchNearRealtime' },
  { name: 'realtime', module: './realtime.js', fn: 'benchRealtime' },
  { name: 'batch', module: './batch.js', fn: 'benchBatch' },
  { name: 'rtp', module: './rtp.js', fn: 'benchRtp' },
  { name: 'real', module: './real.js', fn: 'benchReal' },
  { name: 'scale', module: './scale.js', fn: 'benchScale' },
  { name: 'fuzz-calls', module: './fuzz-calls.js', fn: 'benchFuzzCalls' },
  { name: 'serve', module: './serve.js', fn: 'benchServe' },
];

/** What a run in a child process sends back. */
type ChildResult = { rows: Row[] } | { error: string };

const load = (): string => loadavg()[0]!.toFixed(1);
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);

/** Run one area here and print its table; its rows, or undefined when the build has no such benchmark. */
async function runArea(area: (typeof AREAS)[number]): Promise<Row[] | undefined> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(area.module)) as Record<string, unknown>;
  } catch {
    console.log(`\n## ${area.name}: no benchmark in this build`);
    return undefined;
  }
  const fn = mod[area.fn];
  if (typeof fn !== 'function') return undefined;
  console.log(`\n## ${area.name}`);
  const started = performance.now();
  const rows = (await (fn as () => Promise<Row[]>)()) ?? [];
  console.table(rows);
  console.log(`(${seconds(started)} s)`);
  return rows;
}

/** One run of `area` in a fresh process (this file with `--child`); its rows. */
function runInChild(area: string): Promise<Row[] | undefined> {
  return new Promise((res, rej) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', area], { stdio: 'inherit' });
    let result: ChildResult | undefined;
    child.on('message', (m: ChildResult) => (result = m));
    child.on('error', rej);
    child.on('exit', (code) => {
      if (result && 'error' in result) rej(new Error(result.error));
      else if (code !== 0 && !result) rej(new Error(`run exited with ${code}`));
      else res(result?.rows);
    });
  });
}

const argv = process.argv.slice(2);
const at = argv.indexOf('--child');
if (at >= 0) {
  // One run for the parent below: print as usual, send the rows back, and exit even if the area left a handle open.
  const area = AREAS.find((a) => a.name === argv[at + 1])!;
  let result: ChildResult;
  try {
    result = { rows: (await runArea(area)) ?? [] };
  } catch (err) {
    result = { error: err instanceof Error ? err.message : String(err) };
  }
  process.send!(result, () => process.exit(0));
} else {
  const r = argv.findIndex((a) => a === '--repeat' || a.startsWith('--repeat='));
  const repeat = r < 0 ? 1 : Number(argv[r]!.includes('=') ? argv[r]!.split('=')[1] : argv[r + 1]);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat takes a whole number ≥ 1');
  const names = argv.filter((_, i) => !(r >= 0 && (i === r || (i === r + 1 && !argv[r]!.includes('=')))));
  const areas = names.length === 0 ? AREAS : names.flatMap((n) => AREAS.filter((a) => a.name === n));
  for (const n of names) if (!AREAS.some((a) => a.name === n)) console.log(`no area '${n}' (areas: ${AREAS.map((a) => a.name).join(', ')})`);
  let failed = 0;
  for (const area of areas) {
    if (repeat === 1) {
      try {
        await runArea(area);
      } catch (err) {
        failed++;
        console.log(`${area.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      continue;
    }
    const runs: Row[][] = [];
    const loads: string[] = [];
    const times: string[] = [];
    for (let i = 1; i <= repeat; i++) {
      loads.push(load());
      console.log(`\n# ${area.name}, run ${i} of ${repeat}: ${new Date().toISOString()}, load ${loads.at(-1)}`);
      const started = performance.now();
      try {
        const rows = await runInChild(area.name);
        if (rows?.length) runs.push(rows);
      } catch (err) {
        failed++;
        console.log(`${area.name} run ${i} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      times.push(seconds(started));
    }
    if (runs.length === 0) continue;
    const dir = resolve(process.cwd(), '.tmp/bench');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `repeat-${area.name}.json`), JSON.stringify({ area: area.name, loads, seconds: times, runs }, null, 1));
    console.log(`\n## ${area.name}: ${runs.length} runs (load at start ${loads.join(', ')}; ${times.join(' / ')} s), min–max`);
    console.table(summariseRuns(runs, 'range'));
    console.log(`\n## ${area.name}: median of ${runs.length} runs`);
    console.table(summariseRuns(runs, 'median'));
  }
  process.exitCode = failed ? 1 : 0;
}
