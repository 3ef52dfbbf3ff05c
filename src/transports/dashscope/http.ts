/**
 * The shared HTTP client of every DashScope batch transport: one undici agent, the `Authorization` header, error
 * bodies mapped to coded errors (by the one map in `errors.ts`), retries of sub-requests (a poll, a query, an upload
 * policy) under the client's {@link RetryPolicy}, OpenAI-compatible SSE (one attempt: the caller owns the request),
 * and the async task API (§1.7).
 *
 * The API key is only ever put in the `Authorization` header; every error message is passed through
 * {@link redactSecrets} with the key itself as an extra secret.
 */
import { createHash } from 'node:crypto';
import { request, Agent, type Dispatcher } from 'undici';
import { AbortError, EarshotError, InvalidArgumentError, TransportError, redactSecrets, rememberSecret } from '../../core/errors.js';
import { NO_RETRY, retry, retryPolicy, sleep, type RetryPolicy } from '../../core/retry.js';
import type { ChunkJob } from '../transport.js';
import { errorFromResponse } from './errors.js';

/** Progress of a long job, reported through `onProgress`. */
export interface BatchProgress {
  /** What the job is doing now. */
  phase: 'checking' | 'uploading' | 'submitted' | 'running' | 'downloading' | 'transcribing' | 'done';
  /** The async task id once submitted. */
  taskId?: string;
  /** The task status last seen (`PENDING`, `RUNNING`, …). */
  status?: string;
  /** Done fraction 0..1 when it is known (pieces of a split file). */
  fraction?: number;
  /** Wall milliseconds since the job started. */
  elapsedMs: number;
}

/** A progress callback of one job, before the elapsed time is stamped on (see {@link progressReporter}). */
export type ProgressReport = (progress: Omit<BatchProgress, 'elapsedMs'>) => void;

/**
 * The progress reporter of one job: stamps each report with the wall ms since the job started (now) and passes it to
 * `onProgress`, if any.
 *
 * @example
 * const report = progressReporter((p) => console.error(p.phase, p.elapsedMs));
 * report({ phase: 'checking' });
 */
export function progressReporter(onProgress?: (progress: BatchProgress) => void): ProgressReport {
  const started = Date.now();
  return (p) => onProgress?.({ ...p, elapsedMs: Date.now() - started });
}

/**
 * The default policy of a sub-request (a poll, a query, an upload policy, a download): 5 attempts, 500 ms doubling
 * up to 8 s. A unit of work (a clip's request) is retried by its owner instead, under the owner's policy.
 */
export const HTTP_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 5, baseMs: 500, maxMs: 8000 });

/** The retry option of every DashScope transport and client: how sub-requests, and the units the transport owns, are retried. */
export interface WithRetry {
  /** Retry policy (default {@link HTTP_RETRY_POLICY}: 5 attempts, 500 ms doubling up to 8 s, `Retry-After` capped at 8 s). */
  retry?: Partial<RetryPolicy> | undefined;
  /**
   * A reply whose headers, or the next piece of whose body, do not come for this long fails with a retryable
   * EARSHOT_TIMEOUT (a server that accepted the request and went silent), ms (default {@link REQUEST_TIMEOUT_MS}).
   */
  requestTimeoutMs?: number | undefined;
}

/** Default of `requestTimeoutMs`: 120 s without a reply's headers or body. */
export const REQUEST_TIMEOUT_MS = 120_000;

/** Options of {@link DashScopeHttp}. */
export interface DashScopeHttpOptions extends WithRetry {
  apiKey: string;
  /** An undici dispatcher to use instead of the client's own agent. */
  dispatcher?: Dispatcher;
}

