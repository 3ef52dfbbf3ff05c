import { afterEach, describe, expect, it, vi } from 'vitest';
import { concat, EMPTY, from, lastValueFrom, Observable, Subject, throwError, toArray, VirtualTimeScheduler } from 'rxjs';
import { PaceClock, runVirtual } from '../../src/core/clock.js';
import { EarshotError, TransportError } from '../../src/core/errors.js';
import { FlowControl } from '../../src/core/flow.js';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { Provisional, type WindowSegment } from '../../src/operators/near-realtime.js';
import { transcribeBatch, type SpeculationStats } from '../../src/operators/transcribe-batch.js';
import { cancelCostOf, type CancelCost, type Transport } from '../../src/transports/transport.js';
import { localDescriptor } from '../../src/transports/local.js';
import { funAsrDescriptor } from '../../src/transports/dashscope/fun-asr.js';
import { BATCH_CAPS, manualTransport } from './segment-helpers.js';

function seg(startMs: number, durMs = 1000, extra: Partial<WindowSegment> = {}): WindowSegment {
  return { kind: 'audio', samples: new Int16Array(durMs * 16).fill(1), sampleRate: 16000, channels: 1, offset: startMs * 16, cut: 'pause', ...extra };
}
const retryable = (status = 503) => new TransportError('EARSHOT_SERVER_ERROR', `HTTP ${status}`, { retryable: true, statusCode: status });

/** Subscribe and collect, on a virtual clock. */
function collect(obs: Observable<TranscriptEvent>, scheduler: VirtualTimeScheduler) {
  const out = { events: [] as Array<TranscriptEvent & { at: number }>, error: undefined as unknown, done: false };
  const sub = obs.subscribe({
    next: (e) => out.events.push({ ...e, at: scheduler.now() }),
    error: (e: unknown) => (out.error = e),
    complete: () => (out.done = true),
  });
  return { out, sub };
}

/** Full jitter draws each wait uniformly below its ceiling; pin the draw to just under the ceiling. */
const ceilingJitter = () => vi.spyOn(Math, 'random').mockReturnValue(0.999);
afterEach(() => {
  vi.restoreAllMocks();
});

