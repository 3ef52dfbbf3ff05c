/**
 * `transcribeRealtime(transport)`: stream audio into a realtime cloud session (or any `openStream` transport) the way
 * a live service wants it, and survive what live services do.
 *
 * - **Pacing**: audio goes out at real time (`pace()`, default on); the transport's `write()` waits while the socket's
 *   send buffer is above its high-water mark. The queue is a core {@link BoundedQueue}: cold sources are held
 *   through their FlowControl while more than `highWaterMs` is queued (let go at `lowWaterMs`); hot sources are
 *   bounded by `maxQueuedMs` and fail loudly past it (a live session never drops audio: it would shift later times).
 * - **Zero-loss reconnect and session rotation**: a {@link ReconnectingSession} (see `reconnecting-session.ts`)
 *   replaces failed sessions under the retry policy and rotates them before the transport's `maxDurationMs`,
 *   replaying the audio after the last final; its {@link SessionTimeline} keeps times on the input's time line.
 * - **Keepalive** is the transport's (`keepaliveMs` on the DashScope realtime transports).
 */
import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { BoundedQueue, queueLimits } from '../core/backpressure.js';
import { CapabilityError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { frameCount, frameToMs, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { assertCapabilities, type Transport } from '../transports/transport.js';
import { pace as paced } from './pace.js';
import { openReconnectingSession, reconnectSettings, type ReconnectSettings, type ReconnectingSession } from './reconnecting-session.js';

/** Options of {@link transcribeRealtime}. */
export interface TranscribeRealtimeOptions extends ReconnectSettings {
  /** Send audio no faster than real time (default true), in pieces of at most 100 ms. `false` sends as fast as the socket takes it. */
  pace?: boolean;
  /** Audio queued (ms) above which a cold source is held (default 2000). Also the pacer's high-water mark. */
  highWaterMs?: number;
  /** Audio queued (ms) at or below which the hold is let go (default half of `highWaterMs`). */
  lowWaterMs?: number;
  /** @deprecated Use `highWaterMs` (same meaning; `highWaterMs` wins when both are given). */
  highWaterMark?: number;
  /**
   * Most audio (ms) a hot source may queue while the session is busy or reconnecting (default 60 000); past it the
   * pipeline fails with EARSHOT_LIMIT_EXCEEDED. Also the pacer's bound.
   */
  maxQueuedMs?: number;
  /**
   * Where pacing, reconnect waits and the sessions' own timers (keepalive) run, and session age is measured (default
   * the real clock); a `VirtualTimeScheduler` with `runVirtual` makes a pipeline on a scripted transport deterministic.
   */
  scheduler?: SchedulerLike;
}

interface Pending {
  samples: Int16Array;
  offset: number;
}

const END = Symbol('end');
const WHAT = 'transcribeRealtime()';

/**
 * Transcribe live audio with a realtime transport, with real-time pacing, zero-loss reconnect and session rotation.
 *
 * Events are on the input's time line (from each chunk's `offset`), partials, finals and speech edges
 * (`speech-start` / `speech-end`, from transports whose service reports them) interleaved in one time line; every
 * event starts at or after the end of the last final. When the source completes, the session is ended and the
 * operator completes after its last final; when the source fails, the finals of audio already sent are emitted first
 * and the source's error is then passed on unchanged (the same object).
 * Unsubscribing closes the session at once.
 *
 * @param transport - a transport with `openStream` (funAsrRealtime, qwenAsrRealtime, omniRealtime, local…).
 * @param settings - recognition options, pacing, water marks, reconnect policy, warm-up, rotation margin, scheduler.
 * @returns an operator from mono {@link AudioChunk}s at the transport's sample rate to {@link TranscriptEvent}s.
 * @throws EARSHOT_CAPABILITY_MISSING when the transport cannot stream or lacks an option's capability (at once);
 *   EARSHOT_INVALID_ARGUMENT for bad settings or queue bounds (at once) or audio at another rate or channel count (in the stream);
 *   EARSHOT_LIMIT_EXCEEDED when a hot source outruns the queue; the transport's own coded error once a failure is
 *   not retryable or the attempts are spent (the last attempt's error is kept as `cause`).
 * @example
 * ```ts
 * fromMic()
 *   .pipe(transcribeRealtime(qwenAsrRealtime(), { options: { language: 'en' }, reconnect: { attempts: 10 } }))
 *   .subscribe((e) => console.log(e.type, e.text));
 * ```
 */
export function transcribeRealtime(transport: Transport, settings: TranscribeRealtimeOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  if (!transport || typeof transport.openStream !== 'function') throw new CapabilityError(transport?.model ?? '?', 'realtime streaming');
  assertCapabilities(transport, settings.options ?? {});
  const highWaterMs = settings.highWaterMs ?? settings.highWaterMark;
  const { lowWaterMs, maxQueuedMs } = settings;
  const limits = queueLimits(
    { ...(highWaterMs === undefined ? {} : { highWaterMs }), ...(lowWaterMs === undefined ? {} : { lowWaterMs }), ...(maxQueuedMs === undefined ? {} : { maxQueuedMs }) },
    { highWaterMs: 2000, maxQueuedMs: 60_000 },
    WHAT,
  );
  const resolved = reconnectSettings(transport, settings);
  const pacing =
    settings.pace === false
      ? undefined
      : paced({ scheduler: resolved.scheduler, highWaterMs: limits.highWater, lowWaterMs: limits.lowWater, maxQueuedMs: limits.maxQueued, frameMs: 100 });
  const rate = transport.sampleRate;

  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      /** Chunks waiting for the session, then END (size 0) once the source has finished. */
      const queue = new BoundedQueue<Pending | typeof END>(limits, WHAT);
      /** The source's error, kept to be passed on after the finals of the audio already sent. */
      let sourceError: { error: unknown } | undefined;
      let session: ReconnectingSession | undefined;
      let done = false;
      let wake: (() => void) | undefined;

      const poke = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };

      /** The next queued chunk or END; undefined once the operator stopped. */
      const next = async (): Promise<Pending | typeof END | undefined> => {
        for (;;) {
          if (done) return undefined;
          const item = queue.shift();
          if (item !== undefined) return item;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      };

      const run = async (): Promise<void> => {
        const opened = await openReconnectingSession(transport, resolved, {
          onEvent: (event) => {
            if (!done) subscriber.next(event);
          },
          onError: (error) => stop(error),
        });
        if (done) return opened.close();
        session = opened;
        for (;;) {
          const item = await next();
          if (item === undefined) return;
          if (item === END) break;
          await session.write(item.samples, item.offset);
        }
        await session.end();
      };

      const cleanup = (): void => {
        done = true;
        queue.clear();
        session?.close();
        session = undefined;
        poke();
      };

      /** End with the operator's own error (coded); the source's is passed on as it is, after the finals (below). */
      const stop = (err: unknown): void => {
        if (done) return;
        cleanup();
        subscriber.error(toEarshotError(err, 'EARSHOT_CONNECTION_LOST'));
      };

      const subscription = (pacing ? source.pipe(pacing) : source).subscribe({
        next(chunk) {
          if (done) return;
          if (chunk.channels !== 1 || chunk.sampleRate !== rate) {
            stop(new InvalidArgumentError(`transcribeRealtime needs mono ${rate} Hz audio for ${transport.model}, got ${chunk.channels} ch at ${chunk.sampleRate} Hz (resample first)`));
            return;
          }
          if (frameCount(chunk) === 0) return;
          try {
            queue.push({ samples: chunk.samples, offset: chunk.offset }, frameToMs(frameCount(chunk), rate), chunk.flow);
          } catch (err) {
            stop(err);
            return;
          }
          poke();
        },
        error(err) {
          sourceError = { error: err };
          queue.push(END, 0);
          poke();
        },
        complete() {
          queue.push(END, 0);
          poke();
        },
      });

      run().then(
        () => {
          if (done) return;
          cleanup();
          if (sourceError !== undefined) subscriber.error(sourceError.error);
          else subscriber.complete();
        },
        (err: unknown) => stop(err),
      );

      return () => {
        subscription.unsubscribe();
        if (!done) cleanup();
      };
    });
}
