/**
 * Test speech made with flite voices through ffmpeg, and WER scored with NIST sclite against the text it was
 * made from. Files are cached under .tmp/speech (keyed by their recipe) so a suite makes each one once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const CACHE_DIR = resolve(process.cwd(), '.tmp/speech');

/** Ten-plus plain sentences in everyday words (what a US-English n-gram model knows). */
export const SENTENCES = [
  'the weather will be cold and windy tomorrow morning',
  'please send the report to my office before noon',
  'we need to buy some milk and bread on the way home',
  'the train to the city leaves every hour',
  'she opened the door and walked into the room',
  'they played football in the park after school',
  'i would like a cup of coffee with sugar',
  'the meeting has been moved to next tuesday',
  'he read the newspaper while waiting for the bus',
  'our company plans to open a new store in the spring',
  'the children were happy to see the snow',
  'can you tell me how to get to the station',
];

export type Voice = 'slt' | 'rms' | 'awb' | 'kal16' | 'kal';

export interface Segment {
  text: string;
  voice: Voice;
  /** Where the synthesised clip starts and ends (flite pads it with some silence of its own). */
  startMs: number;
  endMs: number;
  /** Where the voice is actually heard in the clip: first and last 10 ms frame above -50 dBFS. */
  voicedStartMs: number;
  voicedEndMs: number;
}

/** First and last 10 ms frame of mono s16le louder than -50 dBFS, in ms from the start of `pcm`. */
export function voicedSpan(pcm: Buffer, rate: number): { startMs: number; endMs: number } {
  const frame = Math.round(rate / 100);
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
  const threshold = 32768 * 10 ** (-50 / 20);
  let first = -1;
  let last = -1;
  for (let f = 0; f * frame < samples.length; f++) {
    let sum = 0;
    const end = Math.min(samples.length, (f + 1) * frame);
    for (let i = f * frame; i < end; i++) sum += samples[i]! * samples[i]!;
    if (Math.sqrt(sum / (end - f * frame)) > threshold) {
      if (first < 0) first = f;
      last = f;
    }
  }
  return first < 0 ? { startMs: 0, endMs: 0 } : { startMs: first * 10, endMs: (last + 1) * 10 };
}

export interface SpeechFile {
  path: string;
  /** The full reference text (sentences joined by spaces). */
  text: string;
  segments: Segment[];
  durationMs: number;
}

export interface SpeechRecipe {
  sentences: readonly string[];
  /** Voice per sentence (cycled). */
  voices?: readonly Voice[];
  /** Silence before the first sentence. */
  leadMs?: number;
  /** Silence after each sentence (cycled). */
  gapsMs?: readonly number[];
  /** Output extension handled by ffmpeg: wav, mp3, aac, m4a, ogg, opus, flac, or `ulaw.wav` (8 kHz µ-law). */
  format?: string;
  /** Sample rate of the wav/raw render before encoding (default 16000). */
  sampleRate?: number;
}

function ensureDir(): void {
  mkdirSync(CACHE_DIR, { recursive: true });
}

/** Raw mono s16le at `rate` of one sentence in one voice. */
export function synthRaw(text: string, voice: Voice, rate = 16000): Buffer {
  ensureDir();
  const key = createHash('sha1').update(`${voice}|${rate}|${text}`).digest('hex').slice(0, 16);
  const path = join(CACHE_DIR, `utt-${key}.raw`);
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    const escaped = text.replace(/'/g, '');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `flite=text='${escaped}':voice=${voice}`, '-ar', String(rate), '-ac', '1', '-f', 's16le', '-y', tmp]);
    renameSync(tmp, path);
  }
  return readFileSync(path);
}

