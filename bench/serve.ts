/**
 * Server benchmark (`npm run bench -- serve`): `serve()` in this process with `fakeTransport()` from `earshot/testing`
 * (so the figures are earshot's own work per call: WebSocket, JSON, base64, µ-law, time line, resampling to 16 kHz,
 * the realtime operator, events, metrics), and the simulated media servers — Twilio Media Streams clients — in a
 * child process.
 *
 * - **load**: 100 concurrent calls at real time (20 ms frames), 30 s each → earshot's CPU per call as a share of
 *   one core and RSS, beside the same process idle (baseline) and the clients' own CPU;
 * - **soak**: 20 calls of 30 minutes of audio each on an accelerated clock (8× real time per call by default: Twilio
 *   places audio by `media.timestamp`, so the server's time line is the protocol's, not the wall's)
 *   → RSS and the live heap after a full GC every 5 s: start, peak, end, slope over the second half.
 *
 * Settings: EARSHOT_BENCH_CALLS (100), EARSHOT_BENCH_CALL_SECONDS (30), EARSHOT_BENCH_SOAK_CALLS (20),
 * EARSHOT_BENCH_SOAK_MINUTES (30), EARSHOT_BENCH_SOAK_SPEED (8; Infinity: as fast as the server reads),
 * EARSHOT_BENCH_PARTS (load,soak).
 * Run alone: `node dist/bench/serve.js` after a build.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { linearToUlaw } from '../src/rtp/codecs.js';
import { serve } from '../src/server/serve.js';
import { fakeTransport } from '../src/testing/index.js';
import { twilioCall, utteranceScript } from './call-clients.js';

type Row = Record<string, string | number>;

const SELF = fileURLToPath(import.meta.url);
const print = process.argv[1] !== undefined && SELF === process.argv[1];

/** Speech-like µ-law: two tones under a syllable-rate envelope, with pauses (the content does not matter here). */
function ulawAudio(seconds: number): Buffer {
  const n = Math.round(seconds * 8000);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    const t = i / 8000;
    const env = (t % 4) < 3 ? 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t) : 0;
    out[i] = linearToUlaw(Math.round(env * (5000 * Math.sin(2 * Math.PI * 220 * t) + 2000 * Math.sin(2 * Math.PI * 1330 * t))));
  }
  return out;
}

/** A full garbage collection, to read the live heap rather than V8's lazily grown RSS. */
function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** The client side, in a child process: `calls` Twilio calls of `seconds` at `speed`, staggered over 1 s. */
async function clientsChild(url: string, calls: number, seconds: number, speed: number): Promise<void> {
  const audio = ulawAudio(Math.min(seconds, 60));
  // Longer calls loop the same minute of audio (one buffer shared by every call).
  const ulaw = seconds <= 60 ? audio : Buffer.concat(Array.from({ length: Math.ceil(seconds / 60) }, () => audio)).subarray(0, seconds * 8000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const codes: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * 1000) / calls));
      const r = await twilioCall({ url, ulaw, callSid: `CA${String(i).padStart(32, '0')}`, speed });
      codes[r.closeCode] = (codes[r.closeCode] ?? 0) + 1;
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`DONE ${JSON.stringify({ wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, codes })}\n`);
}

function runClients(url: string, calls: number, seconds: number, speed: number): Promise<{ wallMs: number; cpuMs: number; codes: Record<string, number> }> {
  const child = spawn(process.execPath, [SELF, '--clients-child', url, String(calls), String(seconds), String(speed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /DONE (\{.*\})/.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as { wallMs: number; cpuMs: number; codes: Record<string, number> });
    });
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`clients exited with ${code}`))));
  });
}

/** `code:count` pairs, e.g. `1000:20`. */
function counts(record: Record<string, number>): string {
  return Object.entries(record).map(([k, v]) => `${k}:${v}`).join(' ') || '-';
}

/** The server's errors by code, e.g. `EARSHOT_TIMEOUT:2`. */
async function errorCounts(server: { metrics: { errors: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> } } }): Promise<string> {
  const out: Record<string, number> = {};
  for (const v of (await server.metrics.errors.get()).values) out[String(v.labels['code'])] = v.value;
  return counts(out);
}

function mb(bytes: number | undefined): number {
  return +((bytes ?? 0) / 1048576).toFixed(0);
}

function record(rows: Row[], row: Row): void {
  rows.push(row);
  if (print) console.log(JSON.stringify(row));
}

/** CPU share of one core used by this process over `ms` of doing nothing but its timers: the floor. */
async function idleCpu(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100;
}