describe('transcribeBatch', () => {
  it('keeps audio order when later requests finish first, with times on the input time line', async () => {
    const scheduler = new VirtualTimeScheduler();
    let inFlight = 0;
    let maxInFlight = 0;
    const t = manualTransport({ scheduler, delayMs: (job) => 2000 - job.startMs / 10 });
    const clip = t.transcribeClip!.bind(t);
    t.transcribeClip = (job, o) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return clip(job, o).finally(() => inFlight--);
    };
    const starts = [0, 3000, 6000, 9000, 12000, 15000];
    const { out } = collect(from(starts.map((s) => seg(s))).pipe(transcribeBatch(t, { concurrency: 3, scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(out.done).toBe(true);
    expect(out.events.map((e) => e.startMs)).toEqual(starts);
    expect(out.events.map((e) => e.text)).toEqual(starts.map((s) => `clip@${s}`));
    expect(out.events.every((e) => e.endMs === e.startMs + 1000)).toBe(true);
    expect(maxInFlight).toBe(3);
    // Reordering waits, not the transport: the third reply (fastest) is held until the first is in.
    expect(out.events[0]!.at).toBe(2000);
    expect(out.events[2]!.at).toBe(2000);
    expect(out.events[2]!.latency!.addedMs).toBe(2000 - (2000 - 600));
    expect(out.events[0]!.latency!.addedMs).toBe(0);
  });

  it('retries retryable failures with exponential backoff (full jitter) and honours Retry-After', async () => {
    ceilingJitter();
    const scheduler = new VirtualTimeScheduler();
    const t = manualTransport({
      scheduler,
      delayMs: () => 100,
      fail: (job, n) => (job.startMs === 0 && n < 3 ? retryable() : job.startMs === 5000 && n === 1 ? new TransportError('EARSHOT_THROTTLED', '429', { retryable: true, retryAfterMs: 2500 }) : undefined),
    });
    const { out } = collect(from([seg(0), seg(5000)]).pipe(transcribeBatch(t, { scheduler, retry: { baseMs: 500, maxMs: 8000 } })), scheduler);
    await runVirtual(scheduler);
    expect(out.error).toBeUndefined();
    expect(out.events.map((e) => e.text)).toEqual(['clip@0', 'clip@5000']);
    // Attempts of the first clip: fail at 100, wait 499 (< 500), fail at 699, wait 999 (< 1000), succeed at 1798.
    expect(out.events[0]!.at).toBe(1798);
    // The second: 429 at 100, Retry-After 2500, succeed at 2700.
    expect(out.events[1]!.at).toBe(2700);
    expect(t.calls.filter((c) => c.job.startMs === 0)).toHaveLength(3);
  });

  it('fails with the original code and the last attempt as cause, after the results ahead of it', async () => {
    const scheduler = new VirtualTimeScheduler();
    const last = retryable(502);
    const t = manualTransport({ scheduler, delayMs: () => 100, fail: (job, n) => (job.startMs === 2000 ? (n === 3 ? last : retryable()) : undefined) });
    const { out } = collect(from([seg(0), seg(2000), seg(4000)]).pipe(transcribeBatch(t, { scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(out.events.map((e) => e.text)).toEqual(['clip@0']);
    expect(out.error).toBeInstanceOf(TransportError);
    expect(out.error).toMatchObject({ code: 'EARSHOT_SERVER_ERROR', statusCode: 502, details: { attempts: 3, startMs: 2000 } });
    expect((out.error as Error).cause).toBe(last);
    expect(t.open()).toBe(0);
  });

  it('does not retry a non-retryable error; a plain Error becomes EARSHOT_REQUEST_FAILED', async () => {
    const scheduler = new VirtualTimeScheduler();
    const bad = new TransportError('EARSHOT_AUTH_FAILED', '401', { statusCode: 401 });
    const t = manualTransport({ scheduler, delayMs: () => 10, fail: () => bad });
    const a = collect(from([seg(0)]).pipe(transcribeBatch(t, { scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(t.calls).toHaveLength(1);
    expect(a.out.error).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', cause: bad });

    const plain = new Error('socket hang up');
    const t2 = manualTransport({ scheduler, delayMs: () => 10, fail: () => plain });
    const b = collect(from([seg(0)]).pipe(transcribeBatch(t2, { scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(b.out.error).toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', cause: plain });

    const t3 = manualTransport();
    t3.transcribeClip = () => {
      throw new EarshotError('EARSHOT_ENGINE_FAILED', 'boom');
    };
    await expect(lastValueFrom(from([seg(0)]).pipe(transcribeBatch(t3)))).rejects.toMatchObject({ code: 'EARSHOT_ENGINE_FAILED' });
  });

  it('passes a source error on after the segments already received are transcribed', async () => {
    const scheduler = new VirtualTimeScheduler();
    const t = manualTransport({ scheduler, delayMs: () => 300 });
    const err = new Error('decoder died');
    const { out } = collect(concat(from([seg(0), seg(1000)]), throwError(() => err)).pipe(transcribeBatch(t, { scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(out.events.map((e) => e.text)).toEqual(['clip@0', 'clip@1000']);
    expect(out.error).toBe(err);
  });

  it('completes at once for empty input, with no request', async () => {
    const t = manualTransport();
    await expect(lastValueFrom(EMPTY.pipe(transcribeBatch(t), toArray()))).resolves.toEqual([]);
    expect(t.calls).toHaveLength(0);
  });

  it('aborts every request in flight and every retry timer on early unsubscribe', async () => {
    ceilingJitter();
    const scheduler = new VirtualTimeScheduler();
    const t = manualTransport({ scheduler, delayMs: (job) => (job.startMs === 0 ? 50 : 10_000), fail: (job) => (job.startMs === 0 ? retryable() : undefined) });
    const source = new Subject<AudioSegment>();
    const { out, sub } = collect(source.pipe(transcribeBatch(t, { scheduler, concurrency: 2, retry: { baseMs: 5000 } })), scheduler);
    source.next(seg(0));
    source.next(seg(1000));
    source.next(seg(2000));
    await runVirtual(scheduler, 100); // the first has failed and waits to retry; the second is in flight
    expect(t.calls).toHaveLength(2);
    expect(t.open()).toBe(1);
    sub.unsubscribe();
    expect(t.open()).toBe(0);
    expect(t.calls.every((c) => c.signal.aborted || (c as { settled?: boolean }).settled)).toBe(true);
    expect(source.observed).toBe(false);
    await runVirtual(scheduler);
    expect(t.calls).toHaveLength(2); // no retry after unsubscribe
    expect(out.events).toHaveLength(0);
  });

  it('holds the source flow past highWater queued segments and lets it go as work drains', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const t = manualTransport({ scheduler, delayMs: () => 1000 });
    const source = new Subject<AudioSegment>();
    const { out } = collect(source.pipe(transcribeBatch(t, { scheduler, concurrency: 1, highWater: 1 })), scheduler);
    source.next(seg(0, 1000, { flow }));
    source.next(seg(1000, 1000, { flow }));
    expect(flow.paused).toBe(false); // one running, one queued
    source.next(seg(2000, 1000, { flow }));
    expect(flow.paused).toBe(true);
    await runVirtual(scheduler, 1000);
    expect(flow.paused).toBe(false);
    source.complete();
    await runVirtual(scheduler);
    expect(out.events).toHaveLength(3);
    expect(out.done).toBe(true);
  });

  it('bounds waiting segments by audio time: highWaterMs holds the source, lowWaterMs lets it go, maxQueuedMs stops a hot one', async () => {
    const scheduler = new VirtualTimeScheduler();
    const flow = new FlowControl();
    const t = manualTransport({ scheduler, delayMs: () => 1000 });
    const source = new Subject<AudioSegment>();
    const { out } = collect(source.pipe(transcribeBatch(t, { scheduler, concurrency: 1, highWaterMs: 2500, lowWaterMs: 1000 })), scheduler);
    const paused: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      source.next(seg(i * 1000, 1000, { flow }));
      paused.push(flow.paused);
    }
    expect(paused).toEqual([false, false, false, true, true]); // one running, then 1, 2, 3, 4 s waiting
    await runVirtual(scheduler, 1000);
    expect(flow.paused).toBe(true); // 3 s wait
    await runVirtual(scheduler, 3000);
    expect(flow.paused).toBe(false); // 1 s waits: the low-water mark
    source.complete();
    await runVirtual(scheduler);
    expect(out.events).toHaveLength(5);
    expect(out.done).toBe(true);

    const hot = manualTransport();
    const many = Array.from({ length: 10 }, (_, i) => seg(i * 1000));
    await expect(lastValueFrom(from(many).pipe(transcribeBatch(hot, { concurrency: 1, maxQueuedMs: 3500 })))).rejects.toMatchObject({
      code: 'EARSHOT_LIMIT_EXCEEDED',
      message: expect.stringContaining('more than 3500 ms of audio'),
    });
    expect(hot.open()).toBe(0);
    expect(() => transcribeBatch(hot, { highWater: 1, highWaterMs: 1000 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('fails with EARSHOT_LIMIT_EXCEEDED when a source without flow control outruns the transport', async () => {
    const t = manualTransport();
    const many = Array.from({ length: 10 }, (_, i) => seg(i * 1000));
    await expect(lastValueFrom(from(many).pipe(transcribeBatch(t, { concurrency: 1, maxQueued: 4 })))).rejects.toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED' });
    expect(t.open()).toBe(0);
  });

  it('starts provisional windows at once, holds their results until confirmed, and drops revoked ones', async () => {
    const scheduler = new VirtualTimeScheduler();
    const t = manualTransport({ scheduler, delayMs: () => 100 });
    // The embedded engine's cost model: a cancelled request is only CPU, so speculation is on by default.
    const free: Transport = { ...t, capabilities: { ...BATCH_CAPS, cancelCost: 'free' } };
    const source = new Subject<WindowSegment>();
    const { out } = collect(source.pipe(transcribeBatch(free, { scheduler })), scheduler);
    const p1 = new Provisional();
    source.next(seg(0, 1000, { provisional: p1 }));
    await runVirtual(scheduler, 500);
    expect(t.calls).toHaveLength(1);
    expect(out.events).toHaveLength(0); // replied, but not confirmed
    p1.settle(true);
    expect(out.events.map((e) => e.text)).toEqual(['clip@0']);

    const p2 = new Provisional();
    source.next(seg(2000, 1000, { provisional: p2 }));
    await runVirtual(scheduler, 520);
    expect(t.calls[1]!.signal.aborted).toBe(false);
    p2.settle(false); // speech resumed: the request is cancelled
    expect(t.calls[1]!.signal.aborted).toBe(true);
    source.next(seg(2000, 2500));
    source.complete();
    await runVirtual(scheduler);
    expect(out.events.map((e) => e.text)).toEqual(['clip@0', 'clip@2000']);
    expect(out.events[1]!.endMs).toBe(4500);
    expect(out.done).toBe(true);
  });

  it('speculates by default only where a cancelled request costs nothing, and counts wasted requests and audio', async () => {
    /** One provisional 1 s window revoked, then one confirmed, through `transport`; the calls and the last stats. */
    const run = async (cancelCost: CancelCost | undefined, settings: { speculate?: boolean } = {}, billAbandoned = false) => {
      const scheduler = new VirtualTimeScheduler();
      const t = manualTransport();
      const transport: Transport = {
        ...t,
        capabilities: { ...BATCH_CAPS, ...(cancelCost ? { cancelCost } : {}) },
        // An async task past PENDING: its cancel is refused, so the abandoned request is billed.
        transcribeClip: (job, o) => {
          if (billAbandoned) o?.signal?.addEventListener('abort', () => o.onBilled?.());
          return t.transcribeClip!(job, o);
        },
      };
      let stats: SpeculationStats | undefined;
      const source = new Subject<WindowSegment>();
      const { out } = collect(source.pipe(transcribeBatch(transport, { scheduler, ...settings, onSpeculation: (s) => (stats = s) })), scheduler);
      const revoked = new Provisional();
      source.next(seg(0, 1000, { provisional: revoked }));
      const sentEarly = t.calls.length;
      revoked.settle(false);
      const kept = new Provisional();
      source.next(seg(0, 2000, { provisional: kept }));
      const sentBeforeConfirm = t.calls.length - sentEarly;
      kept.settle(true);
      t.calls.at(-1)!.resolve();
      source.complete();
      await runVirtual(scheduler);
      expect(out.done).toBe(true);
      expect(out.events.map((e) => e.text)).toEqual(['clip@0']);
      return { sentEarly, sentBeforeConfirm, calls: t.calls.length, stats };
    };
    // A cloud model that bills what it received (the default for a cloud transport): nothing is sent before the
    // pause is confirmed, nothing is wasted.
    expect(await run('billed')).toEqual({ sentEarly: 0, sentBeforeConfirm: 0, calls: 1, stats: { speculative: 0, cancelled: 0, cancelledAudioMs: 0, billed: 0, billedAudioMs: 0, revokedUnsent: 1 } });
    expect((await run(undefined)).sentEarly).toBe(0);
    // Asked for, speculation there wastes billed requests and audio, and says so.
    expect(await run('billed', { speculate: true })).toEqual({ sentEarly: 1, sentBeforeConfirm: 1, calls: 2, stats: { speculative: 2, cancelled: 1, cancelledAudioMs: 1000, billed: 1, billedAudioMs: 1000, revokedUnsent: 0 } });
    // The embedded engine: wasted requests cost CPU only.
    expect((await run('free')).stats).toEqual({ speculative: 2, cancelled: 1, cancelledAudioMs: 1000, billed: 0, billedAudioMs: 0, revokedUnsent: 0 });
    // An async task: free while PENDING (cancelled), billed once the transport says its cancel was refused.
    expect((await run('until-started')).stats).toMatchObject({ cancelled: 1, billed: 0 });
    expect((await run('until-started', {}, true)).stats).toMatchObject({ cancelled: 1, billed: 1, billedAudioMs: 1000 });
    // A window still held for its confirmation when the input ends is sent then (no window can be revoked any more).
    const scheduler = new VirtualTimeScheduler();
    const held = manualTransport({ scheduler, delayMs: () => 100 });
    const { out } = collect(from([seg(0, 1000, { provisional: new Provisional() })]).pipe(transcribeBatch(held, { scheduler })), scheduler);
    await runVirtual(scheduler);
    expect(out.events.map((e) => e.text)).toEqual(['clip@0']);
    expect(out.done).toBe(true);
    // The declared costs: the embedded engine is free, the async-task models free until started, other cloud models billed.
    expect(cancelCostOf(localDescriptor.models.local!.capabilities)).toBe('free');
    expect(cancelCostOf({ offline: true })).toBe('free');
    expect(cancelCostOf({})).toBe('billed');
    expect(cancelCostOf(funAsrDescriptor.models['fun-asr']!.capabilities)).toBe('until-started');
    // Turned off on a free transport: held until confirmed, like nearRealtime({ speculateMs: false }).
    expect(await run('free', { speculate: false })).toMatchObject({ sentEarly: 0, sentBeforeConfirm: 0, calls: 1 });
  });

  it('reports end-of-speech latency against the pace clock', async () => {
    const scheduler = new VirtualTimeScheduler();
    const clock = new PaceClock(scheduler);
    clock.anchor(0, 0, 1); // audio time 0 was live at clock time 0
    const t = manualTransport({ scheduler, delayMs: () => 700 });
    const source = new Subject<AudioSegment>();
    const { out } = collect(source.pipe(transcribeBatch(t, { scheduler, clock })), scheduler);
    scheduler.schedule(() => source.next(seg(0, 2300, { speechEndMs: 2000 })), 2300);
    await runVirtual(scheduler);
    expect(out.events[0]!.latency).toEqual({ addedMs: 0, endOfSpeechMs: 1000 });
  });

  it('checks the transport and the audio format', async () => {
    expect(() => transcribeBatch({ model: 'x', capabilities: BATCH_CAPS, sampleRate: 16000 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => transcribeBatch(manualTransport(), { options: { diarize: true } })).toThrow(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }));
    expect(() => transcribeBatch(manualTransport(), { concurrency: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    await expect(lastValueFrom(from([seg(0, 100, { sampleRate: 8000 })]).pipe(transcribeBatch(manualTransport())))).rejects.toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
  });
});
