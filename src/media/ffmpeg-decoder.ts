/**
 * decode()'s ffmpeg path: one ffmpeg process turning a file, or bytes written to its stdin, into s16 audio chunks,
 * with demand passed both ways.
 */
import type { EarshotError } from '../core/errors.js';
import { FlowControl, FlowLatch } from '../core/flow.js';
import type { AudioChunk } from '../core/types.js';
import { FrameAligner } from './frame-aligner.js';
import {
  ffmpegFailure,
  ffmpegResampler,
  knownFfmpegResampler,
  noAudioError,
  noteFfmpegResampler,
  resamplerMissing,
  spawnError,
  spawnFfmpeg,
  StderrTail,
  type FfmpegInput,
  type FfmpegProcess,
  type FfmpegResampler,
} from './ffmpeg.js';

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
  /** The input file is a WAV (its header parsed): ffmpeg reads it as one, in large packets. */
  wav?: boolean;
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
 * The rate is converted by the best resampler of this ffmpeg ({@link ffmpegResampler}: soxr, else a steep float
 * swr filter; > 80 dB aliasing rejection either way). A file is decoded with soxr at once (and again with swr if this
 * ffmpeg has no soxr); the first stdin decoder of a process waits for the short probe before it spawns ffmpeg, and
 * bytes written meanwhile are kept (the input's flow held). Output chunks view the bytes read from ffmpeg (no copy).
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
  #child: FfmpegProcess | undefined;
  readonly #events: FfmpegDecoderEvents;
  readonly #outFlow: FlowControl | undefined;
  readonly #frameBytes: number;
  #stderr = new StderrTail();
  readonly #options: FfmpegDecoderOptions;
  #done = false;
  readonly #aligner: FrameAligner;
  #frames = 0;
  /** Input written before ffmpeg runs (the first decoder of a process waits for the resampler probe), and its end. */
  #early: Buffer[] = [];
  #earlyEnd = false;
  /** Holds the input's flow while ffmpeg's stdin is full, or while ffmpeg is not running yet. */
  readonly #stdinFull = new FlowLatch();

  constructor(options: FfmpegDecoderOptions, events: FfmpegDecoderEvents) {
    this.#options = options;
    this.#events = events;
    this.#outFlow = options.flowControl ? new FlowControl() : undefined;
    this.#frameBytes = 2 * options.channels;
    this.#aligner = new FrameAligner(this.#frameBytes);
    // A file can be read again if soxr turns out missing; a pipe cannot, so it waits for the probe the first time.
    const known = knownFfmpegResampler(options.ffmpegPath);
    if (known || 'path' in options.input) this.#spawn(known ?? 'soxr');
    else void ffmpegResampler(options.ffmpegPath).then((r) => this.#spawn(r));
  }

  #spawn(resampler: FfmpegResampler): void {
    if (this.#done) return;
    const options = this.#options;
    const child = spawnFfmpeg(options.ffmpegPath, options.input, options.sampleRate, options.channels, { resampler, ...(options.wav ? { wav: true } : {}) });
    this.#child = child;
    const stderr = new StderrTail();
    this.#stderr = stderr;
    child.on('error', (err) => this.#finish(spawnError(err, options.ffmpegPath)));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    child.stdout.on('data', (d: Buffer) => this.#take(d));
    child.on('close', (code, signal) => {
      if (this.#done) return;
      if (code !== 0 && resampler === 'soxr' && this.#frames === 0 && 'path' in options.input && resamplerMissing(stderr.text())) {
        noteFfmpegResampler(options.ffmpegPath, 'swr'); // an ffmpeg without libsoxr: read the file again with swr
        this.#spawn('swr');
      } else if (code === 0) this.#finish(undefined);
      else this.#finish(ffmpegFailure(code, signal, stderr.text(), options.name));
    });
    const stdin = child.stdin;
    if (!stdin) return;
    // EPIPE when ffmpeg gives up early: its exit status says why, so the write error itself adds nothing.
    stdin.on('error', () => undefined);
    const early = this.#early;
    this.#early = [];
    const held = this.#stdinFull.holding;
    let full = false;
    for (const data of early) full = !stdin.write(data);
    if (this.#earlyEnd) stdin.end();
    if (held) {
      if (full) stdin.once('drain', () => this.#stdinFull.release());
      else this.#stdinFull.release();
    }
  }

  /**
   * Write input bytes to ffmpeg's stdin (stdin input only). While stdin is full, `flow` (the input's) is held until
   * it drains.
   */
  write(data: Buffer, flow: FlowControl | undefined): void {
    if (this.#done || data.length === 0 || !('stdin' in this.#options.input)) return;
    const stdin = this.#child?.stdin;
    if (!stdin) {
      if (this.#child) return;
      this.#early.push(data);
      this.#stdinFull.hold(flow);
      return;
    }
    if (stdin.destroyed) return;
    if (!stdin.write(data) && flow && !this.#stdinFull.holding) {
      this.#stdinFull.hold(flow);
      stdin.once('drain', () => this.#stdinFull.release());
    }
  }

  /** No more input (stdin input only): ffmpeg finishes what it has and exits. */
  end(): void {
    if (this.#child) this.#child.stdin?.end();
    else this.#earlyEnd = true;
  }

  /** Stop now: SIGKILL ffmpeg, release every hold, report nothing more. */
  kill(): void {
    this.#done = true;
    this.#early = [];
    this.#stdinFull.release();
    const child = this.#child;
    if (!child) return;
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

  /**
   * One read of ffmpeg's stdout (as large as the pipe allows) becomes one chunk whose samples view its bytes; a
   * partial frame is carried. While the output flow is held, stdout is paused: the pipe fills and ffmpeg blocks.
   */
  #take(data: Buffer): void {
    if (this.#done) return;
    const bytes = this.#aligner.take(data);
    if (!bytes) return;
    const n = bytes.length / 2;
    // A view when the bytes are 2-byte aligned (reads from a pipe start an allocation of their own), else a copy.
    const samples = bytes.byteOffset % 2 === 0 ? new Int16Array(bytes.buffer, bytes.byteOffset, n) : new Int16Array(n);
    if (samples.buffer !== bytes.buffer) new Uint8Array(samples.buffer).set(bytes);
    const { sampleRate, channels } = this.#options;
    const out = this.#outFlow;
    const chunk: AudioChunk = { kind: 'audio', samples, sampleRate, channels, offset: this.#frames, ...(out ? { flow: out } : {}) };
    this.#frames += bytes.length / this.#frameBytes;
    this.#events.chunk(chunk);
    if (out?.paused && !this.#done) {
      const stdout = this.#child!.stdout;
      stdout.pause();
      void out.ready().then(() => {
        if (!this.#done) stdout.resume();
      });
    }
  }
}
