import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { AbortError, InvalidArgumentError, TransportError } from '../../src/core/errors.js';
import { DEFAULT_RETRY_POLICY, retry, retryDelay, retryPolicy, sleep } from '../../src/core/retry.js';
import { runVirtual } from '../../src/core/clock.js';

const transient = (retryAfterMs?: number) =>
  new TransportError('EARSHOT_SERVER_ERROR', 'boom', retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs });

describe('retryPolicy', () => {
  it('fills defaults and refuses impossible policies', () => {
    expect(retryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
    expect(retryPolicy({ attempts: 5 })).toEqual({ attempts: 5, baseMs: 500, maxMs: 8000 });
    expect(() => retryPolicy({ attempts: 0 })).toThrow(InvalidArgumentError);
    expect(() => retryPolicy({ attempts: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => retryPolicy({ baseMs: 9000 })).toThrow(InvalidArgumentError);
  });
});

describe('retryDelay', () => {
  const policy = retryPolicy({ attempts: 4, baseMs: 100, maxMs: 1000 });
  it('full jitter up to the doubled base, capped at maxMs', () => {
    expect(retryDelay(policy, 1, transient(), () => 0.999)).toBe(99);
    expect(retryDelay(policy, 2, transient(), () => 0.999)).toBe(199);
    expect(retryDelay(policy, 3, transient(), () => 0)).toBe(0);
    expect(retryDelay(retryPolicy({ attempts: 10, baseMs: 100, maxMs: 1000 }), 8, transient(), () => 0.5)).toBe(500);
  });
  it('honours Retry-After, capped at maxMs', () => {
    expect(retryDelay(policy, 1, transient(300))).toBe(300);
    expect(retryDelay(policy, 1, transient(60_000))).toBe(1000);
  });
  it('stops on a final error, an uncoded error, or the last attempt', () => {
    expect(retryDelay(policy, 1, new TransportError('EARSHOT_AUTH_FAILED', 'no'))).toBeUndefined();
    expect(retryDelay(policy, 1, new Error('plain'))).toBeUndefined();
    expect(retryDelay(policy, 4, transient())).toBeUndefined();
  });
});

describe('retry', () => {
  it('makes at most `attempts` attempts and throws the last error unchanged', async () => {
    const scheduler = new VirtualTimeScheduler();
    let calls = 0;
    const last = transient();
    const run = retry(async () => {
      calls++;
      throw calls === 3 ? last : transient();
    }, retryPolicy({ attempts: 3, baseMs: 100, maxMs: 400 }), { scheduler });
    const settled = run.then(() => undefined, (err: unknown) => err);
    await runVirtual(scheduler);
    expect(await settled).toBe(last);
    expect(calls).toBe(3);
  });

  it('returns the first success and reports each retry', async () => {
    const scheduler = new VirtualTimeScheduler();
    const seen: number[] = [];
    const run = retry(async (n) => {
      if (n < 2) throw transient(250);
      return n;
    }, retryPolicy({ attempts: 5 }), { scheduler, onRetry: (_e, attempt, ms) => seen.push(attempt, ms) });
    await runVirtual(scheduler);
    expect(await run).toBe(2);
    expect(seen).toEqual([1, 250]);
    expect(scheduler.frame).toBe(250);
  });

  it('does not retry a final error', async () => {
    let calls = 0;
    await expect(retry(async () => {
      calls++;
      throw new TransportError('EARSHOT_AUTH_FAILED', 'bad key');
    }, retryPolicy({ attempts: 5 }))).rejects.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    expect(calls).toBe(1);
  });

  it('an abort during a wait rejects with AbortError at once', async () => {
    const ac = new AbortController();
    const run = retry(async () => {
      throw transient(5000);
    }, retryPolicy({ attempts: 3, maxMs: 5000 }), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const t0 = performance.now();
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('sleep on a virtual clock waits virtual time only', async () => {
    const scheduler = new VirtualTimeScheduler();
    let done = false;
    void sleep(1000, undefined, scheduler).then(() => (done = true));
    await runVirtual(scheduler);
    expect(done).toBe(true);
    expect(scheduler.frame).toBe(1000);
  });
});
