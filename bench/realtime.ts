/**
 * Realtime benchmark: the DashScope realtime transports and `transcribeRealtime` against the local emulator.
 *
 * - **Accuracy**: every realtime model through the emulator in engine mode (the embedded engine recognises the audio),
 *   WER beside the engine used directly on the same audio, partials before finals, monotonic times.
 * - **Reconnect**: the socket killed every 30 s of audio (engine mode): final text compared with the fault-free run,
 *   sessions used, duplicates.
 * - **Rotation**: an Omni model with the emulator's session cap set low, sessions rotated at pauses (scripted mode,
 *   real time).
 * - **Scale**: 50+ concurrent live streams (100 ms chunks at real time, like a microphone) against the emulator in
 *   scripted mode, the emulator in a child process so the CPU figure is earshot's side only: CPU per stream as a
 *   share of one core; RSS (start, peak, end) and the live heap after a full GC every 5 s (start, end, slope over
 *   the second half: flat means no leak).
 *
 * - **End-of-speech latency**: the near-realtime bench's 90 s recording paced at real time into `transcribe(local())`
 *   and into each realtime model through the emulator (engine mode), one after the other; per sentence, from its audible
 *   end (as live, on the pace clock) to the final that holds it arriving — the same measure as near-realtime's. The
 *   embedded engine also with its settings before issue 16 (500 ms hangover, two search passes) as the baseline; each
 *   run repeated `EARSHOT_BENCH_EOS_REPEATS` times (default 3), interleaved, reported as min–max.
 *
 * Run: `npx tsx bench/realtime.ts` (or `npm run bench -- realtime`). Environment: `EARSHOT_BENCH_STREAMS` (default 50),
 * `EARSHOT_BENCH_SECONDS` (length of each live stream, default 60), `EARSHOT_BENCH_PARTS` (default
 * `scale,rotation,accuracy,eos`; `accuracy` includes the reconnect runs; `eos` includes the load-independent breakdown
 * of the embedded engine's latency), `EARSHOT_BENCH_QUICK=1` (scale part only).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { from, lastValueFrom, Observable, reduce, toArray, type OperatorFunction } from 'rxjs';
import type { AudioChunk, TranscriptEvent } from '../src/core/types.js';
import { startEmulator } from '../src/emulator/server.js';
import { transcribeRealtime } from '../src/operators/transcribe-realtime.js';
import { funAsrRealtime } from '../src/transports/dashscope/fun-asr-realtime.js';
import { omniRealtime } from '../src/transports/dashscope/omni-realtime.js';
import { qwenAsrRealtime } from '../src/transports/dashscope/qwen-asr-realtime.js';
import { local } from '../src/transports/local.js';
import { Decoder } from '../src/engine/pocketsphinx.js';
import { StreamRecognizer, type StreamRecognizerOptions } from '../src/engine/recognizer.js';
import type { Transport } from '../src/transports/transport.js';
import { PaceClock } from '../src/core/clock.js';
import { pace } from '../src/operators/pace.js';
import { transcribe } from '../src/operators/transcribe.js';
import { audibleEnds, benchSpeech, quantile, readPcm } from './near-realtime.js';
import { SENTENCES, synthRaw, wer, type Voice } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;
const KEY = 'sk-bench-realtime-0001';
/** The whole recording is handed over at once (no flow control), so the queue bound must hold all of it. */
const LONG = 60 * 60_000;

/** Rows are printed as they are measured (one JSON line each) when run directly. */
const print = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
function record(rows: Row[], row: Row): void {
  rows.push(row);
  if (print) console.log(JSON.stringify(row));
}

/** Mono 16 kHz speech: the sentences in turn with `gapMs` of silence after each, `leadMs` first. */
function speech(sentences: readonly string[], gapMs = 900, leadMs = 500, voices: readonly Voice[] = ['slt', 'rms', 'awb']): Int16Array {
  const parts = sentences.map((s, i) => synthRaw(s, voices[i % voices.length]!));
  const gap = gapMs * 16;
  const total = leadMs * 16 + parts.reduce((n, p) => n + p.length / 2 + gap, 0);
  const out = new Int16Array(total);
  let at = leadMs * 16;
  for (const p of parts) {
    out.set(new Int16Array(p.buffer, p.byteOffset, p.length / 2), at);
    at += p.length / 2 + gap;
  }
  return out;
}

