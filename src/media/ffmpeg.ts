/**
 * Every ffmpeg and ffprobe the product runs is spawned here, and their failures become coded errors here (one
 * classification): decoding to s16le ({@link spawnFfmpeg}), running a tool to completion ({@link runFfmpegTool}:
 * re-encoding with {@link transcodeFile}, probing with {@link probeDurationMs}).
 *
 * `child_process.spawn` is used directly rather than prism-media's FFmpeg: decode() needs ffmpeg's stderr (for the
 * error's `details`), its exit code and signal (to tell a corrupt input from a crash), its pid (to be sure it is
 * gone), and `-i <path>` for seekable inputs, while prism-media always reads stdin, discards stderr and probes
 * `ffmpeg -h` synchronously on first use.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AbortError, InputError, type EarshotError, type ErrorCode } from '../core/errors.js';

/** Where ffmpeg reads from: a file path (seekable: MP4/M4A work) or its stdin. */
export type FfmpegInput =
  | { path: string }
  | {
      stdin: true;
      rawFormat?: { format: string; sampleRate: number; channels: number };
      /**
       * The container ffmpeg must read (`-f`, e.g. `mp3`, `ogg`) instead of guessing it from the bytes. Such a stream
       * may be live, so nothing is buffered to analyse it (`-probesize 32 -analyzeduration 0`): the first PCM comes
       * ~0.1 s after the first bytes instead of 1–4 s (mp3, ADTS AAC), and no packet is lost (unlike `-fflags nobuffer`).
       */
      container?: string;
    };

/** A running ffmpeg decoding to interleaved s16le on stdout. */
export type FfmpegProcess = ChildProcessByStdio<Writable | null, Readable, Readable>;

/** Options of {@link spawnFfmpeg}. */
export interface SpawnFfmpegOptions {
  /**
   * Fill gaps in the input's timestamps with silence (`aresample=async=1`), so the output's time is the input's:
   * AMR-NB comfort-noise frames (DTX), which ffmpeg's decoder drops, would otherwise shorten every pause.
   */
  fillGaps?: boolean;
  /**
   * The rate converter (see {@link FfmpegResampler}); without it ffmpeg's default, whose 4 %-wide transition band
   * lets a 48 kHz → 16 kHz conversion fold 8.8 kHz back into the band at −43 dB.
   */
  resampler?: FfmpegResampler;
  /**
   * The input file is a RIFF/RF64 WAV (parsed already): read it as one, in 32 KiB packets instead of 4 KiB (ffmpeg's
   * cost per packet is more than the conversion's: a 48 kHz WAV to 16 kHz takes ~30 % less CPU). Path input only:
   * from a pipe, which may be live, each packet would wait for 32 KiB.
   */
  wav?: boolean;
}

/**
 * How ffmpeg converts the rate: `'soxr'` (libsoxr, 16-bit precision: flat to 7 kHz and > 90 dB rejection above
 * 8 kHz when making 16 kHz, at less CPU than ffmpeg's default) where the build has it, else `'swr'` (ffmpeg's own
 * resampler with a longer, steeper filter than its default: the same rejection, ~20 % more CPU than its default).
 * Both are deterministic and give the same samples however the input is cut into packets.
 */
export type FfmpegResampler = 'soxr' | 'swr';

// Both convert in float: with s16 in and out, soxr dithers (random: two runs differ) and costs ~25 % more.
const RESAMPLER_ARGS: Record<FfmpegResampler, string> = {
  soxr: 'resampler=soxr:precision=16:internal_sample_fmt=fltp',
  swr: 'internal_sample_fmt=fltp:filter_size=64:cutoff=0.92:kaiser_beta=10',
};
/** Bytes per packet ffmpeg's WAV demuxer reads with {@link SpawnFfmpegOptions.wav} (its default is 4096). */
const WAV_PACKET_BYTES = 32768;

const resamplers = new Map<string, FfmpegResampler>();
const probing = new Map<string, Promise<FfmpegResampler>>();