async function load(rows: Row[]): Promise<void> {
  const calls = Number(process.env.EARSHOT_BENCH_CALLS ?? 100);
  const seconds = Number(process.env.EARSHOT_BENCH_CALL_SECONDS ?? 30);
  const server = await serve({ transport: fakeTransport({ script: utteranceScript(3600, 3000) }), maxCalls: calls, idleTimeoutMs: 30_000 });
  try {
    const idle = await idleCpu(3000);
    gcNow();
    const rss: number[] = [process.memoryUsage().rss];
    const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const clients = await runClients(`${server.url.replace('http', 'ws')}/twilio`, calls, seconds, 1);
    while (server.activeCalls() > 0) await new Promise((r) => setTimeout(r, 20));
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const finals = (await server.metrics.finals.get()).values.reduce((s, v) => s + v.value, 0);
    record(rows, {
      part: `load: ${calls} concurrent Twilio calls × ${seconds} s, real time`,
      close_codes: counts(clients.codes),
      errors: await errorCounts(server),
      finals,
      cpu_per_call_pct_of_core: +((cpuMs / wall / calls) * 100).toFixed(3),
      cpu_total_pct_of_core: +((cpuMs / wall) * 100).toFixed(1),
      idle_process_pct_of_core: +idle.toFixed(2),
      clients_cpu_pct_of_core: +((clients.cpuMs / clients.wallMs) * 100).toFixed(1),
      rss_start_MB: mb(rss[0]),
      rss_peak_MB: mb(Math.max(...rss)),
      rss_per_call_MB: +((Math.max(...rss) - rss[0]!) / 1048576 / calls).toFixed(2),
      wall_s: +(wall / 1000).toFixed(1),
    });
  } finally {
    await server.close();
  }
}

async function soak(rows: Row[]): Promise<void> {
  const calls = Number(process.env.EARSHOT_BENCH_SOAK_CALLS ?? 20);
  const minutes = Number(process.env.EARSHOT_BENCH_SOAK_MINUTES ?? 30);
  const speed = Number(process.env.EARSHOT_BENCH_SOAK_SPEED ?? 8);
  const server = await serve({ transport: fakeTransport({ script: utteranceScript(3600, 3000) }), maxCalls: calls });
  try {
    gcNow();
    const rss: number[] = [];
    const heap: number[] = [];
    const audio: number[] = [];
    const sample = async (): Promise<void> => {
      gcNow();
      const m = process.memoryUsage();
      rss.push(m.rss);
      heap.push(m.heapUsed + m.external);
      audio.push((await server.metrics.audioSeconds.get()).values.reduce((s, v) => s + v.value, 0));
    };
    await sample();
    const sampler = setInterval(() => void sample(), 5000);
    const t0 = performance.now();
    const clients = await runClients(`${server.url.replace('http', 'ws')}/twilio`, calls, minutes * 60, speed);
    while (server.activeCalls() > 0) await new Promise((r) => setTimeout(r, 20));
    const wall = performance.now() - t0;
    clearInterval(sampler);
    await sample();
    const half = heap.slice(Math.floor(heap.length / 2));
    const halfAudioMin = (audio[audio.length - 1]! - audio[Math.floor(audio.length / 2)]!) / 60 / calls;
    const slope = half.length > 1 && halfAudioMin > 0 ? (half[half.length - 1]! - half[0]!) / 1048576 / halfAudioMin : 0;
    record(rows, {
      part: `soak: ${calls} calls × ${minutes} min of audio, accelerated`,
      close_codes: counts(clients.codes),
      errors: await errorCounts(server),
      audio_min_per_call: +(audio[audio.length - 1]! / 60 / calls).toFixed(1),
      speed_x_real_time: +((audio[audio.length - 1]! / calls) / (wall / 1000)).toFixed(1),
      rss_start_MB: mb(rss[0]),
      rss_peak_MB: mb(Math.max(...rss)),
      rss_end_MB: mb(rss[rss.length - 1]),
      live_heap_start_MB: +((heap[0] ?? 0) / 1048576).toFixed(1),
      live_heap_peak_MB: +(Math.max(...heap) / 1048576).toFixed(1),
      live_heap_slope_2nd_half_MB_per_call_audio_min: +slope.toFixed(3),
      samples: rss.length,
      wall_s: +(wall / 1000).toFixed(1),
    });
  } finally {
    await server.close();
  }
}

/** The server benchmark (see the file's summary). */
export async function benchServe(): Promise<Row[]> {
  const rows: Row[] = [];
  const parts = (process.env.EARSHOT_BENCH_PARTS ?? 'load,soak').split(',');
  if (parts.includes('load')) await load(rows);
  if (parts.includes('soak')) await soak(rows);
  return rows;
}

if (process.argv[2] === '--clients-child') {
  await clientsChild(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
} else if (print) {
  console.table(await benchServe());
}