/** One JSON request. */
export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A JSON body (serialised here). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send the `Authorization` header (default true). */
  auth?: boolean;
  /**
   * Retry 429/5xx/dropped connections (default true; only for requests that are safe to repeat). `'throttled'` retries
   * only 429, for requests that create something (a 429 created nothing; a 5xx may have).
   */
  retry?: boolean | 'throttled';
  /** Policy of this request instead of the client's ({@link NO_RETRY}: one attempt, errors mapped as `retry` says). */
  policy?: RetryPolicy;
  /** Which error body to expect (default `native`). */
  flavour?: 'native' | 'compat';
}

/** A decoded JSON response. */
export interface JsonResponse<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

const USER_AGENT = 'earshot/0.1 (node)';
const RETRYABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

/** A network failure (socket dropped, refused) as a coded, retryable error. */
function networkError(err: unknown, secrets: readonly string[]): EarshotError {
  if (err instanceof EarshotError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.code === 'ABORT_ERR') return new AbortError(err);
  const retryable = e?.code !== undefined && RETRYABLE_NET.has(e.code);
  const timeout = e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT';
  return new TransportError(timeout ? 'EARSHOT_TIMEOUT' : 'EARSHOT_CONNECTION_LOST', redactSecrets(`request failed: ${e?.message ?? String(err)}`, secrets), { cause: err, retryable });
}

/**
 * The DashScope HTTP client shared by the batch transports and the vocabulary client.
 *
 * @example
 * const http = new DashScopeHttp({ apiKey: 'sk-…' });
 * const { body } = await http.json('https://dashscope.aliyuncs.com/api/v1/tasks/abc');
 */
export class DashScopeHttp {
  readonly #apiKey: string;
  readonly #policy: RetryPolicy;
  readonly #dispatcher: Dispatcher;
  readonly #ownAgent: boolean;
  #closed = false;

  /**
   * @param options - API key, retry policy and an optional undici dispatcher.
   * @throws EARSHOT_MISSING_API_KEY when the key is empty; EARSHOT_INVALID_ARGUMENT for an impossible retry policy or request timeout.
   */
  constructor(options: DashScopeHttpOptions) {
    if (!options.apiKey) throw new TransportError('EARSHOT_MISSING_API_KEY', 'no API key: set DASHSCOPE_API_KEY or pass { apiKey }');
    this.#apiKey = options.apiKey;
    rememberSecret(options.apiKey);
    this.#policy = retryPolicy(options.retry, HTTP_RETRY_POLICY);
    this.#ownAgent = options.dispatcher === undefined;
    const timeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    if (!(timeout > 0)) throw new InvalidArgumentError(`requestTimeoutMs must be positive, got ${timeout}`);
    this.#dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 4000, connections: 8, headersTimeout: timeout, bodyTimeout: timeout });
  }

  /** Strings to redact from messages (the key). */
  get secrets(): readonly string[] {
    return [this.#apiKey];
  }

  /** The `Authorization` header value. */
  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.#apiKey}` };
  }

  /** The client's retry policy (sub-requests, and the units a transport using this client owns). */
  get policy(): RetryPolicy {
    return this.#policy;
  }

  /**
   * Run `attempt` under the client's policy (core {@link retry}: full jitter, `Retry-After` capped at `maxMs`). An error
   * after more than one attempt is the last one told again ({@link EarshotError.wrap}), with it as `cause`.
   *
   * @throws the last attempt's error; EARSHOT_ABORTED when `signal` aborts.
   */
  async retry<T>(attempt: (n: number) => Promise<T>, signal?: AbortSignal, policy: RetryPolicy = this.#policy): Promise<T> {
    let attempts = 0;
    try {
      return await retry((n) => attempt((attempts = n)), policy, signal ? { signal } : {});
    } catch (err) {
      if (attempts < 2 || !(err instanceof EarshotError) || err instanceof AbortError) throw err;
      throw EarshotError.wrap(err, `${err.message} (after ${attempts} attempts)`);
    }
  }

