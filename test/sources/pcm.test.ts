import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { fromPcm } from '../../src/sources/pcm.js';
import { joinSamples } from '../helpers/audio.js';

const ramp = (n: number) => Int16Array.from({ length: n }, (_, i) => i % 30000);

describe('fromPcm', () => {
  it('emits 100 ms views in order with frame offsets, the last one short, and loses nothing', async () => {
    const pcm = ramp(16000 + 500);
    const chunks = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000, offset: 320 }).pipe(toArray()));
    expect(chunks.map((c) => c.samples.length)).toEqual([...Array(10).fill(1600), 500]);
    expect(chunks.map((c) => c.offset)).toEqual([...Array.from({ length: 11 }, (_, i) => 320 + i * 1600)]);
    expect(joinSamples(chunks)).toEqual(pcm);
    expect(chunks[0]!.samples.buffer).toBe(pcm.buffer);
  });

  it('counts interleaved channels as frames', async () => {
    const chunks = await lastValueFrom(fromPcm(ramp(2 * 8000), { sampleRate: 8000, channels: 2, chunkMs: 250 }).pipe(toArray()));
    expect(chunks.map((c) => [c.offset, c.samples.length, c.channels])).toEqual([0, 1, 2, 3].map((i) => [i * 2000, 4000, 2]));
  });

  it('emits nothing more while a stage holds its flow control, and goes on when it lets go', async () => {
    const seen: number[] = [];
    let release: (() => void) | undefined;
    const done = new Promise<void>((resolve) =>
      fromPcm(ramp(16000), { sampleRate: 16000 }).subscribe({
        next: (c) => {
          seen.push(c.offset);
          if (seen.length === 3) release = c.flow!.hold();
        },
        complete: resolve,
      }),
    );
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(3);
    release!();
    await done;
    expect(seen).toHaveLength(10);
  });

  it('stops at an unsubscribe, completes at once on empty input, and refuses bad settings', async () => {
    const seen: number[] = [];
    const sub = fromPcm(ramp(16000), { sampleRate: 16000 }).subscribe((c) => {
      seen.push(c.offset);
      if (seen.length === 2) sub.unsubscribe();
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([0, 1600]);
    expect(await lastValueFrom(fromPcm(new Int16Array(0), { sampleRate: 16000 }).pipe(toArray()))).toEqual([]);
    for (const bad of [{ sampleRate: 0 }, { sampleRate: 16000, channels: 0 }, { sampleRate: 16000, chunkMs: 0 }, { sampleRate: 16000, offset: -1 }, { sampleRate: 16000, channels: 3 }]) {
      expect(() => fromPcm(ramp(16), bad)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    }
  });
});
