/**
 * Realtime audio in the frames the service expects (protocol notes §2.2 and §5.2: ~100 ms a frame, 3,200 bytes
 * at 16 kHz; the SDK docs say 1–16 KB a frame), whatever the size of the chunks upstream: a file's 64 KiB chunks
 * are cut, an RTP call's 20 ms packets are gathered.
 */
import { FrameAligner } from '../../media/frame-aligner.js';

/** Milliseconds of audio in one frame sent to the service. */
export const FRAME_MS = 100;

/**
 * Cuts s16 mono audio into frames of {@link FRAME_MS}: each `push` hands out the whole frames it completes (views
 * of the caller's memory, or of one carried copy of at most one frame), and {@link AudioFrames.flush} the partial
 * frame left at the end. Memory is bounded by one frame and so is the delay: audio waits only until its frame is
 * full (100 ms of audio time).
 *
 * @example
 * ```ts
 * const frames = new AudioFrames(16000);
 * frames.push(new Int16Array(32768)); // 20 frames of 3,200 bytes; 768 samples carried
 * frames.flush(); // the last 1,536 bytes
 * ```
 */
export class AudioFrames {
  readonly #bytes: number;
  readonly #aligner: FrameAligner;

  /** @param sampleRate - rate of the audio, Hz (16000 → 3,200-byte frames, 8000 → 1,600). */
  constructor(sampleRate: number) {
    this.#bytes = Math.round((sampleRate * FRAME_MS) / 1000) * 2;
    this.#aligner = new FrameAligner(this.#bytes);
  }

  /** Bytes in a whole frame. */
  get frameBytes(): number {
    return this.#bytes;
  }

  /** The whole frames completed by `samples`, in order (none while a frame is still filling). */
  push(samples: Int16Array): Buffer[] {
    const whole = this.#aligner.take(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
    const out: Buffer[] = [];
    if (!whole) return out;
    for (let at = 0; at < whole.length; at += this.#bytes) out.push(whole.subarray(at, at + this.#bytes));
    return out;
  }

  /** The partial frame left (undefined when none), handed out once: call it at the end of the stream. */
  flush(): Buffer | undefined {
    return this.#aligner.flush();
  }
}
