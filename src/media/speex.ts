/**
 * A small wrapper around the Speex resampler compiled to WASM (`@echogarden/speex-resampler-wasm`).
 *
 * The package exposes the raw C API (`_malloc`, `HEAP16`, `_speex_resampler_*`); this module keeps one loaded
 * WASM instance per process and gives each stream its own resampler state with its own buffers.
 */
import { EarshotError } from '../core/errors.js';
import { concatSamples } from '../core/types.js';

interface SpeexModule {
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_destroy(st: number): void;
  _speex_resampler_skip_zeros(st: number): number;
  _speex_resampler_get_input_latency(st: number): number;
  _speex_resampler_process_interleaved_int(st: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
}

type Factory = (arg?: object) => Promise<SpeexModule>;

// One WASM instance per process, loaded on first use (a cache, not shared mutable stream state).
let loading: Promise<SpeexModule> | undefined;
let loaded: SpeexModule | undefined;

/** Load the WASM resampler (once per process). Resolves when {@link createSpeexResampler} may be called. */
export function loadSpeex(): Promise<void> {
  loading ??= (async () => {
    let factory: Factory;
    try {
      const simd: string = '@echogarden/speex-resampler-wasm/simd';
      factory = ((await import(simd)) as { default: Factory }).default;
      loaded = await factory();
    } catch {
      const plain: string = '@echogarden/speex-resampler-wasm';
      factory = ((await import(plain)) as { default: Factory }).default;
      loaded = await factory();
    }
    return loaded;
  })();
  return loading.then(() => undefined);
}

/** True once {@link loadSpeex} has resolved. */
export function speexLoaded(): boolean {
  return loaded !== undefined;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Streaming resampler state for one stream: interleaved int16 in, interleaved int16 out, aligned so that output
 * frame `j` sits at input time `j / outRate` (the filter delay is removed at the start and flushed at the end).
 */
export class SpeexResampler {
  readonly channels: number;
  readonly inRate: number;
  readonly outRate: number;
  readonly #m: SpeexModule;
  #st: number;
  #lens: number; // two uint32: in_len, out_len
  #inPtr = 0;
  #inCap = 0; // frames
  #outPtr = 0;
  #outCap = 0; // frames
  #framesIn = 0;
  #framesOut = 0;
  readonly #num: number;
  readonly #den: number;

  /** Requires {@link loadSpeex} to have resolved. */
  constructor(channels: number, inRate: number, outRate: number, quality: number) {
    if (!loaded) throw new EarshotError('EARSHOT_ENGINE_UNAVAILABLE', 'the WASM resampler is not loaded yet (await loadSpeex())');
    this.#m = loaded;
    this.channels = channels;
    this.inRate = inRate;
    this.outRate = outRate;
    const g = gcd(inRate, outRate);
    this.#num = outRate / g;
    this.#den = inRate / g;
    this.#lens = this.#m._malloc(8);
    this.#st = this.#m._speex_resampler_init(channels, inRate, outRate, quality, this.#lens);
    const err = this.#m.HEAP32[this.#lens >> 2]!;
    if (!this.#st || err !== 0) {
      this.#m._free(this.#lens);
      throw new EarshotError('EARSHOT_INVALID_ARGUMENT', `speex resampler refused ${channels} ch ${inRate}->${outRate} Hz (error ${err})`);
    }
    this.#m._speex_resampler_skip_zeros(this.#st);
  }

  #ensure(inFrames: number): void {
    if (inFrames <= this.#inCap) return;
    const m = this.#m;
    if (this.#inPtr) m._free(this.#inPtr);
    if (this.#outPtr) m._free(this.#outPtr);
    this.#inCap = Math.max(inFrames, 4096);
    this.#outCap = Math.ceil((this.#inCap * this.#num) / this.#den) + 16;
    this.#inPtr = m._malloc(this.#inCap * this.channels * 2);
    this.#outPtr = m._malloc(this.#outCap * this.channels * 2);
  }

  #run(input: Int16Array, pieces: Int16Array[]): number {
    const m = this.#m;
    const ch = this.channels;
    const frames = input.length / ch;
    const step = Math.min(frames, 1 << 16);
    this.#ensure(step);
    let pos = 0;
    let produced = 0;
    while (pos < frames) {
      const n = Math.min(frames - pos, this.#inCap);
      m.HEAP16.set(input.subarray(pos * ch, (pos + n) * ch), this.#inPtr >> 1);
      m.HEAPU32[this.#lens >> 2] = n;
      m.HEAPU32[(this.#lens >> 2) + 1] = this.#outCap;
      const err = m._speex_resampler_process_interleaved_int(this.#st, this.#inPtr, this.#lens, this.#outPtr, this.#lens + 4);
      if (err !== 0) throw new EarshotError('EARSHOT_DECODE_FAILED', `speex resampler failed (error ${err})`);
      const used = m.HEAPU32[this.#lens >> 2]!;
      const out = m.HEAPU32[(this.#lens >> 2) + 1]!;
      if (out > 0) {
        const start = this.#outPtr >> 1;
        pieces.push(m.HEAP16.slice(start, start + out * ch));
        produced += out;
      }
      if (used === 0 && out === 0) throw new EarshotError('EARSHOT_DECODE_FAILED', 'speex resampler made no progress');
      pos += used;
    }
    return produced;
  }

  /** Resample the next interleaved frames; returns what is ready (may be empty). */
  process(input: Int16Array): Int16Array {
    if (input.length === 0) return new Int16Array(0);
    const pieces: Int16Array[] = [];
    this.#framesIn += input.length / this.channels;
    this.#framesOut += this.#run(input, pieces);
    return concat(pieces);
  }

  /**
   * Push the filter's tail out and return the last frames, so the total output is exactly
   * `ceil(framesIn * outRate / inRate)` frames.
   */
  flush(): Int16Array {
    const total = Math.ceil((this.#framesIn * this.#num) / this.#den);
    const missing = total - this.#framesOut;
    if (missing <= 0) return new Int16Array(0);
    const pieces: Int16Array[] = [];
    const latency = this.#m._speex_resampler_get_input_latency(this.#st);
    let fed = 0;
    let got = 0;
    // The filter needs about `latency` zero frames to release the tail; feed more only if that falls short.
    while (got < missing && fed < latency * 4 + 64) {
      const n = latency + 8;
      got += this.#run(new Int16Array(n * this.channels), pieces);
      fed += n;
    }
    const tail = concat(pieces);
    const keep = Math.min(missing, got) * this.channels;
    this.#framesOut += keep / this.channels;
    return keep === tail.length ? tail : tail.slice(0, keep);
  }

  /** Free the WASM state and buffers. Safe to call twice. */
  destroy(): void {
    const m = this.#m;
    if (this.#st) m._speex_resampler_destroy(this.#st);
    if (this.#inPtr) m._free(this.#inPtr);
    if (this.#outPtr) m._free(this.#outPtr);
    if (this.#lens) m._free(this.#lens);
    this.#st = this.#inPtr = this.#outPtr = this.#lens = 0;
  }
}

function concat(pieces: Int16Array[]): Int16Array {
  return pieces.length === 1 ? pieces[0]! : concatSamples(pieces);
}
