import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { AudioLine } from '../../src/core/audio-line.js';
import type { AudioChunk } from '../../src/core/types.js';

const offsets = (chunks: AudioChunk[]) => chunks.map((c) => [c.offset, c.samples.length]);

describe('AudioLine', () => {
  it('writes chunks at a head that only moves forward and multicasts them', () => {
    const line = new AudioLine(8000, 1000);
    const a: AudioChunk[] = [];
    const b: AudioChunk[] = [];
    line.audio$.subscribe((c) => a.push(c));
    line.audio$.subscribe((c) => b.push(c));
    line.write(new Int16Array(160));
    line.write(new Int16Array(0)); // nothing
    line.silence(8000 + 40); // one second, then the rest
    expect(offsets(a)).toEqual([[0, 160], [160, 8000], [8160, 40]]);
    expect(b).toEqual(a);
    expect(line.head).toBe(8200);
  });

  it('holds preSubscribeMs for the first subscriber, dropping the oldest (counted), and hands the rest after the end', async () => {
    let dropped = 0;
    const line = new AudioLine(8000, 40, () => dropped++);
    for (let i = 0; i < 5; i++) line.write(new Int16Array(160).fill(i));
    line.end();
    line.write(new Int16Array(160)); // after the end: ignored
    expect(offsets(await lastValueFrom(line.audio$.pipe(toArray())))).toEqual([[480, 160], [640, 160]]);
    expect(dropped).toBe(3);
    // Taken once: a second late subscriber gets just the end.
    expect(await lastValueFrom(line.audio$.pipe(toArray()))).toEqual([]);
  });

  it('discards audio once subscribers came and went, errors subscribers with the end error, empty end completes', async () => {
    const line = new AudioLine(16000, 1000);
    const sub = line.audio$.subscribe();
    sub.unsubscribe();
    line.write(new Int16Array(320));
    const failed = lastValueFrom(line.audio$.pipe(toArray())).catch((e: unknown) => e);
    const boom = new Error('gone');
    line.end({ error: boom });
    expect(await failed).toBe(boom);
    expect(line.ended).toBe(true);

    const empty = new AudioLine(8000, 100);
    empty.end();
    expect(await lastValueFrom(empty.audio$.pipe(toArray()))).toEqual([]);
  });

  it('drops what it holds on an abrupt end', async () => {
    const line = new AudioLine(8000, 1000);
    line.write(new Int16Array(160));
    line.end({ abrupt: true });
    expect(await lastValueFrom(line.audio$.pipe(toArray()))).toEqual([]);
  });
});
