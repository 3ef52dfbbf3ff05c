/**
 * The main job end to end on the same speech in every input format: fromFile → decode → resample →
 * transcribe(local()) → toSrt, the same words from each, cue and word times where the speech is.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, fromFile, local, resample, toSrt, transcribe, type TranscriptEvent } from '../../src/index.js';
import { makeSpeech, normalise, SENTENCES, wer } from '../helpers/speech.js';

const engine = local({ size: 2 });
afterAll(() => engine.close());

const recipe = { sentences: SENTENCES.slice(0, 3), voices: ['rms', 'awb'] as const, leadMs: 1500, gapsMs: [900, 1400, 700] };
const dir = mkdtempSync(join(tmpdir(), 'earshot-formats-'));

async function run(path: string, srt: string): Promise<TranscriptEvent[]> {
  const events = await lastValueFrom(fromFile(path).pipe(decode(), resample(16000), transcribe(engine), toSrt(srt), toArray()));
  return events.filter((e) => e.type === 'final');
}

describe('every format gives the same transcript', () => {
  const wav = makeSpeech({ ...recipe, voices: [...recipe.voices] });
  let baseline: TranscriptEvent[] = [];

  it('wav: WER within bounds, word and cue times within 100 ms of the speech', async () => {
    baseline = await run(wav.path, join(dir, 'wav.srt'));
    const text = baseline.map((e) => e.text).join(' ');
    expect(wer(wav.text, text)).toBeLessThanOrEqual(0.12);
    const words = baseline.flatMap((e) => e.words ?? []);
    for (const seg of wav.segments) {
      const inside = words.filter((w) => w.startMs < seg.voicedEndMs + 100 && w.endMs > seg.voicedStartMs - 100);
      expect(inside.length, seg.text).toBeGreaterThan(0);
      expect(Math.abs(inside[0]!.startMs - seg.voicedStartMs), `first word of "${seg.text}"`).toBeLessThanOrEqual(100);
      expect(Math.abs(inside.at(-1)!.endMs - seg.voicedEndMs), `last word of "${seg.text}"`).toBeLessThanOrEqual(100);
    }
    // No word lies inside the known silences between sentences.
    for (let i = 0; i + 1 < wav.segments.length; i++) {
      const gapStart = wav.segments[i]!.voicedEndMs + 100;
      const gapEnd = wav.segments[i + 1]!.voicedStartMs - 100;
      for (const w of words) expect(w.endMs <= gapStart || w.startMs >= gapEnd, `"${w.text}" at ${w.startMs}-${w.endMs}`).toBe(true);
    }
    const srt = readFileSync(join(dir, 'wav.srt'), 'utf8');
    const firstCue = /00:00:(\d\d),(\d{3}) -->/.exec(srt);
    expect(firstCue).not.toBeNull();
    expect(Math.abs(Number(firstCue![1]) * 1000 + Number(firstCue![2]) - wav.segments[0]!.voicedStartMs)).toBeLessThanOrEqual(100);
  });

  for (const format of ['mp3', 'aac', 'm4a', 'ogg', 'opus', 'flac', 'ulaw.wav']) {
    it(`${format}: the same words as the wav`, async () => {
      const file = makeSpeech({ ...recipe, voices: [...recipe.voices], format });
      const finals = await run(file.path, join(dir, `${format}.srt`));
      const text = normalise(finals.map((e) => e.text).join(' '));
      const reference = normalise(baseline.map((e) => e.text).join(' '));
      // Lossy codecs may change a word or two; 8 kHz µ-law loses more of what this US-English model needs.
      const bound = format === 'ulaw.wav' ? 0.35 : 0.12;
      expect(wer(file.text, text), `${format}: ${text}`).toBeLessThanOrEqual(Math.max(bound, wer(file.text, reference) + 0.05));
      expect(finals[0]!.startMs).toBeGreaterThan(1000);
    });
  }
});
