/**
 * Every error earshot raises: a class with a stable `name`, a literal `code`, a `cause` and structured fields.
 * Runtime failures reach `subscriber.error`; misuse throws when the pipeline is built.
 * The error decides whether a retry makes sense (`retryable`).
 */

export type ErrorCode =
  | 'EARSHOT_INVALID_ARGUMENT'
  | 'EARSHOT_FILE_NOT_FOUND'
  | 'EARSHOT_EMPTY_INPUT'
  | 'EARSHOT_UNSUPPORTED_FORMAT'
  | 'EARSHOT_DECODE_FAILED'
  | 'EARSHOT_CORRUPT_INPUT'
  | 'EARSHOT_FFMPEG_MISSING'
  | 'EARSHOT_ENGINE_FAILED'
  | 'EARSHOT_ENGINE_UNAVAILABLE'
  | 'EARSHOT_WORKER_CRASHED'
  | 'EARSHOT_CAPABILITY_MISSING'
  | 'EARSHOT_UNKNOWN_MODEL'
  | 'EARSHOT_MISSING_API_KEY'
  | 'EARSHOT_AUTH_FAILED'
  | 'EARSHOT_THROTTLED'
  | 'EARSHOT_SERVER_ERROR'
  | 'EARSHOT_REQUEST_FAILED'
  | 'EARSHOT_TASK_FAILED'
  | 'EARSHOT_RESULT_EXPIRED'
  | 'EARSHOT_TIMEOUT'
  | 'EARSHOT_CONNECTION_LOST'
  | 'EARSHOT_PROTOCOL_ERROR'
  | 'EARSHOT_LIMIT_EXCEEDED'
  | 'EARSHOT_SINK_FAILED'
  | 'EARSHOT_RTP_FAILED'
  | 'EARSHOT_MIC_FAILED'
  | 'EARSHOT_QUEUE_UNAVAILABLE'
  | 'EARSHOT_RESULT_PENDING'
  | 'EARSHOT_ABORTED';

export interface EarshotErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  statusCode?: number;
  requestId?: string;
  /** The provider's own error code (e.g. `Throttling.RateQuota`), kept verbatim. */
  providerCode?: string;
  /** Milliseconds the server asked us to wait (Retry-After). */
  retryAfterMs?: number;
  /** Anything else worth keeping (a path, a model id). Never a secret. */
  details?: Record<string, unknown>;
}

/** Base class of every earshot error. */
export class EarshotError extends Error {
  override name = 'EarshotError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly statusCode?: number;
  readonly requestId?: string;
  readonly providerCode?: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: EarshotErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.requestId !== undefined) this.requestId = options.requestId;
    if (options.providerCode !== undefined) this.providerCode = options.providerCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = options.details;
  }

  /** One line for a terminal: `EARSHOT_DECODE_FAILED: ffmpeg could not read talk.mp3`. */
  toLine(): string {
    return `${this.code}: ${this.message.split('\n')[0]}`;
  }
}

/** Bad arguments or an impossible combination, thrown when the pipeline is built. */
export class InvalidArgumentError extends EarshotError {
  override name = 'InvalidArgumentError';
  constructor(message: string, options?: EarshotErrorOptions) {
    super('EARSHOT_INVALID_ARGUMENT', message, options);
  }
}

/** The input could not be read or decoded. */
export class InputError extends EarshotError {
  override name = 'InputError';
}

/** The embedded engine or one of its workers failed. */
export class EngineError extends EarshotError {
  override name = 'EngineError';
}

/** A transport was asked for something its model does not do (diarization on a realtime model, …). */
export class CapabilityError extends EarshotError {
  override name = 'CapabilityError';
  constructor(model: string, capability: string) {
    super('EARSHOT_CAPABILITY_MISSING', `model ${model} does not support ${capability}`, { details: { model, capability } });
  }
}

/** A remote API call failed (HTTP, WebSocket or an async task). */
export class TransportError extends EarshotError {
  override name = 'TransportError';
}

/** A sink could not write its output. */
export class SinkError extends EarshotError {
  override name = 'SinkError';
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends EarshotError {
  override name = 'AbortError';
  constructor(cause?: unknown) {
    super('EARSHOT_ABORTED', 'the operation was aborted', { cause });
  }
}

/** Wrap anything thrown into an EarshotError (keeping it as `cause`). */
export function toEarshotError(err: unknown, fallback: ErrorCode = 'EARSHOT_ENGINE_FAILED'): EarshotError {
  if (err instanceof EarshotError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EarshotError(fallback, message, { cause: err });
}

/** True for errors worth another attempt: 429, 5xx, timeouts, dropped sockets. */
export function isRetryable(err: unknown): boolean {
  return err instanceof EarshotError ? err.retryable : false;
}

const SECRET_PATTERNS: RegExp[] = [/\b(sk|st)-[A-Za-z0-9_-]{6,}/g, /(api_key=)[^&\s"']+/gi, /(bearer\s+)[^\s"',]+/gi];

/** Replace anything that looks like an API key with `***`. Applied to every error message. */
export function redactSecrets(text: string, extra: readonly string[] = []): string {
  let out = text;
  for (const secret of extra) if (secret.length >= 4) out = out.split(secret).join('***');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m, prefix?: string) => (typeof prefix === 'string' && prefix.length < m.length && /=|\s$/.test(prefix) ? `${prefix}***` : '***'));
  return out;
}
