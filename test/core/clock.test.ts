import { describe, expect, it } from 'vitest';
import { asyncScheduler, VirtualTimeScheduler } from 'rxjs';
import { clockOf, PaceClock, runVirtual } from '../../src/core/clock.js';

describe('PaceClock', () => {
  it('maps audio time to the time it was live once anchored', () => {
    const clock = new PaceClock(new VirtualTimeScheduler());
    expect(clock.anchored).toBe(false);
    expect(clock.wallTimeAt(1000)).toBeUndefined();
    clock.anchor(500, 2000, 2);
    expect(clock.anchored).toBe(true);
    expect(clock.wallTimeAt(2000)).toBe(500);
    expect(clock.wallTimeAt(4000)).toBe(1500);
    expect(() => clock.anchor(0, 0, 0)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('uses performance.now() for the real scheduler and virtual time otherwise', () => {
    const v = new VirtualTimeScheduler();
    v.frame = 1234;
    expect(clockOf(v)()).toBe(1234);
    const real = clockOf(asyncScheduler)();
    expect(Math.abs(real - performance.now())).toBeLessThan(1000);
  });
});

describe('runVirtual', () => {
  it('runs timers in time order with promise callbacks in between, and stops at untilMs', async () => {
    const scheduler = new VirtualTimeScheduler();
    const log: string[] = [];
    scheduler.schedule(() => {
      log.push(`t${scheduler.now()}`);
      // A promise settled by a timer schedules more work: runVirtual must see it.
      void Promise.resolve().then(() => scheduler.schedule(() => log.push(`p${scheduler.now()}`), 50));
    }, 100);
    scheduler.schedule(() => log.push(`t${scheduler.now()}`), 300);
    expect(await runVirtual(scheduler, 200)).toBe(200);
    expect(log).toEqual(['t100', 'p150']);
    expect(await runVirtual(scheduler)).toBe(300);
    expect(log).toEqual(['t100', 'p150', 't300']);
  });

  it('returns at once when nothing is scheduled', async () => {
    await expect(runVirtual(new VirtualTimeScheduler())).resolves.toBe(0);
  });
});
