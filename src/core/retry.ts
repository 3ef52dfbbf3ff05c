/**
 * The one retry policy of earshot: how many attempts a unit of work gets, how long to wait between them (exponential
 * backoff with full jitter) and how a server's `Retry-After` is honoured (always, capped at `maxMs`).
 *
 * Which layer retries: exactly one — the layer that owns the unit of work. `transcribeBatch` owns a clip,
 * `transcribeRealtime` owns a session's reconnects, the queue owns a queued job. Layers below (HTTP client, SSE,
 * engine pool, WebSocket client) make one attempt of the unit and report a coded error whose `retryable` says
 * whether another attempt may help; they retry only sub-requests that are not the unit itself (a poll of a task
 * already submitted, an upload), under their own policy. So a clip is sent at most `attempts` times end to end.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { AbortError, EarshotError, InvalidArgumentError } from './errors.js';

/** How a unit of work is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  /** Backoff ceiling before the second attempt, ms; doubled for each later one (full jitter: a random wait up to it). */
  baseMs: number;
  /** Longest wait, ms: caps the backoff and a server's `Retry-After`. */
  maxMs: number;
}

/** The default: 3 attempts, 500 ms doubling up to 8 s. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 3, baseMs: 500, maxMs: 8000 });

/** One attempt, no retry: what a layer below the owner of a unit of work uses for that unit. */
export const NO_RETRY: Readonly<RetryPolicy> = Object.freeze({ attempts: 1, baseMs: 0, maxMs: 0 });

/**
 * Complete and check a policy (missing fields from `defaults`).
 *
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a non-integer or < 1 `attempts`, or `baseMs > maxMs`.
 * @example
 * retryPolicy({ attempts: 5 }); // { attempts: 5, baseMs: 500, maxMs: 8000 }
 */
export function retryPolicy(policy: Partial<RetryPolicy> = {}, defaults: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY): RetryPolicy {
  const out: RetryPolicy = { attempts: policy.attempts ?? defaults.attempts, baseMs: policy.baseMs ?? defaults.baseMs, maxMs: policy.maxMs ?? defaults.maxMs };
  if (!Number.isInteger(out.attempts) || out.attempts < 1) throw new InvalidArgumentError(`retry.attempts must be an integer ≥ 1, got ${out.attempts}`);
  if (!(out.baseMs >= 0) || !(out.maxMs >= out.baseMs)) throw new InvalidArgumentError(`retry needs 0 ≤ baseMs ≤ maxMs, got ${out.baseMs} and ${out.maxMs}`);
  return out;
}

/**
 * The wait before the next attempt after attempt number `attempt` (1-based) failed with `err`, or `undefined` when
 * there is none: the error is not retryable, or the attempts are spent.
 * A server's `retryAfterMs` is honoured, capped at `maxMs`; otherwise full jitter: uniform in [0, min(maxMs, baseMs·2^(attempt−1))].
 *
 * @example
 * retryDelay(retryPolicy(), 1, new TransportError('EARSHOT_THROTTLED', 'slow down', { retryable: true, retryAfterMs: 2000 })); // 2000
 */
export function retryDelay(policy: RetryPolicy, attempt: number, err: unknown, random: () => number = Math.random): number | undefined {
  if (!(err instanceof EarshotError) || !err.retryable || attempt >= policy.attempts) return undefined;
  if (err.retryAfterMs !== undefined) return Math.min(policy.maxMs, Math.max(0, err.retryAfterMs));
  return Math.floor(random() * Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1)));
}

/** Settings of {@link retry}. */
export interface RetryRunOptions {
  signal?: AbortSignal;
  /** Where the waits run (default the real clock); a `VirtualTimeScheduler` makes tests deterministic. */
  scheduler?: SchedulerLike;
  /** Called before each wait, e.g. to count or log (never with secrets: errors are already redacted). */
  onRetry?(err: EarshotError, attempt: number, delayMs: number): void;
}

/**
 * Run `fn` until it succeeds, fails with an error that is not retryable, or has had `policy.attempts` attempts.
 * The last error is thrown as it is (its class, code and fields), so the caller sees what went wrong.
 *
 * @param fn - one attempt; gets the 1-based attempt number.
 * @throws the last attempt's error; AbortError (`EARSHOT_ABORTED`) when `signal` aborts, also during a wait.
 * @example
 * const events = await retry((n) => transport.transcribeClip!(job, { signal }), retryPolicy({ attempts: 3 }), { signal });
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryRunOptions = {}): Promise<T> {
  const { signal, scheduler = asyncScheduler } = options;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw new AbortError(signal.reason);
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw err instanceof AbortError ? err : new AbortError(signal.reason);
      const wait = retryDelay(policy, attempt, err);
      if (wait === undefined) throw err;
      options.onRetry?.(err as EarshotError, attempt, wait);
      await sleep(wait, signal, scheduler);
    }
  }
}

/**
 * Resolve after `ms` on `scheduler` (the real clock by default); reject with AbortError when `signal` aborts.
 *
 * @example
 * await sleep(250, signal);
 */
export function sleep(ms: number, signal?: AbortSignal, scheduler: SchedulerLike = asyncScheduler): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(signal.reason));
    const onAbort = (): void => {
      sub.unsubscribe();
      reject(new AbortError(signal?.reason));
    };
    const sub = scheduler.schedule(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
