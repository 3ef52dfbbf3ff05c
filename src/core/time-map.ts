/**
 * A session's time line against another one: which stretch of the session's audio came from where on the input's
 * time line. Pure bookkeeping (no timers, no I/O), shared by the realtime operator (sessions replaced and replayed)
 * and by transports that put keepalive silence on a session's time line only.
 */
import type { TranscriptEvent } from './types.js';

interface Piece {
  /** First frame of the piece on the session's time line. */
  session: number;
  /** First frame of the piece on the input's time line. */
  input: number;
  frames: number;
}

/**
 * Frames written to one session, in order, each run of them tied to its place on the input's time line; maps a
 * time the session reports back onto the input's.
 *
 * Session audio that is not input (keepalive silence, a {@link TimeMap.gap}) maps to the end of the input audio
 * before it; a time before any input maps to the first input frame; past the last piece, times run on from it.
 *
 * @example
 * ```ts
 * const map = new TimeMap(16000);
 * map.input(80_000, 16_000); // 1 s of input from 5 s on
 * map.gap(1600); // 100 ms of keepalive silence
 * map.input(96_000, 16_000);
 * map.toInputMs(1050); // 6000: inside the silence, the end of the input before it
 * map.toInputMs(1600); // 6500
 * ```
 */
export class TimeMap {
  readonly #rate: number;
  readonly #pieces: Piece[] = [];
  #frames = 0;

  /** @param sampleRate - frames per second of both time lines. */
  constructor(sampleRate: number) {
    this.#rate = sampleRate;
  }

  /** Frames on the session's time line so far (input and gaps). */
  get frames(): number {
    return this.#frames;
  }

  /** `frames` of input starting at input frame `inputFrame` went to the session next (contiguous runs merge). */
  input(inputFrame: number, frames: number): void {
    const last = this.#pieces[this.#pieces.length - 1];
    if (last && last.session + last.frames === this.#frames && last.input + last.frames === inputFrame) last.frames += frames;
    else this.#pieces.push({ session: this.#frames, input: inputFrame, frames });
    this.#frames += frames;
  }

  /** `frames` of audio that exist on the session's time line only (keepalive silence). */
  gap(frames: number): void {
    this.#frames += frames;
  }

  /** The input time (whole ms) of session time `sessionMs`; the identity while no input was written. */
  toInputMs(sessionMs: number): number {
    const pieces = this.#pieces;
    if (pieces.length === 0) return sessionMs;
    const f = (sessionMs * this.#rate) / 1000;
    // The last piece starting at or before f (binary search: pieces are in session order).
    let lo = 0;
    let hi = pieces.length - 1;
    if (f < pieces[0]!.session) return Math.round((pieces[0]!.input * 1000) / this.#rate);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pieces[mid]!.session <= f) lo = mid;
      else hi = mid - 1;
    }
    const p = pieces[lo]!;
    const within = lo === pieces.length - 1 && p.session + p.frames === this.#frames ? f - p.session : Math.min(f - p.session, p.frames);
    return Math.round(((p.input + within) * 1000) / this.#rate);
  }

  /** `event` with its times (and its words') mapped onto the input's time line; a new object. */
  mapEvent(event: TranscriptEvent): TranscriptEvent {
    const out: TranscriptEvent = { ...event, startMs: this.toInputMs(event.startMs), endMs: this.toInputMs(event.endMs) };
    if (event.words) out.words = event.words.map((w) => ({ text: w.text, startMs: this.toInputMs(w.startMs), endMs: this.toInputMs(w.endMs) }));
    return out;
  }
}
