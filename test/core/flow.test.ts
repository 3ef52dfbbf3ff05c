import { describe, expect, it } from 'vitest';
import { FlowControl, FlowLatch } from '../../src/core/flow.js';

describe('FlowControl', () => {
  it('pauses while any hold is active; ready() resolves once the last is released; a release counts once', async () => {
    const flow = new FlowControl();
    await flow.ready();
    const a = flow.hold();
    const b = flow.hold();
    let ready = false;
    void flow.ready().then(() => (ready = true));
    a();
    a();
    await Promise.resolve();
    expect(flow.paused).toBe(true);
    expect(ready).toBe(false);
    b();
    await Promise.resolve();
    expect(flow.paused).toBe(false);
    expect(ready).toBe(true);
  });
});

describe('FlowLatch', () => {
  it('takes at most one hold per flow, ignores a missing flow, and releases once', () => {
    const flow = new FlowControl();
    const other = new FlowControl();
    const latch = new FlowLatch();
    latch.hold(undefined);
    expect(latch.holding).toBe(false);
    latch.hold(flow);
    latch.hold(flow); // already held: no second hold on it
    // A later source's flow (concatenated sources) is held too: a hold on the first would not pause it.
    latch.hold(other);
    expect([flow.paused, other.paused, latch.holding]).toEqual([true, true, true]);
    latch.release();
    latch.release();
    expect([flow.paused, other.paused, latch.holding]).toEqual([false, false, false]);
  });

  it('a full stage pauses every concatenated source, not only the first (found by npm run soak)', async () => {
    const { Backpressure } = await import('../../src/core/backpressure.js');
    const gate = new Backpressure({ highWater: 100, lowWater: 50, maxQueued: 1000, overflow: 'error' }, 'stage');
    const first = new FlowControl();
    const second = new FlowControl();
    gate.add(150, first); // the first source fills the stage and ends…
    gate.add(150, second); // …the next one's chunks must be held too, or they pile up without bound
    expect([first.paused, second.paused]).toEqual([true, true]);
    gate.remove(300);
    expect([first.paused, second.paused]).toEqual([false, false]);
  });
});
