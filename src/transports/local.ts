/**
 * `local()`: the embedded offline engine (pocketsphinx, US English) as a {@link Transport}, running in a pool of
 * decoders off the main thread (one engine thread; decoding on libuv's thread pool), so the main thread never decodes.
 *
 * One `local()` instance owns one pool, shared by all its clips and live sessions: create it once, use it in many
 * pipelines, and `close()` it at the end. Workers start on demand and do not keep an idle process alive.
 */
import { AbortError, EarshotError, InvalidArgumentError } from '../core/errors.js';
import type { TranscriptEvent } from '../core/types.js';
import { EnginePool, type EnginePoolOptions } from '../engine/pool.js';
import { CLIP_DECODE, ENGINE_SAMPLE_RATE, type StreamRecognizerOptions } from '../engine/recognizer.js';
import { assertCapabilities, withCapabilities, type ChunkJob, type ModelSpec, type StreamOptions, type StreamSession, type Transport, type TransportDescriptor, type TransportOptions } from './transport.js';

/** Options of {@link local}. */
export interface LocalOptions extends EnginePoolOptions, StreamRecognizerOptions {
  /**
   * Most audio (ms) a live session may have sent to its worker and not yet had decoded; `write()` waits above it.
   * Default 2000.
   */
  maxInFlightMs?: number;
}

