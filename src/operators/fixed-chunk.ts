/**
 * `fixedChunk()`: the naive near-realtime policy — cut audio every `chunkMs` whatever it holds. Kept as the
 * baseline that `nearRealtime()` is measured against (it adds half a window of delay on average and cuts words).
 */
import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { clockOf } from '../core/clock.js';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';
import type { FlowControl } from '../core/flow.js';
import type { AudioChunk, AudioSegment } from '../core/types.js';

/** Options of {@link fixedChunk}. */
export interface FixedChunkOptions {
  /** Window length in ms (default 5000). */
  chunkMs?: number;
  /** Clock for `closedAt` (default the real clock). */
  scheduler?: SchedulerLike;
}

/**
 * Cut mono audio into back-to-back windows of exactly `chunkMs` (the last one shorter), with no regard for speech.
 * Each window is an {@link AudioSegment} with cut `max-length` (`end` for the last), on the input's time line.
 * Memory: one preallocated window.
 *
 * @param options - see {@link FixedChunkOptions}.
 * @throws EARSHOT_INVALID_ARGUMENT for a window under 10 ms (now); EARSHOT_UNSUPPORTED_FORMAT for audio that is
 *   not mono or changes rate (at run time).
 * @example
 * ```ts
 * fromFile('talk.wav').pipe(decode(), resample(16000), fixedChunk({ chunkMs: 5000 }), transcribeBatch(local()));
 * ```
 */
export function fixedChunk(options: FixedChunkOptions = {}): OperatorFunction<AudioChunk, AudioSegment> {
  const { chunkMs = 5000 } = options;
  if (!(chunkMs >= 10) || !Number.isFinite(chunkMs)) throw new InvalidArgumentError(`chunkMs must be at least 10, got ${chunkMs}`);
  const now = clockOf(options.scheduler);
  return (source) =>
    new Observable<AudioSegment>((subscriber) => {
      let buf: Int16Array | undefined;
      let fill = 0;
      let start = 0;
      let rate = 0;
      let flow: FlowControl | undefined;

      const emit = (cut: AudioSegment['cut']): void => {
        const samples = buf!.slice(0, fill);
        const offset = start;
        start += fill;
        fill = 0;
        subscriber.next({ kind: 'audio', samples, sampleRate: rate, channels: 1, offset, cut, closedAt: now(), ...(flow ? { flow } : {}) });
      };

      return source.subscribe({
        next: (chunk) => {
          if (chunk.channels !== 1 || (rate && chunk.sampleRate !== rate)) {
            subscriber.error(new EarshotError('EARSHOT_UNSUPPORTED_FORMAT', `fixedChunk() needs mono audio at one rate, got ${chunk.channels} ch at ${chunk.sampleRate} Hz`));
            return;
          }
          if (!buf) {
            rate = chunk.sampleRate;
            start = chunk.offset;
            buf = new Int16Array(Math.max(1, Math.round((chunkMs * rate) / 1000)));
          }
          flow = chunk.flow ?? flow;
          const s = chunk.samples;
          let at = 0;
          while (at < s.length) {
            const n = Math.min(s.length - at, buf.length - fill);
            buf.set(s.subarray(at, at + n), fill);
            fill += n;
            at += n;
            if (fill === buf.length) emit('max-length');
          }
        },
        error: (err: unknown) => {
          if (fill) emit('end');
          subscriber.error(err);
        },
        complete: () => {
          if (fill) emit('end');
          subscriber.complete();
        },
      });
    });
}
