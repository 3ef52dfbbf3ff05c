import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { transcribeMode } from '../../src/operators/transcribe-mode.js';
import { fakeTransport } from '../../src/testing/fake-transport.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { readWav, toChunks } from './segment-helpers.js';

describe('transcribeMode batch clips', () => {
  // Three sentences: ~435 ms of silence between the first two (flite's own lead-out and lead-in), then 1.2 s more.
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), gapsMs: [0, 1200], leadMs: 300 });
  const chunks = toChunks(readWav(speech.path), 1600);

  it("are cut at the model's minClipPauseMs: a pause shorter than it stays inside a clip", async () => {
    const cuts = async (minClipPauseMs?: number): Promise<number> => {
      const model = fakeTransport({ serves: 'clips', capabilities: minClipPauseMs ? { minClipPauseMs } : {} });
      await lastValueFrom(from(chunks).pipe(transcribeMode(model, { mode: 'batch' }), toArray()));
      return model.clips.length;
    };
    expect(await cuts()).toBe(3);
    expect(await cuts(600)).toBe(2);
  });
});
