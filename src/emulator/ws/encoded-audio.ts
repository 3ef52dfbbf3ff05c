/**
 * Compressed audio on the inference protocol (protocol notes §2.2: `mp3`, `opus` and `speex` in Ogg, ADTS `aac`, AMR-NB
 * `amr`): one streaming ffmpeg per task decodes the task's binary frames, taken as one continuous stream, to mono
 * s16le at the task's sample rate.
 */
import { FlowControl } from '../../core/flow.js';
import { InputError, InvalidArgumentError } from '../../core/errors.js';
import { ffmpegFailure, spawnError, spawnFfmpeg, StderrTail, type FfmpegProcess } from '../../media/ffmpeg.js';
import { PcmReader } from './common.js';

/** The `format` values decoded through ffmpeg, each with the container ffmpeg is told to read (never guessed). */
export const ENCODED_FORMATS: ReadonlyMap<string, string> = new Map([
  ['mp3', 'mp3'],
  ['opus', 'ogg'],
  ['speex', 'ogg'],
  ['aac', 'aac'],
  ['amr', 'amr'],
]);

/** Options of {@link EncodedAudioStream}. */
export interface EncodedAudioOptions {
  /** One of {@link ENCODED_FORMATS}' keys. */
  format: string;
  /** Rate of the PCM out, Hz (ffmpeg resamples whatever the stream holds). */
  sampleRate: number;
  /** Decoded audio, in order (mono s16le at `sampleRate`). */
  onPcm(samples: Int16Array): void;
  /**
   * ffmpeg failed before {@link EncodedAudioStream.end} was called. `origin` is `'audio'` when the bytes could not
   * be decoded, `'server'` when ffmpeg could not run.
   */
  onError(error: InputError, origin: 'audio' | 'server'): void;
  /** The ffmpeg executable (default `'ffmpeg'` on PATH). */
  ffmpegPath?: string;
}

/**
 * A streaming decoder of one task's compressed audio. ffmpeg starts with the first bytes written (a task that sends
 * none costs no process); its stdin takes the frames as they arrive, its stdout is read while no output hold is
 * active, so a slow consumer stops ffmpeg, which stops taking input, which makes {@link write} return false.
 *
 * @example
 * ```ts
 * const dec = new EncodedAudioStream({ format: 'mp3', sampleRate: 16000, onPcm: (s) => rec.write(s), onError: (e) => fail(e) });
 * if (!dec.write(frame)) await dec.drained();
 * if (await dec.end()) await rec.flush();
 * ```
 */
export class EncodedAudioStream {
  readonly #options: EncodedAudioOptions;
  readonly #out = new FlowControl();
  readonly #reader = new PcmReader();
  readonly #stderr = new StderrTail();
  #child: FfmpegProcess | undefined;
  #bytes = 0;
  #frames = 0;
  #waiting = false;
  /** Set once ffmpeg has exited (or failed to start) or the stream was closed: nothing more is delivered. */
  #done = false;
  #ending = false;
  #endWaiters: Array<(ok: boolean) => void> = [];

  /**
   * @param options - see {@link EncodedAudioOptions}.
   * @throws EARSHOT_INVALID_ARGUMENT (synchronously) for a format outside {@link ENCODED_FORMATS} or a bad rate.
   */
  constructor(options: EncodedAudioOptions) {
    if (!ENCODED_FORMATS.has(options.format)) throw new InvalidArgumentError(`not an encoded audio format: ${options.format}`, { details: { format: options.format } });
    if (!Number.isInteger(options.sampleRate) || options.sampleRate < 1) throw new InvalidArgumentError('sampleRate must be a positive integer', { details: { sampleRate: options.sampleRate } });
    this.#options = options;
  }

