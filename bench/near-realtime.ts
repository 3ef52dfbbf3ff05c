/**
 * Near-realtime benchmark: batch transcription of live audio in VAD-cut windows, beside the naive policy (fixed
 * 5-second cuts) and whole-file transcription, all in the same run.
 *
 * - VAD speed (× real time) and decode+resample+VAD throughput as a ratio to bare ffmpeg decoding of the same file.
 * - WER of near-realtime windows, fixed 5 s cuts and the whole file with the embedded engine (sclite).
 * - End-of-speech latency median/p95/p99 on a real-time paced input with the embedded engine, per policy (windows
 *   sent whole, windows decoded live as they are spoken, fixed cuts), and the same on a virtual clock with a
 *   simulated engine (deterministic); added latency p99.
 * - The same without the machine's load (part `breakdown`): the engine in this thread, audio fed from the end of
 *   speech to the cut plus the CPU of the final, for windows sent whole, decoded live, and decoded live as before
 *   (one search pass, 10 s prime), one run per voice rotation, with the WER pooled over them.
 * - Speculation per cancel-cost model, on and off, for 1 stream and for 20 streams sharing a service of limited
 *   capacity: latency saved beside the requests and audio wasted and billed.
 * - Peak RSS of a 12-hour input with a deliberately slow transport, in a child process under `/usr/bin/time -v`.
 *
 * Run: `npx tsx bench/near-realtime.ts` (or `npm run bench -- near-realtime`). `EARSHOT_BENCH_QUICK=1` skips the
 * paced real-time runs (about 10 minutes: `EARSHOT_BENCH_REPEATS`, default 3, runs of windows sent whole and of
 * windows decoded live, alternated, then one of fixed 5 s cuts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, Observable, tap, toArray, VirtualTimeScheduler, type OperatorFunction } from 'rxjs';
import { PaceClock, runVirtual } from '../src/core/clock.js';
import { FlowControl } from '../src/core/flow.js';
import { fromPcm } from '../src/sources/pcm.js';
import type { AudioChunk, TranscriptEvent } from '../src/core/types.js';
import { loadVad, openVad, type Vad } from '../src/media/vad.js';
import { fixedChunk } from '../src/operators/fixed-chunk.js';
import { nearRealtime, type WindowSegment } from '../src/operators/near-realtime.js';
import { nearRealtimeLive } from '../src/operators/near-realtime-live.js';
import { pace } from '../src/operators/pace.js';
import { transcribeBatch, type SpeculationStats } from '../src/operators/transcribe-batch.js';
import { vadChunk } from '../src/operators/vad-chunk.js';
import type { CancelCost, ChunkJob, StreamOptions, Transport } from '../src/transports/transport.js';
import { makeSpeech, SENTENCES, wer, type SpeechFile, type Voice } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;
type Policy = 'near-realtime' | 'fixed-5s' | 'vad-segments';

const FAKE_CAPS = { realtime: false, batch: true, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] } as const;

/** The test recording: 24 flite sentences, three voices, pauses from 150 ms to 3 s (plus flite's own ~0.2 s). */
export function benchSpeech(format = 'wav', sampleRate = 16000, voices: readonly Voice[] = ['slt', 'rms', 'awb']): SpeechFile {
  return makeSpeech({
    sentences: [...SENTENCES, ...SENTENCES.slice().reverse()],
    voices,
    gapsMs: [250, 900, 150, 1800, 450, 600, 3000, 350],
    leadMs: 500,
    format,
    sampleRate,
  });
}

export function readPcm(path: string): Int16Array {
  // A 16-bit mono WAV with a 44-byte header, as test/helpers/speech.ts writes it.
  const buf = readFileSync(path);
  return new Int16Array(buf.buffer.slice(buf.byteOffset + 44, buf.byteOffset + buf.length));
}

/** Where each sentence is audible (|sample| > 300): flite adds ~200 ms of silence around each. */
export function audibleEnds(pcm: Int16Array, speech: SpeechFile): number[] {
  return speech.segments.map((g) => {
    const a = pcm.subarray(Math.round(g.startMs * 16), Math.round(g.endMs * 16));
    let last = a.length - 1;
    while (last > 0 && Math.abs(a[last]!) <= 300) last--;
    return g.startMs + last / 16;
  });
}

