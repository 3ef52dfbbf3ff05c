/**
 * `vadChunk()`: cut a stream of mono audio into speech segments with WebRTC VAD, each with its position on the
 * input's time line. A segment that reaches its maximum length is cut at the quietest point near the limit.
 *
 * The segmenter below is shared with `nearRealtime()`, which closes longer windows with the same machinery.
 */
import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import type { FlowControl } from '../core/flow.js';
import { frameToMs, type AudioChunk, type AudioSegment } from '../core/types.js';
import { openVad, type Vad, type VadFrameMs, type VadMode } from '../media/vad.js';
import { BoundedQueue, queueLimits, type GateLimits, type OverflowPolicy, type QueueLimits } from '../core/backpressure.js';

/** Mean square of a frame below which it is silence (RMS 16, about -66 dBFS). */
const SILENCE_FLOOR = 256;
/** A frame 45 dB below the loudest of the segment is silence. */
const QUIET_RATIO = 10 ** -4.5;

/** Options of {@link vadChunk}. */
export interface VadChunkOptions {
  /** Silence (ms) that ends a segment (default 300). */
  minSilenceMs?: number;
  /** Longest segment (ms, default 5000); a longer stretch of speech is cut at its quietest point near the limit. */
  maxChunkMs?: number;
  /** Audio kept before the first and after the last speech frame (ms, default 200; at most `minSilenceMs` after). */
  padMs?: number;
  /** Speech (ms) needed to open a segment, so clicks do not (default 60). */
  minSpeechMs?: number;
  /** How far before the limit (ms) the quietest cut point is searched (default 1500, at most half of `maxChunkMs`). */
  cutSearchMs?: number;
  /** VAD aggressiveness 0–3 (default 2). */
  mode?: VadMode;
  /** VAD frame length: 10, 20 or 30 ms (default 20). */
  frameMs?: VadFrameMs;
  /**
   * Audio (ms) queued while the VAD's WASM module loads on first use (~25 ms; default 60 000), from sources
   * without flow control (a cold source is held meanwhile); past it `overflow` applies (default `'error'`:
   * EARSHOT_LIMIT_EXCEEDED). `await loadVad()` first to make it moot. Shared vocabulary: README "Backpressure".
   */
  maxQueuedMs?: number;
  /** What happens past `maxQueuedMs` (default `'error'`); drops are counted through `onDrop`. */
  overflow?: OverflowPolicy;
  /** Called after every drop of the overflow policy, with the running totals. */
  onDrop?: QueueLimits['onDrop'];
  /** @deprecated Use `maxQueuedMs` (same meaning). */
  maxPendingMs?: number;
  /** Clock for `closedAt` (default `performance.now()`); pass a virtual-time scheduler in tests. */
  scheduler?: SchedulerLike;
}

/** @internal Rules of the segmenter, all in ms. */
export interface SegmenterRules {
  minSilenceMs: number;
  maxChunkMs: number;
  padMs: number;
  minSpeechMs: number;
  cutSearchMs: number;
  /** A pause shorter than `endSilenceMs` closes a segment only once it holds `minWindowMs` of audio. */
  minWindowMs: number;
  /** A pause this long closes a segment whatever its length (≥ minSilenceMs). */
  endSilenceMs: number;
  /** Emit a tentative segment after this much silence (undefined: never). */
  earlyMs?: number;
}

/** @internal What the segmenter reports. */
export interface SegmenterSink {
  /** A segment closed (`tentative`: may still be revoked by resumed speech). */
  segment(segment: AudioSegment, tentative: boolean): void;
  /** The last tentative segment is final. */
  confirm(): void;
  /** The last tentative segment is void: speech resumed; a longer segment from the same start will follow. */
  revoke(): void;
  /** A segment opened at stream sample `offset`: speech began, or went on past a max-length cut. */
  open?(offset: number): void;
  /** Every frame before stream sample `offset` has been looked at (called after each chunk). */
  processed?(offset: number): void;
}

/**
 * @internal The segmentation state machine, fed with mono audio, linear-time and in bounded memory: audio lives in one
 * preallocated buffer that never holds more than the longest segment plus a frame; frame energies and VAD decisions
 * in parallel arrays.
 */
