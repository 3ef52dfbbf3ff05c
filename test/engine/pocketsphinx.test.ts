import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanWord, Decoder, DEFAULT_MODEL_DIR, trimDictionary } from '../../src/engine/pocketsphinx.js';
import { recognizeClip } from '../../src/engine/recognizer.js';
import { CELL_EMPTY, CELL_LOADING, CELL_OFF, CELL_READY, releaseSharedModelCell, sharedModelCell } from '../../src/engine/shared-cell.js';
import { SENTENCES, synthRaw } from '../helpers/speech.js';

/** One cell for the tests below that only need some decoder sharing the model: loaded once for the file. */
let cell: { shared: SharedArrayBuffer; loader: Decoder } | undefined;
function modelCell(): { shared: SharedArrayBuffer; loader: Decoder } {
  if (!cell) {
    const shared = sharedModelCell();
    cell = { shared, loader: new Decoder({ shared }) };
  }
  return cell;
}

describe('pocketsphinx binding', () => {
  afterAll(() => cell?.loader.free());

  it('loads the model, decodes a whole utterance and frees twice safely', async () => {
    const d = new Decoder();
    const b = synthRaw(SENTENCES[7]!, 'rms');
    await d.startClip();
    await d.processRaw(new Int16Array(b.buffer, b.byteOffset, b.length / 2), true);
    await d.endUtt();
    expect(d.hyp()).toBe(SENTENCES[7]);
    const segs = await d.segments();
    expect(segs.some((s) => s.word === '<s>' || s.word === '<sil>')).toBe(true);
    for (const s of segs) expect(s.endFrame).toBeGreaterThanOrEqual(s.startFrame);
    expect(d.cmnMean()).toHaveLength(13);
    d.free();
    d.free();
    expect(d.alive).toBe(false);
    expect(() => d.hyp()).toThrow(expect.objectContaining({ code: 'EARSHOT_ENGINE_FAILED' }));
  });

  it('resets CMN to a given mean and starts streams with frame numbers from 0', async () => {
    const d = new Decoder();
    const mean = [50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    d.resetCmn(mean);
    expect(d.cmnMean().map((v) => Math.round(v))).toEqual(mean);
    const b = synthRaw(SENTENCES[7]!, 'rms');
    const samples = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    await d.startStream();
    await d.processRaw(samples);
    await d.endUtt();
    const first = (await d.segments())[0]!.startFrame;
    await d.restartStream();
    await d.processRaw(samples);
    await d.endUtt();
    expect(Math.abs((await d.segments())[0]!.startFrame - first)).toBeLessThanOrEqual(5);
    d.free();
  });

  it('runs a one-pass stream on its main search like a decoder configured without the second pass; clips after it keep both passes', async () => {
    const voice = synthRaw(SENTENCES[4]!, 'slt');
    const samples = new Int16Array(voice.buffer, voice.byteOffset, voice.length / 2);
    // The words and their frames; not the end of the closing `</s>`, which a decoder configured without the second
    // pass places differently (its feature buffer does not grow; the main search's does, in either mode).
    const stream = async (d: Decoder, flatPass: boolean): Promise<{ hyp: string; segments: unknown }> => {
      await d.startStream(undefined, 0, flatPass);
      await d.processRaw(samples.subarray(0, 8000));
      await d.processRaw(samples.subarray(8000));
      await d.endUtt();
      return { hyp: d.hyp(), segments: (await d.segments()).filter((s) => s.word !== '</s>') };
    };
    // `-fwdflat` is a search option: the reference may share the dictionary and language model all the same.
    const reference = new Decoder({ shared: modelCell().shared, args: ['-fwdflat', 'no'] });
    const d = new Decoder({ shared: modelCell().shared });
    const clip = await recognizeClip(d, samples);
    const twoPass = await stream(d, true);
    const onePass = await stream(d, false);
    expect(onePass.hyp.split(' ').length).toBeGreaterThan(3);
    expect(onePass).toEqual(await stream(reference, true));
    expect(await recognizeClip(d, samples)).toEqual(clip);
    expect(await stream(d, true)).toEqual(twoPass);
    reference.free();
    d.free();
  });

  it('learns a mean on a decoder a session left mid-utterance (closed mid-speech), as the next primed session does', async () => {
    const b = synthRaw(SENTENCES[4]!, 'rms');
    const clip = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    const d = new Decoder({ shared: modelCell().shared });
    try {
      await d.startStream();
      await d.processRaw(clip.subarray(0, clip.length >> 1)); // the session is closed here, its utterance open
      const mean = await d.learnCmn(clip);
      expect(mean).toHaveLength(13);
      // and the decoder goes on: a stream seeded with that mean decodes the sentence
      await d.startStream(mean, Math.ceil(clip.length / 160));
      await d.processRaw(clip);
      await d.endUtt();
      expect(d.hyp()).toBe(SENTENCES[4]);
    } finally {
      d.free();
    }
  });

  it('cleans words: strips variants, drops fillers', () => {
    expect(cleanWord('to(2)')).toBe('to');
    expect(cleanWord("what's")).toBe("what's");
    for (const f of ['<s>', '</s>', '<sil>', '[SPEECH]', '[NOISE]', '++BREATH++']) expect(cleanWord(f)).toBeUndefined();
  });

  it('rejects a bad cmnInit and a missing model with coded errors', () => {
    expect(() => new Decoder({ cmnInit: [1, 2, 3] })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => new Decoder({ model: { hmm: '/nonexistent/model' } })).toThrow(expect.objectContaining({ code: 'EARSHOT_ENGINE_FAILED' }));
  });

  it('decoders sharing a cell decode exactly like one with its own model, also after the loading one is freed', async () => {
    const b = synthRaw(SENTENCES[2]!, 'slt');
    const clip = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    const own = new Decoder();
    const expected = await recognizeClip(own, clip);
    expect(expected.flatMap((e) => e.words ?? []).length).toBeGreaterThan(3);
    const shared = sharedModelCell();
    const loader = new Decoder({ shared });
    expect(new Int32Array(shared)[0]).toBe(CELL_READY);
    const user = new Decoder({ shared });
    expect(await recognizeClip(loader, clip)).toEqual(expected);
    expect(await recognizeClip(user, clip)).toEqual(expected);
    loader.free();
    user.free();
    const later = new Decoder({ shared });
    expect(await recognizeClip(later, clip)).toEqual(expected);
    later.free();
    own.free();
  });

  it('trims a dictionary to the words kept, variants with their word, blank and comment lines kept', () => {
    const dict = Buffer.from('## comment\na AH\nb B IY\nb(2) B AH\n\nc(x) S IY\ncafé K AE F EY\nd\tD IY');
    expect(trimDictionary(dict, (w) => w === 'b' || w === 'c').toString()).toBe('## comment\nb B IY\nb(2) B AH\n\nc(x) S IY\ncafé K AE F EY\n');
    expect(trimDictionary(dict, (w) => w === 'd').toString()).toBe('## comment\n\ncafé K AE F EY\nd\tD IY');
  });

  it('the shared dictionary holds every dictionary word the language model knows, and none it does not', () => {
    const [lm, , dict] = new BigInt64Array(modelCell().shared, 8, 4);
    const sb = koffi.load('libsphinxbase.so.3');
    const ps = koffi.load('libpocketsphinx.so.3');
    const counts = sb.func('uint32_t *ngram_model_get_counts(void *model)');
    const ngramWord = sb.func('const char *ngram_word(void *model, int32_t wid)');
    const ngramWid = sb.func('int32_t ngram_wid(void *model, const char *word)');
    const dictWordid = ps.func('int32_t dict_wordid(void *dict, const char *word)');
    const full = new Set(readFileSync(`${DEFAULT_MODEL_DIR}/cmudict-en-us.dict`, 'latin1').split('\n').map((l) => l.split(' ')[0]!));
    const unigrams = (koffi.decode(counts(lm), 'uint32_t', 1) as number[])[0]!;
    const known = Array.from({ length: unigrams }, (_, wid) => ngramWord(lm, wid) as string).filter((w) => full.has(w));
    expect(known.length).toBeGreaterThan(60_000);
    expect(known.filter((w) => dictWordid(dict, w) < 0)).toEqual([]);
    const outside = [...full].filter((w) => w && !w.includes('(') && ngramWid(lm, w) < 0);
    expect(outside.length).toBeGreaterThan(40_000);
    expect(outside.filter((w) => dictWordid(dict, w) >= 0)).toEqual([]);
  });

  it('a cell whose loading failed is off (the next decoder loads its own); one whose loading thread died reopens', () => {
    const shared = sharedModelCell();
    expect(() => new Decoder({ shared, model: { lm: '/nonexistent/en-us.lm.bin' } })).toThrow(expect.objectContaining({ code: 'EARSHOT_ENGINE_FAILED' }));
    expect(new Int32Array(shared)[0]).toBe(CELL_OFF);
    const cell = new Int32Array(sharedModelCell());
    Atomics.store(cell, 0, CELL_LOADING);
    Atomics.store(cell, 1, 7);
    releaseSharedModelCell(cell.buffer as SharedArrayBuffer, 8);
    expect(cell[0]).toBe(CELL_LOADING);
    releaseSharedModelCell(cell.buffer as SharedArrayBuffer, 7);
    expect(cell[0]).toBe(CELL_EMPTY);
  });
});
