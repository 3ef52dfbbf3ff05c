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
  it('takes at most one hold, ignores a missing flow, and releases once', () => {
    const flow = new FlowControl();
    const other = new FlowControl();
    const latch = new FlowLatch();
    latch.hold(undefined);
    expect(latch.holding).toBe(false);
    latch.hold(flow);
    latch.hold(other); // already holding: no second hold
    expect([flow.paused, other.paused, latch.holding]).toEqual([true, false, true]);
    latch.release();
    latch.release();
    expect([flow.paused, latch.holding]).toEqual([false, false]);
  });
});
