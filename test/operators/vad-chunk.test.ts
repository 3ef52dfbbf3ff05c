import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EMPTY, from, lastValueFrom, Observable, throwError, concat, toArray } from 'rxjs';
import { FlowControl } from '../../src/core/flow.js';
import type { AudioChunk, AudioSegment } from '../../src/core/types.js';
import type { DropInfo } from '../../src/core/backpressure.js';
import { loadVad } from '../../src/media/vad.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { readWav, toChunks } from './segment-helpers.js';

const run = (chunks: AudioChunk[], options = {}): Promise<AudioSegment[]> => lastValueFrom(from(chunks).pipe(vadChunk(options), toArray()));
/** Where each sentence is audible (|sample| > 300), in ms. */
function audibleSpans(pcm: Int16Array, segments: Array<{ startMs: number; endMs: number }>): Array<{ startMs: number; endMs: number }> {
  return segments.map((g) => {
    const a = pcm.subarray(g.startMs * 16, g.endMs * 16);
    const first = a.findIndex((v) => Math.abs(v) > 300);
    const last = a.findLastIndex((v) => Math.abs(v) > 300);
    return { startMs: g.startMs + first / 16, endMs: g.startMs + last / 16 };
  });
}
const ms = (s: AudioSegment): { start: number; end: number } => ({ start: (s.offset * 1000) / s.sampleRate, end: ((s.offset + s.samples.length) * 1000) / s.sampleRate });

describe('vadChunk on first use', () => {
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), gapsMs: [700, 1200, 500], leadMs: 400 });
  const pcm = readWav(speech.path);
  it('holds audio (and the source) while the VAD loads on first use, then processes it', async () => {
    const flow = new FlowControl();
    let sawPaused = false;
    const chunks = toChunks(pcm, 320, { flow });
    const segs = await lastValueFrom(
      new Observable<AudioChunk>((sub) => {
        sub.next(chunks[0]!);
        sawPaused = flow.paused;
        for (const c of chunks.slice(1)) sub.next(c);
        sub.complete();
      }).pipe(vadChunk(), toArray()),
    );
    expect(sawPaused).toBe(true);
    expect(flow.paused).toBe(false);
    expect(segs).toHaveLength(3);
  });

  it('bounds a hot source while the VAD loads: maxQueuedMs (maxPendingMs its deprecated alias), overflow policy, drop counter', async () => {
    /** vadChunk and nearRealtime from fresh modules: the VAD's WASM is not loaded yet. */
    const fresh = async () => {
      vi.resetModules();
      return { ops: { ...(await import('../../src/operators/vad-chunk.js')), ...(await import('../../src/operators/near-realtime.js')) } };
    };
    const hot = toChunks(pcm, 320); // 20 ms chunks without flow control, all at once
    for (const options of [{ maxQueuedMs: 500 }, { maxPendingMs: 500 }]) {
      const { ops } = await fresh();
      const err = await lastValueFrom(from(hot).pipe(ops.vadChunk(options))).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('vadChunk() while the VAD loads: more than 500 ms') });
    }
    const { ops } = await fresh();
    const drops: DropInfo[] = [];
    const segs = await lastValueFrom(from(hot).pipe(ops.nearRealtime({ maxQueuedMs: 500, overflow: 'drop-newest', onDrop: (d) => drops.push(d) }), toArray()));
    expect(drops.at(-1)).toMatchObject({ totalItems: hot.length - 25, totalSize: (hot.length - 25) * 20 });
    expect(segs.every((s) => s.offset + s.samples.length <= 500 * 16)).toBe(true); // only the first 500 ms were kept
    expect(() => ops.vadChunk({ overflow: 'drop-all' as never })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

});

