import { describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../src/core/types.js';
import { PeakBuilder } from '../../src/report/peaks.js';
import { toChunks } from '../operators/segment-helpers.js';
import { rng } from '../helpers/random.js';

function noise(n: number, seed: number): Int16Array {
  const r = rng(seed);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((r() * 2 - 1) * 32767);
  return out;
}

function build(chunks: AudioChunk[], options = {}): ReturnType<PeakBuilder['finish']> {
  const b = new PeakBuilder(options);
  for (const c of chunks) b.push(c);
  return b.finish();
}

describe('PeakBuilder', () => {
  it('keeps the min and max (top 8 bits) of each 10 ms bucket', () => {
    const s = new Int16Array(480); // 3 buckets at 16 kHz
    s[5] = 32767;
    s[6] = -32768;
    s[200] = 1000;
    s[479] = -256;
    const p = build([{ kind: 'audio', samples: s, sampleRate: 16000, channels: 1, offset: 0 }]);
    expect(p.frames).toBe(480);
    expect(p.levels).toHaveLength(1);
    expect(p.levels[0]!.bucketFrames).toBe(160);
    expect(Array.from(p.levels[0]!.data)).toEqual([-128, 127, 0, 1000 >> 8, -1, 0]);
  });

  it('gives the same peaks whatever the chunking', () => {
    const s = noise(16000 * 7 + 37, 1);
    const one = build(toChunks(s, s.length), { coarsestBuckets: 16 });
    for (const size of [1, 159, 160, 161, 4096]) {
      const other = build(toChunks(s, size), { coarsestBuckets: 16 });
      expect(other.frames).toBe(one.frames);
      expect(other.levels.map((l) => Array.from(l.data))).toEqual(one.levels.map((l) => Array.from(l.data)));
    }
  });

  it('adds coarser levels, each the min/max of `factor` finer buckets, until one is small enough', () => {
    const s = noise(16000 * 60, 2); // 6000 finest buckets
    const p = build(toChunks(s, 1600), { coarsestBuckets: 100 });
    expect(p.levels.map((l) => l.bucketFrames)).toEqual([160, 640, 2560, 10240]);
    expect(p.levels.map((l) => l.data.length / 2)).toEqual([6000, 1500, 375, 94]);
    const [fine, coarse] = [p.levels[0]!.data, p.levels[1]!.data];
    for (let b = 0; b < 1500; b++) {
      const mins = [0, 1, 2, 3].map((k) => fine[2 * (4 * b + k)]!);
      const maxs = [0, 1, 2, 3].map((k) => fine[2 * (4 * b + k) + 1]!);
      expect([coarse[2 * b], coarse[2 * b + 1]]).toEqual([Math.min(...mins), Math.max(...maxs)]);
    }
  });

  it('folds channels together and reads a gap in the time line as silence', () => {
    const stereo = new Int16Array(320).fill(0);
    stereo[0] = 12800; // left, frame 0
    stereo[1] = -12800; // right, frame 0
    const p = build([
      { kind: 'audio', samples: stereo, sampleRate: 16000, channels: 2, offset: 1000 },
      { kind: 'audio', samples: new Int16Array(160).fill(2560), sampleRate: 16000, channels: 1 as const, offset: 1480 } as AudioChunk,
    ]);
    // frames 0–159 (the stereo chunk), 160–479 silence, 480–639 the last chunk
    expect(p.frames).toBe(640);
    expect(Array.from(p.levels[0]!.data)).toEqual([-50, 50, 0, 0, 0, 0, 10, 10]);
  });

  it('is empty for no audio, and refuses a change of rate or bad options', () => {
    expect(new PeakBuilder().finish()).toEqual({ sampleRate: 0, frames: 0, levels: [{ bucketFrames: 1, data: new Int8Array(0) }] });
    const b = new PeakBuilder();
    b.push({ kind: 'audio', samples: new Int16Array(10), sampleRate: 16000, channels: 1, offset: 0 });
    expect(() => b.push({ kind: 'audio', samples: new Int16Array(10), sampleRate: 8000, channels: 1, offset: 10 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => new PeakBuilder({ factor: 1 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => new PeakBuilder({ bucketMs: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