  /** ffmpeg's process id while it runs (undefined before the first bytes and after it is gone). */
  get pid(): number | undefined {
    const c = this.#child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  /** Frames of PCM delivered so far. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Feed the next bytes of the stream. Returns false when ffmpeg's stdin is full: wait for {@link drained} before
   * feeding more (bytes given anyway are buffered, not lost). Ignored after {@link end} or {@link close}.
   */
  write(bytes: Buffer): boolean {
    if (this.#done || this.#ending || bytes.length === 0) return true;
    const stdin = (this.#child ?? this.#start()).stdin;
    if (!stdin || stdin.destroyed) return true;
    this.#bytes += bytes.length;
    return stdin.write(bytes);
  }

  /** Resolves when ffmpeg's stdin has room again, or at once when it has room, ended or is gone. */
  drained(): Promise<void> {
    const stdin = this.#child?.stdin;
    if (!stdin || this.#done || !stdin.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        resolve();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
    });
  }

  /** Stop reading ffmpeg's output (and so, soon, its input) until the returned function is called. */
  holdOutput(): () => void {
    return this.#out.hold();
  }

  /**
   * End of the stream: closes ffmpeg's stdin and resolves once ffmpeg has delivered its last PCM and exited, true if
   * it decoded the stream, false if it failed (the failure then goes to `onError`, as if it came before) or the
   * stream was closed meanwhile. A stream that was never written to resolves true at once.
   */
  end(): Promise<boolean> {
    if (!this.#child && !this.#done) {
      this.#done = true;
      return Promise.resolve(true);
    }
    if (this.#done) return Promise.resolve(false);
    this.#ending = true;
    this.#child?.stdin?.end();
    return new Promise((resolve) => this.#endWaiters.push(resolve));
  }

  /** Stop at once: ffmpeg is killed (SIGKILL), nothing more is delivered, a pending {@link end} resolves false. */
  close(): void {
    if (this.#done && !this.#child) return;
    this.#finish(false);
    const c = this.#child;
    if (!c) return;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    c.stdin?.destroy();
    c.stdout.destroy();
    c.stderr.destroy();
  }

  #start(): FfmpegProcess {
    const { format, sampleRate, ffmpegPath = 'ffmpeg' } = this.#options;
    // Gaps filled: the PCM's time must stay the client's (word times), whatever the stream leaves out (AMR DTX).
    const child = spawnFfmpeg(ffmpegPath, { stdin: true, container: ENCODED_FORMATS.get(format)! }, sampleRate, 1, { fillGaps: true });
    this.#child = child;
    child.on('error', (err) => this.#fail(spawnError(err, ffmpegPath), 'server'));
    child.stderr.on('data', (d: Buffer) => this.#stderr.push(d));
    // EPIPE when ffmpeg gives up early: its exit status says why, so the write error itself adds nothing.
    child.stdin?.on('error', () => undefined);
    child.stdout.on('readable', () => this.#pump());
    child.on('close', (code, signal) => {
      if (this.#done) return;
      this.#pump();
      if (code !== 0) this.#fail(ffmpegFailure(code, signal, this.#stderr.text(), `the ${format} stream`), 'audio');
      else if (this.#frames === 0) this.#fail(new InputError('EARSHOT_EMPTY_INPUT', `the ${format} stream holds no audio (${this.#bytes} bytes, nothing decoded)`, { details: { format, bytes: this.#bytes, stderr: this.#stderr.text() } }), 'audio');
      else this.#finish(true);
    });
    return child;
  }

  /** Paused-mode reading: everything buffered is handed over at once; nothing is read while the output is held. */
  #pump(): void {
    const stdout = this.#child?.stdout;
    if (this.#waiting || !stdout) return;
    let data: Buffer | null;
    while (!this.#done && (data = stdout.read() as Buffer | null) !== null) {
      const samples = this.#reader.read(data);
      if (samples.length > 0) {
        this.#frames += samples.length;
        this.#options.onPcm(samples);
      }
      if (this.#out.paused && !this.#done) {
        this.#waiting = true;
        void this.#out.ready().then(() => {
          this.#waiting = false;
          this.#pump();
        });
        return;
      }
    }
  }

  #fail(error: InputError, origin: 'audio' | 'server'): void {
    if (this.#done) return;
    this.#finish(false);
    this.#options.onError(error, origin);
  }

  #finish(ok: boolean): void {
    this.#done = true;
    const waiters = this.#endWaiters;
    this.#endWaiters = [];
    for (const w of waiters) w(ok);
  }
}