describe('vadChunk', () => {
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), gapsMs: [700, 1200, 500], leadMs: 400 });
  const pcm = readWav(speech.path);
  beforeAll(() => loadVad());
  const audible = audibleSpans(pcm, speech.segments);


  it('emits one segment per sentence, padded, on the input time line (first chunk offset honoured)', async () => {
    const base = 16000; // the input starts 1 s into its time line
    const segs = await run(toChunks(pcm, 320, { offset: base }));
    expect(segs).toHaveLength(3);
    segs.forEach((s, i) => {
      const ref = audible[i]!;
      const { start, end } = ms(s);
      expect(s.cut).toBe('pause');
      // Padded: the segment opens before the first audible sample and closes after the last one.
      expect(start - 1000).toBeLessThanOrEqual(ref.startMs - 50);
      expect(start - 1000).toBeGreaterThan(ref.startMs - 300);
      expect(end - 1000).toBeGreaterThanOrEqual(ref.endMs + 50);
      expect(s.speechEndMs! - 1000).toBeGreaterThan(ref.endMs - 100);
      expect(s.speechEndMs! - 1000).toBeLessThan(ref.endMs + 150);
      expect(s.channels).toBe(1);
      expect(s.sampleRate).toBe(16000);
      expect(typeof s.closedAt).toBe('number');
      // The audio is the input's own audio at that position.
      const at = s.offset - base;
      expect(Array.from(s.samples.subarray(0, 50))).toEqual(Array.from(pcm.subarray(at, at + 50)));
    });
  });

  it('gives the same segments whatever the chunk size', async () => {
    const a = await run(toChunks(pcm, 320));
    const b = await run(toChunks(pcm, 4099));
    const c = await run([{ kind: 'audio', samples: pcm, sampleRate: 16000, channels: 1, offset: 0 }]);
    const key = (segs: AudioSegment[]) => segs.map((s) => [s.offset, s.samples.length, s.cut]);
    expect(key(b)).toEqual(key(a));
    expect(key(c)).toEqual(key(a));
  });

  it('cuts speech longer than maxChunkMs at a pause between sentences, never losing audio', async () => {
    // flite pads each sentence with ~200 ms of silence: the audible gaps are ~550 ms, under minSilenceMs here.
    const long = makeSpeech({ sentences: SENTENCES.slice(0, 6), gapsMs: [150] });
    const samples = readWav(long.path);
    const spans = audibleSpans(samples, long.segments);
    const segs = await run(toChunks(samples, 480), { minSilenceMs: 1000, maxChunkMs: 5000, cutSearchMs: 2500 });
    expect(segs.length).toBeGreaterThan(2);
    for (let i = 0; i + 1 < segs.length; i++) {
      const s = segs[i]!;
      expect(ms(s).end - ms(s).start).toBeLessThanOrEqual(5000);
      if (s.cut !== 'max-length') continue;
      // Contiguous: the next segment starts where this one was cut.
      expect(segs[i + 1]!.offset).toBe(s.offset + s.samples.length);
      // The cut falls in one of the 150 ms gaps between sentences.
      const cutMs = ms(s).end;
      const inGap = spans.some((g, k) => k + 1 < spans.length && cutMs >= g.endMs && cutMs <= spans[k + 1]!.startMs);
      expect(inGap, `cut at ${cutMs} ms`).toBe(true);
    }
    expect(segs.some((s) => s.cut === 'max-length')).toBe(true);
  });

  it('cuts within a sentence at a quiet point when there is no pause (no sample lost or repeated)', async () => {
    const long = makeSpeech({ sentences: SENTENCES.slice(0, 3), gapsMs: [0] });
    const samples = readWav(long.path);
    const segs = await run(toChunks(samples, 320), { maxChunkMs: 2000, cutSearchMs: 600 });
    const cuts = segs.filter((s) => s.cut === 'max-length');
    expect(cuts.length).toBeGreaterThan(2);
    for (const s of cuts) {
      // Quietest point: the frames around the cut are much quieter than the segment on average.
      const energy = (a: Int16Array) => a.reduce((acc, v) => acc + v * v, 0) / Math.max(1, a.length);
      const end = s.offset + s.samples.length;
      expect(energy(samples.subarray(end - 320, end + 320))).toBeLessThan(energy(s.samples) * 0.5);
    }
  });

  it('works at 8 kHz too (telephone audio), with offsets at that rate', async () => {
    const half = new Int16Array(Math.floor(pcm.length / 2));
    for (let i = 0; i < half.length; i++) half[i] = (pcm[2 * i]! + pcm[2 * i + 1]!) >> 1;
    const segs = await run(toChunks(half, 160, { rate: 8000 }));
    expect(segs).toHaveLength(3);
    segs.forEach((s, i) => {
      expect(s.sampleRate).toBe(8000);
      expect(ms(s).start).toBeLessThan(audible[i]!.startMs);
      expect(ms(s).end).toBeGreaterThan(audible[i]!.endMs);
    });
  });

  it('completes with nothing for empty input and for silence', async () => {
    await expect(lastValueFrom(EMPTY.pipe(vadChunk(), toArray()))).resolves.toEqual([]);
    await expect(run(toChunks(new Int16Array(16000 * 3), 320))).resolves.toEqual([]);
  });

  it('emits the open segment, then passes on a source error', async () => {
    const cut = speech.segments[0]!.startMs + 1000; // in the middle of the first sentence
    const head = toChunks(pcm.subarray(0, cut * 16), 320);
    const seen: AudioSegment[] = [];
    const err = new Error('disk gone');
    await expect(
      lastValueFrom(concat(from(head), throwError(() => err)).pipe(vadChunk(), toArray())).catch((e: unknown) => {
        throw e;
      }),
    ).rejects.toThrow('disk gone');
    await new Promise<void>((resolve) => {
      concat(from(head), throwError(() => err))
        .pipe(vadChunk())
        .subscribe({ next: (s) => seen.push(s), error: () => resolve() });
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.cut).toBe('end');
  });

  it('rejects audio that is not mono 8/16/32/48 kHz with a coded error', async () => {
    const stereo: AudioChunk = { kind: 'audio', samples: new Int16Array(640), sampleRate: 16000, channels: 2, offset: 0 };
    await expect(lastValueFrom(from([stereo]).pipe(vadChunk()))).rejects.toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
    const cd: AudioChunk = { kind: 'audio', samples: new Int16Array(441), sampleRate: 44100, channels: 1, offset: 0 };
    await expect(lastValueFrom(from([cd]).pipe(vadChunk()))).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
  });

  it('throws on impossible options when the pipeline is built', () => {
    expect(() => vadChunk({ maxChunkMs: 100 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => vadChunk({ minSilenceMs: -1 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('carries the flow control on, and stops reading on early unsubscribe', async () => {
    const flow = new FlowControl();
    const chunks = toChunks(pcm, 320, { flow });
    let pulled = 0;
    let stopped = false;
    const source = new Observable<AudioChunk>((sub) => {
      // A cold source that reads on the next tick, like a file.
      let i = 0;
      const step = (): void => {
        if (stopped) return;
        if (i === chunks.length) return sub.complete();
        pulled++;
        sub.next(chunks[i++]!);
        setImmediate(step);
      };
      setImmediate(step);
      return () => {
        stopped = true;
      };
    });
    const first = await new Promise<AudioSegment>((resolve) => {
      const sub = source.pipe(vadChunk()).subscribe((s) => {
        sub.unsubscribe();
        resolve(s);
      });
    });
    expect(first.flow).toBe(flow);
    expect(stopped).toBe(true);
    const at = pulled;
    await new Promise((r) => setImmediate(r));
    expect(pulled).toBe(at);
    expect(pulled).toBeLessThan(chunks.length);
  });
});
