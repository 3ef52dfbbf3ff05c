/**
 * The one DashScope error map: a refused HTTP request (native §1.4, OpenAI-compatible §1.5, the storage's XML), a
 * refused WebSocket handshake (§1.2) and a failure reported inside a protocol (`task-failed` §2.11, an `error` event
 * §5.5/§8) all become a {@link TransportError} through {@link classifyDashScope}, so HTTP and WebSocket agree on what a
 * provider code means and whether another attempt may help. Also the one {@link parseRetryAfter}.
 *
 * Decisions where the two transports used to disagree (protocol notes: `docs/protocol-notes.md`):
 * - 403 means the key may not do this (§1.2 "403 for a key without access", §1.4 `AccessDenied`,
 *   `AccessDenied.Unpurchased`, `Model.AccessDenied`): EARSHOT_AUTH_FAILED, final — except the two 403s that are about
 *   the request, not the key: an expired upload policy or signed URL (§1.8 "Policy expired") and a submit without the
 *   async header (§1.7 "does not support synchronous calls"): EARSHOT_REQUEST_FAILED, final.
 * - `insufficient_quota` (§1.5, a 429) and `Arrearage` (§1.4) are final on every transport: a spent quota or an
 *   overdue account does not come back by waiting a few seconds.
 * - `Retry-After` is read in both forms HTTP allows (delta-seconds and an HTTP date) on every transport.
 */
import { TransportError, redactSecrets, type EarshotErrorOptions, type TransportErrorCode } from '../../core/errors.js';

/** Response headers as undici and `node:http` give them. */
export type Headers = Record<string, string | string[] | undefined>;

/** One failure as the service described it. */
export interface DashScopeFailure {
  /** HTTP status of a refused request or handshake; absent for a failure reported inside a protocol. */
  status?: number | undefined;
  /** The provider's code (`Throttling.RateQuota`, `invalid_api_key`, `InternalError`, …). */
  providerCode?: string | undefined;
  /** The provider's message. */
  message?: string | undefined;
  requestId?: string | undefined;
  /** Response headers (`Retry-After`). */
  headers?: Headers | undefined;
}

/** Where a failure maps to. */
export interface DashScopeClass {
  code: TransportErrorCode;
  retryable: boolean;
}

/**
 * Which earshot code a DashScope failure maps to, and whether another attempt may help.
 *
 * - 401, `InvalidApiKey`, `invalid_api_key`, `Arrearage`, and 403 / `AccessDenied*` / `Model.AccessDenied` (§1.2,
 *   §1.4) → EARSHOT_AUTH_FAILED, final; a 403 about an expired policy/URL or a synchronous call → EARSHOT_REQUEST_FAILED.
 * - `ModelNotFound`, `model_not_found`, `InvalidParameter` "Model not exist" / "Invalid model" (§1.4, §1.5, §2.11) →
 *   EARSHOT_UNKNOWN_MODEL.
 * - `insufficient_quota` (§1.5) → EARSHOT_THROTTLED, final; 429, `Throttling*`, `limit_requests`, `rate_limit*`
 *   (§1.4, §1.5, §2.11) → EARSHOT_THROTTLED, retryable.
 * - 5xx → EARSHOT_SERVER_ERROR, retryable.
 * - 400 "too long / too large / exceeds" (§1.5, §6.1) → EARSHOT_LIMIT_EXCEEDED; other 4xx → EARSHOT_REQUEST_FAILED, final.
 * - Inside a protocol (no status): `InvalidParameter`, `BadRequest*`, `invalid_value`, `invalid_request*` →
 *   EARSHOT_REQUEST_FAILED; `session_expired` → EARSHOT_CONNECTION_LOST, retryable; `InternalError`,
 *   `ResponseTimeout`, `internal_error`, `server_error` (§2.11, §5.5) → EARSHOT_TASK_FAILED, retryable; anything else →
 *   EARSHOT_TASK_FAILED, final.
 *
 * @example
 * classifyDashScope({ status: 429, providerCode: 'insufficient_quota' }); // { code: 'EARSHOT_THROTTLED', retryable: false }
 */
export function classifyDashScope(failure: Pick<DashScopeFailure, 'status' | 'providerCode' | 'message'>): DashScopeClass {
  const { status } = failure;
  const code = failure.providerCode ?? '';
  const text = `${code} ${failure.message ?? ''}`.toLowerCase();
  const final = (c: TransportErrorCode): DashScopeClass => ({ code: c, retryable: false });
  if (status === 401 || /^(InvalidApiKey|invalid_api_key|Arrearage)$/i.test(code)) return final('EARSHOT_AUTH_FAILED');
  if (status === 403 || /^(AccessDenied|Model\.AccessDenied)/.test(code)) {
    return /expired|synchronous|policy/.test(text) ? final('EARSHOT_REQUEST_FAILED') : final('EARSHOT_AUTH_FAILED');
  }
  if (/^(ModelNotFound|model_not_found)/.test(code) || (/^InvalidParameter/.test(code) && /model not exist|invalid model|model \S* ?(not found|does not exist)/.test(text))) return final('EARSHOT_UNKNOWN_MODEL');
  if (code === 'insufficient_quota') return final('EARSHOT_THROTTLED');
  if (status === 429 || /^Throttling|^limit_requests|rate_limit/i.test(code)) return { code: 'EARSHOT_THROTTLED', retryable: true };
  if (status !== undefined) {
    if (status >= 500) return { code: 'EARSHOT_SERVER_ERROR', retryable: true };
    if (status === 400 && /too long|too large|too big|exceed/.test(text)) return final('EARSHOT_LIMIT_EXCEEDED');
    return final('EARSHOT_REQUEST_FAILED');
  }
  if (/^InvalidParameter|^BadRequest|invalid_value|invalid_request/.test(code)) return final('EARSHOT_REQUEST_FAILED');
  if (/^session_expired/.test(code)) return { code: 'EARSHOT_CONNECTION_LOST', retryable: true };
  if (/^(InternalError|ResponseTimeout|internal_error|server_error)/.test(code)) return { code: 'EARSHOT_TASK_FAILED', retryable: true };
  return final('EARSHOT_TASK_FAILED');
}