/** The pieces of 16-bit audio one after the other, in one array. */
export function joinPcm(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A WAV header for mono s16le. */
export function wavHeader(dataBytes: number, rate: number, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Build (or reuse) a speech file from a recipe; returns its path, reference text and where each sentence is. */
export function makeSpeech(recipe: SpeechRecipe): SpeechFile {
  ensureDir();
  const rate = recipe.sampleRate ?? 16000;
  const voices = recipe.voices ?? ['slt'];
  const gaps = recipe.gapsMs ?? [600];
  const format = recipe.format ?? 'wav';
  const key = createHash('sha1').update(JSON.stringify({ ...recipe, rate, voices, gaps, format, v: 3 })).digest('hex').slice(0, 16);
  const base = join(CACHE_DIR, `speech-${key}`);
  const metaPath = `${base}.json`;
  const path = `${base}.${format}`;
  if (existsSync(metaPath) && existsSync(path)) return JSON.parse(readFileSync(metaPath, 'utf8')) as SpeechFile;

  const parts: Buffer[] = [];
  const segments: Segment[] = [];
  let samples = Math.round(((recipe.leadMs ?? 0) * rate) / 1000);
  parts.push(Buffer.alloc(samples * 2));
  recipe.sentences.forEach((text, i) => {
    const voice = voices[i % voices.length]!;
    const pcm = synthRaw(text, voice, rate);
    const startMs = (samples * 1000) / rate;
    const voiced = voicedSpan(pcm, rate);
    parts.push(pcm);
    samples += pcm.length / 2;
    segments.push({ text, voice, startMs, endMs: (samples * 1000) / rate, voicedStartMs: startMs + voiced.startMs, voicedEndMs: startMs + voiced.endMs });
    const gap = Math.round((gaps[i % gaps.length]! * rate) / 1000);
    parts.push(Buffer.alloc(gap * 2));
    samples += gap;
  });
  const pcm = Buffer.concat(parts);
  const wavPath = `${base}.src.wav`;
  writeFileSync(wavPath, Buffer.concat([wavHeader(pcm.length, rate), pcm]));
  if (format !== 'wav') {
    const args = ['-hide_banner', '-loglevel', 'error', '-i', wavPath];
    if (format === 'ulaw.wav') args.push('-ar', '8000', '-c:a', 'pcm_mulaw');
    else if (format === 'opus') args.push('-c:a', 'libopus');
    args.push('-y', `${path}.tmp.${format.split('.').pop()}`);
    execFileSync('ffmpeg', args);
    renameSync(`${path}.tmp.${format.split('.').pop()}`, path);
  } else {
    renameSync(wavPath, path);
  }
  const result: SpeechFile = { path, text: recipe.sentences.join(' '), segments, durationMs: (samples * 1000) / rate };
  writeFileSync(metaPath, JSON.stringify(result));
  return result;
}

/** Normalise text for scoring: lower case, letters, digits and apostrophes only. */
export function normalise(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const SCLITE = existsSync('/usr/lib/sctk/bin/sclite') ? '/usr/lib/sctk/bin/sclite' : 'sclite';

/** Word error rate (0..1) of `hypothesis` against `reference`, scored by sclite. */
export function wer(reference: string, hypothesis: string): number {
  ensureDir();
  const id = createHash('sha1').update(reference + '\u0000' + hypothesis + process.pid + Math.random()).digest('hex').slice(0, 12);
  const ref = join(CACHE_DIR, `ref-${id}.trn`);
  const hyp = join(CACHE_DIR, `hyp-${id}.trn`);
  writeFileSync(ref, `${normalise(reference)} (utt_1)\n`);
  writeFileSync(hyp, `${normalise(hypothesis)} (utt_1)\n`);
  const out = execFileSync(SCLITE, ['-r', ref, 'trn', '-h', hyp, 'trn', '-i', 'rm', '-o', 'sum', 'stdout'], { encoding: 'utf8' });
  // The summary row: | Sum/Avg | #Snt #Wrd | Corr Sub Del Ins Err S.Err |
  const row = out.split('\n').find((l) => l.includes('Sum/Avg'));
  if (!row) throw new Error(`sclite gave no summary:\n${out}`);
  const nums = row.replace(/[|]/g, ' ').trim().split(/\s+/).slice(1).map(Number);
  const err = nums[6];
  if (err === undefined || Number.isNaN(err)) throw new Error(`cannot parse sclite row: ${row}`);
  return err / 100;
}
