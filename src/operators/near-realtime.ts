/**
 * `nearRealtime()`: serve live audio through a batch API in windows of about `windowMs`, each closed at a pause
 * and sent the moment it closes — or, speculatively, the moment the VAD first hears the speech stop.
 */
import type { OperatorFunction } from 'rxjs';
import type { AudioChunk, AudioSegment } from '../core/types.js';
import { segmenterOperator, segmenterRules, type SegmenterRules, type VadChunkOptions } from './vad-chunk.js';

/** Whether a tentative window stands. */
export type ProvisionalState = 'pending' | 'confirmed' | 'revoked';

/**
 * The fate of a window sent before its closing pause was confirmed. It settles once, synchronously, when the
 * VAD decides: `confirmed` (the pause lasted) or `revoked` (speech resumed; `signal` aborts and a longer window
 * from the same start follows).
 */
export class Provisional {
  #state: ProvisionalState = 'pending';
  readonly #abort = new AbortController();
  #listeners: Array<(confirmed: boolean) => void> = [];

  get state(): ProvisionalState {
    return this.#state;
  }

  /** Aborted when the window is revoked: pass it to the request made for the window. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Call `listener` once when the window settles (at once if it already has).
   * @returns a function that removes the listener.
   */
  onSettled(listener: (confirmed: boolean) => void): () => void {
    if (this.#state !== 'pending') {
      listener(this.#state === 'confirmed');
      return () => undefined;
    }
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** @internal Settle (by the segmenter). */
  settle(confirmed: boolean): void {
    if (this.#state !== 'pending') return;
    this.#state = confirmed ? 'confirmed' : 'revoked';
    if (!confirmed) this.#abort.abort();
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(confirmed);
  }
}

/** A window from {@link nearRealtime}; `provisional` is set when it was sent before its pause was confirmed. */
export interface WindowSegment extends AudioSegment {
  readonly provisional?: Provisional;
}

/** Options of {@link nearRealtime}. */
export interface NearRealtimeOptions extends Omit<VadChunkOptions, 'maxChunkMs'> {
  /** Longest window (ms, default 5000); speech running past it is cut at its quietest point. */
  windowMs?: number;
  /** A pause of `minSilenceMs` (default 250) closes a window once it holds this much audio (default 40 % of windowMs). */
  minWindowMs?: number;
  /** A pause this long closes a window of any length: the speaker stopped (default 600 ms). */
  endSilenceMs?: number;
  /**
   * Send a window after this much silence (ms, default 60), before the closing pause is confirmed; if speech
   * resumes the window is revoked (see {@link Provisional}). `false` sends only confirmed windows.
   */
  speculateMs?: number | false;
}

/**
 * Cut live (or paced) mono audio into windows of about `windowMs` for a batch transport, closed at pauses.
 *
 * A window opens at speech and closes at the first pause of `minSilenceMs` once it holds `minWindowMs` of audio,
 * at any pause of `endSilenceMs`, or — when speech runs on — at its quietest point before `windowMs`, never in the
 * middle of a word if a gap between words exists there. With speculation on (the default) a window is emitted as
 * soon as `speculateMs` of silence are heard, carrying a {@link Provisional}: `transcribeBatch()` starts the request
 * at once where a cancelled request costs nothing (the transport's `cancelCost`; else it waits for the
 * confirmation), holds its result until the pause is confirmed, and cancels it if speech resumes (a longer window
 * from the same start then follows). Consumers other than `transcribeBatch()` should set `speculateMs: false`.
 *
 * @param options - see {@link NearRealtimeOptions}; checked now.
 * @throws EARSHOT_INVALID_ARGUMENT for impossible options (now); at run time EARSHOT_UNSUPPORTED_FORMAT for audio
 *   that is not mono at 8/16/32/48 kHz.
 * @example
 * ```ts
 * fromMic().pipe(resample(16000), nearRealtime({ windowMs: 5000 }), transcribeBatch(local()))
 *   .subscribe((e) => console.log(e.text));
 * ```
 */
export function nearRealtime(options: NearRealtimeOptions = {}): OperatorFunction<AudioChunk, WindowSegment> {
  return segmenterOperator<WindowSegment>(
    nearRealtimeRules(options),
    options,
    (next) => {
      let open: Provisional | undefined;
      return {
        segment: (s, tentative) => {
          if (!tentative) {
            next(s);
            return;
          }
          open = new Provisional();
          next({ ...s, provisional: open });
        },
        confirm: () => {
          open?.settle(true);
          open = undefined;
        },
        revoke: () => {
          open?.settle(false);
          open = undefined;
        },
      };
    },
    'nearRealtime',
  );
}

/**
 * @internal The segmenter rules of near-realtime windows (shared with `nearRealtimeLive()`), checked.
 * @throws EARSHOT_INVALID_ARGUMENT for impossible options.
 */
export function nearRealtimeRules(options: NearRealtimeOptions): SegmenterRules {
  const windowMs = options.windowMs ?? 5000;
  const speculate = options.speculateMs ?? 60;
  return segmenterRules(
    {
      ...options,
      maxChunkMs: windowMs,
      minWindowMs: options.minWindowMs ?? windowMs * 0.4,
      ...(speculate === false ? {} : { earlyMs: speculate }),
    },
    { minSilenceMs: 250, endSilenceMs: 600, cutSearchMs: Math.min(2000, windowMs / 2) },
    // A window holds its padding on both sides: vadChunk's rule for its longest chunk, named as users know it.
    (shortest) => `a near-realtime window must be at least ${shortest} ms long, got ${windowMs} ms`,
  );
}