function chunksOf(pcm: Int16Array, size = 320, flow?: FlowControl): AudioChunk[] {
  const out: AudioChunk[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push({ kind: 'audio', samples: pcm.subarray(i, i + size), sampleRate: 16000, channels: 1, offset: i, ...(flow ? { flow } : {}) });
  return out;
}


export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const r1 = (n: number): number => Math.round(n * 10) / 10;
const r3 = (n: number): number => Math.round(n * 1000) / 1000;

function policyOp(policy: Policy, scheduler?: VirtualTimeScheduler): OperatorFunction<AudioChunk, WindowSegment> {
  const s = scheduler ? { scheduler } : {};
  if (policy === 'near-realtime') return nearRealtime(s);
  if (policy === 'vad-segments') return vadChunk(s);
  return fixedChunk({ chunkMs: 5000, ...s });
}

/** A near-realtime policy on the embedded engine: the batch ones, or windows decoded live as they are spoken. */
type EnginePolicy = Policy | 'near-realtime-live';

/** The policy's windows, seen by `onWindow`, transcribed by `engine`. */
function engineOp(engine: Transport, policy: EnginePolicy, onWindow: (s: WindowSegment) => void = () => undefined, clock?: PaceClock): OperatorFunction<AudioChunk, TranscriptEvent> {
  const c = clock ? { clock } : {};
  if (policy === 'near-realtime-live') return nearRealtimeLive(engine, { ...c, windows: tap(onWindow) });
  return (audio) => audio.pipe(policyOp(policy), tap(onWindow), transcribeBatch(engine, { ...c, concurrency: 2 }));
}

// ---------------------------------------------------------------------------------------------------------------
// VAD speed and throughput

async function benchVadSpeed(pcm: Int16Array): Promise<Row[]> {
  await loadVad();
  const rows: Row[] = [];
  for (const frameMs of [10, 20, 30] as const) {
    const vad = (await openVad({ sampleRate: 16000, frameMs })) as Vad;
    const reps = 20;
    const t = performance.now();
    for (let r = 0; r < reps; r++) for (let i = 0; i + vad.frameSize <= pcm.length; i += vad.frameSize) vad.isSpeech(pcm, i);
    const s = (performance.now() - t) / 1000;
    vad.close();
    rows.push({ measure: `WebRTC VAD alone, ${frameMs} ms frames`, value: Math.round((reps * pcm.length) / 16000 / s), unit: '× real time' });
  }
  const t = performance.now();
  const reps = 10;
  for (let r = 0; r < reps; r++) await lastValueFrom(from(chunksOf(pcm, 1600)).pipe(vadChunk(), toArray()));
  const s = (performance.now() - t) / 1000;
  rows.push({ measure: 'vadChunk() (VAD + segmenting + copies)', value: Math.round((reps * pcm.length) / 16000 / s), unit: '× real time' });
  return rows;
}

/** Bare ffmpeg decoding of a file to s16le on a pipe that is read and discarded: the baseline. */
function ffmpegDecode(path: string, extra: string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, ...extra, '-f', 's16le', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', () => undefined);
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve((performance.now() - t) / 1000) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

async function benchThroughput(): Promise<Row[]> {
  const { fromFile } = await import('../src/sources/file.js');
  const { decode } = await import('../src/operators/decode.js');
  const { resample } = await import('../src/operators/resample.js');
  const rows: Row[] = [];
  // Ten minutes of speech at 44.1 kHz, as MP3 (decoded by ffmpeg) and WAV (decoded in-process).
  const long = makeSpeech({ sentences: Array.from({ length: 9 }, () => SENTENCES).flat(), gapsMs: [250, 900, 450, 1800, 600], format: 'mp3', sampleRate: 44100 });
  const longWav = makeSpeech({ sentences: Array.from({ length: 9 }, () => SENTENCES).flat(), gapsMs: [250, 900, 450, 1800, 600], format: 'wav', sampleRate: 44100 });
  const audioS = long.durationMs / 1000;
  for (const file of [long, longWav]) {
    const kind = file.path.endsWith('.mp3') ? 'MP3 44.1 kHz' : 'WAV 44.1 kHz';
    // Alternate baseline and pipeline, three rounds each, and keep the best of each (least disturbed by neighbours).
    const base: number[] = [];
    const base16: number[] = [];
    const decodeOnly: number[] = [];
    const ours: number[] = [];
    const oursSplit: number[] = [];
    let segments = 0;
    for (let round = 0; round < 3; round++) {
      base.push(await ffmpegDecode(file.path));
      base16.push(await ffmpegDecode(file.path, ['-ac', '1', '-ar', '16000']));
      let t = performance.now();
      await lastValueFrom(fromFile(file.path).pipe(decode({ sampleRate: 16000 }), toArray()));
      decodeOnly.push((performance.now() - t) / 1000);
      t = performance.now();
      segments = (await lastValueFrom(fromFile(file.path).pipe(decode({ sampleRate: 16000 }), vadChunk(), toArray()))).length;
      ours.push((performance.now() - t) / 1000);
      t = performance.now();
      await lastValueFrom(fromFile(file.path).pipe(decode({ sampleRate: 44100 }), resample(16000), vadChunk(), toArray()));
      oursSplit.push((performance.now() - t) / 1000);
    }
    const b = Math.min(...base);
    rows.push({ measure: `bare ffmpeg decode, ${kind} (${Math.round(audioS)} s)`, value: Math.round(audioS / b), unit: '× real time', baseline: 'baseline' });
    rows.push({ measure: `  ffmpeg decode + its own resampling to 16 kHz mono, ${kind}`, value: Math.round(audioS / Math.min(...base16)), unit: '× real time', ratio: r3(b / Math.min(...base16)) });
    rows.push({ measure: `  fromFile→decode(16 kHz), no VAD, ${kind}`, value: Math.round(audioS / Math.min(...decodeOnly)), unit: '× real time', ratio: r3(b / Math.min(...decodeOnly)) });
    rows.push({ measure: `fromFile→decode(16 kHz)→vadChunk, ${kind}`, value: Math.round(audioS / Math.min(...ours)), unit: '× real time', ratio: r3(b / Math.min(...ours)), goal: '≥ 0.8', note: `${segments} segments` });
    rows.push({ measure: `fromFile→decode(44.1 kHz)→resample(16k)→vadChunk, ${kind}`, value: Math.round(audioS / Math.min(...oursSplit)), unit: '× real time', ratio: r3(b / Math.min(...oursSplit)), goal: '≥ 0.8' });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory: 12 hours through a slow transport, in a child process measured by /usr/bin/time -v

async function memoryChild(): Promise<void> {
  const hours = Number(process.env.EARSHOT_BENCH_HOURS ?? 12);
  const speech = benchSpeech();
  const base = readPcm(speech.path);
  const totalSamples = Math.round(hours * 3600 * 16000);
  const flow = new FlowControl();
  let waits = 0;
  // A cold source like a file: reads 2 s per read, waiting on its FlowControl between reads.
  const source = new Observable<AudioChunk>((sub) => {
    let stop = false;
    void (async () => {
      const step = 32000;
      for (let at = 0; at < totalSamples && !stop; at += step) {
        if (flow.paused) waits++;
        await flow.ready();
        await new Promise((r) => setImmediate(r));
        const from = at % base.length;
        const n = Math.min(step, base.length - from, totalSamples - at);
        sub.next({ kind: 'audio', samples: base.subarray(from, from + n), sampleRate: 16000, channels: 1, offset: at, flow });
        at += n - step;
      }
      sub.complete();
    })();
    return () => {
      stop = true;
    };
  });
  // A transport slower than reading and segmenting: 400× real time per request, so 12 h of audio need ~55 s of
  // "transcription" at concurrency 2 while the source could be read and segmented in ~10–20 s.
  const slow: Transport = {
    model: 'slow-fake',
    capabilities: FAKE_CAPS,
    sampleRate: 16000,
    transcribeClip: (job: ChunkJob) =>
      new Promise((resolve) => setTimeout(() => resolve([{ type: 'final', text: 'x', startMs: 0, endMs: (job.samples.length / 16) | 0 }]), Math.max(1, job.samples.length / 16 / 400))),
  };
  const rss: number[] = [];
  const timer = setInterval(() => rss.push(process.memoryUsage().rss), 250);
  const t = performance.now();
  let events = 0;
  let lastEnd = 0;
  await new Promise<void>((resolve, reject) =>
    source.pipe(nearRealtime(), transcribeBatch(slow, { concurrency: 2 })).subscribe({
      next: (e) => {
        events++;
        lastEnd = e.endMs;
      },
      error: reject,
      complete: resolve,
    }),
  );
  clearInterval(timer);
  const q = Math.floor(rss.length / 4);
  const mb = (n: number): number => Math.round(n / 1048576);
  const out = {
    hours,
    seconds: (performance.now() - t) / 1000,
    events,
    lastEndH: lastEnd / 3600000,
    waits,
    firstQuarterPeakMB: mb(Math.max(...rss.slice(0, Math.max(1, q)))),
    lastQuarterPeakMB: mb(Math.max(...rss.slice(3 * q))),
    maxRssMB: mb(process.resourceUsage().maxRSS * 1024),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function benchMemory(): Promise<Row[]> {
  const self = fileURLToPath(import.meta.url);
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-v', process.execPath, ...process.execArgv, self, '--memory-child'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`memory child exited ${code}: ${stderr.slice(-500)}`))));
  });
  const res = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  const peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN);
  return [
    {
      measure: `peak RSS, ${res.hours} h input → nearRealtime → transcribeBatch(slow transport)`,
      value: Math.round(peakKb / 1024),
      unit: 'MB (/usr/bin/time -v)',
      goal: '≤ 200, flat',
      note: `RSS peak 1st quarter ${res.firstQuarterPeakMB} MB, last quarter ${res.lastQuarterPeakMB} MB; source paused ${res.waits}×; ${res.events} finals to ${r1(res.lastEndH!)} h in ${r1(res.seconds!)} s`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Latency on a virtual clock with a simulated engine (deterministic)

interface LatencyRun {
  eos: number[];
  /** Per sentence: from its end (as live) to the request for it starting — what the cutting policy costs. */
  wait: number[];
  added: number[];
  text: string;
  requests: number;
}

/**
 * Attribute each sentence end to the segment that holds it and time the last final of that segment; also the
 * moment that segment's (last) request started.
 */
function sentenceLatencies(
  ends: number[],
  segments: WindowSegment[],
  events: Array<{ e: TranscriptEvent; at: number }>,
  liveAt: (ms: number) => number,
  startedAt: Map<number, number>,
): { eos: number[]; wait: number[] } {
  const kept = segments.filter((s) => s.provisional?.state !== 'revoked');
  const eos: number[] = [];
  const wait: number[] = [];
  for (const end of ends) {
    const seg = kept.find((s) => s.offset / 16 <= end && (s.offset + s.samples.length) / 16 >= end);
    if (!seg) continue;
    const a = seg.offset / 16;
    const b = (seg.offset + seg.samples.length) / 16;
    const mine = events.filter((x) => x.e.type === 'final' && x.e.startMs >= a - 1 && x.e.startMs < b);
    if (mine.length === 0) continue;
    eos.push(Math.max(...mine.map((x) => x.at)) - liveAt(end));
    const started = startedAt.get(a);
    if (started !== undefined) wait.push(started - liveAt(end));
  }
  return { eos, wait };
}

/** How a simulated transport bills a cancelled request, and how long its requests wait (PENDING) before they run. */
interface SimCost {
  cost: CancelCost;
  /** Wait before the work starts (an async task's PENDING); a cancel in it is free under `'until-started'`. */
  pendingMs?: number;
  /** transcribeBatch's `speculate` (default: its own, from `cost`). */
  speculate?: boolean;
}

/** Several live streams against one simulated service. */
interface SimLoad {
  /** Streams, each the recording started `staggerMs` after the previous (default 1). */
  streams?: number;
  staggerMs?: number;
  /** Requests the service works on at once; the rest wait in its queue, which counts as PENDING (default unbounded). */
  capacity?: number;
  /** Recordings for the streams, cycled (default the one given). */
  inputs?: ReadonlyArray<{ pcm: Int16Array; ends: number[] }>;
}

async function virtualLatency(pcm: Int16Array, ends: number[], policy: Policy, simCost: SimCost = { cost: 'free' }, load: SimLoad = {}): Promise<LatencyRun & { speculation?: SpeculationStats }> {
  const scheduler = new VirtualTimeScheduler();
  const { streams = 1, staggerMs = 0, capacity = Infinity, inputs = [{ pcm, ends }] } = load;
  // Simulated engine: 150 ms + 0.2 × the clip's duration (pocketsphinx's real-time factor here is 0.15–0.25), after
  // `pendingMs` and any wait for a free slot of the service.
  let requests = 0;
  const pendingMs = simCost.pendingMs ?? 0;
  let busy = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    busy--;
    waiting.shift()?.();
  };
  const sim: Transport = {
    model: 'simulated',
    capabilities: { ...FAKE_CAPS, cancelCost: simCost.cost },
    sampleRate: 16000,
    transcribeClip: (job, o) =>
      new Promise((resolve, reject) => {
        requests++;
        const ms = job.samples.length / 16;
        let started = false;
        let timer: { unsubscribe(): void } | undefined;
        const run = (): void => {
          busy++;
          timer = scheduler.schedule(() => {
            started = true;
            timer = scheduler.schedule(() => {
              release();
              resolve([{ type: 'final', text: `w${job.startMs}`, startMs: 0, endMs: ms }]);
            }, 150 + 0.2 * ms);
          }, pendingMs);
        };
        o?.signal?.addEventListener('abort', () => {
          const queued = waiting.indexOf(run);
          if (queued >= 0) waiting.splice(queued, 1);
          else {
            timer?.unsubscribe();
            release();
          }
          if (started) o.onBilled?.(); // past PENDING: the cancel is refused
          reject(new Error('aborted'));
        });
        if (busy < capacity) run();
        else waiting.push(run);
      }),
  };
  const totals: SpeculationStats = { speculative: 0, cancelled: 0, cancelledAudioMs: 0, billed: 0, billedAudioMs: 0, revokedUnsent: 0 };
  const eos: number[] = [];
  const wait: number[] = [];
  const added: number[] = [];
  const runs: Array<() => void> = [];
  for (let i = 0; i < streams; i++) {
    const input = inputs[i % inputs.length]!;
    const clock = new PaceClock(scheduler);
    const startedAt = new Map<number, number>();
    let speculation: SpeculationStats | undefined;
    const segments: WindowSegment[] = [];
    const events: Array<{ e: TranscriptEvent; at: number }> = [];
    const timed: Transport = { ...sim, transcribeClip: (job, o) => (startedAt.set(job.startMs, scheduler.now()), sim.transcribeClip!(job, o)) };
    scheduler.schedule(() => {
      from(chunksOf(input.pcm))
        .pipe(
          pace({ scheduler, clock, maxBufferMs: 3_600_000 }),
          policyOp(policy, scheduler),
          tap((s) => segments.push(s)),
          transcribeBatch(timed, {
            scheduler,
            clock,
            concurrency: 2,
            ...(simCost.speculate === undefined ? {} : { speculate: simCost.speculate }),
            onSpeculation: (s) => (speculation = s),
          }),
        )
        .subscribe((e) => events.push({ e, at: scheduler.now() }));
    }, i * staggerMs);
    runs.push(() => {
      const r = sentenceLatencies(input.ends, segments, events, (ms) => clock.wallTimeAt(ms)!, startedAt);
      eos.push(...r.eos);
      wait.push(...r.wait);
      added.push(...events.filter((x) => x.e.type === 'final').map((x) => x.e.latency?.addedMs ?? NaN));
      for (const k of Object.keys(totals) as Array<keyof SpeculationStats>) totals[k] += speculation?.[k] ?? 0;
    });
  }
  await runVirtual(scheduler);
  for (const collect of runs) collect();
  return { speculation: totals, eos, wait, added, text: '', requests };
}

// ---------------------------------------------------------------------------------------------------------------
// The embedded engine: WER per policy, and latency on a real-time paced input

async function loadEngine(): Promise<(Transport & { close(): Promise<void> }) | string> {
  try {
    const { local } = (await import('../src/transports/local.js')) as { local: (o?: { size?: number; jobTimeoutMs?: number }) => Transport & { close(): Promise<void> } };
    // A hung worker is replaced after jobTimeoutMs plus the clip's length: on a loaded shared machine a 90 s clip may
    // take longer than the default allows.
    const engine = local({ size: 2, jobTimeoutMs: 300_000 });
    const probe = engine.transcribeClip!({ samples: new Int16Array(16000), sampleRate: 16000, startMs: 0 });
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('the embedded engine did not answer a 1 s clip within 60 s'), 60_000).unref());
    const r = await Promise.race([probe.then(() => 'ok'), timeout]);
    if (r !== 'ok') {
      void engine.close();
      return r;
    }
    return engine;
  } catch (err) {
    return `the embedded engine is not available: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** WER pooled over the three voice rotations of the recording (270 s): less noise than one file's ~220 words. */
async function engineWerPooled(engine: Transport): Promise<Row[]> {
  const modes = ['whole file', 'near-realtime', 'near-realtime-live', 'vad-segments', 'fixed-5s'] as const;
  const refs: string[] = [];
  const hyps: Record<(typeof modes)[number], string[]> = { 'whole file': [], 'near-realtime': [], 'near-realtime-live': [], 'vad-segments': [], 'fixed-5s': [] };
  const text = (events: TranscriptEvent[]): string => events.filter((e) => e.type === 'final').map((e) => e.text).join(' ');
  let seconds = 0;
  for (const voices of [['slt', 'rms', 'awb'], ['rms', 'awb', 'slt'], ['awb', 'slt', 'rms']] as const) {
    const speech = benchSpeech('wav', 16000, voices);
    const pcm = readPcm(speech.path);
    seconds += speech.durationMs / 1000;
    refs.push(speech.text);
    hyps['whole file'].push(text(await engine.transcribeClip!({ samples: pcm, sampleRate: 16000, startMs: 0 })));
    for (const policy of ['near-realtime', 'near-realtime-live', 'vad-segments', 'fixed-5s'] as const) {
      hyps[policy].push(text(await lastValueFrom(fromPcm(pcm, { sampleRate: 16000 }).pipe(engineOp(engine, policy), toArray()))));
    }
  }
  const whole = wer(refs.join(' '), hyps['whole file'].join(' '));
  const windows = wer(refs.join(' '), hyps['near-realtime'].join(' '));
  return modes.map((m) => {
    const w = m === 'whole file' ? whole : wer(refs.join(' '), hyps[m].join(' '));
    const goal = m === 'near-realtime' ? '≤ 1.05 × whole file' : m === 'near-realtime-live' ? `within 0.5 points of near-realtime (${r1(100 * windows)} %)` : '';
    return { measure: `WER pooled over 3 voice rotations (${Math.round(seconds)} s), ${m}`, value: r3(w), unit: 'WER', ...(m === 'whole file' ? { baseline: 'baseline' } : { ratio: r3(w / whole) }), goal, ...(m === 'near-realtime-live' ? { note: `${r1(100 * (w - windows))} points from whole windows` } : {}) };
  });
}

async function engineWer(engine: Transport, pcm: Int16Array, speech: SpeechFile): Promise<Row[]> {
  const rows: Row[] = [];
  const t0 = performance.now();
  const whole = await engine.transcribeClip!({ samples: pcm, sampleRate: 16000, startMs: 0 });
  const wholeS = (performance.now() - t0) / 1000;
  const wholeWer = wer(speech.text, whole.filter((e) => e.type === 'final').map((e) => e.text).join(' '));
  rows.push({ measure: `WER, whole file (${Math.round(speech.durationMs / 1000)} s, 1 request)`, value: r3(wholeWer), unit: 'WER', baseline: 'baseline', note: `${r1(wholeS)} s` });
  for (const policy of ['near-realtime', 'near-realtime-live', 'vad-segments', 'fixed-5s'] as const) {
    const segments: WindowSegment[] = [];
    const t = performance.now();
    const events = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000 }).pipe(engineOp(engine, policy, (s) => segments.push(s)), toArray()));
    const w = wer(speech.text, events.filter((e) => e.type === 'final').map((e) => e.text).join(' '));
    const requests = segments.filter((s) => s.provisional?.state !== 'revoked').length;
    const revoked = segments.length - requests;
    rows.push({
      measure: `WER, ${policy}`,
      value: r3(w),
      unit: 'WER',
      ratio: r3(w / wholeWer),
      goal: policy === 'near-realtime' ? '≤ 1.05 × whole file' : '',
      note: `${requests} ${policy === 'near-realtime-live' ? 'windows' : 'requests'}${revoked ? ` (+${revoked} speculative, ${policy === 'near-realtime-live' ? 'continued' : 'cancelled'})` : ''}, ${r1((performance.now() - t) / 1000)} s`,
    });
  }
  return rows;
}

async function pacedLatency(engine: Transport, path: string, ends: number[], policy: EnginePolicy): Promise<LatencyRun & { startLag: number[]; own: number[] }> {
  const { fromFile } = await import('../src/sources/file.js');
  const { decode } = await import('../src/operators/decode.js');
  const clock = new PaceClock();
  const startLag: number[] = [];
  const closed = new Map<number, number>();
  const startedAt = new Map<number, number>();
  const timed: Transport = {
    ...engine,
    model: engine.model,
    capabilities: engine.capabilities,
    sampleRate: engine.sampleRate,
    transcribeClip: (job, o) => {
      const c = closed.get(job.startMs);
      if (c !== undefined) startLag.push(performance.now() - c);
      startedAt.set(job.startMs, performance.now());
      return engine.transcribeClip!(job, o).then((r) => {
        if (!o?.signal?.aborted) resolvedAt.set(job.startMs, performance.now());
        return r;
      });
    },
  };
  const resolvedAt = new Map<number, number>();
  const confirmedAt = new Map<number, number>();
  const segments: WindowSegment[] = [];
  const events: Array<{ e: TranscriptEvent; at: number }> = [];
  await new Promise<void>((resolve, reject) =>
    fromFile(path)
      .pipe(
        decode({ sampleRate: 16000 }),
        pace({ clock }),
        engineOp(
          timed,
          policy,
          (s: WindowSegment) => {
            segments.push(s);
            const startMs = (s.offset * 1000) / s.sampleRate;
            closed.set(startMs, s.closedAt!);
            s.provisional?.onSettled(() => confirmedAt.set(startMs, performance.now()));
          },
          clock,
        ),
      )
      .subscribe({ next: (e) => events.push({ e, at: performance.now() }), error: reject, complete: resolve }),
  );
  // The toolkit's own cost per final: from the last thing it had to wait for — the reply, the window's
  // confirmation, or the previous event (results leave in audio order) — to the event leaving.
  const own: number[] = [];
  const kept = segments.filter((s) => s.provisional?.state !== 'revoked');
  let previous = -Infinity;
  for (const x of events) {
    const seg = kept.find((s) => x.e.startMs >= s.offset / 16 - 1 && x.e.startMs < (s.offset + s.samples.length) / 16);
    const key = seg ? seg.offset / 16 : NaN;
    const ready = Math.max(resolvedAt.get(key) ?? -Infinity, confirmedAt.get(key) ?? -Infinity, previous);
    if (x.e.type === 'final' && Number.isFinite(ready)) own.push(x.at - ready);
    previous = x.at;
  }
  return {
    ...sentenceLatencies(ends, segments, events, (ms) => clock.wallTimeAt(ms)!, startedAt),
    added: events.filter((x) => x.e.type === 'final').map((x) => x.e.latency?.addedMs ?? NaN),
    text: events.filter((x) => x.e.type === 'final').map((x) => x.e.text).join(' '),
    requests: kept.length,
    startLag,
    own,
  };
}

/**
 * Speculation per transport cost model, with and without it, on the virtual clock: the latency it saves beside the
 * requests and audio it wastes (cancelled because speech resumed) and what of that is billed. One stream against an
 * unbounded service, and 20 streams (the three voice rotations, started 250 ms apart) against one that works on 6
 * requests at a time (the rest wait in its queue: PENDING, where a cancel is free under `'until-started'`).
 */
async function speculationRows(pcm: Int16Array, ends: number[]): Promise<Row[]> {
  const models: Array<{ label: string; sim: Omit<SimCost, 'speculate'> }> = [
    { label: "cancelCost 'free' (embedded engine)", sim: { cost: 'free' } },
    { label: "cancelCost 'until-started' (async task, 300 ms PENDING)", sim: { cost: 'until-started', pendingMs: 300 } },
    { label: "cancelCost 'billed' (Omni chat)", sim: { cost: 'billed' } },
  ];
  // The 20 streams cycle through the recording's three voice rotations, so their pauses (and revocations) differ.
  const inputs = (['slt', 'rms', 'awb'] as const).map((_, i, v) => {
    const speech = benchSpeech('wav', 16000, [...v.slice(i), ...v.slice(0, i)]);
    const samples = readPcm(speech.path);
    return { pcm: samples, ends: audibleEnds(samples, speech) };
  });
  const loads: Array<{ label: string; load: SimLoad }> = [
    { label: '1 stream', load: {} },
    { label: '20 streams, service capacity 6', load: { streams: 20, staggerMs: 250, capacity: 6, inputs } },
  ];
  const rows: Row[] = [];
  for (const { label: loadLabel, load } of loads) {
    for (const { label, sim } of models) {
      const base = await virtualLatency(pcm, ends, 'near-realtime', { ...sim, speculate: false }, load);
      for (const speculate of [false, true]) {
        const run = speculate ? await virtualLatency(pcm, ends, 'near-realtime', { ...sim, speculate }, load) : base;
        const s = run.speculation;
        const byDefault = (sim.cost !== 'billed') === speculate;
        rows.push({
          measure: `speculation ${speculate ? 'on' : 'off'}${byDefault ? ' (default)' : ''}, ${label}, ${loadLabel}, virtual clock`,
          value: `${Math.round(quantile(run.eos, 0.5))} / ${Math.round(quantile(run.eos, 0.99))}`,
          unit: 'ms median / p99',
          ...(speculate ? { ratio: r3(quantile(run.eos, 0.5) / quantile(base.eos, 0.5)) } : { baseline: 'baseline' }),
          note: `${run.requests} requests; wasted ${s?.cancelled ?? 0} requests / ${r1((s?.cancelledAudioMs ?? 0) / 1000)} s audio, billed ${s?.billed ?? 0} / ${r1((s?.billedAudioMs ?? 0) / 1000)} s`,
        });
      }
    }
  }
  return rows;
}

function latencyRow(label: string, run: LatencyRun): Row {
  return {
    measure: `end-of-speech latency, ${label}`,
    value: `${Math.round(quantile(run.eos, 0.5))} / ${Math.round(quantile(run.eos, 0.95))} / ${Math.round(quantile(run.eos, 0.99))}`,
    unit: 'ms median / p95 / p99',
    note: `${run.eos.length} sentence ends, ${run.requests} requests; end of speech → request start median ${Math.round(quantile(run.wait, 0.5))} ms, p95 ${Math.round(quantile(run.wait, 0.95))} ms`,
  };
}

/**
 * An engine in this thread, for a load-independent latency breakdown: clips and live sessions decoded at once when
 * called (the main thread waits), each call's CPU time recorded with the audio fed so far when it was made.
 */
async function inlineEngine(fedTo: () => number, before = false): Promise<{ transport: Transport; calls: Array<{ atMs: number; cpuMs: number }>; free(): void }> {
  const { Decoder } = await import('../src/engine/pocketsphinx.js');
  const { recognizeClip, StreamRecognizer } = await import('../src/engine/recognizer.js');
  const { withCapabilities } = await import('../src/transports/transport.js');
  const { localDescriptor, primedSessionOptions } = await import('../src/transports/local.js');
  const decoders: InstanceType<typeof Decoder>[] = [];
  const idle: InstanceType<typeof Decoder>[] = [];
  const take = (): InstanceType<typeof Decoder> => idle.pop() ?? (decoders.push(new Decoder()), decoders[decoders.length - 1]!);
  const calls: Array<{ atMs: number; cpuMs: number }> = [];
  const timed = async <T>(run: () => Promise<T>): Promise<T> => {
    const c0 = process.cpuUsage();
    const out = await run();
    const c = process.cpuUsage(c0);
    calls.push({ atMs: fedTo(), cpuMs: (c.user + c.system) / 1000 });
    return out;
  };
  const transport = withCapabilities(localDescriptor.models.local!.capabilities, {
    model: 'inline',
    sampleRate: 16000,
    async transcribeClip(job: ChunkJob) {
      const d = take();
      try {
        return await timed(() => recognizeClip(d, job.samples));
      } finally {
        idle.push(d);
      }
    },
    async openStream(o: StreamOptions) {
      const d = take();
      let open = true;
      // Before: a primed session decoded as other live sessions (150 ms endpoint, one search pass).
      const settings = before ? (o.prime?.length ? { cmnPrime: o.prime } : {}) : primedSessionOptions({}, o.prime);
      const rec = new StreamRecognizer(d, (e) => o.onEvent(e), settings);
      const release = (): void => {
        if (open) idle.push(d);
        open = false;
      };
      return {
        async write(samples: Int16Array) {
          if (open) await rec.write(samples);
        },
        async end() {
          if (open) await timed(() => rec.end());
          release();
        },
        close: () => {
          // The decoder goes back once its running call has returned.
          if (open) void rec.cancel().then(release);
        },
      };
    },
  });
  return { transport, calls, free: () => decoders.forEach((d) => d.free()) };
}

/**
 * End of speech → final without the machine's load: the recording fed in 20 ms pieces (one per macrotask) to the
 * near-realtime path, decoded in this thread. Per sentence, the audio fed between its audible end and the engine
 * call that produced its final (the cut: deterministic), that call's CPU time, and their sum — on an idle core the
 * final is out then, or when the window is confirmed if later (whole windows wait for it). Windows sent whole,
 * windows decoded live, and live as before (primed sessions decoded as other live sessions: one search pass);
 * `repeats` runs each, run r on voice rotation r % 3; min–max of runs, WER pooled over them.
 */
async function latencyBreakdown(repeats: number): Promise<Row[]> {
  const policies = ['near-realtime', 'near-realtime-live', 'near-realtime-live-before'] as const;
  const figures = new Map<string, Array<{ audio: number[]; cpu: number[]; total: number[]; ref: string; hyp: string }>>();
  const rotations = [['slt', 'rms', 'awb'], ['rms', 'awb', 'slt'], ['awb', 'slt', 'rms']] as const;
  for (let r = 0; r < repeats; r++) {
    const speech = benchSpeech('wav', 16000, rotations[r % 3]);
    const pcm = readPcm(speech.path);
    const ends = audibleEnds(pcm, speech);
    for (const policy of policies) {
      let fed = 0;
      const engine = await inlineEngine(() => fed / 16, policy === 'near-realtime-live-before');
      const finals: Array<{ e: TranscriptEvent; atMs: number; call: number }> = [];
      try {
        const source = new Observable<AudioChunk>((sub) => {
          let i = 0;
          const step = (): void => {
            if (sub.closed) return;
            if (i >= pcm.length) return sub.complete();
            const samples = pcm.subarray(i, i + 320);
            sub.next({ kind: 'audio', samples, sampleRate: 16000, channels: 1, offset: i });
            i += samples.length;
            fed = i;
            setImmediate(step);
          };
          setImmediate(step);
        });
        await new Promise<void>((resolve, reject) =>
          // Before: 10 s of earlier windows primed a session (now 60 s).
          source.pipe(policy === 'near-realtime-live-before' ? nearRealtimeLive(engine.transport, { primeMs: 10_000 }) : engineOp(engine.transport, policy)).subscribe({
            next: (e) => e.type === 'final' && finals.push({ e, atMs: fed / 16, call: engine.calls.length - 1 }),
            error: reject,
            complete: resolve,
          }),
        );
      } finally {
        engine.free();
      }
      const run = { audio: [] as number[], cpu: [] as number[], total: [] as number[], ref: speech.text, hyp: finals.map((x) => x.e.text).join(' ') };
      for (const end of ends) {
        const hit = finals.find((x) => x.e.startMs <= end && x.e.endMs >= end - 300);
        const call = hit ? engine.calls[hit.call] : undefined;
        if (!hit || !call) continue;
        run.audio.push(call.atMs - end);
        run.cpu.push(call.cpuMs);
        run.total.push(Math.max(call.atMs + call.cpuMs, hit.atMs) - end);
      }
      figures.set(policy, [...(figures.get(policy) ?? []), run]);
    }
  }
  const span = (xs: number[]): string => (Math.round(Math.min(...xs)) === Math.round(Math.max(...xs)) ? `${Math.round(xs[0]!)}` : `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`);
  const pooled = (policy: string): number => {
    const all = figures.get(policy)!;
    return wer(all.map((x) => x.ref).join(' '), all.map((x) => x.hyp).join(' '));
  };
  const label = { 'near-realtime': 'windows sent whole', 'near-realtime-live': 'windows decoded live', 'near-realtime-live-before': 'windows decoded live, before (one search pass, 10 s prime)' };
  return policies.map((policy) => {
    const all = figures.get(policy)!;
    const q = (key: 'audio' | 'cpu' | 'total'): string => [0.5, 0.99].map((p) => span(all.map((x) => quantile(x[key], p)))).join(' / ');
    return {
      measure: `end-of-speech → final on an idle core, ${label[policy]} (audio to the cut + CPU of the final, or the confirmation if later), ${repeats} runs`,
      value: q('total'),
      unit: 'ms median / p99, min–max of runs',
      ...(policy === 'near-realtime' ? { baseline: 'baseline' } : { goal: 'median ≤ 300, p99 ≤ 600' }),
      note: `audio to the cut ${q('audio')} ms, CPU of the final ${q('cpu')} ms; ${all.map((x) => x.total.length).join('+')} ends; WER pooled over the runs ${r1(100 * pooled(policy))} %${policy === 'near-realtime' ? '' : ` (${r1(100 * (pooled(policy) - pooled('near-realtime')))} points from whole windows)`}`,
    };
  });
}

/** Every figure of this area, in one table. */
export async function benchNearRealtime(): Promise<Row[]> {
  const quick = process.env.EARSHOT_BENCH_QUICK === '1';
  await loadVad();
  // EARSHOT_BENCH_PARTS=vad,throughput,latency,engine,wer,wer3,breakdown,memory picks parts (default all but wer3, ~6 min
  // more; wer: the WER rows of one rotation, with `engine`; breakdown: the load-independent latency, no pool).
  const parts = new Set((process.env.EARSHOT_BENCH_PARTS ?? 'vad,throughput,latency,engine,wer,breakdown,memory').split(','));
  const speech = benchSpeech();
  const pcm = readPcm(speech.path);
  const ends = audibleEnds(pcm, speech);
  const rows: Row[] = [];
  rows.push({ measure: 'test recording', value: Math.round(speech.durationMs / 100) / 10, unit: 's', note: `${speech.segments.length} flite sentences (slt, rms, awb), pauses 150–3000 ms + flite's ~400 ms` });
  if (parts.has('vad')) rows.push(...(await benchVadSpeed(pcm)));
  if (parts.has('throughput')) rows.push(...(await benchThroughput()));

  for (const policy of parts.has('latency') ? (['near-realtime', 'vad-segments', 'fixed-5s'] as const) : []) {
    const run = await virtualLatency(pcm, ends, policy);
    rows.push(latencyRow(`${policy}, virtual clock, simulated engine (150 ms + 0.2 × clip)`, run));
  }
  if (parts.has('latency')) rows.push(...(await speculationRows(pcm, ends)));

  const engine = parts.has('engine') ? await loadEngine() : 'not run (EARSHOT_BENCH_PARTS)';
  if (typeof engine === 'string') {
    rows.push({ measure: 'WER and paced latency with the embedded engine', value: 'pending', unit: '', note: engine });
  } else {
    try {
      if (parts.has('wer')) rows.push(...(await engineWer(engine, pcm, speech)));
      if (parts.has('wer3')) rows.push(...(await engineWerPooled(engine)));
      if (!quick) {
        const added: number[] = [];
        const lag: number[] = [];
        const own: number[] = [];
        // Windows sent whole (the baseline) and decoded live, alternated, `repeats` runs each: median and p99 of each
        // run, shown as min–max over the runs.
        const repeats = Number(process.env.EARSHOT_BENCH_REPEATS ?? 3);
        const figures: Record<'near-realtime' | 'near-realtime-live', { median: number[]; p99: number[]; runs: LatencyRun[] }> = {
          'near-realtime': { median: [], p99: [], runs: [] },
          'near-realtime-live': { median: [], p99: [], runs: [] },
        };
        for (let i = 0; i < repeats; i++) {
          for (const policy of ['near-realtime', 'near-realtime-live'] as const) {
            const run = await pacedLatency(engine, speech.path, ends, policy);
            added.push(...run.added);
            lag.push(...run.startLag);
            if (policy === 'near-realtime') own.push(...run.own); // the live path waits for no reply or confirmation
            figures[policy].median.push(quantile(run.eos, 0.5));
            figures[policy].p99.push(quantile(run.eos, 0.99));
            figures[policy].runs.push(run);
          }
        }
        const span = (xs: number[]): string => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
        const base = figures['near-realtime'];
        for (const policy of ['near-realtime', 'near-realtime-live'] as const) {
          const f = figures[policy];
          const last = f.runs[f.runs.length - 1]!;
          rows.push({
            measure: `end-of-speech → final, ${policy === 'near-realtime' ? 'near-realtime, windows sent whole' : 'near-realtime, windows decoded live'}, paced at real time, embedded engine, ${repeats} runs`,
            value: `${span(f.median)} / ${span(f.p99)}`,
            unit: 'ms median / p99, min–max of runs',
            ...(policy === 'near-realtime' ? { baseline: 'baseline' } : { ratio: r3(quantile(f.median, 0.5) / quantile(base.median, 0.5)), goal: 'median ≤ 300, p99 ≤ 600' }),
            note: `${last.eos.length} sentence ends, ${last.requests} windows per run`,
          });
        }
        const run = await pacedLatency(engine, speech.path, ends, 'fixed-5s');
        added.push(...run.added);
        lag.push(...run.startLag);
        own.push(...run.own);
        rows.push(latencyRow('fixed-5s, paced at real time, embedded engine', run));
        rows.push({ measure: 'added latency, own cost (reply, confirmation or previous event → event out), paced runs of whole windows', value: `${r3(quantile(own, 0.5))} / ${r3(quantile(own, 0.99))}`, unit: 'ms median / p99', goal: 'p99 ≤ 5', note: `${own.length} finals` });
        rows.push({ measure: 'latency.addedMs (reply → event out, incl. waiting for order / confirmation), paced runs', value: `${r3(quantile(added, 0.5))} / ${r3(quantile(added, 0.99))}`, unit: 'ms median / p99' });
        rows.push({ measure: 'added latency (segment closed → request started), paced runs', value: `${r3(quantile(lag, 0.5))} / ${r3(quantile(lag, 0.99))}`, unit: 'ms median / p99', goal: 'p99 ≤ 5' });
      }
    } finally {
      await engine.close();
    }
  }
  if (parts.has('breakdown')) rows.push(...(await latencyBreakdown(Number(process.env.EARSHOT_BENCH_REPEATS ?? 3))));
  if (parts.has('memory')) rows.push(...(await benchMemory()));
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--memory-child')) {
    await memoryChild();
  } else {
    console.table(await benchNearRealtime());
  }
}