export class Segmenter {
  readonly #vad: Vad;
  readonly #rate: number;
  readonly #F: number;
  readonly #sink: SegmenterSink;
  readonly #now: () => number;
  // Rules in frames.
  readonly #minSilence: number;
  readonly #endSilence: number;
  readonly #minWindow: number;
  readonly #maxFrames: number;
  readonly #pad: number;
  readonly #minSpeech: number;
  readonly #search: number;
  readonly #early: number;
  // Audio: buf[0] is stream sample #bufStart (samples counted from #origin, the first chunk's offset).
  readonly #buf: Int16Array;
  readonly #energy: Float64Array;
  readonly #voiced: Uint8Array;
  #origin = -1;
  #bufStart = 0;
  #bufLen = 0;
  /** Frames processed (relative to bufStart, in frames). */
  #proc = 0;
  // State.
  #inSpeech = false;
  #run = 0;
  #silence = 0;
  /** Segment start, frames relative to bufStart. */
  #segStart = 0;
  /** End of the last voiced frame, frames relative to bufStart. */
  #lastVoicedEnd = 0;
  #tentative = false;
  /** End of the last segment emitted, frames relative to bufStart (may be negative). */
  #emittedEnd = 0;
  /** Energy of the loudest frame since speech last started (for the quiet-frame gate). */
  #peak = 0;
  #flow: FlowControl | undefined;

  constructor(vad: Vad, rules: SegmenterRules, sink: SegmenterSink, now: () => number) {
    this.#vad = vad;
    this.#rate = vad.sampleRate;
    this.#F = vad.frameSize;
    this.#sink = sink;
    this.#now = now;
    const f = (ms: number): number => Math.max(1, Math.round(ms / vad.frameMs));
    this.#minSilence = f(rules.minSilenceMs);
    this.#endSilence = Math.max(this.#minSilence, f(rules.endSilenceMs));
    this.#minWindow = Math.round(rules.minWindowMs / vad.frameMs);
    this.#maxFrames = f(rules.maxChunkMs);
    this.#pad = Math.round(rules.padMs / vad.frameMs);
    this.#minSpeech = f(rules.minSpeechMs);
    this.#search = Math.min(f(rules.cutSearchMs), Math.floor(this.#maxFrames / 2));
    this.#early = rules.earlyMs === undefined ? 0 : f(rules.earlyMs);
    const capFrames = this.#maxFrames + this.#pad + this.#minSpeech + 2;
    this.#buf = new Int16Array(capFrames * this.#F);
    this.#energy = new Float64Array(capFrames);
    this.#voiced = new Uint8Array(capFrames);
  }

