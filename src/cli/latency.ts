/**
 * End-of-speech → final latency of a paced run (`earshot transcribe --pace`): the wall time from when the audio at a
 * final's `endMs` was fed to the model to when the final came out of the pipeline. Each final gets it as
 * `latency.endOfSpeechMs` (integer ms; the JSONL sink writes it), and the run ends with one summary line on stderr.
 */
import { map, tap, type MonoTypeOperatorFunction } from 'rxjs';
import { frameCount, frameToMs, type AudioChunk, type TranscriptEvent } from '../core/types.js';

/**
 * The value at quantile `q` (0–1) of `values`, nearest rank (the smallest value with at least `q` of them at or
 * below it); NaN when there are none.
 *
 * @example
 * ```ts
 * quantile([300, 100, 200], 0.5); // 200
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The latencies of one paced run: a {@link FeedLog} per track stamps its finals here, and {@link line} sums them up.
 *
 * @example
 * ```ts
 * const run = new PacedLatency();
 * const feed = run.track();
 * audio.pipe(pace(), feed.fed(), transcribe(local()), feed.finals()).subscribe();
 * // at the end: process.stderr.write(run.line());
 * ```
 */
export class PacedLatency {
  readonly #latencies: number[] = [];
  readonly #now: () => number;

  /** @param now - the wall clock in ms (tests may pass their own). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** A log for one track (a file, a channel, an RTP participant): its audio is fed and its finals come out apart. */
  track(): FeedLog {
    return new FeedLog(this.#now, (ms) => this.#latencies.push(ms));
  }

  /** Every final's latency so far, ms, in the order the finals came out. */
  get latencies(): readonly number[] {
    return this.#latencies;
  }

  /**
   * The summary line, e.g. `earshot: paced: 4 finals, end of speech → final median 812 ms, p95 1020 ms, max 1104 ms`
   * (with its newline).
   */
  line(): string {
    const l = this.#latencies;
    if (l.length === 0) return 'earshot: paced: 0 finals, no end-of-speech latency to report\n';
    const ms = (q: number): string => `${Math.round(quantile(l, q))} ms`;
    return `earshot: paced: ${l.length} final${l.length === 1 ? '' : 's'}, end of speech → final median ${ms(0.5)}, p95 ${ms(0.95)}, max ${ms(1)}\n`;
  }
}

/**
 * When each piece of one track's paced audio was fed to the model; stamps that track's finals with their latency.
 * Made by {@link PacedLatency.track}.
 *
 * @example
 * ```ts
 * const feed = new PacedLatency().track();
 * fromFile('talk.wav').pipe(decode({ sampleRate: 16000, channels: 1 }), pace(), feed.fed(), transcribe(local()), feed.finals());
 * ```
 */
export class FeedLog {
  /** End (audio ms) of each piece fed, in order, and the wall time it was fed at. */
  readonly #ends: number[] = [];
  readonly #at: number[] = [];
  readonly #now: () => number;
  readonly #record: (ms: number) => void;

  /**
   * @param now - the wall clock in ms.
   * @param record - called with each final's latency.
   */
  constructor(now: () => number, record: (ms: number) => void) {
    this.#now = now;
    this.#record = record;
  }

  /** Operator right after `pace()`: notes when each piece of audio is passed on to the model. */
  fed(): MonoTypeOperatorFunction<AudioChunk> {
    return tap((c) => {
      const end = frameToMs(c.offset + frameCount(c), c.sampleRate);
      if (this.#ends.length > 0 && end <= this.#ends[this.#ends.length - 1]!) return;
      this.#ends.push(end);
      this.#at.push(this.#now());
    });
  }

  /** Wall time at which the audio at `audioMs` was fed: that of the first piece reaching it (else the last piece). */
  fedAt(audioMs: number): number | undefined {
    const ends = this.#ends;
    if (ends.length === 0) return undefined;
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! >= audioMs) hi = mid;
      else lo = mid + 1;
    }
    return this.#at[lo];
  }

  /** Operator on this track's events: each final gets `latency.endOfSpeechMs` (integer ms), and is counted. */
  finals(): MonoTypeOperatorFunction<TranscriptEvent> {
    return map((e) => {
      if (e.type !== 'final') return e;
      const at = this.fedAt(e.endMs);
      if (at === undefined) return e;
      const ms = Math.max(0, Math.round(this.#now() - at));
      this.#record(ms);
      return { ...e, latency: { ...e.latency, endOfSpeechMs: ms } };
    });
  }
}