/**
 * A DashScope failure as a coded {@link TransportError} carrying `statusCode`, `providerCode`, `requestId` and
 * `retryAfterMs`; the message is `HTTP 429 Throttling: …` for a refused request and `InternalError: …` for a failure
 * inside a protocol, redacted (also of `secrets`).
 *
 * @param failure - Status, provider code and message, request id, headers.
 * @param secrets - Extra strings to redact (the API key).
 * @example
 * dashscopeError({ providerCode: 'Throttling.RateQuota', message: 'concurrency exceeded' }).code; // 'EARSHOT_THROTTLED'
 */
export function dashscopeError(failure: DashScopeFailure, secrets: readonly string[] = []): TransportError {
  const { status, providerCode, requestId } = failure;
  const mapped = classifyDashScope(failure);
  const message = failure.message || (status !== undefined ? 'request refused' : 'failed');
  const text = status !== undefined ? `HTTP ${status}${providerCode ? ` ${providerCode}` : ''}: ${message}` : `${providerCode ?? 'error'}: ${message}`;
  const options: EarshotErrorOptions = { retryable: mapped.retryable };
  if (status !== undefined) options.statusCode = status;
  if (providerCode !== undefined) options.providerCode = providerCode;
  if (requestId !== undefined) options.requestId = requestId;
  const retryAfterMs = parseRetryAfter(failure.headers?.['retry-after']);
  if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
  return new TransportError(mapped.code, redactSecrets(text, secrets), options);
}

/**
 * Read an error body: native `{code, message, request_id}` (§1.4), compatible `{error: {code, message}}` (§1.5) or
 * the storage's XML `<Code>…</Code><Message>…</Message>` (§1.8). A body that is none of these is the message itself.
 *
 * @example
 * parseErrorBody('{"code":"Throttling","message":"slow down"}'); // { providerCode: 'Throttling', message: 'slow down' }
 */
export function parseErrorBody(bodyText: string): Pick<DashScopeFailure, 'providerCode' | 'message' | 'requestId'> {
  const out: Pick<DashScopeFailure, 'providerCode' | 'message' | 'requestId'> = { message: bodyText.slice(0, 500) };
  try {
    const body = JSON.parse(bodyText) as Record<string, unknown>;
    const inner = (body.error && typeof body.error === 'object' ? body.error : body) as Record<string, unknown>;
    if (typeof inner.code === 'string') out.providerCode = inner.code;
    if (typeof inner.message === 'string') out.message = inner.message;
    if (typeof body.request_id === 'string') out.requestId = body.request_id;
  } catch {
    const xml = /<Code>([^<]+)<\/Code>[\s\S]*?<Message>([^<]*)<\/Message>/.exec(bodyText);
    if (xml) {
      out.providerCode = xml[1];
      out.message = xml[2] ?? out.message;
    }
  }
  return out;
}

/**
 * Turn a non-2xx DashScope response (HTTP request or WebSocket handshake) into a coded error (see
 * {@link classifyDashScope}).
 *
 * @param status - HTTP status.
 * @param bodyText - The raw body (native, compatible or XML).
 * @param headers - Response headers (for `Retry-After`).
 * @param secrets - Extra strings to redact from the message (the API key).
 * @returns A {@link TransportError} carrying `statusCode`, `providerCode`, `requestId`, `retryAfterMs`.
 * @example
 * const err = errorFromResponse(429, '{"code":"Throttling","message":"slow down"}', { 'retry-after': '1' });
 * err.code; // 'EARSHOT_THROTTLED'
 */
export function errorFromResponse(status: number, bodyText: string, headers: Headers = {}, secrets: readonly string[] = []): TransportError {
  return dashscopeError({ status, ...parseErrorBody(bodyText), headers }, secrets);
}

/**
 * A failure reported inside a protocol (`task-failed`, an `error` event) as a coded error.
 *
 * @example
 * protocolError('Throttling.AllocationQuota', 'concurrency exceeded').retryable; // true
 */
export function protocolError(code: string, message: string, requestId?: string): TransportError {
  return dashscopeError({ providerCode: code, message, requestId });
}

/**
 * Parse a `Retry-After` header (delta seconds or an HTTP date) into milliseconds.
 *
 * @param value - The header value, if any.
 * @param now - The current time in ms (for dates).
 * @returns Milliseconds to wait, or `undefined` when absent or unreadable.
 * @example
 * parseRetryAfter('2'); // 2000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT'); // ms until then (0 when past)
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (v === undefined || v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
