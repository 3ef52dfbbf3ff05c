/**
 * `pace()`: release audio at real time (by its audio time), so that a file behaves like a live source.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { PaceClock } from '../core/clock.js';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';
import { frameCount, frameToMs, type AudioChunk } from '../core/types.js';

/** Options of {@link pace}. */
export interface PaceOptions {
  /** Audio seconds per wall second (default 1: real time). */
  speed?: number;
  /** Where timers run (default the real clock); a `VirtualTimeScheduler` makes the pipeline deterministic. */
  scheduler?: SchedulerLike;
  /** Anchored at the first release; share it with `transcribeBatch()` to get end-of-speech latency. */
  clock?: PaceClock;
  /** Audio (ms) queued ahead before the source's FlowControl is held (default 1000). */
  highWaterMs?: number;
  /** Hard bound on queued audio (ms) for sources without flow control (default 300 000): EARSHOT_LIMIT_EXCEEDED. */
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
 * A cold source is paused through its FlowControl once `highWaterMs` of audio wait (and let go at half of it), so a
 * paced 12-hour file holds about a second of audio. A source without flow control that runs ahead by more than
 * `maxBufferMs` fails the pipeline rather than growing without bound. A source error is passed on after the audio
 * queued before it; completion likewise.
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
  const { speed = 1, scheduler = asyncScheduler, highWaterMs = 1000, maxBufferMs = 300_000, frameMs = 20 } = options;
  if (frameMs !== false && !(frameMs > 0)) throw new InvalidArgumentError(`frameMs must be a positive number or false, got ${String(frameMs)}`);
  if (!(speed > 0) || !Number.isFinite(speed)) throw new InvalidArgumentError(`speed must be a positive finite number, got ${speed}`);
  if (!(highWaterMs >= 0) || !(maxBufferMs > 0)) throw new InvalidArgumentError('highWaterMs must be ≥ 0 and maxBufferMs > 0');

  return (source) =>
    new Observable<AudioChunk>((subscriber) => {
      const clock = options.clock ?? new PaceClock(scheduler);
      const queue: Array<{ chunk: AudioChunk; due: number; ms: number }> = [];
      let head = 0;
      let queuedMs = 0;
      let timer: Subscription | undefined;
      let release: (() => void) | undefined;
      let ended: { error: unknown } | 'complete' | undefined;
      let done = false;

      const finish = (): void => {
        if (done || !ended) return;
        done = true;
        release?.();
        if (ended === 'complete') subscriber.complete();
        else subscriber.error(ended.error);
      };

      const drain = (): void => {
        timer = undefined;
        const now = clock.now();
        while (head < queue.length && queue[head]!.due <= now) {
          const item = queue[head]!;
          queue[head++] = undefined as never;
          queuedMs -= item.ms;
          if (release && queuedMs <= highWaterMs / 2) {
            release();
            release = undefined;
          }
          subscriber.next(item.chunk);
          if (done || subscriber.closed) return;
        }
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
          finish();
          return;
        }
        if (head > 1024) {
          queue.splice(0, head);
          head = 0;
        }
        timer = scheduler.schedule(drain, Math.max(0, queue[head]!.due - now));
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
            const ms = frameToMs(n, whole.sampleRate);
            queue.push({ chunk, due, ms });
            queuedMs += ms;
          }
          if (queuedMs > highWaterMs && whole.flow && !release) release = whole.flow.hold();
          if (!whole.flow && queuedMs > maxBufferMs) {
            done = true;
            subscriber.error(new EarshotError('EARSHOT_LIMIT_EXCEEDED', `pace(): more than ${maxBufferMs} ms of audio queued from a source without flow control`));
            return;
          }
          if (!timer) timer = scheduler.schedule(drain, Math.max(0, queue[head]!.due - clock.now()));
        },
        error: (error: unknown) => {
          ended = { error };
          if (head === queue.length) finish();
        },
        complete: () => {
          ended = 'complete';
          if (head === queue.length) finish();
        },
      });

      return () => {
        done = true;
        sub.unsubscribe();
        timer?.unsubscribe();
        release?.();
        queue.length = 0;
      };
    });
}
