/**
 * Audio behind the emulator's HTTP routes: fetch what a request points at (an http(s) URL, an `oss://` key uploaded
 * to the emulator's own storage, a base64 data URI), decode it with the system ffmpeg to 16 kHz mono s16, and
 * "recognise" it with the context's recogniser (the embedded engine) or its script.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { TranscriptEvent } from '../../core/types.js';
import type { Hotword } from '../../transports/transport.js';
import { probeChannels } from '../../media/ffmpeg.js';
import type { EmulatorContext } from '../context.js';
import { isAllowedHost, MAX_DOWNLOAD_BYTES } from '../limits.js';
import { stateOf } from './state.js';

/** Why audio could not be had, with the code each API reports for it. */
export class AudioFetchError extends Error {
  constructor(
    message: string,
    /** HTTP status of the download, when there was one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Decoded audio. */
/** Most channels the emulator keeps apart (the service's `channel_id` lists tracks of call recordings). */
const MAX_CHANNELS = 8;

export interface Pcm {
  /** The file mixed to mono. */
  samples: Int16Array;
  /** Each channel of the file on its own (one entry for a mono file). */
  channels: Int16Array[];
  sampleRate: 16000;
  durationMs: number;
  /** The source's codec and rate as ffprobe-ish facts (for result `properties`). */
  format: string;
  originalRate: number;
}

/**
 * The bytes a file URL points at.
 *
 * @throws AudioFetchError when the URL cannot be fetched, the oss key is unknown or bound to another model.
 */
export async function loadUrl(ctx: EmulatorContext, url: string, model: string, ossResolve: boolean): Promise<Buffer> {
  if (url.startsWith('oss://')) {
    const state = stateOf(ctx);
    const file = state.objects.get(url.slice('oss://'.length));
    if (!ossResolve) throw new AudioFetchError('oss:// URLs need the X-DashScope-OssResourceResolve: enable header', 400);
    if (!file) throw new AudioFetchError('the oss:// object does not exist', 404);
    if (file.model !== model) throw new AudioFetchError(`the oss:// object was uploaded for ${file.model}, not ${model}`, 400);
    return file.data;
  }
  if (url.startsWith('data:')) return decodeDataUri(url);
  if (!/^https?:\/\//.test(url)) throw new AudioFetchError(`not a valid URL: ${url.slice(0, 80)}`, 400);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new AudioFetchError(`not a valid URL: ${url.slice(0, 80)}`, 400);
  }
  if (!isAllowedHost(ctx, target)) {
    throw new AudioFetchError(`The audio file cannot be downloaded: the emulator fetches only from loopback or allowed hosts, not ${target.host} (allow it with --allow-host ${target.host})`, 403);
  }
  try {
    // No redirects (undici's default): a loopback URL cannot bounce the emulator to another machine.
    const res = await request(target, { method: 'GET', headersTimeout: 30_000, bodyTimeout: 30_000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new AudioFetchError(`download failed with HTTP ${res.statusCode}`, res.statusCode);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const piece of res.body as AsyncIterable<Buffer>) {
      size += piece.length;
      if (size > MAX_DOWNLOAD_BYTES) {
        res.body.destroy();
        throw new AudioFetchError(`The audio file is too large: over ${MAX_DOWNLOAD_BYTES / 1048576} MB`, 400);
      }
      parts.push(piece);
    }
    return Buffer.concat(parts);
  } catch (err) {
    if (err instanceof AudioFetchError) throw err;
    throw new AudioFetchError(`download failed: ${(err as Error).message}`);
  }
}

/** Bytes of a `data:<mime>;base64,<…>` URI. */
export function decodeDataUri(uri: string): Buffer {
  const comma = uri.indexOf(',');
  if (comma < 0 || !/;base64$/i.test(uri.slice(0, comma))) throw new AudioFetchError('the data URI is not base64', 400);
  return Buffer.from(uri.slice(comma + 1), 'base64');
}

/**
 * Decode any media ffmpeg reads to 16 kHz mono s16 (written to a temp file first: mp4/m4a need to seek).
 *
 * @throws AudioFetchError when ffmpeg cannot decode it.
 */
export async function decodeAudio(data: Buffer): Promise<Pcm> {
  const dir = await mkdtemp(join(tmpdir(), 'earshot-emu-'));
  const path = join(dir, 'input');
  try {
    await writeFile(path, data);
    let count = 1;
    try {
      count = Math.min(MAX_CHANNELS, await probeChannels(path));
    } catch {
      // Not media: ffmpeg below reports it as the service does.
    }
    const { pcm, stderr, code } = await new Promise<{ pcm: Buffer; stderr: string; code: number | null }>((resolve, reject) => {
      const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-i', path, '-f', 's16le', '-ar', '16000', '-ac', String(count), '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const parts: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => parts.push(d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8000)));
      child.on('error', reject);
      child.on('close', (c) => resolve({ pcm: Buffer.concat(parts), stderr: err, code: c }));
    });
    if (code !== 0) throw new AudioFetchError(`the audio cannot be decoded: ${stderr.trim().split('\n').pop() ?? ''}`, 400);
    const stream = /Stream #\d+:\d+.*?: Audio: (\w+)[^,]*, (\d+) Hz/.exec(stderr);
    const interleaved = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
    const frames = Math.floor(interleaved.length / count);
    const channels = Array.from({ length: count }, (_, c) => Int16Array.from({ length: frames }, (_, f) => interleaved[f * count + c]!));
    const samples = count === 1 ? channels[0]! : Int16Array.from({ length: frames }, (_, f) => Math.round(channels.reduce((sum, ch) => sum + ch[f]!, 0) / count));
    return { samples, channels, sampleRate: 16000, durationMs: Math.round((frames * 1000) / 16000), format: stream?.[1] ?? 'unknown', originalRate: Number(stream?.[2] ?? 16000) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Options a recognition run may carry. */
export interface RecogniseOptions {
  language?: string;
  hotwords?: readonly Hotword[];
  context?: string;
}

/**
 * Recognise decoded audio: the next scripted utterance (spanning the audio) in scripted mode, else the context's
 * recogniser. Every call counts in the emulator's statistics (so tests can prove nothing ran twice).
 *
 * @throws Error when there is neither a script nor a recogniser.
 */
export async function recognise(ctx: EmulatorContext, pcm: Pcm, options: RecogniseOptions = {}): Promise<TranscriptEvent[]> {
  const state = stateOf(ctx);
  state.stats.recognitions++;
  state.stats.audioMs += pcm.durationMs;
  if (ctx.faults.resultDelayMs) await new Promise((r) => setTimeout(r, ctx.faults.resultDelayMs));
  if (ctx.script && ctx.script.length > 0) {
    const utt = ctx.script[state.scriptIndex++ % ctx.script.length]!;
    if (utt.delayMs) await new Promise((r) => setTimeout(r, utt.delayMs));
    const event: TranscriptEvent = { type: 'final', text: utt.text, startMs: 0, endMs: pcm.durationMs };
    if (utt.emotion) event.emotion = utt.emotion;
    if (utt.language) event.language = utt.language;
    return [event];
  }
  const engine = ctx.recognizer;
  if (!engine?.transcribeClip) throw new Error('the emulator has no recogniser (no embedded engine and no script)');
  if (pcm.samples.length === 0) return [];
  const job: Parameters<NonNullable<typeof engine.transcribeClip>>[0] = { samples: pcm.samples, sampleRate: pcm.sampleRate, startMs: 0 };
  const opts: NonNullable<typeof job.options> = {};
  if (options.language) opts.language = options.language;
  if (options.hotwords?.length && engine.capabilities.hotwords) opts.hotwords = options.hotwords;
  if (options.context && engine.capabilities.context) opts.context = options.context;
  if (Object.keys(opts).length) job.options = opts;
  const events = await engine.transcribeClip(job);
  return events.filter((e) => e.type === 'final' && e.text.trim() !== '');
}
