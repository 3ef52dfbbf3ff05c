import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { EMPTY, lastValueFrom, NEVER, Observable, Subject, concat, of, throwError, toArray } from 'rxjs';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { fromFile } from '../../src/sources/file.js';
import { fromPcm } from '../../src/sources/pcm.js';
import { decode } from '../../src/operators/decode.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { nearRealtime, type WindowSegment } from '../../src/operators/near-realtime.js';
import { ReportCollector, type ReportSegment } from '../../src/report/collect.js';
import { ROOT } from '../helpers/dist.js';

let pcm: Int16Array;

beforeAll(async () => {
  const chunks = await lastValueFrom(fromFile(join(ROOT, 'samples/sample.wav')).pipe(decode(), toArray()));
  pcm = new Int16Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let at = 0;
  for (const c of chunks) {
    pcm.set(c.samples, at);
    at += c.samples.length;
  }
});

const ms = (s: { offset: number; sampleRate: number; samples: Int16Array; cut: ReportSegment['cut'] }): ReportSegment => ({
  startMs: (s.offset * 1000) / s.sampleRate,
  endMs: ((s.offset + s.samples.length) * 1000) / s.sampleRate,
  cut: s.cut,
});

describe('ReportCollector', () => {
  it('passes the audio on unchanged and records peaks and, beside the pipeline, exactly vadChunk()’s segments', async () => {
    const seen = new ReportCollector();
    const out = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000, chunkMs: 50 }).pipe(seen.audio({ vad: { maxChunkMs: 3000 } }), toArray()));
    const expected = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000, chunkMs: 50 }).pipe(vadChunk({ maxChunkMs: 3000 }), toArray()));
    expect(out.reduce((n, c) => n + c.samples.length, 0)).toBe(pcm.length);
    const c = seen.collected();
    expect(c.peaks!.frames).toBe(pcm.length);
    expect(c.vad!.source).toBe('analysis');
    expect(expected.length).toBeGreaterThan(1);
    expect(c.vad!.segments.map(({ startMs, endMs, cut }) => ({ startMs, endMs, cut }))).toEqual(expected.map(ms));
  });

  it('takes the pipeline’s own vadChunk() when tapped, and runs none beside it', async () => {
    const seen = new ReportCollector();
    const segs = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000 }).pipe(seen.audio(), vadChunk({ maxChunkMs: 20_000 }), seen.vad(), toArray()));
    const c = seen.collected();
    expect(c.vad!.source).toBe('pipeline');
    expect(c.vad!.segments.map(({ startMs, endMs, cut }) => ({ startMs, endMs, cut }))).toEqual(segs.map(ms));
  });

  it('records near-realtime windows with the fate of each speculative one', async () => {
    const seen = new ReportCollector();
    const windows: WindowSegment[] = await lastValueFrom(fromPcm(pcm, { sampleRate: 16000 }).pipe(nearRealtime({ windowMs: 5000 }), seen.windows(), toArray()));
    const got = seen.collected().windows!;
    expect(got.map((w) => [w.startMs, w.endMs, w.cut])).toEqual(windows.map((w) => [ms(w).startMs, ms(w).endMs, w.cut]));
    expect(got.map((w) => w.speculative)).toEqual(windows.map((w) => w.provisional !== undefined));
    expect(got.map((w) => w.fate)).toEqual(windows.map((w) => w.provisional?.state ?? 'confirmed'));
    expect(got.some((w) => w.fate === 'revoked')).toBe(true);
    expect(got.every((w) => w.fate !== 'pending')).toBe(true);
  });

  it('records events, from the pipeline and added, in order', async () => {
    const seen = new ReportCollector();
    const a: TranscriptEvent = { type: 'partial', text: 'he', startMs: 0, endMs: 300 };
    const b: TranscriptEvent = { type: 'final', text: 'hello', startMs: 0, endMs: 600 };
    expect(await lastValueFrom(of(a, b).pipe(seen.events(), toArray()))).toEqual([a, b]);
    seen.addEvents([b]);
    expect(seen.collected().events).toEqual([a, b, b]);
    expect(seen.hasAudio).toBe(false);
  });

  it('completes on empty audio with no peaks frames and no segments', async () => {
    const seen = new ReportCollector();
    expect(await lastValueFrom(new Observable<AudioChunk>((s) => s.complete()).pipe(seen.audio(), toArray()))).toEqual([]);
    const c = seen.collected();
    expect(c.peaks!.frames).toBe(0);
    expect(c.vad!.segments).toEqual([]);
  });

  it('passes a source error on, after the chunks before it', async () => {
    const seen = new ReportCollector();
    const chunk: AudioChunk = { kind: 'audio', samples: pcm.subarray(0, 1600), sampleRate: 16000, channels: 1, offset: 0 };
    const got: AudioChunk[] = [];
    const err = await new Promise<unknown>((resolve) => concat(of(chunk), throwError(() => new Error('boom'))).pipe(seen.audio()).subscribe({ next: (c) => got.push(c), error: resolve }));
    expect((err as Error).message).toBe('boom');
    expect(got).toEqual([chunk]);
    expect(seen.collected().peaks!.frames).toBe(1600);
  });

  it('unsubscribes from the source and the side VAD on early unsubscribe', () => {
    const seen = new ReportCollector();
    const source = new Subject<AudioChunk>();
    const sub = concat(source, NEVER).pipe(seen.audio()).subscribe();
    expect(source.observed).toBe(true);
    sub.unsubscribe();
    expect(source.observed).toBe(false);
  });

  it('refuses a second audio stream', async () => {
    const seen = new ReportCollector();
    const tap = seen.audio();
    await lastValueFrom(fromPcm(pcm.subarray(0, 160), { sampleRate: 16000 }).pipe(tap), { defaultValue: undefined });
    await expect(lastValueFrom(fromPcm(pcm.subarray(0, 160), { sampleRate: 16000 }).pipe(tap))).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
  });

  it('vad(), windows() and events() pass errors on, complete on empty input and let go on unsubscribe', async () => {
    const seen = new ReportCollector();
    const taps = [seen.vad(), seen.windows(), seen.events()] as Array<(s: Observable<unknown>) => Observable<unknown>>;
    for (const tap of taps) {
      await expect(lastValueFrom(throwError(() => new Error('boom')).pipe(tap))).rejects.toThrow('boom');
      expect(await lastValueFrom(EMPTY.pipe(tap), { defaultValue: 'empty' })).toBe('empty');
      const source = new Subject<unknown>();
      const sub = source.pipe(tap).subscribe();
      expect(source.observed).toBe(true);
      sub.unsubscribe();
      expect(source.observed).toBe(false);
    }
    expect(seen.collected()).toMatchObject({ vad: { segments: [], source: 'pipeline' }, windows: [], events: [] });
  });

  it('runs no VAD beside audio it cannot take (stereo, 44.1 kHz), and says why', async () => {
    const seen = new ReportCollector();
    const stereo = new Int16Array(44100 * 2);
    const out = await lastValueFrom(fromPcm(stereo, { sampleRate: 44100, channels: 2 }).pipe(seen.audio(), toArray()));
    expect(out.reduce((n, c) => n + c.samples.length, 0)).toBe(stereo.length);
    const c = seen.collected();
    expect(c.peaks!.frames).toBe(44100);
    expect(c.vad).toMatchObject({ source: 'analysis', segments: [], skipped: expect.stringContaining('2 ch at 44100 Hz') });
  });
});
