/**
 * The shared HTTP client of every DashScope batch transport: one undici agent, the `Authorization` header, the
 * mapping of error bodies (native §1.4 and OpenAI-compatible §1.5) to coded errors, retries of 429 (honouring
 * `Retry-After`) and 5xx with exponential backoff, OpenAI-compatible SSE, and the async task API (§1.7).
 *
 * The API key is only ever put in the `Authorization` header; every error message is passed through
 * {@link redactSecrets} with the key itself as an extra secret.
 */
import { createHash } from 'node:crypto';
import { request, Agent, type Dispatcher } from 'undici';
import { AbortError, EarshotError, TransportError, redactSecrets, type ErrorCode } from '../../core/errors.js';
import type { ChunkJob } from '../transport.js';

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

/** Retry policy of {@link DashScopeHttp}. */
export interface RetryOptions {
  /** Attempts after the first one (default 4). */
  retries?: number;
  /** First backoff delay in ms (default 500), doubled per attempt. */
  backoffMs?: number;
  /** Longest backoff delay in ms (default 8000). */
  maxBackoffMs?: number;
}

/** Options of {@link DashScopeHttp}. */
export interface DashScopeHttpOptions extends RetryOptions {
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

/**
 * Parse a `Retry-After` header (delta seconds or an HTTP date) into milliseconds.
 *
 * @param value - The header value, if any.
 * @param now - The current time in ms (for dates).
 * @returns Milliseconds to wait, or `undefined` when absent or unreadable.
 * @example
 * parseRetryAfter('2'); // 2000
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v.trim()) * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Turn a non-2xx DashScope response into a coded error: 401/403 access errors and `Arrearage` → `EARSHOT_AUTH_FAILED`,
 * `ModelNotFound` → `EARSHOT_UNKNOWN_MODEL`, 429 → `EARSHOT_THROTTLED` (retryable, with `retryAfterMs`, except a spent
 * `insufficient_quota`), 5xx → `EARSHOT_SERVER_ERROR` (retryable),
 * "too long / too large" 400s → `EARSHOT_LIMIT_EXCEEDED`, anything else → `EARSHOT_REQUEST_FAILED`.
 *
 * @param status - HTTP status.
 * @param bodyText - The raw body (native `{code,message,request_id}` or compat `{error:{code,message}}`).
 * @param headers - Response headers (for `Retry-After`).
 * @param secrets - Extra strings to redact from the message (the API key).
 * @returns A {@link TransportError} carrying `statusCode`, `providerCode`, `requestId`, `retryAfterMs`.
 * @example
 * const err = errorFromResponse(429, '{"code":"Throttling","message":"slow down"}', { 'retry-after': '1' });
 * err.code; // 'EARSHOT_THROTTLED'
 */
export function errorFromResponse(status: number, bodyText: string, headers: Record<string, string | string[] | undefined> = {}, secrets: readonly string[] = []): TransportError {
  let providerCode: string | undefined;
  let message = bodyText.slice(0, 500);
  let requestId: string | undefined;
  try {
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const inner = (body.error && typeof body.error === 'object' ? body.error : body) as Record<string, unknown>;
    if (typeof inner.code === 'string') providerCode = inner.code;
    if (typeof inner.message === 'string') message = inner.message;
    if (typeof body.request_id === 'string') requestId = body.request_id;
  } catch {
    const xml = /<Code>([^<]+)<\/Code>[\s\S]*?<Message>([^<]*)<\/Message>/.exec(bodyText);
    if (xml) {
      providerCode = xml[1];
      message = xml[2] ?? message;
    }
  }
  let code: ErrorCode = 'EARSHOT_REQUEST_FAILED';
  let retryable = false;
  const lower = `${providerCode ?? ''} ${message}`.toLowerCase();
  if (status === 401 || providerCode === 'InvalidApiKey' || providerCode === 'invalid_api_key') code = 'EARSHOT_AUTH_FAILED';
  else if (/^arrearage$/i.test(providerCode ?? '')) code = 'EARSHOT_AUTH_FAILED';
  else if (status === 403 && /accessdenied|unpurchased/i.test(providerCode ?? '') && !/expired/.test(lower)) code = 'EARSHOT_AUTH_FAILED';
  else if (/^(ModelNotFound|model_not_found)$/.test(providerCode ?? '')) code = 'EARSHOT_UNKNOWN_MODEL';
  else if (status === 429) {
    code = 'EARSHOT_THROTTLED';
    // A spent quota does not come back by waiting a few seconds.
    retryable = providerCode !== 'insufficient_quota';
  } else if (status >= 500) {
    code = 'EARSHOT_SERVER_ERROR';
    retryable = true;
  } else if (status === 400 && /too long|too large|too big|exceed/.test(lower)) code = 'EARSHOT_LIMIT_EXCEEDED';
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  const text = redactSecrets(`HTTP ${status}${providerCode ? ` ${providerCode}` : ''}: ${message}`, secrets);
  const options: ConstructorParameters<typeof TransportError>[2] = { retryable, statusCode: status };
  if (providerCode !== undefined) options.providerCode = providerCode;
  if (requestId !== undefined) options.requestId = requestId;
  if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
  return new TransportError(code, text, options);
}

/** A network failure (socket dropped, refused) as a coded, retryable error. */
function networkError(err: unknown, secrets: readonly string[]): EarshotError {
  if (err instanceof EarshotError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.code === 'ABORT_ERR') return new AbortError(err);
  const retryable = e?.code !== undefined && RETRYABLE_NET.has(e.code);
  return new TransportError('EARSHOT_CONNECTION_LOST', redactSecrets(`request failed: ${e?.message ?? String(err)}`, secrets), { cause: err, retryable });
}

/**
 * Wait `ms`, rejecting with an {@link AbortError} when `signal` aborts.
 *
 * @example
 * await delay(100, controller.signal);
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
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
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownAgent: boolean;
  #closed = false;

  /**
   * @param options - API key, retry policy and an optional undici dispatcher.
   * @throws EARSHOT_MISSING_API_KEY when the key is empty.
   */
  constructor(options: DashScopeHttpOptions) {
    if (!options.apiKey) throw new EarshotError('EARSHOT_MISSING_API_KEY', 'no API key: set DASHSCOPE_API_KEY or pass { apiKey }');
    this.#apiKey = options.apiKey;
    this.#retries = options.retries ?? 4;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 8000;
    this.#ownAgent = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 4000, connections: 8 });
  }

