import { describe, expect, it } from 'vitest';
import { concat, EMPTY, from, lastValueFrom, Observable, tap, throwError, toArray, VirtualTimeScheduler } from 'rxjs';
import { PaceClock, runVirtual } from '../../src/core/clock.js';
import { FlowControl } from '../../src/core/flow.js';
import type { AudioChunk } from '../../src/core/types.js';
import { pace } from '../../src/operators/pace.js';
import { toChunks } from './segment-helpers.js';

const audio = (ms: number, chunkMs = 100, offset = 0, flow?: FlowControl) => toChunks(new Int16Array(ms * 16), chunkMs * 16, { offset: offset * 16, ...(flow ? { flow } : {}) });

function collect(obs: Observable<AudioChunk>, scheduler: VirtualTimeScheduler) {
  const out = { at: [] as number[], offsets: [] as number[], error: undefined as unknown, done: -1 };
  const sub = obs.subscribe({
    next: (c) => {
      out.at.push(scheduler.now());
      out.offsets.push(c.offset);
    },
    error: (e: unknown) => (out.error = e),
    complete: () => (out.done = scheduler.now()),
  });
  return { out, sub };
}

describe('pace', () => {
  it('releases each chunk when its last sample would be live, on virtual time', async () => {
    const scheduler = new VirtualTimeScheduler();
    const clock = new PaceClock(scheduler);
    const { out } = collect(from(audio(1000, 100, 2000)).pipe(pace({ scheduler, clock, frameMs: false })), scheduler);
    await runVirtual(scheduler);
    expect(out.at).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(out.offsets).toEqual(audio(1000, 100, 2000).map((c) => c.offset));
    expect(out.done).toBe(1000);
    expect(clock.wallTimeAt(2500)).toBe(500); // audio time 2.5 s (0.5 s into the input) was live at 500
  });

  it('splits big reads into frameMs pieces (views with their offsets and flow), like a sound card', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const big = audio(1000, 500, 0, flow); // two reads of 500 ms
    const seen: AudioChunk[] = [];
    const { out } = collect(from(big).pipe(pace({ scheduler, frameMs: 100 }), tap((c) => seen.push(c))), scheduler);
    await runVirtual(scheduler);
    expect(out.at).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(out.offsets).toEqual([0, 1600, 3200, 4800, 6400, 8000, 9600, 11200, 12800, 14400]);
    expect(seen.every((c) => c.samples.length === 1600 && c.flow === flow)).toBe(true);
    expect(seen[1]!.samples.buffer).toBe(big[0]!.samples.buffer);
    const whole = collect(from(big).pipe(pace({ scheduler: new VirtualTimeScheduler(), frameMs: false })), scheduler);
    expect(whole.out.at).toHaveLength(0);
  });

  it('runs faster with speed', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { out } = collect(from(audio(400)).pipe(pace({ scheduler, speed: 4, frameMs: false })), scheduler);
    await runVirtual(scheduler);
    expect(out.at).toEqual([25, 50, 75, 100]);
  });

  it('holds a cold source above highWaterMs and lets it go at half of it', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const chunks = audio(10_000, 100, 0, flow);
    let read = 0;
    const source = new Observable<AudioChunk>((sub) => {
      // A file-like source: reads while the flow lets it.
      let stop = false;
      void (async () => {
        for (const c of chunks) {
          await flow.ready();
          if (stop) return;
          read++;
          sub.next(c);
        }
        sub.complete();
      })();
      return () => {
        stop = true;
      };
    });
    const { out } = collect(source.pipe(pace({ scheduler, highWaterMs: 1000, frameMs: false })), scheduler);
    await runVirtual(scheduler, 0);
    expect(flow.paused).toBe(true);
    expect(read).toBe(11); // 1.1 s queued: over the mark
    await runVirtual(scheduler, 650);
    expect(read).toBeLessThan(20);
    await runVirtual(scheduler);
    expect(out.at).toHaveLength(100);
    expect(out.done).toBe(10_000);
    expect(flow.paused).toBe(false);
  });

  it('fails with EARSHOT_LIMIT_EXCEEDED when a source without flow control runs too far ahead', async () => {
    await expect(lastValueFrom(from(audio(2000)).pipe(pace({ maxBufferMs: 1000 })))).rejects.toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED' });
  });

  it('bounds a hot source by maxQueuedMs (maxBufferMs is its deprecated alias) with the overflow policy and its counter', async () => {
    await expect(lastValueFrom(from(audio(2000)).pipe(pace({ maxQueuedMs: 1000 })))).rejects.toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('pace(): more than 1000 ms') });
    for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
      const scheduler = new VirtualTimeScheduler();
      const drops: number[] = [];
      const { out } = collect(from(audio(2000)).pipe(pace({ scheduler, maxQueuedMs: 1000, overflow, onDrop: (d) => drops.push(d.totalSize), frameMs: false })), scheduler);
      await runVirtual(scheduler);
      // All 20 chunks arrive at once: 10 fit, 10 are dropped and counted; what is kept plays at its own audio time.
      const kept = overflow === 'drop-oldest' ? [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
      expect(out.offsets).toEqual(kept.map((k) => k * 1600));
      expect(out.at).toEqual(kept.map((k) => (k + 1) * 100));
      expect(drops.at(-1)).toBe(1000);
      expect(out.error).toBeUndefined();
      expect(out.done).toBe(out.at.at(-1));
    }
    expect(() => pace({ lowWaterMs: 2000, highWaterMs: 1000 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => pace({ overflow: 'drop' as never })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('lets a held cold source go at lowWaterMs', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const states: boolean[] = [];
    const { out } = collect(from(audio(1000, 100, 0, flow)).pipe(pace({ scheduler, highWaterMs: 500, lowWaterMs: 200, frameMs: false }), tap(() => states.push(flow.paused))), scheduler);
    await runVirtual(scheduler);
    // 1000 ms queued at once (from() ignores the hold): held until only 200 ms wait, i.e. after the 8th chunk
    expect(states).toEqual([true, true, true, true, true, true, true, false, false, false]);
    expect(out.at).toHaveLength(10);
  });

  it('completes at once on empty input, and passes an error on after the queued audio', async () => {
    await expect(lastValueFrom(EMPTY.pipe(pace(), toArray()))).resolves.toEqual([]);
    const scheduler = new VirtualTimeScheduler();
    const err = new Error('read failed');
    const { out } = collect(concat(from(audio(300)), throwError(() => err)).pipe(pace({ scheduler, frameMs: false })), scheduler);
    await runVirtual(scheduler);
    expect(out.at).toEqual([100, 200, 300]);
    expect(out.error).toBe(err);
  });

  it('clears its timer and releases the flow on early unsubscribe', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const { out, sub } = collect(from(audio(5000, 100, 0, flow)).pipe(pace({ scheduler, highWaterMs: 500, frameMs: false })), scheduler);
    await runVirtual(scheduler, 250);
    expect(flow.paused).toBe(true);
    sub.unsubscribe();
    expect(flow.paused).toBe(false);
    await runVirtual(scheduler);
    expect(out.at).toEqual([100, 200]);
    expect(scheduler.now()).toBeLessThanOrEqual(300);
  });

  it('rejects a bad speed when built', () => {
    expect(() => pace({ speed: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => pace({ speed: Infinity })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => pace({ frameMs: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