  /**
   * Send one JSON request; non-2xx replies become coded errors (see {@link errorFromResponse}).
   *
   * @param url - Absolute URL.
   * @param init - Method, body, headers, signal, retry and auth switches.
   * @throws EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED, EARSHOT_SERVER_ERROR, EARSHOT_REQUEST_FAILED, EARSHOT_LIMIT_EXCEEDED, EARSHOT_TIMEOUT,
   *   EARSHOT_CONNECTION_LOST, EARSHOT_PROTOCOL_ERROR (a 2xx body that is not JSON), EARSHOT_ABORTED.
   */
  async json<T = Record<string, unknown>>(url: string, init: JsonRequest = {}): Promise<JsonResponse<T>> {
    const once = async (): Promise<JsonResponse<T>> => {
      const { status, text, headers } = await this.raw(url, init);
      if (status < 200 || status >= 300) throw errorFromResponse(status, text, headers, this.secrets);
      try {
        return { status, body: (text === '' ? {} : JSON.parse(text)) as T, headers };
      } catch (cause) {
        throw new TransportError('EARSHOT_PROTOCOL_ERROR', `response of ${safeUrl(url)} is not JSON`, { cause, statusCode: status });
      }
    };
    if (init.retry === false) return once();
    if (init.retry === 'throttled') {
      return this.retry(async () => {
        try {
          return await once();
        } catch (err) {
          if (err instanceof EarshotError && err.retryable && err.code !== 'EARSHOT_THROTTLED') throw nonRetryable(err);
          throw err;
        }
      }, init.signal, init.policy);
    }
    return this.retry(once, init.signal, init.policy);
  }

  /**
   * Send a request and read the whole body as text, whatever the status. No retry, no error mapping.
   *
   * @throws EARSHOT_CONNECTION_LOST, EARSHOT_ABORTED.
   */
  async raw(url: string, init: Omit<JsonRequest, 'body'> & { body?: unknown; rawBody?: Dispatcher.DispatchOptions['body'] } = {}): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...(init.auth === false ? {} : this.authHeaders()), ...init.headers };
    let body: Dispatcher.DispatchOptions['body'] = init.rawBody;
    if (init.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(init.body);
    }
    try {
      const res = await request(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body ?? null, signal: init.signal, dispatcher: this.#dispatcher });
      const text = await res.body.text();
      return { status: res.statusCode, text, headers: res.headers };
    } catch (err) {
      throw networkError(err, this.secrets);
    }
  }

  /**
   * POST an OpenAI-compatible streaming request and call `onChunk` with each `data:` JSON chunk until `data: [DONE]`.
   * Errors before the stream map like {@link errorFromResponse}; an `{"error":…}` chunk mid-stream becomes the same
   * coded error. One attempt: the request is the caller's unit of work, which the caller's owner retries (a failure
   * after a chunk arrived is final, so nothing is delivered twice). With `options.native` the request asks for native
   * SSE (`X-DashScope-SSE: enable`, §1.6): `event:error` blocks map to coded errors and the stream ends without `[DONE]`.
   *
   * @throws as {@link DashScopeHttp.json}, plus EARSHOT_PROTOCOL_ERROR when a compatible-mode stream ends without `[DONE]`.
   */
  async sse(url: string, body: unknown, onChunk: (chunk: Record<string, unknown>) => void, signal?: AbortSignal, options: { native?: boolean } = {}): Promise<void> {
    const native = options.native === true;
    let delivered = false;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'POST',
        headers: { 'user-agent': USER_AGENT, ...this.authHeaders(), 'content-type': 'application/json', accept: 'text/event-stream', ...(native ? { 'x-dashscope-sse': 'enable' } : {}) },
        body: JSON.stringify(body),
        signal,
        dispatcher: this.#dispatcher,
      });
    } catch (err) {
      throw networkError(err, this.secrets);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw errorFromResponse(res.statusCode, await res.body.text(), res.headers, this.secrets);
    let buffer = '';
    let done = false;
    try {
      res.body.setEncoding('utf8');
      for await (const piece of res.body as AsyncIterable<string>) {
        buffer += piece;
        let cut: number;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
          const lines = block.split(/\r?\n/);
          const data = lines
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).replace(/^ /, ''))
            .join('\n');
          if (data === '') continue;
          // Native SSE (§1.6): `event:error` with a `:HTTP_STATUS/400` (or `status:400`) line and the native error body.
          if (native && lines.some((l) => /^event:\s*error$/.test(l))) {
            const status = lines.map((l) => /^(?::HTTP_STATUS\/|status:\s*)(\d{3})/.exec(l)?.[1]).find(Boolean);
            throw errorFromResponse(Number(status ?? 500), data, {}, this.secrets);
          }
          if (data === '[DONE]') {
            done = true;
            continue;
          }
          let chunk: Record<string, unknown>;
          try {
            chunk = JSON.parse(data) as Record<string, unknown>;
          } catch (cause) {
            throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'an SSE chunk is not JSON', { cause });
          }
          if (chunk.error) {
            const embedded = /^<(\d{3})>/.exec(String((chunk.error as { message?: unknown }).message ?? ''));
            throw errorFromResponse(embedded ? Number(embedded[1]) : 500, data, {}, this.secrets);
          }
          delivered = true;
          onChunk(chunk);
        }
      }
    } catch (err) {
      res.body.destroy();
      const coded = networkError(err, this.secrets);
      throw delivered ? nonRetryable(coded, 'after part of the reply arrived') : coded;
    }
    // Native SSE has no [DONE]: the stream simply ends (§1.6).
    if (!done && !native) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'the SSE stream ended without [DONE]', { retryable: !delivered });
  }

  /** Close the client's own connection pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#ownAgent && !this.#closed) {
      this.#closed = true;
      await this.#dispatcher.close();
    }
  }
}

/** A retryable error made final, saying why (it may have taken effect, or part of the reply was delivered). */
function nonRetryable(err: EarshotError, why = 'not repeated: it may have taken effect'): EarshotError {
  return err.retryable ? EarshotError.wrap(err, `${err.message} (${why})`, { retryable: false }) : err;
}

