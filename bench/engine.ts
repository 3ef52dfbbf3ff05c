/**
 * Embedded engine benchmark (pocketsphinx in worker threads through `local()`):
 *
 * - real-time factor of one worker (a live session, and whole clips);
 * - a ≥ 2-minute flite recording split at its known silences into clips, transcribed by a pool of 2 and a pool
 *   of 1 in the same run: speed-up (goal ≥ 1.8×) and identical text, beside the same clips decoded by bare engine
 *   processes, one alone and two at once (the scaling this shared machine allows at that moment);
 * - main-thread event-loop delay p99 while the pool is busy (goal < 5 ms), with and without niced workers;
 * - RSS per worker and in total for the default pool; RSS and PSS of pools of 1, 2 and 3 in fresh child processes
 *   (the RSS each added worker costs), workers sharing the dictionary and language model or not; what a live session
 *   adds to a worker; the peak RSS of a process transcribing a file (`benchPoolMemory`, also alone as
 *   `npm run bench -- pool-memory`);
 * - the warm-up fix: WER of the first sentence after a 3 s silent lead-in, without and with the second pass,
 *   at nominal level and at −30 dB.
 *
 * Run alone: `node dist/bench/engine.js` after `npm run build` (or `npx tsx bench/engine.ts`);
 * `npm run bench -- engine`. `EARSHOT_BENCH_QUICK=1` halves the warm-up set.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TranscriptEvent } from '../src/core/types.js';
import { Decoder } from '../src/engine/pocketsphinx.js';
import { recognizeClip } from '../src/engine/recognizer.js';
import { lastValueFrom, toArray } from 'rxjs';
import { decode } from '../src/operators/decode.js';
import { transcribeMode } from '../src/operators/transcribe-mode.js';
import { fromFile } from '../src/sources/file.js';
import { local } from '../src/transports/local.js';
import { streamThrough } from '../test/helpers/audio.js';
import { makeSpeech, SENTENCES, synthRaw, wer, type SpeechFile } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;

const fmt = (n: number, digits = 2): string => n.toFixed(digits);
const text = (events: TranscriptEvent[]): string => events.filter((e) => e.type === 'final').map((e) => e.text).join(' ');

function pcm(file: SpeechFile): Int16Array {
  const b = readFileSync(file.path);
  return new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
}

/** About 2.3 minutes: the twelve sentences three times over, alternating two voices, 900 ms pauses. */
function longRecording(): SpeechFile {
  const sentences = [...SENTENCES, ...SENTENCES, ...SENTENCES];
  return makeSpeech({ sentences, voices: ['slt', 'rms', 'rms', 'slt'], leadMs: 500, gapsMs: [900, 700, 1100] });
}

/** Cut the recording in the middle of each known pause: one clip per sentence. */
function clips(file: SpeechFile, samples: Int16Array): Array<{ samples: Int16Array; sampleRate: number; startMs: number }> {
  return file.segments.map((seg, i) => {
    const a = i === 0 ? 0 : Math.round(((file.segments[i - 1]!.endMs + seg.startMs) / 2) * 16);
    const next = file.segments[i + 1];
    const b = next ? Math.round(((seg.endMs + next.startMs) / 2) * 16) : samples.length;
    return { samples: samples.subarray(a, b), sampleRate: 16000, startMs: a / 16 };
  });
}

/**
 * Transcribe every clip on a pool of `size`; wall time excludes model loading. `cores` is the CPU time the whole
 * process used divided by the wall time: how many cores the pool really got on this (shared) machine.
 */
async function runPool(size: number, jobs: ReturnType<typeof clips>, niceness: number): Promise<{ seconds: number; cores: number; text: string; lagP99: number; lagMax: number }> {
  const engine = local({ size, niceness });
  try {
    await engine.pool.warmUp();
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(jobs.map((j) => engine.transcribeClip(j)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    h.disable();
    return { seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds, text: results.map(text).join(' '), lagP99: h.percentile(99) / 1e6, lagMax: h.max / 1e6 };
  } finally {
    await engine.close();
  }
}

/** Child mode: decode every clip of the long recording in this process, no pool; print the seconds taken. */
async function childDecode(): Promise<void> {
  const file = longRecording();
  const decoder = new Decoder();
  const t0 = performance.now();
  for (const job of clips(file, pcm(file))) await recognizeClip(decoder, job.samples);
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }));
  decoder.free();
}

