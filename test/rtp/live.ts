/** Shared helpers for the live RTP tests: ffmpeg as a real RTP sender, transcription of a stream or a file. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { filter, firstValueFrom, lastValueFrom, mergeMap, tap, toArray, type Observable } from 'rxjs';
import type { AudioChunk, TranscriptEvent, Word } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { fixedChunk } from '../../src/operators/fixed-chunk.js';
import { resample } from '../../src/operators/resample.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { fromFile } from '../../src/sources/file.js';
import { fromRtp, type RtpStats } from '../../src/sources/rtp.js';
import type { PayloadMapping } from '../../src/rtp/codecs.js';
import type { Transport } from '../../src/transports/transport.js';

export type SenderCodec = 'pcmu' | 'pcma' | 'opus';

/** ffmpeg encoder arguments per codec, with 20 ms packets like a real gateway or browser. */
export function senderArgs(codec: SenderCodec): string[] {
  if (codec === 'opus') return ['-ac', '1', '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip'];
  return ['-ar', '8000', '-ac', '1', '-c:a', codec === 'pcmu' ? 'pcm_mulaw' : 'pcm_alaw'];
}

/** The same encoding written to a file instead of RTP: the baseline an RTP path should match. */
export function encodeFile(input: string, codec: SenderCodec): string {
  const out = `${input}.${codec}.${codec === 'opus' ? 'ogg' : 'wav'}`;
  if (!existsSync(out)) execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', input, ...senderArgs(codec), '-y', out]);
  return out;
}

export interface Finals {
  events: TranscriptEvent[];
  text: string;
  words: Word[];
}

export function finalsOf(events: TranscriptEvent[]): Finals {
  const finals = events.filter((e) => e.type === 'final');
  return { events: finals, text: finals.map((e) => e.text).join(' '), words: finals.flatMap((e) => e.words ?? []) };
}

/**
 * Audio → 16 kHz → 100 ms writes → a live session. The engine's result depends a little on how audio is cut into
 * writes, so every path under comparison writes the same 100 ms pieces: equal audio then gives equal text.
 */
export function toFinals(engine: Transport): (audio$: Observable<AudioChunk>) => Observable<TranscriptEvent> {
  return (audio$) => audio$.pipe(resample(16000), fixedChunk({ chunkMs: 100 }), transcribe(engine, { partials: false }), filter((e) => e.type === 'final'));
}

/** Transcribe audio with a live session (see {@link toFinals}). */
export async function transcribeAudio(audio$: Observable<AudioChunk>, engine: Transport): Promise<Finals> {
  return finalsOf(await lastValueFrom(audio$.pipe(toFinals(engine), toArray())));
}

/** Transcribe a file: decode at `rate` (the codec's own rate, as the RTP path has it), then as {@link toFinals}. */
export function transcribeFile(path: string, engine: Transport, rate = 16000): Promise<Finals> {
  return transcribeAudio(fromFile(path).pipe(decode({ sampleRate: rate, channels: 1 })), engine);
}

export interface LiveRun extends Finals {
  /** The decoded audio as received (codec rate). */
  audio: AudioChunk[];
  frames: number;
  sampleRate: number;
  stats: RtpStats;
  sdp: string;
}

/**
 * Stream `input` with `ffmpeg -re … -f rtp` to a fromRtp socket on a free port and transcribe what arrives.
 * Resolves when the stream has gone idle after ffmpeg exits.
 */
export async function sendAndTranscribe(input: string, codec: SenderCodec, engine: Transport, payloads: Record<number, PayloadMapping> = {}): Promise<LiveRun> {
  let ffmpeg: ChildProcess | undefined;
  let sdp = '';
  let frames = 0;
  let sampleRate = 0;
  const audio: AudioChunk[] = [];
  const source = fromRtp({
    port: 0,
    payloads,
    idleTimeoutMs: 800,
    onListening: ({ port }) => {
      ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', input, ...senderArgs(codec), '-f', 'rtp', `rtp://127.0.0.1:${port}?rtcpport=${port}&pkt_size=172`], { stdio: ['ignore', 'pipe', 'inherit'] });
      ffmpeg.stdout!.on('data', (d: Buffer) => (sdp += d.toString()));
    },
  });
  try {
    const events = await firstValueFrom(
      source.pipe(
        mergeMap((s) => {
          sampleRate = s.sampleRate;
          return s.audio$.pipe(
            tap((c) => {
              frames += c.samples.length;
              audio.push(c);
            }),
            toFinals(engine),
            toArray(),
          );
        }),
      ),
    );
    return { ...finalsOf(events), audio, frames, sampleRate, stats: source.stats(), sdp };
  } finally {
    ffmpeg?.kill('SIGKILL');
  }
}

/** Pair the words two transcripts share (longest common subsequence on text) and return start-time differences. */
export function wordTimeDiffs(a: readonly Word[], b: readonly Word[]): number[] {
  const n = a.length;
  const m = b.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i]![j] = a[i]!.text === b[j]!.text ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
  const diffs: number[] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i]!.text === b[j]!.text) {
      diffs.push(b[j]!.startMs - a[i]!.startMs);
      i++;
      j++;
    } else if (L[i + 1]![j]! >= L[i]![j + 1]!) i++;
    else j++;
  }
  return diffs;
}

/** Decode a file with ffmpeg to mono s16le at `rate`. */
export function ffmpegPcm(path: string, rate: number): Int16Array {
  const buf = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, '-ac', '1', '-ar', String(rate), '-f', 's16le', 'pipe:1'], { maxBuffer: 1 << 28 });
  return new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
}

/**
 * For each word of `a`, the start-time difference to the nearest word of `b` with the same text within `radiusMs`
 * (words the other transcript lacks there are left out). Immune to LCS pairing a word with the wrong repeat.
 */
export function nearestWordDiffs(a: readonly Word[], b: readonly Word[], radiusMs = 1000): number[] {
  const out: number[] = [];
  for (const w of a) {
    let best = Infinity;
    for (const v of b) if (v.text === w.text && Math.abs(v.startMs - w.startMs) < Math.abs(best)) best = v.startMs - w.startMs;
    if (Math.abs(best) <= radiusMs) out.push(best);
  }
  return out;
}