/**
 * The HTTP client of a transport: the shared `options.http` when given (left open), else its own, which `close`
 * closes.
 *
 * @param options - The transport's options (retry policy, an optional shared client).
 * @param apiKey - The resolved key.
 * @example
 * const { http, close } = transportHttp(options, endpoints.apiKey);
 */
export function transportHttp(options: WithRetry & { http?: DashScopeHttp | undefined }, apiKey: string): { http: DashScopeHttp; close(): Promise<void> } {
  const shared = options.http;
  const http = shared ?? new DashScopeHttp({ apiKey, retry: options.retry, requestTimeoutMs: options.requestTimeoutMs });
  return { http, close: async () => (shared === undefined ? http.close() : undefined) };
}

/** A URL without its query (signed URLs carry signatures). */
export function safeUrl(url: string): string {
  return url.replace(/\?.*$/, '');
}

// ---------------------------------------------------------------------------------------------------------------
// Async task API (§1.7): submit, poll with backoff, download the result.

/** The `output` of a task query. */
export interface TaskOutput {
  task_id: string;
  task_status: string;
  code?: string;
  message?: string;
  results?: { file_url?: string; transcription_url?: string; subtask_status?: string; code?: string; message?: string }[];
  result?: { transcription_url?: string };
  task_metrics?: { TOTAL: number; SUCCEEDED: number; FAILED: number };
  [key: string]: unknown;
}

/** First poll interval of a short clip's task (its result is ready in well under a second). */
export const CLIP_POLL_MS = 200;

/** Polling schedule (the SDK's: start at 1 s, double every 3 polls, cap 5 s). */
export interface PollOptions {
  /** First poll interval in ms (default 1000). */
  pollMs?: number;
  /** Longest poll interval in ms (default 5000). */
  maxPollMs?: number;
  /** Give up after this many ms (default 24 h). */
  timeoutMs?: number;
  /**
   * Task queries a second for all the tasks of one transport together (default 5; the service allows 20 a second
   * per account, §1.7, so several processes fit under it).
   */
  queriesPerSecond?: number;
}

