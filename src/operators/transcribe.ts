/**
 * `transcribe(transport)`: stream audio into one live session of a transport and emit its partial and final
 * events on the input's time line.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { Backpressure, queueLimits, type QueueLimits } from '../core/backpressure.js';
import { frameCount, frameToMs, shiftEvent, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { assertCapabilities, type RecognitionOptions, type StreamSession, type Transport } from '../transports/transport.js';

/** Options of {@link transcribe}; queue bounds in the shared vocabulary (README "Backpressure"). */
export interface TranscribeOptions extends RecognitionOptions, Pick<QueueLimits, 'highWaterMs' | 'lowWaterMs'> {
  /** Emit partial events too (default true). */
  partials?: boolean;
  /**
   * Most audio (ms) queued while the session is busy, for hot sources that cannot pause (default 60 000).
   * Cold sources are paused through their FlowControl instead, as soon as more than `highWaterMs` (default 0)
   * waits. Past the bound the pipeline fails with EARSHOT_LIMIT_EXCEEDED rather than silently dropping audio and
   * shifting every later time (so there is no `overflow` policy here).
   */
  maxQueuedMs?: number;
  /** After a source error, how long to wait for the finals of audio already sent (default 10 000 ms). */
  flushOnErrorMs?: number;
}

/**
 * Transcribe a stream of 16 kHz mono audio with a transport's live session (`openStream`).
 *
 * Events carry times in ms of audio time from the start of the input (the first chunk's `offset` is honoured).
 * When the source completes, the session is ended and the operator completes after the last final. When the source
 * fails, the finals of audio already sent are still emitted before the source's error, which is passed on unchanged
 * (the same object). A failure of the session arrives as the transport's coded error (an uncoded one as
 * EARSHOT_ENGINE_FAILED). Unsubscribing closes the session.
 *
 * @param transport - a transport with `openStream` (e.g. `local()`).
 * @param options - recognition options (checked against the transport's capabilities now) and queue bounds.
 * @throws EARSHOT_INVALID_ARGUMENT if the transport cannot stream; EARSHOT_CAPABILITY_MISSING for options it lacks.
 * @example
 * ```ts
 * const events = fromFile('talk.wav').pipe(decode(), resample(16000), transcribe(local()));
 * ```
 */
export function transcribe(transport: Transport, options: TranscribeOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  if (!transport || typeof transport.openStream !== 'function') {
    throw new InvalidArgumentError(`transport ${transport?.model ?? '?'} cannot stream; use transcribeBatch() for batch models`);
  }
  assertCapabilities(transport, options);
  const { partials = true, maxQueuedMs, highWaterMs, lowWaterMs, flushOnErrorMs = 10_000, ...recognition } = options;
  const limits = queueLimits(
    { ...(highWaterMs === undefined ? {} : { highWaterMs }), ...(lowWaterMs === undefined ? {} : { lowWaterMs }), ...(maxQueuedMs === undefined ? {} : { maxQueuedMs }) },
    { highWaterMs: 0, maxQueuedMs: 60_000 },
    'transcribe()',
  );

  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      const abort = new AbortController();
      let session: StreamSession | undefined;
      let opening: Promise<StreamSession> | undefined;
      let baseMs = 0;
      let rate = 0;
      const queue = new Backpressure(limits, 'transcribe()');
      let chain: Promise<void> = Promise.resolve();
      let failed = false;
      let closed = false;
      /** The deadline for the finals after a source error; cleared by the teardown too. */
      let flushTimer: NodeJS.Timeout | undefined;

      /** End with an error: the session's (coded), or the source's passed on as it is (`upstream`). */
      const fail = (err: unknown, upstream = false): void => {
        clearTimeout(flushTimer);
        if (failed || closed) return;
        failed = true;
        subscriber.error(upstream ? err : toEarshotError(err, 'EARSHOT_ENGINE_FAILED'));
      };

      const open = (chunk: AudioChunk): Promise<StreamSession> => {
        rate = chunk.sampleRate;
        baseMs = frameToMs(chunk.offset, rate);
        opening = transport.openStream!({
          ...recognition,
          sampleRate: rate,
          signal: abort.signal,
          onEvent: (event) => {
            if (closed || failed) return;
            if (event.type === 'partial' && !partials) return;
            subscriber.next(shiftEvent(event, baseMs));
          },
          onError: (err) => fail(err),
        }).then((s) => {
          session = s;
          if (closed) s.close();
          return s;
        });
        return opening;
      };

      const sub = source.subscribe({
        next: (chunk) => {
          if (failed) return;
          if (chunk.channels !== 1 || chunk.sampleRate !== transport.sampleRate) {
            fail(new InvalidArgumentError(`transcribe() needs mono ${transport.sampleRate} Hz audio, got ${chunk.channels} ch at ${chunk.sampleRate} Hz: add decode() and resample(${transport.sampleRate})`));
            return;
          }
          const ms = frameToMs(frameCount(chunk), chunk.sampleRate);
          try {
            queue.add(ms, chunk.flow);
          } catch (err) {
            fail(err);
            return;
          }
          if (!opening) open(chunk);
          chain = chain
            .then(() => opening!)
            .then((s) => (closed || failed ? undefined : s.write(chunk.samples)))
            .then(() => queue.remove(ms));
          chain.catch((err: unknown) => {
            queue.release();
            fail(err);
          });
        },
        error: (err: unknown) => {
          // Keep what was already sent: let the session flush its finals, then report the source's error.
          const flush = opening ? chain.then(() => opening!).then((s) => s.end()) : Promise.resolve();
          flushTimer = setTimeout(() => fail(err, true), flushOnErrorMs);
          const passOn = (): void => fail(err, true);
          flush.then(passOn, passOn);
        },
        complete: () => {
          chain
            .then(() => (opening ? opening.then((s) => s.end()) : undefined))
            .then(() => {
              if (!failed && !closed) subscriber.complete();
            }, fail);
        },
      });

      return () => {
        closed = true;
        clearTimeout(flushTimer);
        sub.unsubscribe();
        queue.release();
        abort.abort();
        session?.close();
      };
    });
}
