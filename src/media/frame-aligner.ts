/**
 * Cutting a byte stream at whole sample frames, carrying the partial frame to the next piece.
 */

/**
 * Hands out the whole frames of each piece of a byte stream; a partial frame at the end of a piece is kept (a copy
 * of at most one frame) and put in front of the next piece.
 *
 * @example
 * ```ts
 * const frames = new FrameAligner(4); // s16 stereo
 * frames.take(Buffer.alloc(6)); // 4 bytes; 2 carried
 * frames.take(Buffer.alloc(2)); // 4 bytes
 * ```
 */
export class FrameAligner {
  readonly #frameBytes: number;
  #carry: Buffer | undefined;

  /** @param frameBytes - bytes per frame (sample bytes × channels), at least 1. */
  constructor(frameBytes: number) {
    this.#frameBytes = frameBytes;
  }

  /** The whole frames of what was carried plus `data` (undefined when not even one frame is complete). */
  take(data: Buffer): Buffer | undefined {
    let bytes = data;
    if (this.#carry) {
      bytes = Buffer.concat([this.#carry, data]);
      this.#carry = undefined;
    }
    const whole = bytes.length - (bytes.length % this.#frameBytes);
    if (whole < bytes.length) this.#carry = Buffer.from(bytes.subarray(whole));
    return whole === 0 ? undefined : bytes.subarray(0, whole);
  }

  /** The partial frame carried, handed out once (undefined when there is none): the end of the stream. */
  flush(): Buffer | undefined {
    const rest = this.#carry;
    this.#carry = undefined;
    return rest;
  }
}
