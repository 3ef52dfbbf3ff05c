/**
 * `npm run soak -- --hours 2`: hours of audio through two long-lived pipelines on the emulator (scripted, on
 * 127.0.0.1), each run twice — fault-free, then with faults — and compared:
 *
 * - **realtime**: `transcribeRealtime(qwen3-asr-flash-realtime)` with sessions capped at `--session-min` minutes (so
 *   `transcribeRealtime` rotates them at pauses) and every other connection cut after `--kill-min` minutes of audio
 *   (a fault proxy between client and emulator): the client reconnects and replays what was not finalised;
 * - **near-realtime**: `nearRealtime()` windows through `transcribeBatch(qwen3-asr-flash)` (4 requests in flight),
 *   with a 500 injected for every 25th window (retried).
 *
 * The audio is three spoken sentences with pauses, looped for the hours asked, sent as fast as the emulator takes it
 * (the realtime pipeline may be paced at `--speed` times real time instead; its replay keeps all audio the server has
 * not reported on however far ahead the client is, so unpaced is the harder case), the near-realtime one is not paced
 * at all. The scripted emulator answers every utterance
 * alike; a final is its text with its start and end on the input's time line, and the faulty run's finals must
 * equal the fault-free run's, none twice. RSS and heap are sampled at every minute of
 * audio and printed, with the first vs last quarter of each run.
 *
 * `node dist/bench/soak.js --hours H [--speed N (default: unpaced)] [--kill-min 4] [--session-min 6] [--only realtime|near-realtime]`.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { concatMap, lastValueFrom, range, tap, toArray, type Observable } from 'rxjs';
import type { AudioChunk, TranscriptEvent } from '../src/core/types.js';
import { startEmulator } from '../src/emulator/server.js';
import { nearRealtime } from '../src/operators/near-realtime.js';
import { pace } from '../src/operators/pace.js';
import { transcribeBatch } from '../src/operators/transcribe-batch.js';
import { transcribeRealtime } from '../src/operators/transcribe-realtime.js';
import { fromPcm } from '../src/sources/pcm.js';
import { createTransport, type CreateTransportOptions } from '../src/transports/catalog.js';
import { startFaultProxy, type FaultProxy } from './faults/proxy.js';

const KEY = 'sk-soak-key-0123456789';
const RATE = 16000;

interface Sample {
  minute: number;
  rssMb: number;
  heapMb: number;
}

interface Run {
  finals: TranscriptEvent[];
  samples: Sample[];
  seconds: number;
  /** Connections the proxy cut, or requests it failed. */
  faults: number;
  connections: number;
}

/** Three spoken sentences with pauses (ffmpeg's flite), mono s16 16 kHz. */
function speech(): Int16Array {
  const parts = ['the quick brown fox', 'jumps over the lazy dog', 'and runs away'].map((t) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `flite=text='${t}':voice=slt`, '-ar', String(RATE), '-ac', '1', '-f', 's16le', '-']));
  const gap = Buffer.alloc(RATE * 2 * 1.5);
  const all = Buffer.concat(parts.flatMap((p) => [p, gap]));
  return Int16Array.from(new Int16Array(all.buffer, all.byteOffset, all.length / 2));
}

/** `loops` copies of `pcm` one after the other on one time line, made as they are read. */
function looped(pcm: Int16Array, loops: number): Observable<AudioChunk> {
  return range(0, loops).pipe(concatMap((i) => fromPcm(pcm, { sampleRate: RATE, offset: i * pcm.length })));
}

/** Sample memory at every minute of audio that passes. */
function sampler(samples: Sample[]): (chunk: AudioChunk) => void {
  let next = 0;
  return (chunk) => {
    const minute = chunk.offset / (RATE * 60);
    if (minute < next) return;
    const m = process.memoryUsage();
    samples.push({ minute: next, rssMb: Math.round(m.rss / 1048576), heapMb: Math.round(m.heapUsed / 1048576) });
    next++;
  };
}

