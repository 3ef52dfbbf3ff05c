/**
 * `fromMic()`: live audio from the machine's microphone, captured by the platform's usual tool (`arecord` on Linux,
 * else ffmpeg with PulseAudio or ALSA; ffmpeg with AVFoundation on macOS, DirectShow on Windows), or by any command
 * that writes raw signed 16-bit little-endian PCM to stdout.
 *
 * A microphone is a hot source: it cannot pause, so its chunks carry no FlowControl and the stages downstream bound
 * their own queues (transcribeRealtime fails loudly rather than dropping audio).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Observable } from 'rxjs';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';
import type { AudioChunk } from '../core/types.js';

/** Options of {@link fromMic}. */
export interface FromMicOptions {
  /** Capture rate (default 16000). */
  sampleRate?: number;
  /** Channels captured (default 1). */
  channels?: number;
  /** Length of each emitted chunk in ms (default 100). */
  chunkMs?: number;
  /** Capture device: an ALSA name (`default`, `hw:1,0`), a PulseAudio source, `:0` on macOS, a DirectShow name on Windows. */
  device?: string;
  /**
   * The capture command as argv (`[program, ...args]`); it must write raw s16le at `sampleRate`/`channels` to stdout.
   * Replaces the platform default (e.g. `['ffmpeg', '-re', '-i', 'talk.wav', '-f', 's16le', '-ar', '16000', '-ac', '1', '-']`).
   */
  command?: readonly string[];
  /** Fail with EARSHOT_MIC_FAILED if no audio arrives within this many ms (default 5000; 0 = wait forever). */
  startTimeoutMs?: number;
  /** Environment of the capture command (default `process.env`), also used to find programs on PATH. */
  env?: NodeJS.ProcessEnv;
  /**
   * Ends the capture cleanly: the command is stopped, every sample it delivered (a last partial chunk included) is
   * emitted, then the observable completes. (Unsubscribing instead drops what is not yet emitted: up to a chunk.)
   */
  signal?: AbortSignal;
}

/**
 * The capture command `fromMic()` runs by default on `platform`, given the programs found on PATH.
 *
 * @param options - rate, channels and device of the capture.
 * @param platform - the OS (default `process.platform`).
 * @param hasProgram - whether a program is on PATH (default: looked up in `process.env.PATH`).
 * @returns the argv of the capture command.
 * @throws EARSHOT_INVALID_ARGUMENT on Windows without a `device`.
 * @example
 * ```ts
 * defaultMicCommand({ sampleRate: 16000 }, 'linux', (p) => p === 'arecord');
 * // ['arecord', '-q', '-t', 'raw', '-f', 'S16_LE', '-r', '16000', '-c', '1']
 * ```
 */
export function defaultMicCommand(
  options: Pick<FromMicOptions, 'sampleRate' | 'channels' | 'device'> = {},
  platform: NodeJS.Platform = process.platform,
  hasProgram: (name: string) => boolean = (name) => onPath(name, process.env),
): string[] {
  const rate = String(options.sampleRate ?? 16000);
  const channels = String(options.channels ?? 1);
  const out = ['-f', 's16le', '-ar', rate, '-ac', channels, '-'];
  const ffmpeg = (format: string, input: string) => ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-f', format, '-i', input, ...out];
  if (platform === 'darwin') return ffmpeg('avfoundation', options.device ?? ':default');
  if (platform === 'win32') {
    if (!options.device) throw new InvalidArgumentError('fromMic on Windows needs { device } (a DirectShow audio device name) or { command }');
    return ffmpeg('dshow', `audio=${options.device}`);
  }
  if (hasProgram('arecord')) {
    return ['arecord', '-q', '-t', 'raw', '-f', 'S16_LE', '-r', rate, '-c', channels, ...(options.device ? ['-D', options.device] : [])];
  }
  if (hasProgram('pactl') || hasProgram('pulseaudio') || hasProgram('pipewire-pulse')) return ffmpeg('pulse', options.device ?? 'default');
  return ffmpeg('alsa', options.device ?? 'default');
}

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/**
 * Capture live audio from the microphone as 16-bit PCM chunks.
 *
 * Chunks are `chunkMs` long (the last one may be shorter), with `offset` counting frames from the start of the
 * capture. When the capture command exits cleanly, or after `signal` stopped it, the observable emits the audio left
 * and completes; unsubscribing stops the command at once.
 *
 * @param options - rate, channels, chunk length, device or a whole capture command.
 * @returns a hot observable of {@link AudioChunk}s (each subscription starts its own capture).
 * @throws EARSHOT_INVALID_ARGUMENT for bad options (at once); EARSHOT_MIC_FAILED when the capture tool is missing,
 *   exits with an error, or delivers no audio within `startTimeoutMs` (in the stream).
 * @example
 * ```ts
 * fromMic({ device: 'default' }).pipe(transcribeRealtime(local())).subscribe((e) => console.log(e.text));
 * ```
 */
