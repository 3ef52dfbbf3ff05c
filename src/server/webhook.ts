/**
 * The webhook: each final event POSTed as JSON to a URL, in order per server, through a bounded queue. Deliveries are
 * retried with the one retry policy of earshot (`core/retry.ts`: 429, 5xx and dropped connections are retried,
 * other 4xx are not). Overflow policy: when `maxQueued` events wait, the oldest waiting one is dropped (and counted),
 * so a dead endpoint costs bounded memory and the freshest transcripts get through first once it is back.
 */
import { request } from 'undici';
import { InvalidArgumentError, TransportError, toEarshotError, type EarshotError } from '../core/errors.js';
import { retry, retryPolicy, type RetryPolicy } from '../core/retry.js';
import { parseRetryAfter } from '../transports/dashscope/errors.js';

/** Settings of {@link Webhook}. */
export interface WebhookOptions {
  /** The URL each final is POSTed to (http or https). */
  url: string;
  /** Extra request headers, e.g. `{ authorization: 'Bearer …' }` (never logged). */
  headers?: Record<string, string>;
  /** Events waiting at most (default 1000); past it the oldest waiting is dropped. */
  maxQueued?: number;
  /** Deliveries in flight at once (default 4). */
  concurrency?: number;
  /** Retry policy per delivery (default 3 attempts, 500 ms doubling up to 8 s). */
  retry?: Partial<RetryPolicy>;
  /** Longest a delivery attempt may take, ms (default 10 000). */
  timeoutMs?: number;
  /** Called once per event: delivered, or dropped (overflow or retries spent) with the reason. */
  onOutcome?(outcome: 'delivered' | 'dropped', error?: EarshotError): void;
}

/**
 * A bounded, retrying POST queue.
 *
 * @example
 * const hook = new Webhook({ url: 'https://example.com/finals', onOutcome: (o) => console.log(o) });
 * hook.push({ callId: 'CA123', type: 'final', text: 'hello' });
 * await hook.drain();
 */
export class Webhook {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #max: number;
  readonly #concurrency: number;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #onOutcome: WebhookOptions['onOutcome'];
  readonly #abort = new AbortController();
  readonly #queue: string[] = [];
  #inFlight = 0;
  #idle: Array<() => void> = [];

  /**
   * @param options - see {@link WebhookOptions}.
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a URL that is not http(s) or bad bounds.
   */
  constructor(options: WebhookOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (err) {
      throw new InvalidArgumentError('the webhook needs an http(s) URL', { cause: err });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('the webhook needs an http(s) URL');
    this.#url = url.toString();
    this.#headers = { 'content-type': 'application/json', ...options.headers };
    this.#max = options.maxQueued ?? 1000;
    this.#concurrency = options.concurrency ?? 4;
    if (!(this.#max >= 1) || !(this.#concurrency >= 1)) throw new InvalidArgumentError('webhook maxQueued and concurrency must be ≥ 1');
    this.#policy = retryPolicy(options.retry);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#onOutcome = options.onOutcome;
  }

  /** Events waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queue one payload (serialized now). */
  push(payload: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#queue.push(JSON.stringify(payload));
    if (this.#queue.length > this.#max) {
      this.#queue.shift();
      this.#onOutcome?.('dropped', new TransportError('EARSHOT_LIMIT_EXCEEDED', `webhook queue full (${this.#max} events): oldest dropped`));
    }
    this.#pump();
  }

  /** Resolves once nothing is queued or in flight (each delivery has its retries and timeout, so this ends). */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stop at once: what is queued is dropped, deliveries in flight are aborted. */
  close(): void {
    this.#abort.abort();
    this.#queue.length = 0;
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const body = this.#queue.shift()!;
      this.#inFlight++;
      this.#deliver(body).then(
        () => this.#onOutcome?.('delivered'),
        (err: unknown) => this.#onOutcome?.('dropped', toEarshotError(err, 'EARSHOT_REQUEST_FAILED')),
      ).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#queue.length === 0 && this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
      });
    }
  }

  #deliver(body: string): Promise<void> {
    return retry(async () => {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]);
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(this.#url, { method: 'POST', headers: this.#headers, body, signal });
      } catch (err) {
        throw new TransportError('EARSHOT_CONNECTION_LOST', `webhook request failed: ${(err as Error).message ?? String(err)}`, { cause: err, retryable: !this.#abort.signal.aborted });
      }
      await res.body.dump();
      if (res.statusCode >= 300) throw refused(res.statusCode, res.headers['retry-after']);
    }, this.#policy, { signal: this.#abort.signal });
  }
}

/** A webhook endpoint's refusal as a coded error: 429 and 5xx may pass on another attempt (honouring Retry-After). */
function refused(status: number, retryAfter: string | string[] | undefined): TransportError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  const code = status === 429 ? 'EARSHOT_THROTTLED' : status >= 500 ? 'EARSHOT_SERVER_ERROR' : 'EARSHOT_REQUEST_FAILED';
  return new TransportError(code, `the webhook answered HTTP ${status}`, {
    statusCode: status,
    retryable: status === 429 || status >= 500,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
