/**
 * End of speech in live sessions (issue 16): the energy endpointer on synthetic signals, and the engine's live
 * recognizer ending utterances 150 ms into a pause, measured in audio time (no wall clock), with the audio after the
 * endpoint kept for the next utterance and the last word of a stream that ends in speech kept (issue 19).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';
import { Decoder } from '../../src/engine/pocketsphinx.js';
import { Endpointer, StreamRecognizer, type StreamRecognizerOptions } from '../../src/engine/recognizer.js';
import { local } from '../../src/transports/local.js';
import { joinPcm, SENTENCES, synthRaw } from '../helpers/speech.js';

/** `ms` of a 220 Hz tone at amplitude `amp` (speech-like energy), or of noise when `noise`. */
function tone(ms: number, amp: number, noise = false): Int16Array {
  const out = new Int16Array(ms * 16);
  let seed = 7;
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.round(noise ? ((seed / 0x7fffffff) * 2 - 1) * amp : Math.sin((2 * Math.PI * 220 * i) / 16000) * amp);
  }
  return out;
}

const concat = (...parts: Int16Array[]): Int16Array => joinPcm(parts);

/** Where (ms) the endpointer fires on `samples` fed in `chunk`-sample pieces. */
function fires(ep: Endpointer, samples: Int16Array, chunk: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples.length; i += chunk) {
    const to = Math.min(samples.length, i + chunk);
    let from = i;
    for (;;) {
      const at = ep.scan(samples, from, to);
      if (at < 0) break;
      out.push(at / 16);
      from = at;
    }
  }
  return out;
}

describe('Endpointer', () => {
  it('fires 150 ms into a pause after speech, the same for any chunking', () => {
    const signal = concat(new Int16Array(16 * 300), tone(800, 8000), new Int16Array(16 * 600), tone(500, 8000), new Int16Array(16 * 400));
    for (const chunk of [1, 160, 333, 1600, signal.length]) {
      expect(fires(new Endpointer(150), signal, chunk)).toEqual([1250, 2350]);
    }
  });

  it('needs 100 ms of speech first, and counts a tail 35 dB below the speech as silence', () => {
    const click = concat(new Int16Array(16 * 300), tone(50, 8000), new Int16Array(16 * 500));
    expect(fires(new Endpointer(150), click, 320)).toEqual([]);
    // Speech at 8000, then a faint tail at 80 (−40 dB): the pause starts where the tail does.
    const tail = concat(new Int16Array(16 * 300), tone(500, 8000), tone(300, 80), new Int16Array(16 * 300));
    expect(fires(new Endpointer(150), tail, 320)).toEqual([950]);
  });

  it('is a local() option, checked at once', () => {
    expect(() => local({ endSilenceMs: -1 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => local({ endSilenceMs: Number.NaN })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('follows a noise floor: speech over steady noise ends when only the noise is left', () => {
    const signal = concat(tone(1000, 300, true), concat(tone(700, 6000)).map((v, i) => v + (i % 7) * 40), tone(1000, 300, true));
    expect(fires(new Endpointer(200), signal, 160)).toEqual([1900]);
  });
});

describe('StreamRecognizer end of speech (engine)', () => {
  let decoder: Decoder;
  beforeAll(() => {
    decoder = new Decoder();
  });
  afterAll(() => decoder.free());

  const sentence = (i: number, voice: 'slt' | 'rms' | 'awb'): Int16Array => {
    const b = synthRaw(SENTENCES[i]!, voice);
    return new Int16Array(b.buffer, b.byteOffset, b.length / 2).slice();
  };
  /** Last sample louder than |300| (where the voice is last audible). */
  const audibleEnd = (pcm: Int16Array): number => {
    let last = pcm.length - 1;
    while (last > 0 && Math.abs(pcm[last]!) <= 300) last--;
    return last + 1;
  };

  /** Each final with the audio written (ms) when it was emitted: latency in audio time. */
  async function run(samples: Int16Array, options: StreamRecognizerOptions, chunk = 320): Promise<Array<{ e: TranscriptEvent; atMs: number }>> {
    const out: Array<{ e: TranscriptEvent; atMs: number }> = [];
    let written = 0;
    const r = new StreamRecognizer(decoder, (e) => e.type === 'final' && out.push({ e, atMs: written / 16 }), options);
    for (let i = 0; i < samples.length; i += chunk) {
      const piece = samples.slice(i, i + chunk);
      written += piece.length;
      await r.write(piece);
    }
    await r.end();
    return out;
  }

  it('ends each utterance ~150 ms after the voice stops (pocketsphinx alone: ~500 ms), the next one whole', async () => {
    const a = sentence(6, 'rms');
    const b = sentence(1, 'rms');
    // flite pads each clip with ~200 ms of silence; 100 ms more between them: pauses of ~0.5 s.
    const samples = concat(new Int16Array(16 * 300), a, new Int16Array(16 * 100), b, new Int16Array(16 * 800));
    const endA = (16 * 300 + audibleEnd(a)) / 16;
    const endB = (16 * 400 + a.length + audibleEnd(b)) / 16;
    const now = await run(samples, {});
    expect(now.map((x) => x.e.text)).toEqual([SENTENCES[6], SENTENCES[1]]);
    expect(now[0]!.atMs - endA).toBeGreaterThanOrEqual(140);
    expect(now[0]!.atMs - endA).toBeLessThanOrEqual(260);
    expect(now[1]!.atMs - endB).toBeLessThanOrEqual(260);
    const before = await run(samples, { endSilenceMs: 0, flatPass: true });
    expect(before[0]!.atMs - endA).toBeGreaterThan(400);
  });

  it('keeps the last word of a stream that ends in speech (no trailing silence at all)', async () => {
    for (const voice of ['rms', 'awb'] as const) {
      const s = sentence(6, voice);
      const cut = s.subarray(0, audibleEnd(s));
      const text = (await run(cut, {}, 333)).map((x) => x.e.text).join(' ');
      expect(text.split(' ').at(-1)).toBe('sugar');
    }
  });
});
