/**
 * `pace()`: release audio at real time (by its audio time), so that a file behaves like a live source.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { PaceClock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { BoundedQueue, queueLimits, type QueueLimits } from '../core/backpressure.js';
import { frameCount, frameToMs, type AudioChunk } from '../core/types.js';

/** Options of {@link pace}. Queue bounds use the shared vocabulary ({@link QueueLimits}, README "Backpressure"). */
export interface PaceOptions extends QueueLimits {
  /** Audio seconds per wall second (default 1: real time). */
  speed?: number;
  /** Where timers run (default the real clock); a `VirtualTimeScheduler` makes the pipeline deterministic. */
  scheduler?: SchedulerLike;
  /** Anchored at the first release; share it with `transcribeBatch()` to get end-of-speech latency. */
  clock?: PaceClock;
  /** Audio (ms) queued ahead before the source's FlowControl is held (default 1000; let go at `lowWaterMs`, default half). */
  highWaterMs?: number;
  /**
   * Most audio (ms) queued from a source without flow control (default 300 000); past it `overflow` applies
   * (default `'error'`: EARSHOT_LIMIT_EXCEEDED).
   */
  maxQueuedMs?: number;
  /** @deprecated Use `maxQueuedMs` (same meaning). */
  maxBufferMs?: number;
  /**
   * Split chunks into pieces of at most this many ms, each released on its own (default 20, like a sound card),
   * so a file read 2 s at a time does not arrive in 2-second bursts. `false` keeps the chunks as they come.
   */
  frameMs?: number | false;
}

/**
 * Release audio when its last sample would be live on a real-time source: a piece ending at audio time `t` leaves
 * at `start + (t - t0) / speed`, `t0` being the first chunk's start. Chunks are split into `frameMs` pieces (views
 * on the same samples, `offset` and `flow` kept), so the output looks like a sound card's, whatever the read size.
 *
 * A cold source is paused through its FlowControl once `highWaterMs` of audio wait (and let go at `lowWaterMs`,
 * half of it by default), so a paced 12-hour file holds about a second of audio. A source without flow control that
 * runs ahead by more than `maxQueuedMs` fails the pipeline (or, with `overflow: 'drop-oldest' | 'drop-newest'`,
 * loses audio counted through `onDrop`) rather than growing without bound. A source error is passed on after the
 * audio queued before it; completion likewise.
 *
 * @param options - see {@link PaceOptions}; checked now.
 * @throws EARSHOT_INVALID_ARGUMENT for a speed that is not a positive finite number or bad bounds (now);
 *   EARSHOT_LIMIT_EXCEEDED at run time as above.
 * @example
 * ```ts
 * const clock = new PaceClock();
 * fromFile('talk.wav').pipe(decode(), resample(16000), pace({ clock }), nearRealtime(), transcribeBatch(local(), { clock }));
 * ```
 */
export function pace(options: PaceOptions = {}): OperatorFunction<AudioChunk, AudioChunk> {
  const { speed = 1, scheduler = asyncScheduler, frameMs = 20 } = options;
  if (frameMs !== false && !(frameMs > 0)) throw new InvalidArgumentError(`frameMs must be a positive number or false, got ${String(frameMs)}`);
  if (!(speed > 0) || !Number.isFinite(speed)) throw new InvalidArgumentError(`speed must be a positive finite number, got ${speed}`);
  const maxQueuedMs = options.maxQueuedMs ?? options.maxBufferMs;
  const limits = queueLimits({ ...options, ...(maxQueuedMs === undefined ? {} : { maxQueuedMs }) }, { highWaterMs: 1000, maxQueuedMs: 300_000 }, 'pace()');

  return (source) =>
    new Observable<AudioChunk>((subscriber) => {
      const clock = options.clock ?? new PaceClock(scheduler);
      const queue = new BoundedQueue<{ chunk: AudioChunk; due: number }>(limits, 'pace()');
      let timer: Subscription | undefined;
      let ended: { error: unknown } | 'complete' | undefined;
      let done = false;

      const finish = (): void => {
        if (done || !ended) return;
        done = true;
        queue.clear();
        if (ended === 'complete') subscriber.complete();
        else subscriber.error(ended.error);
      };

      const drain = (): void => {
        timer = undefined;
        const now = clock.now();
        while (queue.length > 0 && queue.peek()!.due <= now) {
          subscriber.next(queue.shift()!.chunk);
          if (done || subscriber.closed) return;
        }
        if (queue.length === 0) {
          finish();
          return;
        }
        timer = scheduler.schedule(drain, Math.max(0, queue.peek()!.due - now));
      };

      const sub = source.subscribe({
        next: (whole) => {
          if (done) return;
          const frames = frameCount(whole);
          const step = frameMs === false ? frames : Math.max(1, Math.round((frameMs * whole.sampleRate) / 1000));
          if (!clock.anchored) clock.anchor(clock.now(), frameToMs(whole.offset, whole.sampleRate), speed);
          const pieces = frames === 0 ? 1 : Math.ceil(frames / step);
          for (let k = 0; k < pieces; k++) {
            const at = k * step;
            const n = Math.min(step, frames - at);
            // Views, not copies: each piece is a window on the chunk's samples.
            const chunk: AudioChunk = pieces === 1 ? whole : { ...whole, samples: whole.samples.subarray(at * whole.channels, (at + n) * whole.channels), offset: whole.offset + at };
            const due = clock.wallTimeAt(frameToMs(chunk.offset + n, whole.sampleRate))!;
            try {
              queue.push({ chunk, due }, frameToMs(n, whole.sampleRate), whole.flow);
            } catch (err) {
              done = true;
              queue.clear();
              subscriber.error(err);
              return;
            }
          }
          if (!timer && queue.length > 0) timer = scheduler.schedule(drain, Math.max(0, queue.peek()!.due - clock.now()));
        },
        error: (error: unknown) => {
          ended = { error };
          if (queue.length === 0) finish();
        },
        complete: () => {
          ended = 'complete';
          if (queue.length === 0) finish();
        },
      });

      return () => {
        done = true;
        sub.unsubscribe();
        timer?.unsubscribe();
        queue.clear();
      };
    });
}
