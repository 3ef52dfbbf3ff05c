import { describe, expect, it } from 'vitest';
import { FrameAligner } from '../../src/media/frame-aligner.js';

describe('FrameAligner', () => {
  it('hands out whole frames only, carrying the rest in order, byte for byte', () => {
    const frames = new FrameAligner(3);
    const input = Buffer.from(Array.from({ length: 20 }, (_, i) => i));
    const out: Buffer[] = [];
    for (const [a, b] of [[0, 1], [1, 5], [5, 6], [6, 13], [13, 20]] as const) {
      const got = frames.take(input.subarray(a, b));
      if (got) {
        expect(got.length % 3).toBe(0);
        out.push(Buffer.from(got));
      }
    }
    expect(frames.take(Buffer.alloc(0))).toBeUndefined(); // 2 bytes carried: still no whole frame
    expect(Buffer.concat(out)).toEqual(input.subarray(0, 18));
  });
});