/**
 * The best {@link FfmpegResampler} of the ffmpeg at `ffmpegPath`: one short run (a few ms of generated silence
 * through soxr, ~50 ms of CPU) the first time for each path, remembered for the process. Decoding a file needs no
 * probe (it is re-read with `'swr'` when soxr turns out missing); a pipe, which cannot be re-read, does.
 *
 * @returns `'soxr'` when that run succeeds, else `'swr'` (a missing ffmpeg too: the real spawn reports it).
 * @example
 * ```ts
 * const resampler = await ffmpegResampler('ffmpeg'); // 'soxr' on most builds
 * spawnFfmpeg('ffmpeg', { path: 'talk.mp3' }, 16000, 1, { resampler });
 * ```
 */
export function ffmpegResampler(ffmpegPath: string): Promise<FfmpegResampler> {
  const known = resamplers.get(ffmpegPath);
  if (known) return Promise.resolve(known);
  let p = probing.get(ffmpegPath);
  if (!p) {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=mono', '-t', '0.01', '-af', `aresample=${RESAMPLER_ARGS.soxr}`, '-ar', '16000', '-f', 'null', '-'];
    p = runFfmpegTool(ffmpegPath, args, { path: 'anullsrc', action: 'resample' }).then(
      (): FfmpegResampler => 'soxr',
      (err: unknown): FfmpegResampler | undefined => ((err as { code?: unknown }).code === 'EARSHOT_FFMPEG_MISSING' ? undefined : 'swr'),
    ).then((found) => {
      probing.delete(ffmpegPath);
      // An ffmpeg that cannot be run now may be installed later: only an answer of the program itself is kept.
      if (found) noteFfmpegResampler(ffmpegPath, found);
      return found ?? 'swr';
    });
    probing.set(ffmpegPath, p);
  }
  return p;
}

/** The resampler of {@link ffmpegResampler} when already known for `ffmpegPath` (no run), else undefined. */
export function knownFfmpegResampler(ffmpegPath: string): FfmpegResampler | undefined {
  return resamplers.get(ffmpegPath);
}

/**
 * True when ffmpeg's stderr says the resampler asked for is not in this build (an ffmpeg without libsoxr); the
 * caller retries with `'swr'` after {@link noteFfmpegResampler}.
 *
 * @example
 * ```ts
 * resamplerMissing('[SWR @ 0x55d] Requested resampling engine is unavailable'); // true
 * ```
 */
export function resamplerMissing(stderr: string): boolean {
  return /resampling engine is unavailable/i.test(stderr);
}

/** Remember what a real run showed about `ffmpegPath` (so that later decoders need no probe). */
export function noteFfmpegResampler(ffmpegPath: string, resampler: FfmpegResampler): void {
  resamplers.set(ffmpegPath, resampler);
}

/**
 * Spawn ffmpeg to decode `input` to s16le at `sampleRate` / `channels` on its stdout.
 * Errors of the spawn itself arrive as the child's 'error' event (see {@link spawnError}).
 */