  /** Strings to redact from messages (the key). */
  get secrets(): readonly string[] {
    return [this.#apiKey];
  }

  /** The `Authorization` header value. */
  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.#apiKey}` };
  }

  /**
   * Run `attempt` and retry it while it fails with a retryable error, waiting `Retry-After` or an exponential backoff.
   * The final error keeps the previous attempt's error as `cause`.
   *
   * @throws the last attempt's error; EARSHOT_ABORTED when `signal` aborts.
   */
  async retry<T>(attempt: (n: number) => Promise<T>, signal?: AbortSignal, policy: RetryOptions = {}): Promise<T> {
    const retries = policy.retries ?? this.#retries;
    const base = policy.backoffMs ?? this.#backoffMs;
    const cap = policy.maxBackoffMs ?? this.#maxBackoffMs;
    let last: unknown;
    for (let n = 0; ; n++) {
      if (signal?.aborted) throw new AbortError(signal.reason);
      try {
        return await attempt(n);
      } catch (err) {
        if (!(err instanceof EarshotError) || !err.retryable || n >= retries) {
          if (last !== undefined && err instanceof EarshotError && err.cause === undefined) {
            throw new TransportError(err.code, err.message, withCause(err, last));
          }
          throw err;
        }
        last = err;
        const backoff = Math.min(cap, base * 2 ** n) * (0.75 + Math.random() * 0.5);
        await delay(err.retryAfterMs ?? backoff, signal);
      }
    }
  }