/** 100 ms chunks of `pcm`, all at once (a cold source without flow control). */
function chunksOf(pcm: Int16Array): Observable<AudioChunk> {
  const out: AudioChunk[] = [];
  for (let i = 0; i < pcm.length; i += 1600) out.push({ kind: 'audio', samples: pcm.subarray(i, Math.min(pcm.length, i + 1600)), sampleRate: 16000, channels: 1, offset: i });
  return from(out);
}

/** A live source: 100 ms chunks of `pcm` at real time, looped to `seconds`, like a microphone. */
function live(pcm: Int16Array, seconds: number): Observable<AudioChunk> {
  return new Observable<AudioChunk>((sub) => {
    const total = seconds * 10;
    let n = 0;
    const started = performance.now();
    let timer: NodeJS.Timeout;
    const tick = () => {
      const due = Math.floor((performance.now() - started) / 100);
      while (n <= due && n < total) {
        const at = (n * 1600) % (pcm.length - 1600);
        sub.next({ kind: 'audio', samples: pcm.slice(at, at + 1600), sampleRate: 16000, channels: 1, offset: n * 1600 });
        n++;
      }
      if (n >= total) sub.complete();
      else timer = setTimeout(tick, started + (n + 1) * 100 - performance.now());
    };
    timer = setTimeout(tick, 0);
    return () => clearTimeout(timer);
  });
}

const finalText = (events: TranscriptEvent[]) => events.filter((e) => e.type === 'final').map((e) => e.text).join(' ');

function monotonic(events: TranscriptEvent[]): boolean {
  let lastFinalEnd = -Infinity;
  for (const e of events) {
    if (e.startMs < lastFinalEnd || e.endMs < e.startMs) return false;
    if (e.type === 'final') lastFinalEnd = e.endMs;
  }
  return true;
}

/** How many finals differ in text from the fault-free run's, position by position. */
function differing(events: TranscriptEvent[], reference: TranscriptEvent[]): number {
  const a = events.filter((e) => e.type === 'final');
  const b = reference.filter((e) => e.type === 'final');
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i]!.text !== b[i]!.text) n++;
  return n;
}

function duplicates(events: TranscriptEvent[]): number {
  const finals = events.filter((e) => e.type === 'final');
  let n = 0;
  for (let i = 1; i < finals.length; i++) if (finals[i]!.startMs < finals[i - 1]!.endMs) n++;
  return n;
}