/** Seconds each of `n` concurrent child processes takes to decode the clips (the machine's own scaling). */
async function bareProcesses(n: number): Promise<number[]> {
  const runs = await Promise.all(Array.from({ length: n }, () => child<{ seconds: number }>(['--child'])));
  return runs.map((r) => r.seconds);
}

/**
 * RSS, PSS and USS (private pages: what this process alone holds) of this process now, and its peak RSS (VmHWM), in
 * MB. RSS counts a file page once per mapping of it: every decoder maps the acoustic model's `mdef` and `sendump`.
 */
function selfMemory(): { rss: number; pss: number; uss: number; peak: number } {
  const s = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (text: string, k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb(s, 'Rss') / 1024, pss: kb(s, 'Pss') / 1024, uss: (kb(s, 'Private_Clean') + kb(s, 'Private_Dirty')) / 1024, peak: kb(readFileSync('/proc/self/status', 'utf8'), 'VmHWM') / 1024 };
}

/** In a child: the memory a pool of `size` workers adds (warmed up, one clip each). */
async function childPoolMemory(size: number, share: boolean): Promise<void> {
  const before = selfMemory();
  const engine = local({ size, shareModel: share });
  await engine.pool.warmUp();
  const noise = new Int16Array(32_000).map(() => (Math.random() - 0.5) * 2000);
  await Promise.all(Array.from({ length: size }, () => engine.transcribeClip({ samples: noise, sampleRate: 16000, startMs: 0 })));
  const after = selfMemory();
  console.log(JSON.stringify({ rss: after.rss - before.rss, pss: after.pss - before.pss, uss: after.uss - before.uss }));
  await engine.close();
}

/**
 * In a child: the memory a live session adds to a pool of one worker that has decoded a clip (the one-pass search
 * it needs, if any), after the session ended; and its text, to compare between builds.
 */
async function childLiveMemory(): Promise<void> {
  const engine = local({ size: 1 });
  await engine.pool.warmUp();
  const noise = new Int16Array(32_000).map(() => (Math.random() - 0.5) * 2000);
  await engine.transcribeClip({ samples: noise, sampleRate: 16000, startMs: 0 });
  const before = selfMemory();
  const voice = synthRaw(SENTENCES[4]!, 'slt');
  const events = await streamThrough(engine, new Int16Array(voice.buffer, voice.byteOffset, voice.length / 2));
  const after = selfMemory();
  console.log(JSON.stringify({ rss: after.rss - before.rss, text: text(events) }));
  await engine.close();
}

/** In a child: transcribe the long recording as the CLI does (file → decode → batch with the default pool); peak RSS. */
async function childTranscribePeak(): Promise<void> {
  const file = longRecording();
  const engine = local();
  const events = await lastValueFrom(fromFile(file.path).pipe(decode({ sampleRate: 16000, channels: 1 }), transcribeMode(engine), toArray()));
  await engine.close();
  console.log(JSON.stringify({ peak: selfMemory().peak, wer: wer(file.text, text(events)) }));
}

/** Run this file in a fresh child process in one of its child modes; its last stdout line, parsed. */
function child<T>(args: string[]): Promise<T> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((res, rej) =>
    execFile(process.execPath, [...process.execArgv, self, ...args], { timeout: 600_000 }, (err, stdout) => {
      if (err) rej(err);
      else res(JSON.parse(stdout.trim().split('\n').at(-1)!) as T);
    }),
  );
}

/**
 * Memory of the engine pool, each figure in a fresh process: what a pool of 1, 2 and 3 workers adds (RSS and PSS,
 * model loaded and one clip decoded per worker), with workers sharing the dictionary and language model (the
 * default) and without; and the peak RSS of a whole process transcribing a 2.3-minute file with the default pool.
 * `npm run bench -- pool-memory`.
 */
