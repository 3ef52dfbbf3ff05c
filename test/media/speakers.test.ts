import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diarize, speakerAt } from '../../src/media/speakers.js';
import { der, readRttm } from '../helpers/der.js';
import { ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, type Voice } from '../helpers/speech.js';

function load(voices: Voice[], n = 6): { pcm: Int16Array; segments: { voice: string; startMs: number; endMs: number }[] } {
  const s = makeSpeech({ sentences: SENTENCES.slice(0, n), voices, gapsMs: [500, 300, 800], leadMs: 300 });
  const b = readFileSync(s.path);
  return { pcm: new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length)), segments: s.segments };
}

/** Share of speech time (sampled every 20 ms) given to the right voice, speaker labels mapped by majority. */
function accuracy(turns: ReturnType<typeof diarize>, segments: { voice: string; startMs: number; endMs: number }[]): number {
  const counts = new Map<string, number>();
  let total = 0;
  for (const seg of segments) {
    for (let t = seg.startMs; t < seg.endMs; t += 20) {
      const turn = turns.find((x) => t >= x.startMs && t < x.endMs);
      if (!turn) continue;
      counts.set(`${turn.speaker}|${seg.voice}`, (counts.get(`${turn.speaker}|${seg.voice}`) ?? 0) + 1);
      total++;
    }
  }
  const voices = [...new Set(segments.map((s) => s.voice))];
  const direct = voices.reduce((sum, v, i) => sum + (counts.get(`${i}|${v}`) ?? 0), 0);
  const crossed = voices.reduce((sum, v, i) => sum + (counts.get(`${1 - i}|${v}`) ?? 0), 0);
  return Math.max(direct, crossed) / Math.max(1, total);
}

describe('diarize', () => {
  it('ends on audio where a mixture split gains no component (2.4 s of the sample through MP3: it looped forever)', () => {
    const mp3 = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', join(ROOT, 'samples/sample.wav'), '-t', '2.4', '-f', 'mp3', '-']);
    const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'mp3', '-i', '-', '-f', 's16le', '-ac', '1', '-ar', '16000', '-'], { input: mp3 });
    const turns = diarize(new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2), 16000);
    expect(new Set(turns.map((t) => t.speaker)).size).toBe(1);
  });

  it('tells a male and a female flite voice apart, with and without a speaker count', () => {
    const { pcm, segments } = load(['rms', 'slt']);
    for (const options of [{}, { speakerCount: 2 }]) {
      const turns = diarize(pcm, 16000, options);
      expect(new Set(turns.map((t) => t.speaker))).toEqual(new Set([0, 1]));
      expect(accuracy(turns, segments)).toBeGreaterThanOrEqual(0.95);
      expect(turns[0]!.speaker).toBe(0);
    }
  });

  it('separates two male voices too (rms and awb)', () => {
    const { pcm, segments } = load(['rms', 'awb']);
    const turns = diarize(pcm, 16000);
    expect(new Set(turns.map((t) => t.speaker)).size).toBe(2);
    expect(accuracy(turns, segments)).toBeGreaterThanOrEqual(0.9);
  });

  it('real two-speaker conversations (samples/real): two speakers found, DER ≤ 20 % with a 250 ms collar', () => {
    // Two female voices at like pitch (pyannote) and two male meeting voices (AMI); see samples/real/README.md.
    for (const name of ['pyannote-sample', 'ami-dev00']) {
      const file = join(ROOT, 'samples/real/conversation', name);
      const raw = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', `${file}.flac`, '-f', 's16le', '-ac', '1', '-ar', '16000', '-'], { maxBuffer: 1 << 26 });
      const turns = diarize(new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2), 16000);
      expect(new Set(turns.map((t) => t.speaker)).size, name).toBe(2);
      expect(der(readRttm(`${file}.rttm`), turns.map((t) => ({ ...t, speaker: String(t.speaker) }))).der, name).toBeLessThanOrEqual(0.2);
    }
  });

  it('keeps one voice as one speaker when no count is given', () => {
    for (const voice of ['slt', 'rms'] as const) {
      const turns = diarize(load([voice]).pcm, 16000);
      expect(new Set(turns.map((t) => t.speaker))).toEqual(new Set([0]));
    }
  });

  it('returns no turns for silence or empty input, and covers the speech otherwise', () => {
    expect(diarize(new Int16Array(0), 16000)).toEqual([]);
    expect(diarize(new Int16Array(16000 * 3), 16000)).toEqual([]);
    const { pcm, segments } = load(['slt'], 2);
    const turns = diarize(pcm, 16000);
    expect(turns[0]!.startMs).toBeLessThanOrEqual(segments[0]!.startMs + 300); // flite pads each sentence with a little silence
    expect(turns.at(-1)!.endMs).toBeGreaterThanOrEqual(segments.at(-1)!.endMs - 300);
  });

  it('speakerAt picks the most-overlapping turn, else the nearest', () => {
    const turns = [{ startMs: 0, endMs: 1000, speaker: 0 }, { startMs: 1200, endMs: 2000, speaker: 1 }];
    expect(speakerAt(turns, 900, 1300)).toBe(0);
    expect(speakerAt(turns, 1100, 1900)).toBe(1);
    expect(speakerAt(turns, 5000, 5100)).toBe(1);
  });
});
