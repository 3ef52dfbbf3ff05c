/**
 * `npm run bench`: runs every benchmark of earshot and prints one table per area. Each figure that depends on the
 * machine is given beside a baseline measured in the same run (bare ffmpeg, a pool of one, …), since these
 * machines are noisy. Pick areas with `npm run bench -- decode engine`.
 */
type Rows = Array<Record<string, string | number>>;

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

const wanted = process.argv.slice(2);
let failed = 0;
for (const area of AREAS) {
  if (wanted.length > 0 && !wanted.includes(area.name)) continue;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(area.module)) as Record<string, unknown>;
  } catch {
    console.log(`\n## ${area.name}: no benchmark in this build`);
    continue;
  }
  const fn = mod[area.fn];
  if (typeof fn !== 'function') continue;
  console.log(`\n## ${area.name}`);
  const started = performance.now();
  try {
    const rows = (await (fn as () => Promise<Rows>)()) ?? [];
    console.table(rows);
    console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed++;
    console.log(`${area.name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
process.exitCode = failed ? 1 : 0;