async function accuracy(rows: Row[]): Promise<void> {
  const sentences = SENTENCES;
  const reference = sentences.join(' ');
  const pcm = speech(sentences);
  const engine = local({ size: 1 });
  // One adapting decoder per session (as the engine used directly), and the default: each final re-decoded alone.
  const emu = await startEmulator({ recognizer: engine, apiKeys: [KEY], stateless: false });
  const statelessEmu = await startEmulator({ recognizer: engine, apiKeys: [KEY], stateless: true });
  try {
    let t = performance.now();
    const direct = await lastValueFrom(chunksOf(pcm).pipe(transcribeRealtime(engine, { pace: false, maxQueuedMs: LONG }), toArray()));
    const directWer = wer(reference, finalText(direct));
    record(rows, { part: 'accuracy', model: 'local (direct)', audio_s: +(pcm.length / 16000).toFixed(1), WER: +(directWer * 100).toFixed(1), dWER_points: 0, partial_first: String(direct[0]?.type === 'partial'), monotonic: String(monotonic(direct)), wall_s: +((performance.now() - t) / 1000).toFixed(1) });
    const models: Array<[string, Transport]> = [
      ['fun-asr-realtime', funAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['qwen3-asr-flash-realtime', qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['qwen3.5-omni-plus-realtime', omniRealtime('qwen3.5-omni-plus-realtime', { apiKey: KEY, baseUrl: emu.url })],
      ['qwen3.5-omni-flash-realtime', omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url })],
      ['qwen3-omni-flash-realtime', omniRealtime('qwen3-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url })],
      ['fun-asr-realtime (emulator stateless)', funAsrRealtime({ apiKey: KEY, baseUrl: statelessEmu.url })],
    ];
    for (const [model, transport] of models) {
      t = performance.now();
      const events = await lastValueFrom(chunksOf(pcm).pipe(transcribeRealtime(transport, { pace: false, maxQueuedMs: LONG }), toArray()));
      const score = wer(reference, finalText(events));
      record(rows, {
        part: 'accuracy',
        model,
        audio_s: +(pcm.length / 16000).toFixed(1),
        WER: +(score * 100).toFixed(1),
        dWER_points: +((score - directWer) * 100).toFixed(1),
        partial_first: String(events[0]?.type === 'partial'),
        monotonic: String(monotonic(events)),
        wall_s: +((performance.now() - t) / 1000).toFixed(1),
      });
    }
    // Reconnect: the socket dropped every 30 s of audio.
    const long = speech([...sentences, ...sentences.slice().reverse()]);
    const clean = await lastValueFrom(chunksOf(long).pipe(transcribeRealtime(funAsrRealtime({ apiKey: KEY, baseUrl: emu.url }), { pace: false, maxQueuedMs: LONG }), toArray()));
    let qwenClean: TranscriptEvent[] | undefined;
    for (const [model, warmupMs, make] of [
      ['fun-asr-realtime', 0, () => funAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['fun-asr-realtime', 10_000, () => funAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['qwen3-asr-flash-realtime', 10_000, () => qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
    ] as Array<[string, number, () => Transport]>) {
      if (model !== 'fun-asr-realtime') qwenClean ??= await lastValueFrom(chunksOf(long).pipe(transcribeRealtime(make(), { pace: false, maxQueuedMs: LONG }), toArray()));
      const reference2 = model === 'fun-asr-realtime' ? clean : qwenClean!;
      emu.context.faults.dropAfterAudioMs = 30_000;
      let sessions = 0;
      const inner = make();
      const counting: Transport = { ...inner, openStream: (o) => (sessions++, inner.openStream!(o)) };
      t = performance.now();
      const events = await lastValueFrom(chunksOf(long).pipe(transcribeRealtime(counting, { pace: false, maxQueuedMs: LONG, reconnect: { attempts: 4 }, warmupMs }), toArray()));
      delete emu.context.faults.dropAfterAudioMs;
      record(rows, {
        part: 'reconnect (drop every 30 s)',
        model,
        warmup_ms: warmupMs,
        audio_s: +(long.length / 16000).toFixed(1),
        sessions,
        identical_text: String(finalText(events) === finalText(reference2)),
        finals_differing: differing(events, reference2),
        WER_vs_fault_free: +(wer(finalText(reference2), finalText(events)) * 100).toFixed(1),
        finals: `${events.filter((e) => e.type === 'final').length}/${reference2.filter((e) => e.type === 'final').length}`,
        duplicates: duplicates(events),
        monotonic: String(monotonic(events)),
        wall_s: +((performance.now() - t) / 1000).toFixed(1),
      });
    }
    // The emulator in stateless mode (each final re-decoded from its utterance alone).
    const statelessClean = await lastValueFrom(chunksOf(long).pipe(transcribeRealtime(funAsrRealtime({ apiKey: KEY, baseUrl: statelessEmu.url }), { pace: false, maxQueuedMs: LONG }), toArray()));
    statelessEmu.context.faults.dropAfterAudioMs = 30_000;
    let sessions = 0;
    const inner = funAsrRealtime({ apiKey: KEY, baseUrl: statelessEmu.url });
    const counting: Transport = { ...inner, openStream: (o) => (sessions++, inner.openStream!(o)) };
    t = performance.now();
    const events = await lastValueFrom(chunksOf(long).pipe(transcribeRealtime(counting, { pace: false, maxQueuedMs: LONG, reconnect: { attempts: 4 } }), toArray()));
    record(rows, {
      part: 'reconnect (drop every 30 s), emulator stateless',
      model: 'fun-asr-realtime',
      warmup_ms: 0,
      audio_s: +(long.length / 16000).toFixed(1),
      sessions,
      identical_text: String(finalText(events) === finalText(statelessClean)),
      finals_differing: differing(events, statelessClean),
      WER_vs_fault_free: +(wer(finalText(statelessClean), finalText(events)) * 100).toFixed(1),
      WER_vs_reference: +(wer([...SENTENCES, ...SENTENCES.slice().reverse()].join(' '), finalText(events)) * 100).toFixed(1),
      finals: `${events.filter((e) => e.type === 'final').length}/${statelessClean.filter((e) => e.type === 'final').length}`,
      duplicates: duplicates(events),
      monotonic: String(monotonic(events)),
      wall_s: +((performance.now() - t) / 1000).toFixed(1),
    });
  } finally {
    await statelessEmu.close();
    await emu.close();
    await engine.close();
  }
}

async function rotation(rows: Row[]): Promise<void> {
  const sentences = SENTENCES.slice(0, 8);
  const script = sentences.map((text) => ({ text }));
  const pcm = speech(sentences, 900, 500, ['slt']);
  const capMs = 10_000;
  const emu = await startEmulator({ apiKeys: [KEY], script, faults: { sessionCapMs: capMs } });
  try {
    let sessions = 0;
    const inner = omniRealtime('qwen3.5-omni-plus-realtime', { apiKey: KEY, baseUrl: emu.url, silenceDurationMs: 500, maxDurationMs: capMs });
    const counting: Transport = { ...inner, openStream: (o) => (sessions++, inner.openStream!(o)) };
    const t = performance.now();
    const events = await lastValueFrom(chunksOf(pcm).pipe(transcribeRealtime(counting, { maxQueuedMs: LONG, rotateBeforeMs: 5000, reconnect: { attempts: 1 } }), toArray()));
    record(rows, {
      part: `rotation (cap ${capMs / 1000} s, real time)`,
      model: 'qwen3.5-omni-plus-realtime',
      audio_s: +(pcm.length / 16000).toFixed(1),
      sessions,
      identical_text: String(finalText(events) === sentences.join(' ')),
      finals: `${events.filter((e) => e.type === 'final').length}/${sentences.length}`,
      duplicates: duplicates(events),
      monotonic: String(monotonic(events)),
      wall_s: +((performance.now() - t) / 1000).toFixed(1),
    });
  } finally {
    await emu.close();
  }
}

/** Start the emulator in a child process (scripted); resolves its URL and a stop function. */
function childEmulator(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--emulator-child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /EMULATOR (\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, stop: () => child.kill('SIGTERM') });
    });
    child.once('exit', (code) => reject(new Error(`emulator child exited with ${code}`)));
  });
}

