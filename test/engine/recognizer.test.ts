import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';
import { Decoder } from '../../src/engine/pocketsphinx.js';
import { CLIP_DECODE, finalFromWords, recognizeClip, StreamRecognizer, toWords } from '../../src/engine/recognizer.js';
import { SENTENCES, synthRaw, wer } from '../helpers/speech.js';

function sentence(i: number, voice: 'slt' | 'rms'): Int16Array {
  const b = synthRaw(SENTENCES[i]!, voice);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2);
}

/** `leadMs` of digital silence, the sentences with 900 ms gaps, scaled by `gain`. */
function recording(parts: Array<[number, 'slt' | 'rms']>, leadMs: number, gain = 1): Int16Array {
  const pieces = parts.map(([i, v]) => sentence(i, v));
  const gap = 900 * 16;
  const out = new Int16Array(leadMs * 16 + pieces.reduce((n, p) => n + p.length + gap, 0));
  let pos = leadMs * 16;
  for (const p of pieces) {
    for (let k = 0; k < p.length; k++) out[pos + k] = Math.round(p[k]! * gain);
    pos += p.length + gap;
  }
  return out;
}

/** Feed a recognizer in `chunk`-sample writes, each queued while the one before decodes. */
async function run(decoder: Decoder, samples: Int16Array, options: ConstructorParameters<typeof StreamRecognizer>[2] = {}, chunk = 1600): Promise<TranscriptEvent[]> {
  const events: TranscriptEvent[] = [];
  const r = new StreamRecognizer(decoder, (e) => events.push(e), options);
  for (let i = 0; i < samples.length; i += chunk) {
    void r.write(samples.slice(i, i + chunk));
  }
  await Promise.all([r.end(), r.end()]);
  return events;
}

let decoder: Decoder;
beforeAll(() => {
  decoder = new Decoder();
});
afterAll(() => {
  decoder.free();
  decoder.free();
});

describe('recognizeClip', () => {
  it('decodes a clip with word frames on the stream', async () => {
    const events = await recognizeClip(decoder, sentence(1, 'rms'));
    expect(events).toHaveLength(1);
    expect(events[0]!.text).toBe(SENTENCES[1]);
    const words = events[0]!.words!;
    expect(words.map((w) => w.text).join(' ')).toBe(SENTENCES[1]);
    for (let i = 1; i < words.length; i++) expect(words[i]!.startMs).toBeGreaterThanOrEqual(words[i - 1]!.endMs);
    // flite starts the voice ~200 ms into the file.
    expect(words[0]!.startMs).toBeGreaterThan(100);
    expect(words[0]!.startMs).toBeLessThan(400);
  });

  it('reports progress each second of a clip and decodes exactly as one write would (same pieces, same mean)', async () => {
    const clip = recording([[1, 'rms'], [3, 'slt']], 300);
    let reports = 0;
    const events = await recognizeClip(decoder, clip, () => reports++);
    expect(reports).toBe(Math.ceil(clip.length / 16000));
    // The clip in one write, with the mean recognizeClip learns and the same settings.
    const cmnMean = await decoder.learnCmn(clip);
    const whole = await run(decoder, clip, { ...CLIP_DECODE, cmnMean, cmnWeightFrames: Math.ceil(clip.length / 160) }, clip.length);
    expect(events).toEqual(whole.filter((e) => e.type === 'final'));
    expect(events.map((e) => e.text).join(' ')).toBe(`${SENTENCES[1]} ${SENTENCES[3]}`);
  });

  it('gives no event for silence or nothing', async () => {
    expect(await recognizeClip(decoder, new Int16Array(16000))).toEqual([]);
    expect(await recognizeClip(decoder, new Int16Array(0))).toEqual([]);
    expect(finalFromWords([])).toBeUndefined();
    expect(toWords([{ word: '<sil>', startFrame: 0, endFrame: 9 }])).toEqual([]);
    expect(toWords([{ word: 'to(2)', startFrame: 10, endFrame: 19 }], 100)).toEqual([{ text: 'to', startMs: 1100, endMs: 1200 }]);
  });
});

describe('recognizeClip level independence', () => {
  it('decodes a quiet (−30 dB) clip like the original: the clip’s own mean, learnt in a cheap first pass', async () => {
    const loud = recording([[1, 'rms'], [7, 'rms']], 500);
    const quiet = loud.map((v) => Math.round(v * 0.03));
    const texts = async (s: Int16Array) => (await recognizeClip(decoder, s)).map((e) => e.text);
    expect(await texts(loud)).toEqual([SENTENCES[1], SENTENCES[7]]);
    expect(await texts(quiet)).toEqual(await texts(loud));
  });
});

