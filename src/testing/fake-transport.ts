/**
 * `fakeTransport({ script })`: a transport for your own tests. It hears nothing: it replies with the events of a
 * script, each once the audio sent has reached its end, after a set latency on a scheduler (a `VirtualTimeScheduler`
 * with `runVirtual` makes a test deterministic and instant). It records what it was sent, and can fail on cue.
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { AbortError, InvalidArgumentError } from '../core/errors.js';
import { shiftEvent, type TranscriptEvent } from '../core/types.js';
import { sleep } from '../core/retry.js';
import {
  assertCapabilities,
  assertStreamOptions,
  withCapabilities,
  type ChunkJob,
  type ModelFeatures,
  type StreamOptions,
  type StreamSession,
  type Transport,
} from '../transports/transport.js';

/** A failure in the script: the first clip or session whose audio reaches `atMs` fails with `error` (once). */
export interface ScriptedFailure {
  /** Position on the script's time line, ms. */
  atMs: number;
  error: Error;
}

/** Options of {@link fakeTransport}. */
export interface FakeTransportOptions {
  /**
   * What the transport "hears", on the input's time line (ms from its first sample): events, in any order, and
   * failures. A clip returns the events that start inside it (times relative to the clip, as a transport does); a
   * session emits each event once the audio written reaches its `endMs` (times from the session's first sample).
   */
  script?: readonly (TranscriptEvent | ScriptedFailure)[];
  /** Model id (default `fake`). */
  model?: string;
  /** Sample rate it takes (default 16000). */
  sampleRate?: number;
  /** Delay of every reply (a clip's result, a session's event, `end()`), ms on `scheduler` (default 0). */
  latencyMs?: number;
  /** Where delays run (default the real clock; pass a `VirtualTimeScheduler` and drive it with `runVirtual`). */
  scheduler?: SchedulerLike;
  /** Which methods it has: `clips` (`transcribeClip`), `streams` (`openStream`) or `both` (default). */
  serves?: 'clips' | 'streams' | 'both';
  /** Capabilities besides realtime/batch (default: none, English, unbounded duration). */
  capabilities?: Partial<ModelFeatures>;
}

/** A clip the fake was sent. */
export interface FakeClip {
  startMs: number;
  durationMs: number;
  options?: ChunkJob['options'];
}

/** A session the fake opened. */
export interface FakeSession {
  options: Omit<StreamOptions, 'onEvent' | 'onError' | 'signal'>;
  /** Audio written so far, ms. */
  writtenMs: number;
  ended: boolean;
  closed: boolean;
}

/** The fake: a {@link Transport} plus what it received. */
export interface FakeTransport extends Transport {
  readonly clips: FakeClip[];
  readonly sessions: FakeSession[];
  close(): Promise<void>;
}

function isFailure(step: TranscriptEvent | ScriptedFailure): step is ScriptedFailure {
  return (step as ScriptedFailure).error instanceof Error;
}

/**
 * Make a scripted transport for tests.
 *
 * @param options - the script, latency, scheduler, which methods it has, its other capabilities.
 * @returns a {@link FakeTransport}; `clips` and `sessions` record what it was sent.
 * @throws EARSHOT_INVALID_ARGUMENT for a negative latency or a bad sample rate (at once); from its methods,
 *   EARSHOT_CAPABILITY_MISSING / EARSHOT_INVALID_ARGUMENT as real transports do, AbortError on abort, and the
 *   scripted failures.
 * @example
 * ```ts
 * const scheduler = new VirtualTimeScheduler();
 * const fake = fakeTransport({ script: [{ type: 'final', text: 'hello', startMs: 100, endMs: 900 }], latencyMs: 300, scheduler });
 * const events: TranscriptEvent[] = [];
 * fromPcm(samples).pipe(transcribe(fake)).subscribe((e) => events.push(e));
 * await runVirtual(scheduler); // events: the final 'hello', 300 ms of virtual time after its audio was written
 * ```
 */