export function spawnFfmpeg(ffmpegPath: string, input: FfmpegInput, sampleRate: number, channels: number, options: SpawnFfmpegOptions = {}): FfmpegProcess {
  const args = ['-hide_banner', '-nostats', '-loglevel', 'error'];
  if ('path' in input) args.push('-nostdin', ...(options.wav ? ['-f', 'wav', '-max_size', String(WAV_PACKET_BYTES)] : []), '-i', input.path);
  else {
    if (input.rawFormat) args.push('-f', input.rawFormat.format, '-ar', String(input.rawFormat.sampleRate), '-ac', String(input.rawFormat.channels));
    else if (input.container) args.push('-probesize', '32', '-analyzeduration', '0', '-f', input.container);
    args.push('-i', 'pipe:0');
  }
  const filter = [...(options.fillGaps ? ['async=1'] : []), ...(options.resampler ? [RESAMPLER_ARGS[options.resampler]] : [])];
  if (filter.length > 0) args.push('-af', `aresample=${filter.join(':')}`);
  args.push('-vn', '-sn', '-dn', '-f', 's16le', '-acodec', 'pcm_s16le', '-ar', String(sampleRate), '-ac', String(channels));
  // A file is read as fast as allowed: let ffmpeg fill its 32 KiB output buffer instead of writing every packet
  // (hundreds of bytes) on its own, which costs a syscall and a JS chunk each. Piped input may be live, so there
  // every packet is passed on at once.
  if ('path' in input) args.push('-flush_packets', '0');
  args.push('pipe:1');
  return spawn(ffmpegPath, args, { stdio: ['path' in input ? 'ignore' : 'pipe', 'pipe', 'pipe'], windowsHide: true }) as FfmpegProcess;
}

/** Keeps the last `max` characters of ffmpeg's stderr. */
export class StderrTail {
  #text = '';
  constructor(private readonly max = 4000) {}
  push(data: Buffer | string): void {
    this.#text += data.toString();
    if (this.#text.length > this.max * 2) this.#text = this.#text.slice(-this.max);
  }
  /** The tail, with every occurrence of `path` (and its directory) replaced by the file's base name. */
  text(path?: string): string {
    let t = this.#text.slice(-this.max);
    if (path) t = t.split(path).join(basename(path));
    return t.trim();
  }
}

const CORRUPT = /Invalid data found|Failed to read frame|Decoder requires|Invalid argument|could not find codec parameters|moov atom not found|Header missing|invalid frame|Error while decoding|no frame|End of file|Truncating|incomplete|corrupt/i;
/** What ffmpeg says when its input has streams, none of them audio (a silent video, an image). */
const NO_AUDIO = /does not contain any stream|matches no streams/i;
const UNSUPPORTED = new RegExp(`not supported|Unsupported|unknown codec|Decoder \\S+ not found|Decoder \\(codec [^)]*\\) not found|Unknown input format|${NO_AUDIO.source}|no decoder`, 'i');

/**
 * What ffmpeg's stderr says went wrong: an unsupported or a corrupt input, or undefined when it says neither.
 *
 * @example
 * ```ts
 * classifyStderr('pipe:0: Invalid data found when processing input'); // 'EARSHOT_CORRUPT_INPUT'
 * ```
 */
export function classifyStderr(stderr: string): 'EARSHOT_UNSUPPORTED_FORMAT' | 'EARSHOT_CORRUPT_INPUT' | undefined {
  if (UNSUPPORTED.test(stderr)) return 'EARSHOT_UNSUPPORTED_FORMAT';
  if (CORRUPT.test(stderr)) return 'EARSHOT_CORRUPT_INPUT';
  return undefined;
}

function lastLine(stderr: string): string {
  return stderr.split('\n').filter((l) => l.trim()).pop() ?? '';
}

/**
 * The coded error for an ffmpeg (or ffprobe) that exited with `code` / `signal`, from its stderr tail:
 * EARSHOT_UNSUPPORTED_FORMAT or EARSHOT_CORRUPT_INPUT when stderr says so, else EARSHOT_DECODE_FAILED.
 *
 * @param action - what it was asked to do, for the message (default `'decode'`).
 * @param program - its name, for the message (default `'ffmpeg'`).
 */
export function ffmpegFailure(code: number | null, signal: NodeJS.Signals | null, stderr: string, name: string, action = 'decode', program = 'ffmpeg'): InputError {
  const errorCode: ErrorCode = (signal === null ? classifyStderr(stderr) : undefined) ?? 'EARSHOT_DECODE_FAILED';
  const last = lastLine(stderr);
  const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const what =
    errorCode === 'EARSHOT_CORRUPT_INPUT'
      ? 'not audio, or damaged: '
      : errorCode === 'EARSHOT_UNSUPPORTED_FORMAT'
        ? NO_AUDIO.test(stderr)
          ? 'it has no audio stream (a video or image only?): '
          : 'a format it cannot decode: '
        : '';
  return new InputError(errorCode, `${program} could not ${action} ${name}: ${what}${why}${last ? ` (${last.slice(0, 200)})` : ''}`, {
    details: { file: name, exitCode: code, signal, stderr },
  });
}

/**
 * The coded error for an ffmpeg that exited 0 without producing any audio: EARSHOT_CORRUPT_INPUT or
 * EARSHOT_UNSUPPORTED_FORMAT when its stderr says why (ffmpeg exits 0 when the input opened but no packet could be
 * read, e.g. an MP4 whose index sits after the audio, read from a pipe: the message then says to give its path), else
 * EARSHOT_EMPTY_INPUT.
 *
 * @example
 * ```ts
 * noAudioError('stream 0, offset 0x2c: partial file\npipe:0: Invalid data found when processing input', 'talk.m4a').code; // 'EARSHOT_CORRUPT_INPUT'
 * ```
 */
export function noAudioError(stderr: string, name: string): InputError {
  const code = classifyStderr(stderr);
  const last = lastLine(stderr);
  if (!code) return new InputError('EARSHOT_EMPTY_INPUT', `${name} holds no audio`, { details: { file: name, stderr } });
  if (/\[mov,mp4[^\]]*\][^\n]*partial file/.test(stderr)) {
    // ffmpeg reached the audio before the index (moov) that says where it is: only a seekable input can be read
    const why = 'an MP4/M4A whose index comes after its audio cannot be read from a pipe: give its path instead';
    return new InputError(code, `${name}: ${why} (or move the index first: ffmpeg -i in.m4a -c copy -movflags +faststart out.m4a)`, { details: { file: name, exitCode: 0, stderr } });
  }
  return new InputError(code, `ffmpeg found no audio in ${name}${last ? ` (${last.slice(0, 200)})` : ''}`, { details: { file: name, exitCode: 0, stderr } });
}