async function runRealtime(pcm: Int16Array, loops: number, script: string[], faulty: boolean, killMin: number, sessionMin: number, speed: number | undefined): Promise<Run> {
  const emu = await startEmulator({ apiKeys: [KEY], script: script.map((text) => ({ text })) });
  // Every other connection is cut once this many bytes of it came from the client (base64 audio in JSON: ×4/3).
  const killBytes = Math.round(killMin * 60 * RATE * 2 * (4 / 3));
  const proxy: FaultProxy | undefined = faulty ? await startFaultProxy(emu.port, 'drop', (i) => i % 2 === 0, killBytes) : undefined;
  const t = createTransport('qwen3-asr-flash-realtime', { apiKey: KEY, baseUrl: proxy?.url ?? emu.url, realtime: { maxDurationMs: sessionMin * 60_000 } } as CreateTransportOptions);
  const samples: Sample[] = [];
  const started = performance.now();
  try {
    const finals = await lastValueFrom(
      looped(pcm, loops).pipe(
        tap(sampler(samples)),
        speed === undefined ? (audio: Observable<AudioChunk>) => audio : pace({ speed, frameMs: 100 }),
        transcribeRealtime(t, { pace: false, reconnect: { attempts: 5, baseMs: 50, maxMs: 500 } }),
        tapFinals(),
      ),
    );
    return { finals, samples, seconds: (performance.now() - started) / 1000, faults: proxy?.faulted ?? 0, connections: proxy?.connections ?? 0 };
  } finally {
    await t.close?.();
    await proxy?.close();
    await emu.close();
  }
}

async function runNearRealtime(pcm: Int16Array, loops: number, script: string[], faulty: boolean): Promise<Run> {
  const emu = await startEmulator({ apiKeys: [KEY], script: script.map((text) => ({ text })) });
  const t = createTransport('qwen3-asr-flash', { apiKey: KEY, baseUrl: emu.url } as CreateTransportOptions);
  const samples: Sample[] = [];
  const started = performance.now();
  let windows = 0;
  // Every 25th window, one more request is answered 500 (the emulator's faults may change while it runs).
  const inject = () => {
    if (faulty && ++windows % 25 === 0) emu.context.faults.serverErrorFirst = (emu.context.faults.serverErrorFirst ?? 0) + 1;
  };
  try {
    const finals = await lastValueFrom(
      looped(pcm, loops).pipe(tap(sampler(samples)), nearRealtime(), tap(inject), transcribeBatch(t, { concurrency: 4, retry: { attempts: 4, baseMs: 20, maxMs: 200 } }), tapFinals()),
    );
    return { finals, samples, seconds: (performance.now() - started) / 1000, faults: emu.context.faults.serverErrorFirst ?? 0, connections: windows };
  } finally {
    await t.close?.();
    await emu.close();
  }
}

function tapFinals() {
  return (events: Observable<TranscriptEvent>) => {
    const finals: TranscriptEvent[] = [];
    return events.pipe(
      tap((e) => e.type === 'final' && finals.push(e)),
      toArray(),
      concatMap(async () => finals),
    );
  };
}

function quarterMeans(samples: Sample[]): { first: number; last: number; heapFirst: number; heapLast: number } {
  const q = Math.max(1, Math.floor(samples.length / 4));
  const mean = (xs: Sample[], k: 'rssMb' | 'heapMb') => Math.round(xs.reduce((a, s) => a + s[k], 0) / Math.max(1, xs.length));
  const head = samples.slice(0, q);
  const tail = samples.slice(-q);
  return { first: mean(head, 'rssMb'), last: mean(tail, 'rssMb'), heapFirst: mean(head, 'heapMb'), heapLast: mean(tail, 'heapMb') };
}