export function fakeTransport(options: FakeTransportOptions = {}): FakeTransport {
  const { model = 'fake', sampleRate = 16000, latencyMs = 0, scheduler = asyncScheduler, serves = 'both' } = options;
  if (!(latencyMs >= 0)) throw new InvalidArgumentError(`latencyMs must be 0 or more, got ${latencyMs}`);
  if (!(Number.isInteger(sampleRate) && sampleRate > 0)) throw new InvalidArgumentError(`sampleRate must be a positive integer, got ${sampleRate}`);
  const steps = options.script ?? [];
  const events = steps.filter((s): s is TranscriptEvent => !isFailure(s)).sort((a, b) => a.endMs - b.endMs);
  const failures = steps.filter(isFailure);
  const features: ModelFeatures = { wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'], ...options.capabilities };
  const clips: FakeClip[] = [];
  const sessions: FakeSession[] = [];
  const live = new Set<() => void>();

  /** The first unused failure at or before `untilMs` (and after `fromMs`), used up. */
  const takeFailure = (fromMs: number, untilMs: number): Error | undefined => {
    const at = failures.findIndex((f) => f.atMs >= fromMs && f.atMs <= untilMs);
    return at < 0 ? undefined : failures.splice(at, 1)[0]!.error;
  };

  async function transcribeClip(job: ChunkJob, call: { signal?: AbortSignal } = {}): Promise<TranscriptEvent[]> {
    assertCapabilities(transport, job.options);
    if (job.sampleRate !== sampleRate) throw new InvalidArgumentError(`${model} takes ${sampleRate} Hz audio, got ${job.sampleRate} Hz`);
    const durationMs = (job.samples.length * 1000) / job.sampleRate;
    const endMs = job.startMs + durationMs;
    clips.push({ startMs: job.startMs, durationMs, ...(job.options ? { options: job.options } : {}) });
    const failure = takeFailure(job.startMs, endMs);
    await sleep(latencyMs, call.signal, scheduler);
    if (failure) throw failure;
    return events.filter((e) => e.startMs >= job.startMs && e.startMs < endMs).map((e) => shiftEvent(e, -job.startMs));
  }

  async function openStream(stream: StreamOptions): Promise<StreamSession> {
    assertStreamOptions(transport, stream);
    if (stream.signal?.aborted) throw new AbortError(stream.signal.reason);
    const { onEvent, onError, signal, ...rest } = stream;
    const record: FakeSession = { options: rest, writtenMs: 0, ended: false, closed: false };
    sessions.push(record);
    const pending = new Set<Subscription>();
    let next = 0;
    let frames = 0;
    let failed = false;
    let ended: (() => void) | undefined;
    const later = (work: () => void): void => {
      const sub = scheduler.schedule(() => {
        pending.delete(sub);
        if (!record.closed) work();
      }, latencyMs);
      pending.add(sub);
    };
    const close = (): void => {
      if (record.closed) return;
      record.closed = true;
      for (const sub of pending) sub.unsubscribe();
      pending.clear();
      live.delete(close);
      signal?.removeEventListener('abort', close);
      ended?.();
    };
    live.add(close);
    signal?.addEventListener('abort', close, { once: true });
    /** Emit the events whose audio is in (all of them at the end), and a failure reached. */
    const release = (untilMs: number, final: boolean): void => {
      const failure = takeFailure(record.writtenMs, untilMs);
      record.writtenMs = untilMs;
      while (next < events.length && (events[next]!.endMs <= untilMs || (final && events[next]!.startMs < untilMs))) {
        const event = events[next++]!;
        later(() => onEvent(event));
      }
      if (failure) {
        failed = true;
        later(() => {
          onError(failure);
          close();
        });
      }
    };
    return {
      async write(samples) {
        if (record.closed || record.ended || failed) return;
        frames += samples.length;
        release((frames * 1000) / sampleRate, false);
      },
      end() {
        if (record.closed || record.ended) return Promise.resolve();
        record.ended = true;
        release(record.writtenMs, true);
        return new Promise<void>((resolve) => {
          ended = resolve;
          later(close);
        });
      },
      close,
    };
  }

  const transport: FakeTransport = withCapabilities(features, {
    model,
    sampleRate,
    clips,
    sessions,
    ...(serves !== 'streams' ? { transcribeClip } : {}),
    ...(serves !== 'clips' ? { openStream } : {}),
    async close() {
      for (const close of [...live]) close();
    },
  });
  return transport;
}