export function fromMic(options: FromMicOptions = {}): Observable<AudioChunk> {
  const sampleRate = options.sampleRate ?? 16000;
  const channels = options.channels ?? 1;
  const chunkMs = options.chunkMs ?? 100;
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  if (!(Number.isInteger(sampleRate) && sampleRate >= 8000 && sampleRate <= 192000)) throw new InvalidArgumentError(`sampleRate must be an integer in [8000, 192000], got ${sampleRate}`);
  if (!(Number.isInteger(channels) && channels >= 1 && channels <= 8)) throw new InvalidArgumentError(`channels must be an integer in [1, 8], got ${channels}`);
  if (!(chunkMs >= 5 && chunkMs <= 5000)) throw new InvalidArgumentError(`chunkMs must be in [5, 5000], got ${chunkMs}`);
  if (options.command !== undefined && (options.command.length === 0 || !options.command[0])) throw new InvalidArgumentError('command must be a non-empty argv array');
  const env = options.env ?? process.env;
  const argv = options.command ? [...options.command] : defaultMicCommand({ sampleRate, channels, ...(options.device ? { device: options.device } : {}) }, process.platform, (n) => onPath(n, env));
  const program = argv[0]!;
  const chunkFrames = Math.max(1, Math.round((sampleRate * chunkMs) / 1000));

  return new Observable<AudioChunk>((subscriber) => {
    let child: ChildProcess | undefined;
    let finished = false;
    let offset = 0;
    let got = false;
    let stderrTail = '';
    const pending = new Int16Array(chunkFrames * channels);
    let filled = 0; // samples in `pending`
    let odd: number | undefined;
    /** `signal` asked the command to stop: however it exits, that is the end of the audio. */
    let stopping = false;

    const fail = (message: string, cause?: unknown) => {
      if (finished) return;
      finished = true;
      stop();
      subscriber.error(new EarshotError('EARSHOT_MIC_FAILED', message, cause === undefined ? {} : { cause }));
    };

    const emit = (count: number) => {
      const samples = pending.slice(0, count);
      subscriber.next({ kind: 'audio', samples, sampleRate, channels, offset });
      offset += count / channels;
    };

    const timer = startTimeoutMs > 0 ? setTimeout(() => fail(`no audio from ${program} within ${startTimeoutMs} ms${stderrTail ? `: ${lastLine(stderrTail)}` : ''}`), startTimeoutMs) : undefined;

    const stop = () => {
      clearTimeout(timer);
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        const hard = setTimeout(() => c.kill('SIGKILL'), 2000);
        hard.unref();
        c.once('exit', () => clearTimeout(hard));
      }
    };

    try {
      child = spawn(program, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
    } catch (cause) {
      fail(`could not start ${program}`, cause);
      return stop;
    }
    child.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ENOENT' ? `capture program not found: ${program}` : `${program} failed: ${err.message}`, err));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-2000);
    });
    child.stdout!.on('data', (data: Buffer) => {
      if (finished) return;
      if (!got) {
        got = true;
        clearTimeout(timer);
      }
      let i = 0;
      if (odd !== undefined) {
        if (data.length === 0) return;
        pending[filled++] = (((data[0]! << 8) | odd) << 16) >> 16;
        odd = undefined;
        i = 1;
        if (filled === pending.length) {
          emit(filled);
          filled = 0;
        }
      }
      for (; i + 1 < data.length; i += 2) {
        pending[filled++] = data.readInt16LE(i);
        if (filled === pending.length) {
          emit(filled);
          filled = 0;
          if (finished) return;
        }
      }
      if (i < data.length) odd = data[i];
    });
    child.on('close', (code, signal) => {
      if (finished) return;
      clearTimeout(timer);
      // Ctrl-C in a terminal reaches the capture command too (same process group): it may exit on SIGINT first.
      if (code === 0 || stopping || signal === 'SIGINT') {
        const whole = filled - (filled % channels);
        if (whole > 0) emit(whole);
        finished = true;
        child = undefined;
        subscriber.complete();
      } else {
        fail(`${program} exited with ${code === null ? `signal ${signal ?? '?'}` : `code ${code}`}${stderrTail ? `: ${lastLine(stderrTail)}` : ''}`);
      }
    });
    const onAbort = (): void => {
      if (finished) return;
      stopping = true;
      if (child) stop();
      else {
        finished = true;
        subscriber.complete();
      }
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    return () => {
      finished = true;
      options.signal?.removeEventListener('abort', onAbort);
      stop();
    };
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}
