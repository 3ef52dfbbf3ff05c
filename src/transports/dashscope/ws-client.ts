/**
 * The WebSocket plumbing shared by the DashScope realtime transports: an authenticated connection, sends that
 * respect high/low water marks on the socket's `bufferedAmount`, and provider failures turned into coded errors.
 *
 * The API key travels only in the `Authorization` header; it never appears in a URL, an error or a log.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { AbortError, EarshotError, TransportError, type ErrorCode } from '../../core/errors.js';

/** Default high-water mark of the socket's send buffer: 256 KiB (8 s of 16 kHz PCM). */
export const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

export interface SocketOptions {
  url: string;
  apiKey: string;
  /** Extra handshake headers. */
  headers?: Record<string, string>;
  /** `send*()` waits once `bufferedAmount` exceeds this many bytes… */
  highWaterMark?: number;
  /** …until it falls to this (default: half the high-water mark). */
  lowWaterMark?: number;
  /** Handshake deadline, ms (default 15 000). */
  openTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A connected DashScope WebSocket. */
export class DashScopeSocket {
  readonly #ws: WebSocket;
  readonly #high: number;
  readonly #low: number;
  #waiters: Array<() => void> = [];
  #closed = false;
  #onMessage: (data: Buffer, isBinary: boolean) => void = () => {};
  #onClose: (error: EarshotError | undefined) => void = () => {};
  #closing = false;
  #lastError: EarshotError | undefined;

  private constructor(ws: WebSocket, high: number, low: number) {
    this.#ws = ws;
    this.#high = high;
    this.#low = low;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.#closed = true;
      this.#release();
      if (this.#closing) return this.#onClose(undefined);
      const why = reason.toString('utf8');
      this.#onClose(
        this.#lastError ??
          new TransportError('EARSHOT_CONNECTION_LOST', `the connection closed unexpectedly (code ${code}${why ? `, ${why}` : ''})`, {
            retryable: true,
            details: { closeCode: code },
          }),
      );
    });
    ws.on('error', () => {
      /* 'close' follows and reports */
    });
  }

  /**
   * Connect and authenticate.
   * @throws EARSHOT_AUTH_FAILED (401/403), EARSHOT_UNKNOWN_MODEL (404 ModelNotFound), EARSHOT_THROTTLED (429),
   *   EARSHOT_SERVER_ERROR (5xx), EARSHOT_REQUEST_FAILED (other statuses), EARSHOT_CONNECTION_LOST (network),
   *   EARSHOT_TIMEOUT, EARSHOT_ABORTED.
   */
  static open(options: SocketOptions): Promise<DashScopeSocket> {
    const high = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    const low = options.lowWaterMark ?? Math.floor(high / 2);
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new AbortError(options.signal.reason));
      const ws = new WebSocket(options.url, {
        headers: { Authorization: `Bearer ${options.apiKey}`, 'user-agent': 'earshot', ...(options.headers ?? {}) },
        perMessageDeflate: false,
        handshakeTimeout: options.openTimeoutMs ?? 15_000,
      });
      let settled = false;
      const settle = (error: EarshotError | undefined) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          ws.removeAllListeners();
          ws.on('error', () => {});
          ws.terminate();
          reject(error);
        } else {
          ws.removeAllListeners();
          resolve(new DashScopeSocket(ws, high, low));
        }
      };
      const onAbort = () => settle(new AbortError(options.signal?.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => settle(undefined));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => settle(httpError(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'), res.headers['retry-after'])));
        res.on('error', () => settle(httpError(res.statusCode ?? 0, '', undefined)));
      });
      ws.once('error', (err: Error & { code?: string }) => {
        const timeout = /timed out/i.test(err.message);
        settle(
          new TransportError(timeout ? 'EARSHOT_TIMEOUT' : 'EARSHOT_CONNECTION_LOST', `could not connect: ${err.code ?? err.message}`, {
            retryable: true,
            cause: err,
          }),
        );
      });
    });
  }

  /** Handler of every incoming frame. */
  onMessage(handler: (data: Buffer, isBinary: boolean) => void): void {
    this.#onMessage = handler;
  }

  /** Called once when the socket closes: with an error unless {@link close} was asked for. */
  onClose(handler: (error: EarshotError | undefined) => void): void {
    this.#onClose = handler;
  }

  /** An error to report if the socket closes next (a fatal error event the server sent before closing). */
  setCloseError(error: EarshotError): void {
    this.#lastError = error;
  }

  get isOpen(): boolean {
    return !this.#closed && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Send a JSON text frame; resolves when the send buffer is below the high-water mark. */
  sendJson(message: unknown): Promise<void> {
    return this.#send(JSON.stringify(message));
  }

  /** Send a binary frame; resolves when the send buffer is below the high-water mark. */
  sendBinary(data: Buffer): Promise<void> {
    return this.#send(data);
  }

  #send(data: string | Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(new TransportError('EARSHOT_CONNECTION_LOST', 'the connection is closed', { retryable: true }));
    this.#ws.send(data, () => this.#drained());
    if (this.#ws.bufferedAmount <= this.#high) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #drained(): void {
    if (this.#waiters.length > 0 && this.#ws.bufferedAmount <= this.#low) this.#release();
  }

  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Close politely; `onClose` then reports no error. */
  close(code = 1000): void {
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code);
    this.#release();
  }

  /** Drop the connection at once. */
  terminate(): void {
    this.#closing = true;
    this.#ws.terminate();
    this.#release();
  }
}

