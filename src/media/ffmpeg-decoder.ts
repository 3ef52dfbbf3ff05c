/**
 * decode()'s ffmpeg path: one ffmpeg process turning a file, or bytes written to its stdin, into s16 audio chunks,
 * with demand passed both ways.
 */
import type { EarshotError } from '../core/errors.js';
import { FlowControl, FlowLatch } from '../core/flow.js';
import type { AudioChunk } from '../core/types.js';
import { FrameAligner } from './frame-aligner.js';
import { ffmpegFailure, noAudioError, spawnError, spawnFfmpeg, StderrTail, type FfmpegInput, type FfmpegProcess } from './ffmpeg.js';

/** Options of {@link FfmpegDecoder}. */
export interface FfmpegDecoderOptions {
  /** The ffmpeg executable. */
  ffmpegPath: string;
  /** A path ffmpeg reads itself (seekable: MP4/M4A work), or stdin fed by {@link FfmpegDecoder.write}. */
  input: FfmpegInput;
  /** Output rate (Hz) and channels. */
  sampleRate: number;
  channels: number;
  /** The input's name in messages (a base name). */
  name: string;
  /** Give output chunks a FlowControl whose hold pauses ffmpeg (for cold inputs). */
  flowControl: boolean;
}

/** Where an {@link FfmpegDecoder} delivers. */
export interface FfmpegDecoderEvents {
  /** Each output chunk, `offset` counting frames from the start. */
  chunk(chunk: AudioChunk): void;
  /** Once: undefined when ffmpeg exited 0 with audio, else the coded error. Not called after {@link FfmpegDecoder.kill}. */
  end(error: EarshotError | undefined): void;
}

/**
 * A running ffmpeg decoding to interleaved s16. Output chunks carry a FlowControl of their own (with
 * `flowControl`): holding it stops reading ffmpeg's stdout, which stops ffmpeg, which stops reading its stdin,
 * which (through {@link write}) holds the input's flow — demand reaches the source without one flow being shared by
 * both ends of ffmpeg (a deadlock).
 *
 * @example
 * ```ts
 * const ff = new FfmpegDecoder({ ffmpegPath: 'ffmpeg', input: { stdin: true }, sampleRate: 16000, channels: 1, name: 'input', flowControl: false }, {
 *   chunk: (c) => console.log(c.offset),
 *   end: (err) => console.log(err?.code ?? 'done'),
 * });
 * ff.write(bytes, undefined);
 * ff.end();
 * ```
 */
export class FfmpegDecoder {
  readonly #child: FfmpegProcess;
  readonly #events: FfmpegDecoderEvents;
  readonly #outFlow: FlowControl | undefined;
  readonly #frameBytes: number;
  readonly #stderr = new StderrTail();
  readonly #options: FfmpegDecoderOptions;
  #done = false;
  readonly #aligner: FrameAligner;
  #frames = 0;
  #waiting = false;
  /** Holds the input's flow while ffmpeg's stdin is full. */
  readonly #stdinFull = new FlowLatch();

  constructor(options: FfmpegDecoderOptions, events: FfmpegDecoderEvents) {
    this.#options = options;
    this.#events = events;
    this.#outFlow = options.flowControl ? new FlowControl() : undefined;
    this.#frameBytes = 2 * options.channels;
    this.#aligner = new FrameAligner(this.#frameBytes);
    const child = spawnFfmpeg(options.ffmpegPath, options.input, options.sampleRate, options.channels);
    this.#child = child;
    child.on('error', (err) => this.#finish(spawnError(err, options.ffmpegPath)));
    child.stderr.on('data', (d: Buffer) => this.#stderr.push(d));
    child.stdout.on('readable', () => this.#pump());
    child.on('close', (code, signal) => {
      if (this.#done) return;
      if (code === 0) this.#finish(undefined);
      else this.#finish(ffmpegFailure(code, signal, this.#stderr.text(), options.name));
    });
    // EPIPE when ffmpeg gives up early: its exit status says why, so the write error itself adds nothing.
    child.stdin?.on('error', () => undefined);
  }

  /**
   * Write input bytes to ffmpeg's stdin (stdin input only). While stdin is full, `flow` (the input's) is held until
   * it drains.
   */
  write(data: Buffer, flow: FlowControl | undefined): void {
    const stdin = this.#child.stdin;
    if (!stdin || this.#done || stdin.destroyed || data.length === 0) return;
    if (!stdin.write(data) && flow && !this.#stdinFull.holding) {
      this.#stdinFull.hold(flow);
      stdin.once('drain', () => this.#stdinFull.release());
    }
  }

  /** No more input (stdin input only): ffmpeg finishes what it has and exits. */
  end(): void {
    this.#child.stdin?.end();
  }

  /** Stop now: SIGKILL ffmpeg, release every hold, report nothing more. */
  kill(): void {
    this.#done = true;
    this.#stdinFull.release();
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdin?.destroy();
    child.stdout.destroy();
    child.stderr.destroy();
  }

  #finish(err: EarshotError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#stdinFull.release();
    if (!err && this.#frames === 0) err = noAudioError(this.#stderr.text(), this.#options.name);
    this.#events.end(err);
  }

  #emit(data: Buffer): void {
    const bytes = this.#aligner.take(data);
    if (!bytes) return;
    const samples = new Int16Array(bytes.length / 2);
    new Uint8Array(samples.buffer).set(bytes);
    const { sampleRate, channels } = this.#options;
    const chunk: AudioChunk = { kind: 'audio', samples, sampleRate, channels, offset: this.#frames, ...(this.#outFlow ? { flow: this.#outFlow } : {}) };
    this.#frames += bytes.length / this.#frameBytes;
    this.#events.chunk(chunk);
  }

  /**
   * Paused mode: read() hands over everything buffered at once (fewer, larger chunks when we lag behind ffmpeg);
   * while the output flow is held nothing is read, the socket fills and ffmpeg blocks.
   */
  #pump(): void {
    if (this.#waiting) return;
    const out = this.#outFlow;
    let data: Buffer | null;
    while (!this.#done && (data = this.#child.stdout.read() as Buffer | null) !== null) {
      this.#emit(data);
      if (out?.paused && !this.#done) {
        this.#waiting = true;
        void out.ready().then(() => {
          this.#waiting = false;
          if (!this.#done) this.#pump();
        });
        return;
      }
    }
  }
}