/**
 * Submit an async transcription task (`X-DashScope-Async: enable`). A 5xx or a dropped socket is final (the task may
 * exist: nothing runs twice); a 429 created nothing and stays retryable. It is retried here under the client's
 * policy — unless `once` is set: a clip's submit is one attempt of a unit whose owner (`transcribeBatch`) retries it,
 * and retrying here too would multiply the attempts.
 *
 * @returns The task id.
 * @throws as {@link DashScopeHttp.json}.
 * @example
 * const taskId = await submitTask(http, httpBase, { model: 'fun-asr', input: { file_urls: [url] }, parameters: {} });
 */
export async function submitTask(http: DashScopeHttp, httpBase: string, body: unknown, options: { signal?: AbortSignal; ossResolve?: boolean; once?: boolean } = {}): Promise<string> {
  const headers: Record<string, string> = { 'x-dashscope-async': 'enable' };
  if (options.ossResolve) headers['x-dashscope-ossresourceresolve'] = 'enable';
  // A 5xx or dropped socket on submit may have created the task: only 429 is retried, so nothing runs twice.
  const { body: res } = await http.json<{ output?: { task_id?: string } }>(`${httpBase}/services/audio/asr/transcription`, { body, headers, signal: options.signal, retry: 'throttled', ...(options.once ? { policy: NO_RETRY } : {}) });
  const id = res.output?.task_id;
  if (!id) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'the submit reply has no output.task_id');
  return id;
}

/**
 * Poll `GET /tasks/{id}` until the task ends. Transient failures (429, 5xx, dropped sockets) are retried on the same
 * task, never by resubmitting. `pace` (a transport's {@link QueryPacer}) is awaited before each query.
 *
 * @returns The final `output` (status `SUCCEEDED`).
 * @throws EARSHOT_TASK_FAILED (FAILED, CANCELED), EARSHOT_RESULT_EXPIRED (UNKNOWN: the task is gone), EARSHOT_TIMEOUT,
 *   EARSHOT_ABORTED, and the mapped HTTP errors once retries are spent.
 * @example
 * const output = await waitForTask(http, httpBase, taskId, { onStatus: (s) => console.error(s) });
 */
export async function waitForTask(http: DashScopeHttp, httpBase: string, taskId: string, options: PollOptions & { signal?: AbortSignal; onStatus?: (status: string) => void; pace?: (signal?: AbortSignal) => Promise<void> } = {}): Promise<TaskOutput> {
  const start = Date.now();
  const first = options.pollMs ?? 1000;
  const cap = options.maxPollMs ?? 5000;
  const timeout = options.timeoutMs ?? 24 * 3600_000;
  let interval = first;
  for (let polls = 0; ; polls++) {
    await options.pace?.(options.signal);
    const { body } = await http.json<{ output?: TaskOutput; request_id?: string }>(`${httpBase}/tasks/${encodeURIComponent(taskId)}`, { signal: options.signal });
    const out = body.output;
    if (!out?.task_status) throw new TransportError('EARSHOT_PROTOCOL_ERROR', `task ${taskId}: the reply has no task_status`);
    options.onStatus?.(out.task_status);
    switch (out.task_status) {
      case 'SUCCEEDED':
        return out;
      case 'FAILED':
      case 'CANCELED': {
        const sub = out.results?.find((r) => r.code);
        const code = out.code ?? sub?.code ?? out.task_status;
        const message = out.message ?? sub?.message ?? '';
        const o: ConstructorParameters<typeof TransportError>[2] = { providerCode: code, details: { taskId } };
        if (typeof body.request_id === 'string') o.requestId = body.request_id;
        throw new TransportError('EARSHOT_TASK_FAILED', `task ${taskId} ${out.task_status.toLowerCase()}: ${code}${message && message !== code ? ` ${message}` : ''}`, o);
      }
      case 'UNKNOWN':
        throw new TransportError('EARSHOT_RESULT_EXPIRED', `task ${taskId} is unknown to the service (expired after 24 h, or never existed)`, { providerCode: 'UNKNOWN', details: { taskId } });
      default:
        break;
    }
    if (Date.now() - start > timeout) throw new TransportError('EARSHOT_TIMEOUT', `task ${taskId} did not finish within ${timeout} ms`, { details: { taskId } });
    await sleep(interval, options.signal);
    if (polls % 3 === 2) interval = Math.min(cap, interval * 2);
  }
}

