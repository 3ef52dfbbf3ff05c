import { describe, expect, it } from 'vitest';
import { Backpressure, BoundedQueue, gateLimits, queueLimits, type DropInfo } from '../../src/core/backpressure.js';
import { FlowControl } from '../../src/core/flow.js';

const limits = (over: Partial<Parameters<typeof gateLimits>[0]> = {}) => gateLimits({ highWater: 300, lowWater: 100, maxQueued: 500, overflow: 'error', ...over }, 'test()', 'Ms');

describe('queueLimits', () => {
  it('takes the defaults, puts the low-water mark at half the high one, and checks every bound', () => {
    expect(queueLimits({}, { highWaterMs: 1000, maxQueuedMs: 60_000 }, 'x()')).toEqual({ highWater: 1000, lowWater: 500, maxQueued: 60_000, overflow: 'error' });
    expect(queueLimits({ highWaterMs: 40, lowWaterMs: 10, maxQueuedMs: 7, overflow: 'drop-oldest' }, { highWaterMs: 1000, maxQueuedMs: 60_000 }, 'x()')).toMatchObject({ highWater: 40, lowWater: 10, maxQueued: 7, overflow: 'drop-oldest' });
    const d = { highWaterMs: 1000, maxQueuedMs: 60_000 };
    for (const bad of [{ highWaterMs: -1 }, { lowWaterMs: 2000 }, { maxQueuedMs: 0 }, { highWaterMs: Number.NaN }, { overflow: 'drop-all' as never }, { onDrop: 3 as never }]) {
      expect(() => queueLimits(bad, d, 'x()')).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    }
  });
});

describe('Backpressure', () => {
  it('holds a cold source above the high-water mark and lets it go at the low one, once', () => {
    const flow = new FlowControl();
    const gate = new Backpressure(limits(), 'test()');
    gate.add(200, flow);
    gate.add(100, flow);
    expect(flow.paused).toBe(false); // 300 is not above 300
    gate.add(100, flow);
    expect(flow.paused).toBe(true);
    gate.add(100, flow); // one hold, not two
    gate.remove(300);
    expect(flow.paused).toBe(true); // 200 > 100
    gate.remove(100);
    expect(flow.paused).toBe(false);
    expect(gate.queued).toBe(100);
    gate.remove(1000);
    expect(gate.queued).toBe(0);
  });

  it('never bounds a cold source: it is held instead', () => {
    const flow = new FlowControl();
    const gate = new Backpressure(limits(), 'test()');
    for (let i = 0; i < 20; i++) gate.add(100, flow);
    expect(gate.queued).toBe(2000);
    expect(gate.holding).toBe(true);
    gate.release();
    expect(flow.paused).toBe(false);
  });

  it('refuses a hot arrival past maxQueued with EARSHOT_LIMIT_EXCEEDED, counting nothing', () => {
    const gate = new Backpressure(limits(), 'test()');
    gate.add(500, undefined);
    expect(gate.holding).toBe(false);
    expect(() => gate.add(1, undefined)).toThrow(expect.objectContaining({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('test(): more than 500 ms of audio') }));
    expect(gate.queued).toBe(500);
  });
});

describe('BoundedQueue', () => {
  it('is a FIFO that holds and releases a cold source by size', () => {
    const flow = new FlowControl();
    const q = new BoundedQueue<string>(limits(), 'test()');
    for (const s of ['a', 'b', 'c', 'd']) q.push(s, 100, flow);
    expect(flow.paused).toBe(true);
    expect([q.shift(), q.shift()]).toEqual(['a', 'b']);
    expect(flow.paused).toBe(true); // 200 waits: above the low-water mark
    expect(q.shift()).toBe('c');
    expect(flow.paused).toBe(false); // 100: at the low-water mark
    expect(q.peek()).toBe('d');
    expect(q.length).toBe(1);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it("errors past maxQueued for a hot source under 'error', keeping what was queued", () => {
    const q = new BoundedQueue<number>(limits(), 'test()');
    for (let i = 0; i < 5; i++) q.push(i, 100);
    expect(() => q.push(5, 100)).toThrow(expect.objectContaining({ code: 'EARSHOT_LIMIT_EXCEEDED' }));
    expect(q.length).toBe(5);
    expect(q.drops.items).toBe(0);
  });

  it("drops the oldest under 'drop-oldest' and counts them", () => {
    const drops: DropInfo[] = [];
    const q = new BoundedQueue<number>(limits({ overflow: 'drop-oldest', onDrop: (d) => drops.push(d) }), 'test()');
    for (let i = 0; i < 5; i++) q.push(i, 100);
    expect(q.push(5, 250)).toBe(true); // needs 250: drops 0, 1, 2
    expect(q.length).toBe(3);
    expect(q.shift()).toBe(3);
    expect(q.drops).toEqual({ size: 300, items: 3 });
    expect(drops).toEqual([{ size: 300, items: 3, totalSize: 300, totalItems: 3 }]);
  });

  it("drops the newest under 'drop-newest' and counts it", () => {
    const drops: DropInfo[] = [];
    const q = new BoundedQueue<number>(limits({ overflow: 'drop-newest', onDrop: (d) => drops.push(d) }), 'test()');
    for (let i = 0; i < 5; i++) q.push(i, 100);
    expect(q.push(5, 100)).toBe(false);
    expect(q.push(6, 100)).toBe(false);
    expect(q.length).toBe(5);
    expect(q.queued).toBe(500);
    expect(q.drops).toEqual({ size: 200, items: 2 });
    expect(drops.at(-1)).toEqual({ size: 100, items: 1, totalSize: 200, totalItems: 2 });
    q.shift();
    expect(q.push(7, 100)).toBe(true);
  });

  it('never drops from a cold source, whatever the policy', () => {
    const flow = new FlowControl();
    const q = new BoundedQueue<number>(limits({ overflow: 'drop-newest' }), 'test()');
    for (let i = 0; i < 10; i++) expect(q.push(i, 100, flow)).toBe(true);
    expect(q.drops.items).toBe(0);
    expect(flow.paused).toBe(true);
    q.clear();
    expect(flow.paused).toBe(false);
  });
});
