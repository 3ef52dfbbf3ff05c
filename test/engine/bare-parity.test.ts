/**
 * What `npm run bench -- real` compares: earshot's clips against the bare `pocketsphinx_continuous`. The binding must
 * decode exactly as the bare engine when fed as it is (so the bench measures the pipeline, not the binding), and the
 * one thing a single-clip file decodes differently — the clip's own cepstral mean instead of the model's generic
 * start — must fit the model better by the engine's own path score.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, Decoder } from '../../src/engine/pocketsphinx.js';
import { recognizeClip } from '../../src/engine/recognizer.js';
import { ROOT } from '../helpers/dist.js';

const FILE = join(ROOT, 'samples/real/read/librispeech-1221-135766-0002.flac');
/** Samples `pocketsphinx_continuous` reads at a time from a file. */
const BARE_READ = 2048;

/**
 * Decode as `pocketsphinx_continuous -infile` does: live CMN from the model's `cmninit`, counted as no frames; an
 * utterance ends where the detector leaves speech after a read. Returns the text and the summed path score.
 */
async function decodeLikeBare(decoder: Decoder, samples: Int16Array, cmnMean?: readonly number[], weightFrames = 0): Promise<{ text: string; score: number }> {
  await decoder.startStream(cmnMean, weightFrames, true);
  const texts: string[] = [];
  let score = 0;
  let inUtt = false;
  const finish = async (): Promise<void> => {
    await decoder.endUtt();
    texts.push(decoder.hyp());
    score += decoder.score();
  };
  for (let i = 0; i < samples.length; i += BARE_READ) {
    await decoder.processRaw(samples.subarray(i, i + BARE_READ));
    const speech = decoder.inSpeech();
    if (speech) inUtt = true;
    else if (inUtt) {
      await finish();
      await decoder.startUtt();
      inUtt = false;
    }
  }
  if (inUtt) await finish();
  else await decoder.endUtt();
  return { text: texts.filter(Boolean).join(' '), score };
}

let decoder: Decoder;
let samples: Int16Array;
let genericDecode: Promise<{ text: string; score: number }> | undefined;
/** The decode from the model's generic mean (both tests need it; made once). */
const generic = (): Promise<{ text: string; score: number }> => (genericDecode ??= decodeLikeBare(decoder, samples));
beforeAll(() => {
  decoder = new Decoder();
  const raw = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', FILE, '-ac', '1', '-ar', '16000', '-f', 's16le', '-']);
  samples = new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
});
afterAll(() => decoder.free());

describe('earshot beside the bare engine (real read speech)', () => {
  it('the binding fed as pocketsphinx_continuous reads gives its words exactly', async () => {
    const m = DEFAULT_MODEL_DIR;
    // Headerless s16le: the bare engine skips 44 bytes of a .wav whatever its header's length.
    const dir = mkdtempSync(join(tmpdir(), 'earshot-bare-'));
    let bare: string;
    try {
      const raw = join(dir, 'clip.raw');
      writeFileSync(raw, samples);
      bare = execFileSync('pocketsphinx_continuous', ['-infile', raw, '-hmm', `${m}/en-us`, '-lm', `${m}/en-us.lm.bin`, '-dict', `${m}/cmudict-en-us.dict`, '-logfn', '/dev/null'], { encoding: 'utf8' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const expected = bare.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    expect(expected.split(' ').length).toBeGreaterThan(5);
    expect((await generic()).text).toBe(expected);
  });

  it('a clip decoded with its own mean scores higher under the model than with the generic start, and recognizeClip gives that decode', async () => {
    const own = await decoder.learnCmn(samples);
    const clip = await decodeLikeBare(decoder, samples, own, Math.ceil(samples.length / 160));
    expect(clip.score).toBeGreaterThan((await generic()).score);
    expect((await recognizeClip(decoder, samples)).map((e) => e.text).join(' ')).toBe(clip.text);
  });
});
