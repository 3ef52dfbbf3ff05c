/**
 * `npm run fuzz -- --seed S --count N [--target T]…`: N mutated inputs per target, each ending in a result or a
 * coded `EarshotError` within the target's time bound; prints one row per target: cases, coded errors, results,
 * uncaught (anything else thrown, or an unhandled rejection), hangs (over the bound), peak RSS. Exits 1 when any
 * case was uncaught or hung, printing the first few with their case numbers (case n of seed S draws from
 * `caseRng(S, n)`: rerun with the same seed, or that case alone). Progress (cases, RSS, seconds) goes to stderr after
 * each tenth of a target.
 */
import { parseArgs } from 'node:util';
import { caseRng } from './mutate.js';
import { DEFAULT_TARGETS, TARGETS, type FuzzTarget } from './targets.js';

/** One target's tally. */
export interface FuzzRow {
  target: string;
  cases: number;
  coded: number;
  results: number;
  uncaught: number;
  hangs: number;
  peakRssMb: number;
  seconds: number;
  /** The first failures: case number and what was thrown. */
  failures: string[];
}

/**
 * Run `count` cases of each named target from `seed`.
 *
 * @param options - seed, count, target names (default all), and an optional progress callback (each tenth).
 * @returns one row per target.
 * @example
 * const rows = await runFuzz({ seed: 1, count: 200, targets: ['wav', 'rtp'] });
 */
export async function runFuzz(options: { seed: number; count: number; targets?: readonly string[]; progress?: Progress }): Promise<FuzzRow[]> {
  const names = options.targets?.length ? options.targets : DEFAULT_TARGETS;
  const rows: FuzzRow[] = [];
  for (const name of names) {
    const make = TARGETS[name];
    if (!make) throw new Error(`unknown fuzz target ${name}; known: ${Object.keys(TARGETS).join(', ')}`);
    rows.push(await runTarget(await make(), options.seed, options.count, options.progress));
  }
  return rows;
}

/** Told after each tenth of a target's cases: how many ended, the RSS then (MB), seconds so far. */
export type Progress = (target: string, done: number, rssMb: number, seconds: number) => void;

/**
 * Run `count` cases of one target from `seed`, `target.concurrency` of them at a time (each case draws from its own
 * generator, `caseRng(seed, n)`, so the inputs do not depend on the interleaving). A case over `target.boundMs` is a
 * hang: counted, and its slot goes to the next case.
 *
 * @example
 * const row = await runTarget(await callsTarget(['twilio']), 1, 500);
 */
export async function runTarget(target: FuzzTarget, seed: number, count: number, progress?: Progress): Promise<FuzzRow> {
  const row: FuzzRow = { target: target.name, cases: 0, coded: 0, results: 0, uncaught: 0, hangs: 0, peakRssMb: 0, seconds: 0, failures: [] };
  const started = performance.now();
  const fail = (what: string): void => {
    if (row.failures.length < 5) row.failures.push(what);
  };
  let latest = -1;
  const stray = (err: unknown) => {
    row.uncaught++;
    fail(`case ${latest}${(target.concurrency ?? 1) > 1 ? ' or one running beside it' : ''} (unhandled): ${describe(err)}`);
  };
  process.on('uncaughtException', stray);
  process.on('unhandledRejection', stray);
  let next = 0;
  let done = 0;
  const tenth = Math.max(1, Math.ceil(count / 10));
  const one = async (n: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), target.boundMs)));
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => target.run(n, caseRng(seed, n))), hang]);
      if (outcome === 'hang') {
        row.hangs++;
        fail(`case ${n}: no end within ${target.boundMs} ms`);
      } else if (outcome === 'coded') row.coded++;
      else row.results++;
    } catch (err) {
      row.uncaught++;
      fail(`case ${n}: ${describe(err)}`);
    } finally {
      clearTimeout(timer);
    }
    const rss = ++done % 256 === 0 || done % tenth === 0 ? process.memoryUsage.rss() / 1048576 : 0;
    row.peakRssMb = Math.max(row.peakRssMb, rss);
    if (done % tenth === 0) progress?.(target.name, done, Math.round(rss), Math.round((performance.now() - started) / 1000));
  };
  const worker = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      latest = n;
      row.cases++;
      await one(n);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(count, target.concurrency ?? 1)) }, worker));
  } finally {
    await target.close?.();
    // Let late failures of the last cases land on this target.
    await new Promise((r) => setTimeout(r, 50));
    process.off('uncaughtException', stray);
    process.off('unhandledRejection', stray);
  }
  row.peakRssMb = Math.round(Math.max(row.peakRssMb, process.memoryUsage.rss() / 1048576));
  row.seconds = Math.round((performance.now() - started) / 100) / 10;
  return row;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : String(err).slice(0, 300);
}

/** The rows as a Markdown table. */
export function fuzzTable(rows: readonly FuzzRow[]): string {
  const lines = ['| target | cases | coded errors | results | uncaught | hangs | peak RSS | time |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.target} | ${r.cases} | ${r.coded} | ${r.results} | ${r.uncaught} | ${r.hangs} | ${r.peakRssMb} MB | ${r.seconds} s |`);
  return lines.join('\n');
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('/fuzz/run.js')) {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, count: { type: 'string', default: '100000' }, target: { type: 'string', multiple: true } }, strict: true });
  const seed = Number(values.seed);
  const count = Number(values.count);
  if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
    console.error('EARSHOT_INVALID_ARGUMENT: --seed and --count take integers (count ≥ 1)');
    process.exit(2);
  }
  // Progress on stderr (RSS along the way shows whether memory grows); the table on stdout.
  const progress: Progress = (target, done, rssMb, seconds) => console.error(`${target}: ${done}/${count} cases, RSS ${rssMb} MB, ${seconds} s`);
  const rows = await runFuzz({ seed, count, progress, ...(values.target ? { targets: values.target } : {}) });
  console.log(`fuzz: seed ${seed}, ${count} cases per target\n`);
  console.log(fuzzTable(rows));
  const bad = rows.filter((r) => r.uncaught > 0 || r.hangs > 0);
  for (const r of bad) for (const f of r.failures) console.log(`${r.target}: ${f}`);
  process.exit(bad.length > 0 ? 1 : 0);
}