function compare(name: string, clean: Run, faulty: Run): { ok: boolean; line: string } {
  const key = (e: TranscriptEvent) => `${e.text}@${e.startMs}`;
  const texts = (r: Run) => r.finals.map((e) => `${e.text}@${e.startMs}-${e.endMs}`).join('\n');
  const identical = texts(clean) === texts(faulty);
  const seen = new Set<string>();
  let duplicates = 0;
  for (const e of faulty.finals) {
    if (seen.has(key(e))) duplicates++;
    seen.add(key(e));
  }
  if (!identical) {
    const i = clean.finals.findIndex((e, k) => faulty.finals[k]?.text !== e.text || faulty.finals[k]?.startMs !== e.startMs);
    const show = (r: Run) => r.finals.slice(Math.max(0, i - 2), i + 4).map((e) => `${e.text}@${e.startMs}-${e.endMs}`).join(', ');
    console.log(`${name}: first difference at final ${i}:\n  fault-free: ${show(clean)}\n  faulty:     ${show(faulty)}`);
  }
  const q = quarterMeans(faulty.samples);
  const line =
    `${name}: ${faulty.finals.length} finals (fault-free ${clean.finals.length}), identical ${identical ? 'yes' : 'NO'}, duplicates ${duplicates}; ` +
    `faults injected ${faulty.faults} (of ${faulty.connections} ${name.startsWith('near') ? 'windows' : 'connections'}); RSS first vs last quarter ${q.first} → ${q.last} MB (heap ${q.heapFirst} → ${q.heapLast} MB); ` +
    `wall ${clean.seconds.toFixed(0)} s fault-free + ${faulty.seconds.toFixed(0)} s with faults`;
  return { ok: identical && duplicates === 0 && faulty.finals.length > 0, line };
}

function printSamples(name: string, run: Run): void {
  console.log(`\n${name} (with faults), memory at each minute of audio — minute: RSS MB / heap MB`);
  for (let i = 0; i < run.samples.length; i += 10) {
    console.log(
      run.samples
        .slice(i, i + 10)
        .map((s) => `${String(s.minute).padStart(3)}: ${s.rssMb}/${s.heapMb}`)
        .join('  '),
    );
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('/soak.js')) {
  const { values } = parseArgs({ options: { hours: { type: 'string', default: '2' }, speed: { type: 'string' }, 'kill-min': { type: 'string', default: '4' }, 'session-min': { type: 'string', default: '6' }, only: { type: 'string' } }, strict: true });
  const hours = Number(values.hours);
  const killMin = Number(values['kill-min']);
  const sessionMin = Number(values['session-min']);
  const speed = values.speed === undefined ? undefined : Number(values.speed);
  if (!(hours > 0) || !(killMin > 0) || !(sessionMin > killMin) || (speed !== undefined && !(speed > 0))) {
    console.error('EARSHOT_INVALID_ARGUMENT: --hours, --speed, --kill-min and --session-min take positive numbers, the session longer than the kill interval');
    process.exit(2);
  }
  const started = performance.now();
  const pcm = speech();
  const loops = Math.ceil((hours * 3600 * RATE) / pcm.length);
  // One answer for every utterance: the scripted emulator moves its cursor when it sends a final, so a final lost with
  // a cut connection would shift numbered answers; a final's identity is its text and its times on the input.
  const script = ['hello world'];
  console.log(`soak: ${hours} h of audio (${loops} loops of ${(pcm.length / RATE).toFixed(1)} s), realtime ${speed === undefined ? 'unpaced' : `at ${speed}× real time`}, sessions capped at ${sessionMin} min, every other connection cut after ${killMin} min of audio`);
  const results: Array<{ ok: boolean; line: string }> = [];
  if (values.only !== 'near-realtime') {
    const clean = await runRealtime(pcm, loops, script, false, killMin, sessionMin, speed);
    const faulty = await runRealtime(pcm, loops, script, true, killMin, sessionMin, speed);
    printSamples('realtime', faulty);
    results.push(compare('realtime (qwen3-asr-flash-realtime)', clean, faulty));
  }
  if (values.only !== 'realtime') {
    const clean = await runNearRealtime(pcm, loops, script, false);
    const faulty = await runNearRealtime(pcm, loops, script, true);
    printSamples('near-realtime', faulty);
    results.push(compare('near-realtime (qwen3-asr-flash)', clean, faulty));
  }
  console.log('');
  for (const r of results) console.log(r.line);
  console.log(`\n(${((performance.now() - started) / 60000).toFixed(1)} min wall)`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}
