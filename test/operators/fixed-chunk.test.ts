import { describe, expect, it } from 'vitest';
import { concat, EMPTY, from, lastValueFrom, Subject, throwError, toArray } from 'rxjs';
import type { AudioChunk, AudioSegment } from '../../src/core/types.js';
import { fixedChunk } from '../../src/operators/fixed-chunk.js';
import { toChunks } from './segment-helpers.js';

const ramp = (n: number) => Int16Array.from({ length: n }, (_, i) => i % 30000);

describe('fixedChunk', () => {
  it('cuts back-to-back windows of chunkMs on the input time line, the last one shorter', async () => {
    const pcm = ramp(16000 * 12 + 123);
    const segs = await lastValueFrom(from(toChunks(pcm, 4097, { offset: 800 })).pipe(fixedChunk({ chunkMs: 5000 }), toArray()));
    expect(segs.map((s) => [s.offset, s.samples.length, s.cut])).toEqual([
      [800, 80000, 'max-length'],
      [80800, 80000, 'max-length'],
      [160800, 32123, 'end'],
    ]);
    expect(Array.from(segs[1]!.samples.subarray(0, 5))).toEqual(Array.from(pcm.subarray(80000, 80005)));
  });

  it('completes with nothing on empty input', async () => {
    await expect(lastValueFrom(EMPTY.pipe(fixedChunk(), toArray()))).resolves.toEqual([]);
  });

  it('emits the partial window, then the source error', async () => {
    const seen: AudioSegment[] = [];
    const err = new Error('gone');
    const got = await new Promise((resolve) => concat(from(toChunks(ramp(16000), 1600)), throwError(() => err)).pipe(fixedChunk()).subscribe({ next: (s) => seen.push(s), error: resolve }));
    expect(got).toBe(err);
    expect(seen.map((s) => s.samples.length)).toEqual([16000]);
  });

  it('stops on early unsubscribe', () => {
    const source = new Subject<AudioChunk>();
    const seen: AudioSegment[] = [];
    const sub = source.pipe(fixedChunk({ chunkMs: 100 })).subscribe((s) => seen.push(s));
    for (const c of toChunks(ramp(3200), 1600)) source.next(c);
    sub.unsubscribe();
    expect(source.observed).toBe(false);
    expect(seen).toHaveLength(2);
  });

  it('rejects stereo audio and a bad window', async () => {
    const stereo: AudioChunk = { kind: 'audio', samples: new Int16Array(64), sampleRate: 16000, channels: 2, offset: 0 };
    await expect(lastValueFrom(from([stereo]).pipe(fixedChunk()))).rejects.toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
    expect(() => fixedChunk({ chunkMs: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
