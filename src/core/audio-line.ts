/**
 * The output side of a hot audio source (an RTP participant, a call track): mono chunks written at a head that only
 * moves forward, multicast to subscribers, with a bounded hold for the first subscriber.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { AudioChunk } from './types.js';

/**
 * A time line of mono s16 audio that a hot source writes and any number of subscribers read.
 *
 * Each write becomes one chunk whose `offset` is the head (in frames from the start), so audio time is exact.
 * Until the first subscriber comes, at most `preSubscribeMs` is held (the oldest chunks are dropped beyond it, and
 * counted through `onDrop`); once subscribers came and all left, audio is discarded (a hot source cannot wait).
 * A subscriber that comes after the end gets what was held, then the end.
 *
 * @example
 * ```ts
 * const line = new AudioLine(8000, 2000);
 * line.audio$.subscribe((c) => console.log(c.offset));
 * line.write(new Int16Array(160)); // offset 0
 * line.silence(800); // offsets 160…
 * line.end();
 * ```
 */
export class AudioLine {
  readonly audio$: Observable<AudioChunk>;
  readonly #subscribers = new Set<Subscriber<AudioChunk>>();
  readonly #holdFrames: number;
  readonly #onDrop: () => void;
  #head = 0;
  #everSubscribed = false;
  #held: AudioChunk[] = [];
  #heldFrames = 0;
  #ended: { error?: unknown } | undefined;

  /**
   * @param sampleRate - rate of the audio, Hz.
   * @param preSubscribeMs - audio held for the first subscriber, ms.
   * @param onDrop - called for each chunk dropped from that hold.
   */
  constructor(
    readonly sampleRate: number,
    preSubscribeMs: number,
    onDrop: () => void = () => {},
  ) {
    this.#holdFrames = Math.round((preSubscribeMs * sampleRate) / 1000);
    this.#onDrop = onDrop;
    this.audio$ = new Observable<AudioChunk>((subscriber) => {
      if (this.#ended) {
        for (const chunk of this.#takeHeld()) subscriber.next(chunk);
        if (this.#ended.error !== undefined) subscriber.error(this.#ended.error);
        else subscriber.complete();
        return undefined;
      }
      this.#everSubscribed = true;
      for (const chunk of this.#takeHeld()) {
        if (subscriber.closed) break;
        subscriber.next(chunk);
      }
      this.#subscribers.add(subscriber);
      return () => {
        this.#subscribers.delete(subscriber);
      };
    });
  }

  /** Frames written so far: where the next write lands. */
  get head(): number {
    return this.#head;
  }

  /** True once {@link AudioLine.end} was called. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Write samples at the head (ignored after the end). */
  write(samples: Int16Array): void {
    if (this.#ended || samples.length === 0) return;
    const chunk: AudioChunk = { kind: 'audio', samples, sampleRate: this.sampleRate, channels: 1, offset: this.#head };
    this.#head += samples.length;
    if (this.#subscribers.size === 0) {
      if (this.#everSubscribed) return; // subscribers came and went: nobody listens any more
      this.#held.push(chunk);
      this.#heldFrames += samples.length;
      while (this.#heldFrames > this.#holdFrames && this.#held.length > 0) {
        this.#heldFrames -= this.#held.shift()!.samples.length;
        this.#onDrop();
      }
      return;
    }
    for (const s of this.#subscribers) s.next(chunk);
  }

  /** Write `frames` of silence at the head, in chunks of at most one second. */
  silence(frames: number): void {
    while (frames > 0) {
      const n = Math.min(frames, this.sampleRate);
      this.write(new Int16Array(n));
      frames -= n;
    }
  }

  /**
   * End the line: subscribers complete (or error with `error`). What is held stays for a subscriber still to come,
   * unless one already came or `abrupt` is set.
   */
  end(options: { error?: unknown; abrupt?: boolean } = {}): void {
    if (this.#ended) return;
    this.#ended = options.error === undefined ? {} : { error: options.error };
    const subs = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subs) {
      if (options.error !== undefined) s.error(options.error);
      else s.complete();
    }
    if (this.#everSubscribed || options.abrupt) this.#takeHeld();
  }

  #takeHeld(): AudioChunk[] {
    const held = this.#held;
    this.#held = [];
    this.#heldFrames = 0;
    return held;
  }
}