export async function benchPoolMemory(): Promise<Row[]> {
  type Memory = { rss: number; pss: number; uss: number };
  const rows: Row[] = [];
  for (const share of [true, false]) {
    const pools = [];
    for (const size of [1, 2, 3]) pools.push(await child<Memory>(['--pool-memory', String(size), share ? 'shared' : 'own']));
    const [one, two, three] = pools as [Memory, Memory, Memory];
    rows.push({
      case: `memory a pool adds, fresh process, ${share ? 'workers share dictionary + LM (default)' : "shareModel: false (each worker loads all)"}: 1 / 2 / 3 workers; per added worker`,
      value: `RSS ${fmt(one.rss, 0)} / ${fmt(two.rss, 0)} / ${fmt(three.rss, 0)} MB; +${fmt(two.rss - one.rss, 0)}, +${fmt(three.rss - two.rss, 0)} MB (PSS ${fmt(one.pss, 0)} / ${fmt(two.pss, 0)} / ${fmt(three.pss, 0)}; USS +${fmt(two.uss - one.uss, 0)}, +${fmt(three.uss - two.uss, 0)})`,
      goal: '2 workers ≤ 150 MB, each added ≤ 40 MB',
    });
  }
  const live = await child<{ rss: number; text: string }>(['--live-memory']);
  rows.push({ case: 'memory a live session adds to a worker that has decoded clips (its one-pass search), fresh process', value: `RSS +${fmt(live.rss, 0)} MB`, goal: '' });
  const run = await child<{ peak: number; wer: number }>(['--transcribe-peak']);
  rows.push({ case: 'peak RSS of a process transcribing a 2.3-minute file (decode → batch, default pool); its WER', value: `${fmt(run.peak, 0)} MB; ${fmt(run.wer * 100, 1)} %`, goal: '≤ 250 MB' });
  return rows;
}

/** First-sentence WER after a 3 s lead-in, for each (sentence, voice), with or without the second pass. */
async function warmUp(gain: number, redecodeFirst: boolean, count: number): Promise<number> {
  const engine = local({ redecodeFirst });
  try {
    const cases = SENTENCES.slice(0, count).flatMap((t) => (['slt', 'rms'] as const).map((v) => [t, v] as const));
    const hyps = await Promise.all(
      cases.map(async ([t, v]) => {
        const b = synthRaw(t, v);
        const voice = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
        const samples = new Int16Array(48000 + voice.length + 16000);
        for (let i = 0; i < voice.length; i++) samples[48000 + i] = Math.round(voice[i]! * gain);
        return text(await streamThrough(engine, samples));
      }),
    );
    return wer(cases.map(([t]) => t).join(' '), hyps.join(' '));
  } finally {
    await engine.close();
  }
}