  /**
   * Send one JSON request; non-2xx replies become coded errors (see {@link errorFromResponse}).
   *
   * @param url - Absolute URL.
   * @param init - Method, body, headers, signal, retry and auth switches.
   * @throws EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED, EARSHOT_SERVER_ERROR, EARSHOT_REQUEST_FAILED, EARSHOT_LIMIT_EXCEEDED,
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
      }, init.signal);
    }
    return this.retry(once, init.signal);
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
   * coded error. Retries happen only before the first chunk arrived (so nothing is delivered twice).
   *
   * @throws as {@link DashScopeHttp.json}, plus EARSHOT_PROTOCOL_ERROR when the stream ends without `[DONE]`.
   */
  async sse(url: string, body: unknown, onChunk: (chunk: Record<string, unknown>) => void, signal?: AbortSignal): Promise<void> {
    let delivered = false;
    const once = async (): Promise<void> => {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: 'POST',
          headers: { 'user-agent': USER_AGENT, ...this.authHeaders(), 'content-type': 'application/json', accept: 'text/event-stream' },
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
            const data = block
              .split(/\r?\n/)
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).replace(/^ /, ''))
              .join('\n');
            if (data === '') continue;
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
        if (err instanceof EarshotError) throw delivered ? nonRetryable(err, 'after part of the reply arrived') : err;
        throw delivered ? nonRetryable(networkError(err, this.secrets), 'after part of the reply arrived') : networkError(err, this.secrets);
      }
      if (!done) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'the SSE stream ended without [DONE]', { retryable: !delivered });
    };
    return this.retry(once, signal);
  }

  /** Close the client's own connection pool. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#ownAgent && !this.#closed) {
      this.#closed = true;
      await this.#dispatcher.close();
    }
  }
}

function nonRetryable(err: EarshotError, why = 'not repeated: it may have taken effect'): EarshotError {
  if (!err.retryable) return err;
  return new TransportError(err.code, `${err.message} (${why})`, withCause(err, err));
}

function withCause(err: EarshotError, cause: unknown): ConstructorParameters<typeof TransportError>[2] {
  const o: ConstructorParameters<typeof TransportError>[2] = { cause, retryable: false };
  if (err.statusCode !== undefined) o.statusCode = err.statusCode;
  if (err.requestId !== undefined) o.requestId = err.requestId;
  if (err.providerCode !== undefined) o.providerCode = err.providerCode;
  if (err.retryAfterMs !== undefined) o.retryAfterMs = err.retryAfterMs;
  if (err.details !== undefined) o.details = err.details;
  return o;
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
export function transportHttp(options: RetryOptions & { http?: DashScopeHttp | undefined }, apiKey: string): { http: DashScopeHttp; close(): Promise<void> } {
  const shared = options.http;
  const http = shared ?? new DashScopeHttp({ ...options, apiKey });
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
}

/**
 * Submit an async transcription task (`X-DashScope-Async: enable`). Not retried on 5xx (the task may exist);
 * 429 is retried since a throttled submit creates nothing.
 *
 * @returns The task id.
 * @throws as {@link DashScopeHttp.json}.
 * @example
 * const taskId = await submitTask(http, httpBase, { model: 'fun-asr', input: { file_urls: [url] }, parameters: {} });
 */
export async function submitTask(http: DashScopeHttp, httpBase: string, body: unknown, options: { signal?: AbortSignal; ossResolve?: boolean } = {}): Promise<string> {
  const headers: Record<string, string> = { 'x-dashscope-async': 'enable' };
  if (options.ossResolve) headers['x-dashscope-ossresourceresolve'] = 'enable';
  // A 5xx or dropped socket on submit may have created the task: only 429 is retried, so nothing runs twice.
  const { body: res } = await http.json<{ output?: { task_id?: string } }>(`${httpBase}/services/audio/asr/transcription`, { body, headers, signal: options.signal, retry: 'throttled' });
  const id = res.output?.task_id;
  if (!id) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'the submit reply has no output.task_id');
  return id;
}

/**
 * Poll `GET /tasks/{id}` until the task ends. Transient failures (429, 5xx, dropped sockets) are retried on the same
 * task, never by resubmitting.
 *
 * @returns The final `output` (status `SUCCEEDED`).
 * @throws EARSHOT_TASK_FAILED (FAILED, CANCELED), EARSHOT_RESULT_EXPIRED (UNKNOWN: the task is gone), EARSHOT_TIMEOUT,
 *   EARSHOT_ABORTED, and the mapped HTTP errors once retries are spent.
 * @example
 * const output = await waitForTask(http, httpBase, taskId, { onStatus: (s) => console.error(s) });
 */
export async function waitForTask(http: DashScopeHttp, httpBase: string, taskId: string, options: PollOptions & { signal?: AbortSignal; onStatus?: (status: string) => void } = {}): Promise<TaskOutput> {
  const start = Date.now();
  const first = options.pollMs ?? 1000;
  const cap = options.maxPollMs ?? 5000;
  const timeout = options.timeoutMs ?? 24 * 3600_000;
  let interval = first;
  for (let polls = 0; ; polls++) {
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
    await delay(interval, options.signal);
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