const LOCAL: ModelSpec = {
  summary: 'Embedded offline engine (pocketsphinx, US English); no key, no network.',
  capabilities: { wordTimes: true, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'], offline: true, cancelCost: 'free', liveClips: true, minClipPauseMs: 600 },
};

/**
 * The embedded engine in the catalog: model `local`, English, word times, no network. `createTransport('local',
 * { local: { size: 2 } })` passes `options.local` to {@link local}.
 */
export const localDescriptor: TransportDescriptor<TransportOptions & { local?: LocalOptions }> = {
  provider: 'local',
  api: 'embedded',
  models: { local: LOCAL },
  create: (_id, options) => local(options.local ?? {}),
};

/** The `local` transport: a {@link Transport} with its pool exposed for monitoring. */
export interface LocalTransport extends Transport {
  readonly model: 'local';
  readonly pool: EnginePool;
  transcribeClip(job: ChunkJob, options?: { signal?: AbortSignal }): Promise<TranscriptEvent[]>;
  openStream(options: StreamOptions): Promise<StreamSession>;
  close(): Promise<void>;
}

function checkRate(rate: number): void {
  if (rate !== ENGINE_SAMPLE_RATE) throw new InvalidArgumentError(`the local engine takes ${ENGINE_SAMPLE_RATE} Hz audio, got ${rate} Hz (resample first)`);
}

/**
 * The recognizer settings of a live session of {@link local}: the transport's own, or, for a session opened with
 * `prime`, a clip's (pocketsphinx's detector alone ends utterances, each with both search passes, no partials) with
 * the prime's cepstral mean (the model's initial mean for an empty prime) — so such a session decodes its audio as
 * `transcribeClip` decodes the same audio as one clip when the prime is that clip (`capabilities.liveClips`).
 *
 * @param recognizer - the transport's settings for live sessions.
 * @param prime - `StreamOptions.prime`, if any.
 * @example
 * primedSessionOptions({}, earlier); // { ...CLIP_DECODE, redecodeFirst: false, cmnPrime: earlier }
 */
export function primedSessionOptions(recognizer: StreamRecognizerOptions, prime: Int16Array | undefined): StreamRecognizerOptions {
  if (!prime) return recognizer;
  // An empty prime (nothing heard before): the model's initial mean, as it is, with no second decode of the first utterance.
  return { ...recognizer, ...CLIP_DECODE, redecodeFirst: false, ...(prime.length > 0 ? { cmnPrime: prime } : {}) };
}

/**
 * The embedded offline engine as a transport (model id `local`): realtime and batch, word times, English.
 *
 * Live sessions (`openStream`) emit a partial event every ~300 ms of audio in speech and a final event with word
 * times per utterance: an utterance ends after `endSilenceMs` (default 150) of trailing silence, or at `end()`, and
 * its final costs one search pass (`flatPass: true` adds pocketsphinx's second pass, as clips have it).
 * The first utterance of a session is decoded a second time once the engine has learnt the session's cepstral
 * mean, which fixes the warm-up errors after a silent lead-in (see `redecodeFirst`). `transcribeClip` decodes a
 * clip with the clip's own mean; a session opened with `prime` starts with that audio's mean instead and decodes as a
 * clip is decoded (`liveClips`; see {@link primedSessionOptions}). Finals never have empty text.
 *
 * Threads: `size` workers (default `os.availableParallelism()`), shared by everything this instance does. The first
 * worker loads the whole model (~100 MB); the others share its dictionary and language model and load only the
 * acoustic model and their own search (~48 MB each; `shareModel: false` gives each its own), plus one more decoder
 * while two sessions share a worker. A session stays on its
 * worker; clips go to the least-busy worker. A crashed or hung worker is replaced; its clip fails with a retryable
 * `EARSHOT_WORKER_CRASHED`, which `transcribeBatch` (the clip's owner) retries (or give the pool a `retry` policy).
 *
 * @param options - pool size, timeouts, model paths, partial cadence and flow control.
 * @throws {InvalidArgumentError} `EARSHOT_INVALID_ARGUMENT` for bad options (at once), or a sample rate other than
 *   16000 (from `openStream`/`transcribeClip`).
 * @throws {CapabilityError} `EARSHOT_CAPABILITY_MISSING` when asked for hotwords, context or diarization.
 * @example
 * ```ts
 * const engine = local({ size: 2 });
 * const events = await engine.transcribeClip({ samples, sampleRate: 16000, startMs: 0 });
 * console.log(events.map((e) => e.text).join(' '));
 * await engine.close();
 * ```
 */
export function local(options: LocalOptions = {}): LocalTransport {
  const { maxInFlightMs = 2000, partialIntervalMs, redecodeFirst, maxRedecodeMs, stepMs, endSilenceMs, flatPass, ...poolOptions } = options;
  if (!(maxInFlightMs > 0)) throw new InvalidArgumentError(`maxInFlightMs must be positive, got ${maxInFlightMs}`);
  if (partialIntervalMs !== undefined && !(partialIntervalMs > 0)) throw new InvalidArgumentError(`partialIntervalMs must be positive, got ${partialIntervalMs}`);
  if (endSilenceMs !== undefined && !(endSilenceMs >= 0 && Number.isFinite(endSilenceMs))) throw new InvalidArgumentError(`endSilenceMs must be 0 or more, got ${endSilenceMs}`);
  const recognizer: StreamRecognizerOptions = {
    ...(partialIntervalMs === undefined ? {} : { partialIntervalMs }),
    ...(redecodeFirst === undefined ? {} : { redecodeFirst }),
    ...(maxRedecodeMs === undefined ? {} : { maxRedecodeMs }),
    ...(stepMs === undefined ? {} : { stepMs }),
    ...(endSilenceMs === undefined ? {} : { endSilenceMs }),
    ...(flatPass === undefined ? {} : { flatPass }),
  };
  const pool = new EnginePool(poolOptions);
  const maxInFlight = Math.round((maxInFlightMs * ENGINE_SAMPLE_RATE) / 1000);

  const transport = withCapabilities(LOCAL.capabilities, {
    model: 'local' as const,
    sampleRate: ENGINE_SAMPLE_RATE,
    pool,

    async transcribeClip(job, callOptions = {}) {
      assertCapabilities(transport, job.options);
      checkRate(job.sampleRate);
      if (job.samples.length === 0) return [];
      return pool.transcribe(job.samples, callOptions);
    },

    async openStream(streamOptions) {
      assertCapabilities(transport, streamOptions);
      checkRate(streamOptions.sampleRate);
      const signal = streamOptions.signal;
      if (signal?.aborted) throw new AbortError(signal.reason);
      let closed = false;
      let ending: Promise<void> | undefined;
      const session = pool.openSession(primedSessionOptions(recognizer, streamOptions.prime), {
        onEvent: (event) => {
          if (!closed) streamOptions.onEvent(event);
        },
        onError: (error: EarshotError) => {
          if (closed) return;
          closed = true;
          signal?.removeEventListener('abort', onAbort);
          streamOptions.onError(error);
        },
      });
      const close = (): void => {
        if (closed) return;
        closed = true;
        signal?.removeEventListener('abort', onAbort);
        session.close();
      };
      const onAbort = (): void => close();
      signal?.addEventListener('abort', onAbort, { once: true });
      return {
        async write(samples) {
          if (closed || ending) return;
          if (session.write(samples) > maxInFlight) await session.drained(maxInFlight);
        },
        end() {
          if (closed) return ending ?? Promise.resolve();
          ending ??= session.end().finally(() => {
            closed = true;
            signal?.removeEventListener('abort', onAbort);
          });
          return ending;
        },
        close,
      };
    },

    close: () => pool.close(),
  });
  return transport;
}
