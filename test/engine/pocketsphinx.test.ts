import { describe, expect, it } from 'vitest';
import { cleanWord, Decoder } from '../../src/engine/pocketsphinx.js';
import { recognizeClip } from '../../src/engine/recognizer.js';
import { CELL_EMPTY, CELL_LOADING, CELL_OFF, CELL_READY, releaseSharedModelCell, sharedModelCell } from '../../src/engine/shared-cell.js';
import { SENTENCES, synthRaw } from '../helpers/speech.js';

describe('pocketsphinx binding', () => {
  it('loads the model, decodes a whole utterance and frees twice safely', () => {
    const d = new Decoder();
    const b = synthRaw(SENTENCES[7]!, 'rms');
    d.startClip();
    d.processRaw(new Int16Array(b.buffer, b.byteOffset, b.length / 2), true);
    d.endUtt();
    expect(d.hyp()).toBe(SENTENCES[7]);
    const segs = d.segments();
    expect(segs.some((s) => s.word === '<s>' || s.word === '<sil>')).toBe(true);
    for (const s of segs) expect(s.endFrame).toBeGreaterThanOrEqual(s.startFrame);
    expect(d.cmnMean()).toHaveLength(13);
    d.free();
    d.free();
    expect(d.alive).toBe(false);
    expect(() => d.hyp()).toThrow(expect.objectContaining({ code: 'EARSHOT_ENGINE_FAILED' }));
  });

  it('resets CMN to a given mean and starts streams with frame numbers from 0', () => {
    const d = new Decoder();
    const mean = [50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    d.resetCmn(mean);
    expect(d.cmnMean().map((v) => Math.round(v))).toEqual(mean);
    const b = synthRaw(SENTENCES[7]!, 'rms');
    const samples = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    d.startStream();
    d.processRaw(samples);
    d.endUtt();
    const first = d.segments()[0]!.startFrame;
    d.restartStream();
    d.processRaw(samples);
    d.endUtt();
    expect(Math.abs(d.segments()[0]!.startFrame - first)).toBeLessThanOrEqual(5);
    d.free();
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

  it('decoders sharing a cell decode exactly like one with its own model, also after the loading one is freed', () => {
    const b = synthRaw(SENTENCES[2]!, 'slt');
    const clip = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    const own = new Decoder();
    const expected = recognizeClip(own, clip);
    expect(expected.flatMap((e) => e.words ?? []).length).toBeGreaterThan(3);
    const shared = sharedModelCell();
    const loader = new Decoder({ shared });
    expect(new Int32Array(shared)[0]).toBe(CELL_READY);
    const user = new Decoder({ shared });
    expect(recognizeClip(loader, clip)).toEqual(expected);
    expect(recognizeClip(user, clip)).toEqual(expected);
    loader.free();
    user.free();
    const later = new Decoder({ shared });
    expect(recognizeClip(later, clip)).toEqual(expected);
    later.free();
    own.free();
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