/**
 * The coded error for a failed spawn of ffmpeg or ffprobe (`programPath`): EARSHOT_FFMPEG_MISSING when it is missing
 * or not executable, else EARSHOT_DECODE_FAILED.
 *
 * @example
 * ```ts
 * child.on('error', (err) => reject(spawnError(err, 'ffprobe')));
 * ```
 */
export function spawnError(err: unknown, programPath: string): InputError {
  const errno = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
  const program = basename(programPath);
  if (errno === 'ENOENT' || errno === 'EACCES') {
    return new InputError('EARSHOT_FFMPEG_MISSING', `cannot run ${program} (${errno}); install ffmpeg (it comes with ffprobe) or pass its path`, { cause: err, details: { errno, program } });
  }
  return new InputError('EARSHOT_DECODE_FAILED', `cannot start ${program}: ${errno ?? 'spawn failed'}`, { cause: err, details: { errno, program } });
}

/** What {@link runFfmpegTool} runs on, for messages and for keeping paths out of them. */
export interface ToolTarget {
  /** The input's path or URL: reduced to its base name in stderr and messages. */
  path: string;
  /** What the tool was asked to do, for the message (`'re-encode'`, `'read'`). */
  action: string;
  /** Cancels the run: the tool is killed (SIGKILL) and the promise rejects with EARSHOT_ABORTED. */
  signal?: AbortSignal;
}

/**
 * Run ffmpeg or ffprobe to the end and resolve its stdout (UTF-8).
 *
 * @param programPath - `'ffmpeg'`, `'ffprobe'` or a path to one.
 * @param args - its arguments (stdin is closed).
 * @param target - the input, the action and the abort signal.
 * @throws EARSHOT_FFMPEG_MISSING (cannot be run), EARSHOT_ABORTED, and on a non-zero exit the codes of
 *   {@link ffmpegFailure} (EARSHOT_UNSUPPORTED_FORMAT, EARSHOT_CORRUPT_INPUT, EARSHOT_DECODE_FAILED).
 * @example
 * ```ts
 * await runFfmpegTool('ffmpeg', ['-i', 'in.mp3', '-y', 'out.wav'], { path: 'in.mp3', action: 're-encode' });
 * ```
 */