/** All rows of the engine benchmark. */
export async function benchEngine(): Promise<Row[]> {
  const rows: Row[] = [];
  const quick = process.env.EARSHOT_BENCH_QUICK === '1';
  const file = longRecording();
  const samples = pcm(file);
  const audioSeconds = samples.length / 16000;
  const jobs = clips(file, samples);
  rows.push({ case: 'machine', value: `${availableParallelism()} cores, load ${loadavg().map((l) => fmt(l, 1)).join(' ')}`, goal: '' });

  // Model load and memory of the default pool.
  {
    const before = process.memoryUsage().rss;
    const engine = local();
    const t0 = performance.now();
    await engine.pool.warmUp();
    const loadMs = performance.now() - t0;
    const total = process.memoryUsage().rss - before;
    rows.push({ case: `RSS of the default pool (${engine.pool.size} workers sharing dictionary + LM), this process`, value: `${fmt(total / 1e6, 0)} MB total, ${fmt(total / engine.pool.size / 1e6, 0)} MB per worker`, goal: '' });
    rows.push({ case: 'pool start (engine thread + model loads, one after another)', value: `${fmt(loadMs, 0)} ms`, goal: '' });
    rows.push(...(await benchPoolMemory()));
    // One live session on one worker.
    const t1 = performance.now();
    const events = await streamThrough(engine, samples);
    const streamSeconds = (performance.now() - t1) / 1000;
    rows.push({ case: `one worker, live session, ${fmt(audioSeconds, 0)} s in 100 ms writes: real-time factor`, value: fmt(streamSeconds / audioSeconds, 3), goal: '< 0.3' });
    rows.push({ case: 'one worker, live session: WER', value: `${fmt(wer(file.text, text(events)) * 100, 1)} %`, goal: '≤ 12 %' });
    await engine.close();
  }

  // Whole file as clips: pool of 2 vs pool of 1, interleaved in the same run, best of two each. Workers at the
  // default priority here: on a shared machine, niced workers would lose the CPU to other people's processes.
  const twos: Array<Awaited<ReturnType<typeof runPool>>> = [];
  const ones: Array<Awaited<ReturnType<typeof runPool>>> = [];
  for (let round = 0; round < 2; round++) {
    twos.push(await runPool(2, jobs, 0));
    ones.push(await runPool(1, jobs, 0));
  }
  const best = (xs: typeof twos) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const two = best(twos);
  const one = best(ones);
  rows.push({ case: `one worker, ${jobs.length} clips (${fmt(audioSeconds, 0)} s): real-time factor`, value: fmt(one.seconds / audioSeconds, 3), goal: '< 0.3' });
  rows.push({
    case: 'pool 2 vs pool 1, same clips (best of 2 each): speed-up',
    value: `${fmt(one.seconds / two.seconds)}× (${fmt(two.seconds, 1)} s on ${fmt(two.cores, 2)} cores vs ${fmt(one.seconds, 1)} s on ${fmt(one.cores, 2)})`,
    goal: '≥ 1.8×',
  });
  // Baseline in the same run: bare engine processes, one alone and two at once (what this machine allows).
  const [alone] = await bareProcesses(1);
  const pair = await bareProcesses(2);
  const pairSeconds = Math.max(...pair);
  rows.push({
    case: 'baseline: bare engine processes, 2 at once vs 1 alone, same clips: speed-up',
    value: `${fmt((2 * alone!) / pairSeconds)}× (${fmt(alone!, 1)} s alone, ${pair.map((x) => fmt(x, 1)).join(' / ')} s side by side)`,
    goal: 'machine ceiling',
  });
  rows.push({ case: 'pool 2 vs pool 1: same text', value: [...twos, ...ones].every((r) => r.text === two.text) ? 'yes' : 'NO', goal: 'yes' });
  rows.push({ case: 'clips: WER', value: `${fmt(wer(file.text, two.text) * 100, 1)} %`, goal: '≤ 12 %' });
  rows.push({ case: 'main-thread event-loop delay, pool 2 busy, workers not niced: p99 / max', value: `${fmt(two.lagP99)} / ${fmt(two.lagMax)} ms`, goal: 'p99 < 5 ms' });
  const niced = await runPool(2, jobs, 10);
  rows.push({ case: 'main-thread event-loop delay, pool 2 busy, workers niced +10 (default): p99 / max', value: `${fmt(niced.lagP99)} / ${fmt(niced.lagMax)} ms`, goal: 'p99 < 5 ms' });

  // The warm-up fix.
  const count = quick ? 4 : 8;
  for (const [label, gain] of [['nominal level', 1], ['−30 dB', 0.03]] as const) {
    const off = await warmUp(gain, false, count);
    const on = await warmUp(gain, true, count);
    rows.push({ case: `first sentence after 3 s lead-in, ${label} (${count * 2} cases): WER without → with second pass`, value: `${fmt(off * 100, 1)} % → ${fmt(on * 100, 1)} %`, goal: 'lower or equal' });
  }
  return rows;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const at = process.argv.indexOf('--pool-memory');
  if (at >= 0) await childPoolMemory(Number(process.argv[at + 1]), process.argv[at + 2] === 'shared');
  else if (process.argv.includes('--transcribe-peak')) await childTranscribePeak();
  else if (process.argv.includes('--live-memory')) await childLiveMemory();
  else if (process.argv.includes('--child')) await childDecode();
  else console.table(await benchEngine());
}