/** A full garbage collection, to read the live heap rather than V8's lazily grown RSS. */
function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function scale(rows: Row[]): Promise<void> {
  const streams = Number(process.env.EARSHOT_BENCH_STREAMS ?? 50);
  const seconds = Number(process.env.EARSHOT_BENCH_SECONDS ?? 60);
  const pcm = speech(SENTENCES, 900, 300);
  const emu = await childEmulator();
  try {
    for (const [model, make] of [
      ['qwen3-asr-flash-realtime', () => qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['fun-asr-realtime', () => funAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
    ] as Array<[string, () => Transport]>) {
      gcNow();
      const rss: number[] = [];
      const heap: number[] = [];
      const sampler = setInterval(() => {
        gcNow();
        const m = process.memoryUsage();
        rss.push(m.rss);
        heap.push(m.heapUsed + m.external);
      }, 5000);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let finals = 0;
      let partials = 0;
      let errors = 0;
      await Promise.all(
        Array.from({ length: streams }, () =>
          lastValueFrom(
            live(pcm, seconds).pipe(
              transcribeRealtime(make()),
              // Count, do not keep: the events themselves are the caller's memory, not earshot's.
              reduce((n, e) => (e.type === 'final' ? { ...n, f: n.f + 1 } : { ...n, p: n.p + 1 }), { f: 0, p: 0 }),
            ),
          ).then(
            (n) => {
              finals += n.f;
              partials += n.p;
            },
            () => errors++,
          ),
        ),
      );
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(sampler);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const half = heap.slice(Math.floor(heap.length / 2));
      const slope = half.length > 1 ? ((half[half.length - 1]! - half[0]!) / 1048576 / ((half.length - 1) * 5)) * 60 : 0;
      record(rows, {
        part: `scale (${streams} live streams × ${seconds} s, scripted)`,
        model,
        streams,
        errors,
        finals,
        partials,
        cpu_per_stream_pct_of_core: +((cpuMs / wall / streams) * 100).toFixed(2),
        cpu_total_pct_of_core: +((cpuMs / wall) * 100).toFixed(1),
        rss_start_MB: +((rss[0] ?? 0) / 1048576).toFixed(0),
        rss_peak_MB: +(Math.max(...rss) / 1048576).toFixed(0),
        rss_end_MB: +((rss[rss.length - 1] ?? 0) / 1048576).toFixed(0),
        live_heap_start_MB: +((heap[0] ?? 0) / 1048576).toFixed(1),
        live_heap_end_MB: +((heap[heap.length - 1] ?? 0) / 1048576).toFixed(1),
        live_heap_slope_2nd_half_MB_per_min: +slope.toFixed(2),
        wall_s: +(wall / 1000).toFixed(1),
      });
    }
  } finally {
    emu.stop();
  }
}

/** The realtime benchmark (see the file's summary). */
/**
 * End of speech → final, paced at real time: `transcribe(local())` and the realtime models through the emulator (engine
 * mode, one adapting decoder per session), one after the other (side by side, four
 * decoders fall behind real time on a loaded 2-core machine and the figure measures the backlog). Each sentence's
 * latency is from its audible end, as live, to the arrival of the first final that holds it (starts before it, ends
 * at most 300 ms before it). `EARSHOT_BENCH_EOS` picks models by a substring of their label (comma-separated; default
 * all).
 *
 * A cloud model ends an utterance only after its documented silence (`max_sentence_silence` 1300 ms,
 * `silence_duration_ms` 800 ms), so its rows count only the sentences followed by at least that silence plus
 * {@link EOS_SILENCE_SLACK_MS} (a shorter pause is not an end of speech to the service: the next sentence joins the
 * utterance). Subtract the silence from a cloud row's figure for what the emulator and the client add to a wait no one
 * can shorten.
 */
async function endOfSpeech(rows: Row[]): Promise<void> {
  const recording = benchSpeech();
  const pcm = readPcm(recording.path);
  const ends = audibleEnds(pcm, recording);
  const starts = audibleStarts(pcm, recording);
  // The emulator stands in for a service on its own machine: its engine does not yield the CPU to the bench's
  // neighbours (the pool's default niceness 10 would measure the machine's load, not the emulator). One adapting
  // decoder per session (`stateless: false`, as before): half the CPU of the default, which decodes each utterance
  // with a stream of its own (and so a first-utterance pass per utterance).
  const engine = local({ size: 1, niceness: 0 });
  const emu = await startEmulator({ recognizer: engine, apiKeys: [KEY], stateless: false });
  const direct = local({ size: 1 });
  // The settings before issue 16: pocketsphinx's 500 ms hangover ends utterances, each final with two search passes.
  const before = local({ size: 1, endSilenceMs: 0, flatPass: true });
  const pick = process.env.EARSHOT_BENCH_EOS?.split(',');
  const repeats = Math.max(1, Number(process.env.EARSHOT_BENCH_EOS_REPEATS ?? 3));
  try {
    const cloud: Array<[string, number, () => Transport]> = [
      ['fun-asr-realtime', 1300, () => funAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['qwen3-asr-flash-realtime', 800, () => qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url })],
      ['qwen3.5-omni-flash-realtime', 800, () => omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url })],
      ['qwen3.5-omni-plus-realtime', 800, () => omniRealtime('qwen3.5-omni-plus-realtime', { apiKey: KEY, baseUrl: emu.url })],
      ['qwen3-omni-flash-realtime', 800, () => omniRealtime('qwen3-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url })],
    ];
    const runs: Array<[string, () => OperatorFunction<AudioChunk, TranscriptEvent>]> = [
      ['transcribe(local())', () => transcribe(direct, { maxQueuedMs: LONG })],
      ['transcribe(local()), before (500 ms hangover, two passes)', () => transcribe(before, { maxQueuedMs: LONG })],
      ...cloud.map(([model, silenceMs, make]): [string, () => OperatorFunction<AudioChunk, TranscriptEvent>] => [
        `${model} (emulator, documented silence ${silenceMs} ms)`,
        () => transcribeRealtime(make(), { pace: false, maxQueuedMs: LONG }),
      ]),
    ];
    /** A cloud model's ends of speech: sentences followed by its documented silence (and a margin), and the last. */
    const endsOf = (label: string): number[] => {
      const silenceMs = cloud.find(([model]) => label.startsWith(`${model} `))?.[1];
      return silenceMs === undefined ? ends : ends.filter((end, i) => (starts[i + 1] ?? Infinity) - end >= silenceMs + EOS_SILENCE_SLACK_MS);
    };
    const chosen = runs.filter(([label]) => !pick || pick.some((p) => label.includes(p)));
    const results = new Map<string, Array<{ eos: number[]; wer: number; load: number }>>();
    // Repeats interleaved (a, b, a, b, …) so that a change of machine load falls on every setting alike.
    for (let r = 0; r < repeats; r++) {
      for (const [label, op] of chosen) {
        const clock = new PaceClock();
        const got: Array<{ e: TranscriptEvent; at: number }> = [];
        await new Promise<void>((resolve, reject) =>
          chunksOf(pcm)
            .pipe(pace({ clock, maxQueuedMs: LONG }), op())
            .subscribe({ next: (e) => got.push({ e, at: performance.now() }), error: reject, complete: resolve }),
        );
        const finals = got.filter((x) => x.e.type === 'final');
        const eos: number[] = [];
        for (const end of endsOf(label)) {
          const hit = finals.find((x) => x.e.startMs <= end && x.e.endMs >= end - 300);
          if (hit) eos.push(hit.at - clock.wallTimeAt(end)!);
        }
        const run = { eos, wer: wer(recording.text, finalText(finals.map((x) => x.e))), load: loadavg()[0]! };
        results.set(label, [...(results.get(label) ?? []), run]);
        if (print) console.error(`eos ${label} #${r + 1}: median ${Math.round(quantile(eos, 0.5))} ms, WER ${(run.wer * 100).toFixed(1)}`);
      }
    }
    const span = (values: number[]): string => {
      const v = values.map(Math.round);
      return v.length === 1 ? String(v[0]) : `${Math.min(...v)}–${Math.max(...v)}`;
    };
    for (const [label] of chosen) {
      const all = results.get(label)!;
      const q = (p: number) => span(all.map((x) => quantile(x.eos, p)));
      record(rows, {
        part: 'end-of-speech',
        model: label,
        repeats: all.length,
        'median/p95/p99_ms (min–max of repeats)': `${q(0.5)} / ${q(0.95)} / ${q(0.99)}`,
        ends: all.map((x) => `${x.eos.length}/${endsOf(label).length}`).join(' ') + (endsOf(label) === ends ? '' : ` (of ${ends.length} sentences)`),
        WER: all.map((x) => (x.wer * 100).toFixed(1)).join(' '),
        load: all.map((x) => x.load.toFixed(1)).join(' '),
      });
    }
  } finally {
    await emu.close();
    await engine.close();
    await direct.close();
    await before.close();
  }
}

/**
 * Where the embedded engine's end-of-speech latency goes, independent of machine load: the recognizer in this thread
 * fed 20 ms pieces of the recording; per sentence, the audio written between its audible end and its final (the
 * endpointing delay, audio time: deterministic) and the CPU time of the write that produced the final (the final
 * pass); their sum is the latency on an idle core. Settings now and before issue 16, 3 interleaved repeats.
 */
async function endOfSpeechBreakdown(rows: Row[]): Promise<void> {
  const recording = benchSpeech();
  const pcm = readPcm(recording.path);
  const ends = audibleEnds(pcm, recording);
  const repeats = Math.max(1, Number(process.env.EARSHOT_BENCH_EOS_REPEATS ?? 3));
  const settings: Array<[string, StreamRecognizerOptions]> = [
    ['local live session (150 ms endpoint, one pass)', {}],
    ['local live session before (500 ms hangover, two passes)', { endSilenceMs: 0, flatPass: true }],
  ];
  const decoder = new Decoder();
  const results = new Map<string, Array<{ audio: number[]; cpu: number[]; total: number[]; wer: number }>>();
  try {
    for (let r = 0; r < repeats; r++) {
      for (const [label, options] of settings) {
        const finals: Array<{ e: TranscriptEvent; atMs: number; cpuMs: number }> = [];
        let writtenMs = 0;
        const rec = new StreamRecognizer(decoder, (e) => e.type === 'final' && finals.push({ e, atMs: writtenMs, cpuMs: 0 }), options);
        for (let i = 0; i < pcm.length; i += 320) {
          const piece = pcm.subarray(i, Math.min(pcm.length, i + 320));
          const n = finals.length;
          const cpu0 = process.cpuUsage();
          writtenMs = (i + piece.length) / 16;
          await rec.write(piece);
          const cpu = process.cpuUsage(cpu0);
          for (let k = n; k < finals.length; k++) finals[k]!.cpuMs = (cpu.user + cpu.system) / 1000;
        }
        await rec.end();
        const run = { audio: [] as number[], cpu: [] as number[], total: [] as number[], wer: wer(recording.text, finalText(finals.map((x) => x.e))) };
        for (const end of ends) {
          const hit = finals.find((x) => x.e.startMs <= end && x.e.endMs >= end - 300);
          if (!hit) continue;
          run.audio.push(hit.atMs - end);
          run.cpu.push(hit.cpuMs);
          run.total.push(hit.atMs - end + hit.cpuMs);
        }
        results.set(label, [...(results.get(label) ?? []), run]);
      }
    }
  } finally {
    decoder.free();
  }
  const span = (values: number[]): string => {
    const v = values.map(Math.round);
    return Math.min(...v) === Math.max(...v) ? String(v[0]) : `${Math.min(...v)}–${Math.max(...v)}`;
  };
  for (const [label] of settings) {
    const all = results.get(label)!;
    const q = (key: 'audio' | 'cpu' | 'total') => [0.5, 0.95, 0.99].map((p) => span(all.map((x) => quantile(x[key], p)))).join(' / ');
    record(rows, {
      part: 'end-of-speech breakdown (idle core)',
      model: label,
      repeats: all.length,
      'endpoint_delay_audio_ms median/p95/p99': q('audio'),
      'final_cpu_ms median/p95/p99 (min–max)': q('cpu'),
      'sum_ms median/p95/p99 (min–max)': q('total'),
      ends: `${all[0]!.audio.length}/${ends.length}`,
      WER: all.map((x) => (x.wer * 100).toFixed(1)).join(' '),
      load: loadavg()[0]!.toFixed(1),
    });
  }
}

/** Slack over a model's documented silence for a pause to count as an end of speech (the audible measure is rough). */
const EOS_SILENCE_SLACK_MS = 200;

/** Where each sentence becomes audible (|sample| > 300), the counterpart of `audibleEnds`. */
function audibleStarts(pcm: Int16Array, speech: ReturnType<typeof benchSpeech>): number[] {
  return speech.segments.map((g) => {
    const a = pcm.subarray(Math.round(g.startMs * 16), Math.round(g.endMs * 16));
    let first = 0;
    while (first < a.length - 1 && Math.abs(a[first]!) <= 300) first++;
    return g.startMs + first / 16;
  });
}

export async function benchRealtime(): Promise<Row[]> {
  const rows: Row[] = [];
  const parts = (process.env.EARSHOT_BENCH_PARTS ?? (process.env.EARSHOT_BENCH_QUICK === '1' ? 'scale' : 'scale,rotation,accuracy,eos')).split(',');
  if (parts.includes('scale')) await scale(rows);
  if (parts.includes('rotation')) await rotation(rows);
  if (parts.includes('accuracy')) await accuracy(rows);
  if (parts.includes('eos')) await endOfSpeechBreakdown(rows);
  if (parts.includes('eos')) await endOfSpeech(rows);
  return rows;
}

if (process.argv.includes('--emulator-child')) {
  const emu = await startEmulator({ script: SENTENCES.map((text) => ({ text })) });
  process.stdout.write(`EMULATOR ${emu.url}\n`);
  process.on('SIGTERM', () => void emu.close().then(() => process.exit(0)));
} else if (print) {
  await benchRealtime();
}