export function runFfmpegTool(programPath: string, args: readonly string[], target: ToolTarget): Promise<string> {
  const { signal } = target;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise((resolve, reject) => {
    const child = spawn(programPath, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const stderr = new StderrTail();
    let out = '';
    let settled = false;
    const settle = (err: EarshotError | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(out);
    };
    const onAbort = (): void => {
      child.kill('SIGKILL');
      settle(new AbortError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    child.on('error', (err) => settle(spawnError(err, programPath)));
    child.on('close', (code, sig) => {
      if (code === 0) settle(undefined);
      else settle(ffmpegFailure(code, sig, stderr.text(), target.path, target.action, basename(programPath)));
    });
  });
}

/**
 * Re-encode `from` into `to` with ffmpeg (`codecArgs` between input and output, e.g. codec and bit rate).
 *
 * @param options - `signal` cancels (ffmpeg is killed); `ffmpegPath` (default `'ffmpeg'` on PATH).
 * @throws as {@link runFfmpegTool}.
 * @example
 * ```ts
 * await transcodeFile('talk.wav', 'talk.ogg', ['-ac', '1', '-c:a', 'libopus', '-b:a', '24k']);
 * ```
 */
export async function transcodeFile(from: string, to: string, codecArgs: readonly string[], options: { signal?: AbortSignal; ffmpegPath?: string } = {}): Promise<void> {
  await runFfmpegTool(options.ffmpegPath ?? 'ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', from, '-vn', ...codecArgs, '-y', to], {
    path: from,
    action: 're-encode',
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Duration of a media file (or URL) in ms, read by ffprobe from its container.
 *
 * @param options - `signal` cancels; `ffprobePath` (default `'ffprobe'` on PATH).
 * @throws as {@link runFfmpegTool} (EARSHOT_CORRUPT_INPUT for a file that is not media), and
 *   EARSHOT_DECODE_FAILED when the container states no duration.
 * @example
 * ```ts
 * const ms = await probeDurationMs('meeting.mp3'); // 320000
 * ```
 */
export async function probeDurationMs(path: string, options: { signal?: AbortSignal; ffprobePath?: string } = {}): Promise<number> {
  const out = await runFfmpegTool(options.ffprobePath ?? 'ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', path], {
    path,
    action: 'read',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const seconds = Number.parseFloat(out.trim());
  if (!Number.isFinite(seconds)) throw new InputError('EARSHOT_DECODE_FAILED', `ffprobe found no duration in ${path}`, { details: { file: path } });
  return Math.round(seconds * 1000);
}

/**
 * Number of channels of a file's first audio stream (ffprobe).
 *
 * @param path - A local file.
 * @param options - `signal` cancels; `ffprobePath` (default `'ffprobe'` on PATH).
 * @throws as {@link runFfmpegTool} (EARSHOT_CORRUPT_INPUT for a file that is not media), and
 *   EARSHOT_DECODE_FAILED when the file has no audio stream.
 * @example
 * ```ts
 * await probeChannels('call.wav'); // 2
 * ```
 */
export async function probeChannels(path: string, options: { signal?: AbortSignal; ffprobePath?: string } = {}): Promise<number> {
  const out = await runFfmpegTool(options.ffprobePath ?? 'ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=channels', '-of', 'default=nw=1:nk=1', path], {
    path,
    action: 'read',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const channels = Number.parseInt(out.trim(), 10);
  if (!Number.isInteger(channels) || channels < 1) throw new InputError('EARSHOT_DECODE_FAILED', `ffprobe found no audio stream in ${basename(path)}`, { details: { file: basename(path) } });
  return channels;
}