/** A refused handshake as a coded error (the body is the native `{code, message, request_id}`). */
export function httpError(status: number, body: string, retryAfter: string | string[] | undefined): EarshotError {
  let code: string | undefined;
  let message = '';
  let requestId: string | undefined;
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown; request_id?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
    if (typeof parsed.request_id === 'string') requestId = parsed.request_id;
  } catch {
    /* not JSON */
  }
  const retry = typeof retryAfter === 'string' && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  const mapped = providerError(code ?? `HTTP ${status}`, message || `HTTP ${status}`, status);
  return new TransportError(mapped.code, `${code ?? 'HTTP error'} (${status}): ${message || 'handshake refused'}`, {
    retryable: mapped.retryable,
    statusCode: status,
    ...(code ? { providerCode: code } : {}),
    ...(requestId ? { requestId } : {}),
    ...(retry !== undefined ? { retryAfterMs: retry } : {}),
  });
}

/** Which earshot code a provider error code (and HTTP status, when known) maps to, and whether to retry. */
export function providerError(code: string, message: string, status?: number): { code: ErrorCode; retryable: boolean } {
  if (status === 401 || status === 403 || /^(InvalidApiKey|AccessDenied|Model\.AccessDenied|invalid_api_key)/.test(code)) {
    return { code: 'EARSHOT_AUTH_FAILED', retryable: false };
  }
  if (status === 429 || /^Throttling|^limit_requests|rate_limit/i.test(code)) return { code: 'EARSHOT_THROTTLED', retryable: true };
  if (/^ModelNotFound|model_not_found/.test(code) || (/^InvalidParameter/.test(code) && /model/i.test(message))) {
    return { code: 'EARSHOT_UNKNOWN_MODEL', retryable: false };
  }
  if (status !== undefined && status >= 500) return { code: 'EARSHOT_SERVER_ERROR', retryable: true };
  if (status !== undefined && status >= 400) return { code: 'EARSHOT_REQUEST_FAILED', retryable: false };
  if (/^InvalidParameter|^BadRequest|invalid_value|invalid_request/.test(code)) return { code: 'EARSHOT_REQUEST_FAILED', retryable: false };
  if (/^session_expired/.test(code)) return { code: 'EARSHOT_CONNECTION_LOST', retryable: true };
  if (/^(InternalError|ResponseTimeout|internal_error|server_error)/.test(code)) return { code: 'EARSHOT_TASK_FAILED', retryable: true };
  return { code: 'EARSHOT_TASK_FAILED', retryable: false };
}

/** A failure reported inside the protocol (task-failed, an error event) as a coded error. */
export function protocolError(code: string, message: string, requestId?: string): EarshotError {
  const mapped = providerError(code, message);
  return new TransportError(mapped.code, `${code}: ${message}`, {
    retryable: mapped.retryable,
    providerCode: code,
    ...(requestId ? { requestId } : {}),
  });
}

/** The bytes of an Int16Array without copying. */
export function pcmBytes(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}
