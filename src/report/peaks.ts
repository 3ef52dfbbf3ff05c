/**
 * Waveform peaks for the report: the minimum and maximum sample of each short bucket, at a few zoom levels, so a
 * page can draw hours of audio from kilobytes instead of samples. Built while the audio streams by, in one pass.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { AudioChunk } from '../core/types.js';

/** One zoom level: `data` holds `[min, max]` pairs (the sample's top 8 bits) of buckets of `bucketFrames` frames. */
export interface PeakLevel {
  bucketFrames: number;
  data: Int8Array;
}

/** Peaks of a whole input, finest level first. */
export interface Peaks {
  sampleRate: number;
  /** Frames seen (the input's length). */
  frames: number;
  levels: PeakLevel[];
}

/** Options of {@link PeakBuilder}. */
export interface PeakOptions {
  /** Bucket of the finest level, ms (default 10). */
  bucketMs?: number;
  /** Buckets of one level merged into one of the next (default 4). */
  factor?: number;
  /** Coarser levels are added until one has at most this many buckets (default 4096). */
  coarsestBuckets?: number;
}

/**
 * Streams audio chunks into waveform peaks, linear-time: memory grows with the number of finest buckets (two bytes
 * per 10 ms by default, 1.4 MB for two hours), never with samples. Channels are folded into one min/max; a gap in
 * the chunks' time line reads as silence.
 *
 * @example
 * ```ts
 * const peaks = new PeakBuilder();
 * fromFile('talk.wav').pipe(decode()).subscribe({ next: (c) => peaks.push(c), complete: () => console.log(peaks.finish().levels.length) });
 * ```
 */
export class PeakBuilder {
  readonly #bucketMs: number;
  readonly #factor: number;
  readonly #coarsest: number;
  #rate = 0;
  #bucketFrames = 0;
  #data = new Int8Array(4096);
  /** Bytes of `#data` in use (two per closed bucket). */
  #used = 0;
  /** Frames seen, i.e. the time line position of the next frame (relative to the first chunk's offset). */
  #frames = 0;
  #origin = -1;
  #inBucket = 0;
  #min = 32767;
  #max = -32768;

  /**
   * @param options - see {@link PeakOptions}.
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bucket under 1 ms, a factor under 2, or fewer than 16 coarsest buckets.
   */
  constructor(options: PeakOptions = {}) {
    this.#bucketMs = options.bucketMs ?? 10;
    this.#factor = options.factor ?? 4;
    this.#coarsest = options.coarsestBuckets ?? 4096;
    if (!(this.#bucketMs >= 1)) throw new InvalidArgumentError(`peaks: bucketMs must be ≥ 1, got ${this.#bucketMs}`);
    if (!Number.isInteger(this.#factor) || this.#factor < 2) throw new InvalidArgumentError(`peaks: factor must be an integer ≥ 2, got ${this.#factor}`);
    if (!(this.#coarsest >= 16)) throw new InvalidArgumentError(`peaks: coarsestBuckets must be ≥ 16, got ${this.#coarsest}`);
  }

  /**
   * Add one chunk.
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when the sample rate changes between chunks.
   */
  push(chunk: AudioChunk): void {
    if (this.#rate === 0) {
      this.#rate = chunk.sampleRate;
      this.#bucketFrames = Math.max(1, Math.round((chunk.sampleRate * this.#bucketMs) / 1000));
      this.#origin = chunk.offset;
    } else if (chunk.sampleRate !== this.#rate) {
      throw new InvalidArgumentError(`peaks: one sample rate per input, got ${chunk.sampleRate} Hz after ${this.#rate} Hz`);
    }
    const at = chunk.offset - this.#origin;
    if (at > this.#frames) this.#silence(at - this.#frames);
    const s = chunk.samples;
    const ch = chunk.channels;
    // Frames of an overlap (a time line going back) are skipped: each moment is drawn once.
    let i = at < this.#frames ? (this.#frames - at) * ch : 0;
    const B = this.#bucketFrames;
    let inBucket = this.#inBucket;
    let min = this.#min;
    let max = this.#max;
    while (i < s.length) {
      const take = Math.min(B - inBucket, (s.length - i) / ch);
      const end = i + take * ch;
      for (; i < end; i++) {
        const v = s[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      inBucket += take;
      this.#frames += take;
      if (inBucket === B) {
        this.#close(min, max);
        inBucket = 0;
        min = 32767;
        max = -32768;
      }
    }
    this.#inBucket = inBucket;
    this.#min = min;
    this.#max = max;
  }

  /** The peaks so far (a last partial bucket included), finest level first. */
  finish(): Peaks {
    const finest = new Int8Array(this.#used + (this.#inBucket > 0 ? 2 : 0));
    finest.set(this.#data.subarray(0, this.#used));
    if (this.#inBucket > 0) {
      finest[this.#used] = this.#min >> 8;
      finest[this.#used + 1] = this.#max >> 8;
    }
    const levels: PeakLevel[] = [{ bucketFrames: this.#bucketFrames || 1, data: finest }];
    let last = levels[0]!;
    while (last.data.length / 2 > this.#coarsest) {
      const n = Math.ceil(last.data.length / 2 / this.#factor);
      const data = new Int8Array(n * 2);
      for (let b = 0; b < n; b++) {
        let min = 127;
        let max = -128;
        const end = Math.min(last.data.length, (b + 1) * this.#factor * 2);
        for (let k = b * this.#factor * 2; k < end; k += 2) {
          if (last.data[k]! < min) min = last.data[k]!;
          if (last.data[k + 1]! > max) max = last.data[k + 1]!;
        }
        data[2 * b] = min;
        data[2 * b + 1] = max;
      }
      last = { bucketFrames: last.bucketFrames * this.#factor, data };
      levels.push(last);
    }
    return { sampleRate: this.#rate, frames: this.#frames, levels };
  }

  #silence(frames: number): void {
    let left = frames;
    while (left > 0) {
      const take = Math.min(left, this.#bucketFrames - this.#inBucket);
      if (this.#min > 0) this.#min = 0;
      if (this.#max < 0) this.#max = 0;
      this.#inBucket += take;
      this.#frames += take;
      left -= take;
      if (this.#inBucket === this.#bucketFrames) {
        this.#close(this.#min, this.#max);
        this.#inBucket = 0;
        this.#min = 32767;
        this.#max = -32768;
      }
    }
  }

  #close(min: number, max: number): void {
    if (this.#used + 2 > this.#data.length) {
      const grown = new Int8Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#used++] = min >> 8;
    this.#data[this.#used++] = max >> 8;
  }
}