  /** Feed one chunk (mono, the VAD's rate). */
  push(chunk: AudioChunk): void {
    const s = chunk.samples;
    if (this.#origin < 0) this.#origin = chunk.offset;
    else if (chunk.offset !== this.#origin + this.#bufStart + this.#bufLen) {
      // A gap or overlap in the input's time line (lost packets): close what is open and start afresh there.
      this.finish('pause');
      this.#origin = chunk.offset;
      this.#bufStart = 0;
      this.#bufLen = 0;
      this.#emittedEnd = 0;
      this.#proc = 0;
      this.#run = 0;
    }
    this.#flow = chunk.flow ?? this.#flow;
    let at = 0;
    while (at < s.length) {
      if (this.#bufLen === this.#buf.length) this.#compact(this.#keepFrom());
      const n = Math.min(s.length - at, this.#buf.length - this.#bufLen);
      this.#buf.set(s.subarray(at, at + n), this.#bufLen);
      this.#bufLen += n;
      at += n;
      while ((this.#proc + 1) * this.#F <= this.#bufLen) this.#frame();
    }
    this.#sink.processed?.(this.#origin + this.#bufStart + this.#proc * this.#F);
  }

  /** The input ended (or broke): close an open segment with cut `cut`. */
  finish(cut: 'end' | 'pause'): void {
    if (this.#tentative) {
      // Only silence followed the tentative segment (speech would have revoked it): it stands.
      this.#settle(true);
      this.#inSpeech = false;
      this.#run = 0;
      return;
    }
    if (!this.#inSpeech || this.#lastVoicedEnd <= this.#segStart) return;
    const end = Math.min(this.#proc, this.#lastVoicedEnd + this.#pad);
    this.#emit(this.#segStart, end, cut, false);
    this.#inSpeech = false;
    this.#run = 0;
  }

  /** Where the buffer may be trimmed to (frames relative to bufStart). */
  #keepFrom(): number {
    if (this.#inSpeech) return this.#segStart;
    return Math.max(0, this.#proc - this.#pad - this.#minSpeech);
  }

  /** Drop audio before frame `from` by moving the rest to the front (small: callers keep at most one segment). */
  #compact(from: number): void {
    if (from <= 0) return;
    const F = this.#F;
    this.#buf.copyWithin(0, from * F, this.#bufLen);
    this.#energy.copyWithin(0, from, this.#proc);
    this.#voiced.copyWithin(0, from, this.#proc);
    this.#bufStart += from * F;
    this.#bufLen -= from * F;
    this.#proc -= from;
    this.#segStart -= from;
    this.#lastVoicedEnd -= from;
    this.#emittedEnd -= from;
  }

  #frame(): void {
    const F = this.#F;
    const i = this.#proc;
    const start = i * F;
    let e = 0;
    for (let k = start; k < start + F; k++) {
      const v = this.#buf[k]!;
      e += v * v;
    }
    e /= F;
    // WebRTC VAD holds "speech" for 100–200 ms after speech stops (its hangover). A frame far below the loudest
    // of the segment (-45 dB) or near digital silence counts as silence whatever the VAD says, so the end of
    // speech is heard as it happens; the closing pause (minSilenceMs) still guards against stops inside words.
    const voiced = this.#vad.isSpeech(this.#buf, start) && e > SILENCE_FLOOR && e > this.#peak * QUIET_RATIO;
    if (voiced && e > this.#peak) this.#peak = e;
    this.#energy[i] = e;
    this.#voiced[i] = voiced ? 1 : 0;
    this.#proc = i + 1;

    if (!this.#inSpeech) {
      this.#run = voiced ? this.#run + 1 : 0;
      if (!voiced) this.#peak = 0;
      if (this.#run >= this.#minSpeech) {
        this.#inSpeech = true;
        this.#silence = 0;
        this.#lastVoicedEnd = i + 1;
        // Padding never reaches back into the previous segment: no audio is sent twice.
        const from = Math.max(0, this.#emittedEnd, i + 1 - this.#run - this.#pad);
        this.#compact(from);
        this.#segStart = 0;
        this.#sink.open?.(this.#origin + this.#bufStart);
      } else if (this.#proc > this.#pad + this.#minSpeech + 64) {
        this.#compact(this.#keepFrom());
      }
      return;
    }

    if (voiced) {
      this.#silence = 0;
      this.#lastVoicedEnd = i + 1;
      if (this.#tentative) this.#settle(false);
    } else {
      this.#silence++;
    }
    const len = this.#proc - this.#segStart;
    if (!voiced) {
      const closable = this.#silence >= this.#endSilence || (this.#silence >= this.#minSilence && len >= this.#minWindow);
      if (closable) {
        if (this.#tentative) {
          this.#settle(true);
        } else {
          this.#emit(this.#segStart, Math.min(this.#proc, this.#lastVoicedEnd + this.#pad), 'pause', false);
        }
        this.#inSpeech = false;
        this.#run = 0;
        return;
      }
      if (this.#early && !this.#tentative && this.#silence === this.#early) {
        this.#tentative = true;
        this.#emit(this.#segStart, Math.min(this.#proc, this.#lastVoicedEnd + this.#pad), 'pause', true);
        return;
      }
    }
    if (len >= this.#maxFrames) {
      if (this.#tentative) this.#settle(false);
      const cut = this.#quietest();
      this.#emit(this.#segStart, cut, 'max-length', false);
      this.#compact(cut);
      this.#segStart = 0;
      if (this.#lastVoicedEnd <= 0) {
        // Cut in the silence after the speech: nothing of it is left, wait for new speech.
        this.#inSpeech = false;
        this.#run = 0;
      } else {
        this.#sink.open?.(this.#origin + this.#bufStart);
      }
    }
  }

  /** The frame boundary with the least energy around it in the last `search` frames of the segment. */
  #quietest(): number {
    const hi = this.#segStart + this.#maxFrames;
    const lo = Math.max(this.#segStart + 1, hi - this.#search);
    const k = 2;
    let best = hi;
    let bestScore = Infinity;
    for (let b = hi; b >= lo; b--) {
      let sum = 0;
      let n = 0;
      for (let j = Math.max(this.#segStart, b - k); j < Math.min(this.#proc, b + k); j++) {
        // A frame the VAD calls speech counts double: prefer a pause it recognises over a quiet consonant.
        sum += this.#energy[j]! * (this.#voiced[j] ? 2 : 1);
        n++;
      }
      const score = n ? sum / n : Infinity;
      if (score < bestScore) {
        bestScore = score;
        best = b;
      }
    }
    return best;
  }

  #settle(confirmed: boolean): void {
    this.#tentative = false;
    if (confirmed) this.#sink.confirm();
    else this.#sink.revoke();
  }

  #emit(from: number, to: number, cut: AudioSegment['cut'], tentative: boolean): void {
    const F = this.#F;
    this.#emittedEnd = to;
    const samples = this.#buf.slice(from * F, to * F);
    const segment: AudioSegment = {
      kind: 'audio',
      samples,
      sampleRate: this.#rate,
      channels: 1,
      offset: this.#origin + this.#bufStart + from * F,
      cut,
      speechEndMs: frameToMs(this.#origin + this.#bufStart + Math.min(to, this.#lastVoicedEnd) * F, this.#rate),
      closedAt: this.#now(),
      ...(this.#flow ? { flow: this.#flow } : {}),
    };
    this.#sink.segment(segment, tentative);
  }
}

/**
 * @internal Validate and fill in rules.
 *
 * @param tooShort - the message for a `maxChunkMs` under its shortest (200 ms and 4 × padMs), for a caller whose users
 *   know that length by another name (a near-realtime window).
 */
export function segmenterRules(
  o: VadChunkOptions & Partial<SegmenterRules>,
  defaults: Partial<SegmenterRules> = {},
  tooShort: (shortestMs: number, maxChunkMs: number) => string = (_, ms) => `maxChunkMs (${ms}) must be at least 200 ms and 4 × padMs`,
): SegmenterRules {
  const minSilenceMs = o.minSilenceMs ?? defaults.minSilenceMs ?? 300;
  const maxChunkMs = o.maxChunkMs ?? defaults.maxChunkMs ?? 5000;
  const padMs = Math.min(o.padMs ?? defaults.padMs ?? 200, minSilenceMs);
  const rules: SegmenterRules = {
    minSilenceMs,
    maxChunkMs,
    padMs,
    minSpeechMs: o.minSpeechMs ?? defaults.minSpeechMs ?? 60,
    cutSearchMs: Math.min(o.cutSearchMs ?? defaults.cutSearchMs ?? 1500, maxChunkMs / 2),
    minWindowMs: o.minWindowMs ?? defaults.minWindowMs ?? 0,
    endSilenceMs: Math.max(o.endSilenceMs ?? defaults.endSilenceMs ?? minSilenceMs, minSilenceMs),
    ...(o.earlyMs !== undefined ? { earlyMs: o.earlyMs } : defaults.earlyMs !== undefined ? { earlyMs: defaults.earlyMs } : {}),
  };
  for (const [name, v] of Object.entries(rules)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${name} must be a finite number ≥ 0, got ${String(v)}`);
  }
  const shortest = Math.max(200, 4 * rules.padMs);
  if (rules.maxChunkMs < shortest) throw new InvalidArgumentError(tooShort(shortest, maxChunkMs));
  if (rules.minSilenceMs < 10) throw new InvalidArgumentError(`minSilenceMs must be at least 10 ms, got ${minSilenceMs}`);
  if (rules.earlyMs !== undefined && rules.earlyMs >= rules.minSilenceMs) {
    throw new InvalidArgumentError(`earlyMs (${rules.earlyMs}) must be shorter than minSilenceMs (${minSilenceMs})`);
  }
  return rules;
}

/** The bounds of the queue that waits for the VAD to load, from {@link VadChunkOptions} (checked now). */
function loadQueueLimits(options: Pick<VadChunkOptions, 'maxQueuedMs' | 'maxPendingMs' | 'overflow' | 'onDrop'>, name: string): GateLimits {
  const maxQueuedMs = options.maxQueuedMs ?? options.maxPendingMs;
  return queueLimits(
    { ...(maxQueuedMs === undefined ? {} : { maxQueuedMs }), ...(options.overflow ? { overflow: options.overflow } : {}), ...(options.onDrop ? { onDrop: options.onDrop } : {}) },
    { highWaterMs: 0, maxQueuedMs: 60_000 },
    `${name}() while the VAD loads`,
  );
}

/**
 * @internal A segmenter over a source of mono audio as an operator: the shared body of vadChunk() and
 * nearRealtime(). Loads the VAD (chunks arriving meanwhile wait in a bounded queue, a cold source held), validates
 * the format, and frees the detector on completion, error or unsubscribe.
 * @throws EARSHOT_INVALID_ARGUMENT (now) for bad queue bounds.
 */
export function segmenterOperator<T>(
  rules: SegmenterRules,
  options: Pick<VadChunkOptions, 'mode' | 'frameMs' | 'scheduler' | 'maxQueuedMs' | 'maxPendingMs' | 'overflow' | 'onDrop'>,
  makeSink: (next: (value: T) => void) => SegmenterSink,
  name: string,
): OperatorFunction<AudioChunk, T> {
  const now = options.scheduler ? () => options.scheduler!.now() : () => performance.now();
  const limits = loadQueueLimits(options, name);
  return (source) =>
    new Observable<T>((subscriber) => {
      let vad: Vad | undefined;
      let seg: Segmenter | undefined;
      let failed = false;
      const pending = new BoundedQueue<AudioChunk>(limits, `${name}() while the VAD loads`);
      let ended: 'complete' | { error: unknown } | undefined;
      let rate = 0;

      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        pending.clear();
        subscriber.error(toEarshotError(err, 'EARSHOT_ENGINE_FAILED'));
      };
      const sink = makeSink((v) => subscriber.next(v));

      const feed = (chunk: AudioChunk): void => {
        if (chunk.channels !== 1 || chunk.sampleRate !== rate) {
          throw new EarshotError('EARSHOT_UNSUPPORTED_FORMAT', `${name}() needs mono audio at one rate (8, 16, 32 or 48 kHz), got ${chunk.channels} ch at ${chunk.sampleRate} Hz after ${rate} Hz: add resample(16000)`);
        }
        seg!.push(chunk);
      };
      const end = (how: 'complete' | { error: unknown }): void => {
        try {
          seg?.finish('end');
        } catch (err) {
          fail(err);
          return;
        }
        if (failed) return;
        failed = true;
        // The source's own error passes on unchanged.
        if (how === 'complete') subscriber.complete();
        else subscriber.error(how.error);
      };
      const start = (v: Vad): void => {
        vad = v;
        if (subscriber.closed) {
          v.close();
          return;
        }
        seg = new Segmenter(v, rules, sink, now);
        try {
          for (let c = pending.shift(); c; c = pending.shift()) feed(c);
        } catch (err) {
          fail(err);
          return;
        }
        pending.clear();
        if (ended) end(ended);
      };

      const sub = source.subscribe({
        next: (chunk) => {
          if (failed) return;
          try {
            if (!rate) {
              rate = chunk.sampleRate;
              const v = openVad({ sampleRate: rate, mode: options.mode ?? 2, frameMs: options.frameMs ?? 20 });
              if (v instanceof Promise) v.then(start, fail);
              else start(v);
            }
            if (seg) {
              feed(chunk);
              return;
            }
            pending.push(chunk, (chunk.samples.length * 1000) / chunk.sampleRate / chunk.channels, chunk.flow);
          } catch (err) {
            fail(err);
          }
        },
        error: (error: unknown) => {
          if (failed) return;
          if (seg || !rate) end({ error });
          else ended = { error };
        },
        complete: () => {
          if (failed) return;
          if (seg || !rate) end('complete');
          else ended = 'complete';
        },
      });
      return () => {
        sub.unsubscribe();
        pending.clear();
        vad?.close();
      };
    });
}

/**
 * Cut mono audio into speech segments with WebRTC VAD (WASM, ~10,000× real time).
 *
 * A segment opens `padMs` before `minSpeechMs` of speech and closes `padMs` after the last speech frame once
 * `minSilenceMs` of silence follow. Speech longer than `maxChunkMs` is cut at the quietest frame boundary in the
 * last `cutSearchMs` before the limit (a pause between words, not the middle of one); the rest opens the next
 * segment. Each segment is a mono s16 {@link AudioSegment} with its `offset` on the input's time line, its `cut`
 * reason, `speechEndMs` (audio time) and `closedAt` (clock time), and the input's `flow`. Memory is bounded by one
 * `maxChunkMs` buffer. Source errors are passed on after the open segment is emitted.
 *
 * @param options - see {@link VadChunkOptions}; checked now.
 * @throws EARSHOT_INVALID_ARGUMENT for impossible options (now); at run time EARSHOT_UNSUPPORTED_FORMAT for audio
 *   that is not mono at 8/16/32/48 kHz, EARSHOT_ENGINE_UNAVAILABLE if the VAD cannot load.
 * @example
 * ```ts
 * fromFile('talk.wav').pipe(decode(), resample(16000), vadChunk({ minSilenceMs: 300, maxChunkMs: 5000 }))
 *   .subscribe((s) => console.log(s.offset / s.sampleRate, s.samples.length / s.sampleRate, s.cut));
 * ```
 */
export function vadChunk(options: VadChunkOptions = {}): OperatorFunction<AudioChunk, AudioSegment> {
  const rules = segmenterRules({ ...options, minWindowMs: 0, endSilenceMs: options.minSilenceMs ?? 300 });
  return segmenterOperator<AudioSegment>(
    rules,
    options,
    (next) => ({
      segment: (s) => next(s),
      confirm: () => undefined,
      revoke: () => undefined,
    }),
    'vadChunk',
  );
}