describe('StreamRecognizer', () => {
  it('cuts utterances at pauses: partials, then one final each, times on the session', async () => {
    const samples = recording([[1, 'rms'], [6, 'slt']], 500);
    const events = await run(decoder, samples);
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.map((e) => e.text)).toEqual([SENTENCES[1], SENTENCES[6]]);
    expect(events.findIndex((e) => e.type === 'partial')).toBe(0);
    // The second sentence starts after 500 ms + first sentence + 900 ms gap (+ flite's ~200 ms pad).
    const second = 500 + sentence(1, 'rms').length / 16 + 900;
    expect(finals[1]!.startMs).toBeGreaterThan(second);
    expect(finals[1]!.startMs).toBeLessThan(second + 400);
    for (const e of events) expect(e.text.trim()).not.toBe('');
    // Partials carry their word times too, on the session's time line.
    for (const p of events.filter((e) => e.type === 'partial')) {
      expect(p.words?.map((w) => w.text).join(' ')).toBe(p.text);
      expect(p.words![0]!.startMs).toBe(p.startMs);
      expect(p.words!.at(-1)!.endMs).toBeLessThanOrEqual(p.endMs);
    }
  });

  it('emits nothing at all for silence, for nothing, and never an empty final', async () => {
    expect(await run(decoder, new Int16Array(16000 * 3))).toEqual([]);
    expect(await run(decoder, new Int16Array(0))).toEqual([]);
  });

  it('fixes the warm-up flaw: the first sentence after a 3 s lead-in on a quiet recording', async () => {
    const parts: Array<[number, 'slt' | 'rms']> = [[1, 'rms'], [7, 'rms'], [6, 'slt'], [8, 'slt']];
    const refs: string[] = [];
    const without: string[] = [];
    const withFix: string[] = [];
    for (const part of parts) {
      const samples = recording([part], 3000, 0.03);
      refs.push(SENTENCES[part[0]]!);
      without.push((await run(decoder, samples, { redecodeFirst: false })).filter((e) => e.type === 'final').map((e) => e.text).join(' '));
      withFix.push((await run(decoder, samples)).filter((e) => e.type === 'final').map((e) => e.text).join(' '));
    }
    const before = wer(refs.join(' '), without.join(' '));
    const after = wer(refs.join(' '), withFix.join(' '));
    expect(after).toBeLessThan(before);
    expect(after).toBeLessThanOrEqual(0.12);
  });

  it('reports the second pass’s progress with what is left of it, and decodes the same with or without a listener', async () => {
    // 1 s lead-in + one sentence: the pass re-reads from 300 ms before the first word to the end of the utterance.
    const samples = recording([[7, 'rms']], 1000);
    const left: number[] = [];
    const events: TranscriptEvent[] = [];
    const r = new StreamRecognizer(decoder, (e) => events.push(e), { endSilenceMs: 0 }, (n) => left.push(n));
    await r.write(samples);
    await r.end();
    expect(left.length).toBeGreaterThanOrEqual(3); // ≥ 2.8 s of audio: at the start and after each second
    expect(left[0]).toBeGreaterThan(2.5 * 16000);
    for (let i = 1; i < left.length; i++) expect(left[0]! - left[i]!).toBeGreaterThanOrEqual(i * 16000);
    expect(left.at(-1)).toBeGreaterThan(0);
    expect(events).toEqual(await run(decoder, samples, { endSilenceMs: 0 }, samples.length));
  });

  it('does not depend on what the decoder heard before (CMN reset per session)', async () => {
    const samples = recording([[7, 'rms']], 1000);
    const first = await run(decoder, samples);
    await run(decoder, recording([[2, 'slt']], 0, 0.05));
    const again = await run(decoder, samples);
    expect(again).toEqual(first);
  });

  it('does not depend on how the audio is chunked', async () => {
    const samples = recording([[1, 'rms']], 500);
    const finals = async (chunk: number) => (await run(decoder, samples, {}, chunk)).filter((e) => e.type === 'final').map((e) => e.text);
    expect(await finals(333)).toEqual(await finals(16000));
  });
});

describe('recognizeClip word times', () => {
  it('keeps the pauses of a clip on its time line (a 2 s lead-in and a 1.5 s gap stay where they are)', async () => {
    const first = sentence(0, 'rms');
    const second = sentence(1, 'rms');
    const lead = new Int16Array(32000);
    const gap = new Int16Array(24000);
    const clip = new Int16Array(lead.length + first.length + gap.length + second.length);
    clip.set(first, lead.length);
    clip.set(second, lead.length + first.length + gap.length);
    const events = await recognizeClip(decoder, clip);
    expect(events.length).toBeGreaterThanOrEqual(1);
    const words = events.flatMap((e) => e.words ?? []);
    // flite pads each sentence with ~150–250 ms of its own silence.
    expect(words[0]!.startMs).toBeGreaterThan(2000);
    expect(words[0]!.startMs).toBeLessThan(2400);
    const secondStart = ((lead.length + first.length + gap.length) / 16000) * 1000;
    const later = words.filter((w) => w.startMs > secondStart - 100);
    expect(later.length).toBeGreaterThan(0);
    expect(later[0]!.startMs - secondStart).toBeLessThan(400);
  });
});
