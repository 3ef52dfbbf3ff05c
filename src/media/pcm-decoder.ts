/**
 * decode()'s in-process path: a stream of PCM bytes (a WAV's data chunk, or raw PCM) to interleaved s16 frames.
 */
import { InputError } from '../core/errors.js';
import { bytesPerSample, remix, toS16, type PcmFormat } from './wav.js';
import { FrameAligner } from './frame-aligner.js';

/**
 * Converts PCM bytes of `format` to s16 with `channels` channels, frame by frame: a partial frame is carried to
 * the next push (never re-copied), and with a declared data length (a WAV header's) bytes past it are ignored.
 * s16 input at its own channel count is not copied: the samples view the pushed bytes (so a source must not
 * overwrite a buffer it has passed on, which none of earshot's does).
 *
 * @example
 * ```ts
 * const pcm = new PcmDecoder({ encoding: 'f32le', sampleRate: 16000, channels: 2 }, 1);
 * const samples = pcm.push(bytes); // mono s16, or undefined while less than a frame has arrived
 * const err = pcm.end('talk.wav'); // undefined, or EARSHOT_EMPTY_INPUT
 * ```
 */
export class PcmDecoder {
  /** The input's layout. */
  readonly format: PcmFormat;
  readonly #channels: number;
  readonly #frameBytes: number;
  readonly #declared: number | undefined;
  readonly #aligner: FrameAligner;
  #received = 0;
  #frames = 0;

  /**
   * @param format - the input's encoding, rate and channels.
   * @param channels - output channels (`canRemix(format.channels, channels)` must hold).
   * @param declaredBytes - data bytes the header declares (undefined: read to the end).
   */
  constructor(format: PcmFormat, channels: number, declaredBytes?: number) {
    this.format = format;
    this.#channels = channels;
    this.#frameBytes = bytesPerSample(format.encoding) * format.channels;
    this.#declared = declaredBytes;
    this.#aligner = new FrameAligner(this.#frameBytes);
  }

  /** Frames converted so far (at the input's rate). */
  get frames(): number {
    return this.#frames;
  }

  /** True once the declared data length has arrived: later bytes are not audio. */
  get full(): boolean {
    return this.#declared !== undefined && this.#received >= this.#declared;
  }

  /** Convert the whole frames in `data` (plus what was carried); undefined when none is complete yet. */
  push(data: Buffer): Int16Array | undefined {
    if (this.full) return undefined;
    if (this.#declared !== undefined) {
      const room = this.#declared - this.#received;
      if (data.length > room) data = data.subarray(0, room);
    }
    this.#received += data.length;
    const bytes = this.#aligner.take(data);
    if (!bytes) return undefined;
    this.#frames += bytes.length / this.#frameBytes;
    // s16 bytes at an even address are viewed as they are (the source's buffer is not copied), anything else converted.
    const s16 = this.format.encoding === 's16le' && bytes.byteOffset % 2 === 0 ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2) : toS16(bytes, this.format.encoding);
    return remix(s16, this.format.channels, this.#channels)!;
  }

  /**
   * The input ended: undefined if it ended well, else the coded error (reported after every frame converted).
   *
   * @param name - the input's name for messages (a base name, never a full path).
   * @returns EARSHOT_CORRUPT_INPUT (less data than the header declares), EARSHOT_EMPTY_INPUT (no whole frame), or
   *   undefined.
   */
  end(name: string): InputError | undefined {
    if (this.#declared !== undefined && this.#received < this.#declared) {
      return new InputError('EARSHOT_CORRUPT_INPUT', `${name} is truncated: its WAV header declares ${this.#declared} data bytes, it holds ${this.#received}`, {
        details: { file: name, declaredBytes: this.#declared, actualBytes: this.#received, framesDecoded: this.#frames },
      });
    }
    if (this.#frames === 0) return new InputError('EARSHOT_EMPTY_INPUT', `${name} holds no audio frames`, { details: { file: name } });
    return undefined;
  }
}