/**
 * Ask the service to cancel a task (it only can while the task is PENDING). Used when a caller aborts, so an
 * abandoned job does not run (and bill) anyway.
 *
 * @returns `true` when the service cancelled it, `false` when it was no longer PENDING or the request failed.
 * @example
 * await cancelTask(http, httpBase, taskId);
 */
export async function cancelTask(http: DashScopeHttp, httpBase: string, taskId: string): Promise<boolean> {
  try {
    const { status } = await http.raw(`${httpBase}/tasks/${encodeURIComponent(taskId)}/cancel`, { method: 'POST' });
    return status >= 200 && status < 300;
  } catch {
    // Best effort: the caller has already given up on this task, and the abort is what it sees.
    return false;
  }
}

/**
 * Download a result JSON from a signed `transcription_url`. A 403/404 from the storage means the link expired.
 *
 * @throws EARSHOT_RESULT_EXPIRED, EARSHOT_PROTOCOL_ERROR, and the mapped HTTP errors once retries are spent.
 * @example
 * const result = await fetchResult(http, output.results[0].transcription_url);
 */
export async function fetchResult<T>(http: DashScopeHttp, url: string, signal?: AbortSignal): Promise<T> {
  return http.retry(async () => {
    const { status, text, headers } = await http.raw(url, { auth: false, signal });
    if (status === 403 || status === 404 || status === 410) {
      throw new TransportError('EARSHOT_RESULT_EXPIRED', `the result at ${safeUrl(url)} is gone (HTTP ${status}); results are kept 24 h`, { statusCode: status });
    }
    if (status < 200 || status >= 300) throw errorFromResponse(status, text, headers, http.secrets);
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new TransportError('EARSHOT_PROTOCOL_ERROR', `the result at ${safeUrl(url)} is not JSON`, { cause });
    }
  }, signal);
}

/**
 * The tasks submitted for clips, by clip content, so that a clip retried after a transient failure (by
 * `transcribeBatch`, say) resumes polling its task instead of being uploaded and transcribed a second time.
 * Bounded: the oldest entries go first.
 *
 * @example
 * const memo = new TaskMemo();
 * const key = TaskMemo.key(job);
 * const taskId = memo.get(key) ?? (await submit());
 */
export class TaskMemo {
  readonly #tasks = new Map<string, string>();
  readonly #limit: number;

  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** A key for a clip: its samples, rate and options (not its position, so a re-cut identical clip matches too). */
  static key(job: ChunkJob): string {
    const hash = createHash('sha1');
    hash.update(new Uint8Array(job.samples.buffer, job.samples.byteOffset, job.samples.byteLength));
    hash.update(`|${job.sampleRate}|${JSON.stringify(job.options ?? {})}`);
    return hash.digest('hex');
  }

  get(key: string | undefined): string | undefined {
    return key === undefined ? undefined : this.#tasks.get(key);
  }

  set(key: string | undefined, taskId: string): void {
    if (key === undefined) return;
    this.#tasks.delete(key);
    this.#tasks.set(key, taskId);
    if (this.#tasks.size > this.#limit) this.#tasks.delete(this.#tasks.keys().next().value!);
  }

  delete(key: string | undefined): void {
    if (key !== undefined) this.#tasks.delete(key);
  }
}
