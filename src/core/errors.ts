/**
 * Every error earshot raises: a class with a stable `name`, a literal `code`, a `cause` and structured fields.
 * Runtime failures reach `subscriber.error`; misuse throws when the pipeline is built.
 * The error decides whether a retry makes sense (`retryable`).
 */

/** Every code: those of each class (the remote-API, input, engine and sink families) and the ones of no family. */
export type ErrorCode =
  | 'EARSHOT_INVALID_ARGUMENT'
  | 'EARSHOT_CAPABILITY_MISSING'
  | 'EARSHOT_QUEUE_UNAVAILABLE'
  | 'EARSHOT_RESULT_PENDING'
  | 'EARSHOT_ABORTED'
  | InputErrorCode
  | EngineErrorCode
  | TransportErrorCode
  | SinkErrorCode;

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

/** Codes an {@link InputError} carries: the input could not be read, decoded or received. */
export type InputErrorCode =
  | 'EARSHOT_FILE_NOT_FOUND'
  | 'EARSHOT_EMPTY_INPUT'
  | 'EARSHOT_UNSUPPORTED_FORMAT'
  | 'EARSHOT_DECODE_FAILED'
  | 'EARSHOT_CORRUPT_INPUT'
  | 'EARSHOT_FFMPEG_MISSING'
  | 'EARSHOT_RTP_FAILED'
  | 'EARSHOT_MIC_FAILED'
  | 'EARSHOT_CONNECTION_LOST'
  | 'EARSHOT_LIMIT_EXCEEDED';

/** Codes an {@link EngineError} carries: the embedded engine, its workers, or a WASM module failed. */
export type EngineErrorCode = 'EARSHOT_ENGINE_FAILED' | 'EARSHOT_ENGINE_UNAVAILABLE' | 'EARSHOT_WORKER_CRASHED';

/** Codes a {@link TransportError} carries: a remote API call failed. */
export type TransportErrorCode =
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
  | 'EARSHOT_LIMIT_EXCEEDED';

/** Codes a {@link SinkError} carries. */
export type SinkErrorCode = 'EARSHOT_SINK_FAILED';

/** What {@link EarshotError.wrap} may change besides the message. */
export interface WrapOptions {
  /** Whether another attempt may help (default: the wrapped error's). */
  retryable?: boolean;
  /** Added to the wrapped error's details. */
  details?: Record<string, unknown>;
  /** Code for an error that is not an EarshotError (default `EARSHOT_ENGINE_FAILED`, as {@link toEarshotError}). */
  code?: ErrorCode;
}

/**
 * Base class of every earshot error. Each subclass fixes the codes it may carry (a `TransportError` cannot be made
 * with `EARSHOT_SINK_FAILED`: the compiler refuses it); the base class takes any code.
 */
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
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: scrubCause(options.cause) });
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.requestId !== undefined) this.requestId = redactSecrets(options.requestId);
    if (options.providerCode !== undefined) this.providerCode = redactSecrets(options.providerCode);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = scrubValue(options.details, 0) as Record<string, unknown>;
  }

  /**
   * The same failure told with a new message: the result has the class, code and fields (`statusCode`, `requestId`,
   * `providerCode`, `retryAfterMs`, `details`, `retryable`) of `err`, and `err` as its `cause`. An error that is not
   * an EarshotError becomes a plain EarshotError with `options.code`.
   *
   * @param err - What was thrown.
   * @param message - The new message (redacted like every message).
   * @param options - `retryable` to override, `details` to add, `code` for uncoded errors.
   * @example
   * throw EarshotError.wrap(err, `${model}: request failed after 3 attempts: ${err.message}`, { retryable: false, details: { attempts: 3 } });
   */
  static wrap<E extends EarshotError>(err: E, message: string, options?: WrapOptions): E;
  static wrap(err: unknown, message: string, options?: WrapOptions): EarshotError;
  static wrap(err: unknown, message: string, options: WrapOptions = {}): EarshotError {
    if (!(err instanceof EarshotError)) {
      return new EarshotError(options.code ?? 'EARSHOT_ENGINE_FAILED', message, { cause: err, ...(options.retryable !== undefined ? { retryable: options.retryable } : {}), ...(options.details ? { details: options.details } : {}) });
    }
    const fields: EarshotErrorOptions = { cause: err, retryable: options.retryable ?? err.retryable };
    if (err.statusCode !== undefined) fields.statusCode = err.statusCode;
    if (err.requestId !== undefined) fields.requestId = err.requestId;
    if (err.providerCode !== undefined) fields.providerCode = err.providerCode;
    if (err.retryAfterMs !== undefined) fields.retryAfterMs = err.retryAfterMs;
    if (err.details !== undefined || options.details !== undefined) fields.details = { ...err.details, ...options.details };
    // Built by the base constructor with the subclass as new.target: the subclass's prototype (instanceof holds)
    // whatever its own constructor's parameters are.
    const out = Reflect.construct(EarshotError, [err.code, message, fields], err.constructor) as EarshotError;
    out.name = err.name;
    return out;
  }

  /** One line for a terminal: `EARSHOT_DECODE_FAILED: ffmpeg could not read talk.mp3`. */
  toLine(): string {
    return `${this.code}: ${this.message.split('\n')[0]}`;
  }
}

/** Bad arguments or an impossible combination, thrown when the pipeline is built. */
export class InvalidArgumentError extends EarshotError {
  override name = 'InvalidArgumentError';
  declare readonly code: 'EARSHOT_INVALID_ARGUMENT';
  constructor(message: string, options?: EarshotErrorOptions) {
    super('EARSHOT_INVALID_ARGUMENT', message, options);
  }
}

/** The input could not be read or decoded. */
export class InputError extends EarshotError {
  override name = 'InputError';
  declare readonly code: InputErrorCode;
  constructor(code: InputErrorCode, message: string, options?: EarshotErrorOptions) {
    super(code, message, options);
  }
}

/** The embedded engine or one of its workers failed. */
export class EngineError extends EarshotError {
  override name = 'EngineError';
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, options?: EarshotErrorOptions) {
    super(code, message, options);
  }
}

/** A transport was asked for something its model does not do (diarization on a realtime model, …). */
export class CapabilityError extends EarshotError {
  override name = 'CapabilityError';
  declare readonly code: 'EARSHOT_CAPABILITY_MISSING';
  constructor(model: string, capability: string) {
    super('EARSHOT_CAPABILITY_MISSING', `model ${model} does not support ${capability}`, { details: { model, capability } });
  }
}

/** A remote API call failed (HTTP, WebSocket or an async task). */
export class TransportError extends EarshotError {
  override name = 'TransportError';
  declare readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: EarshotErrorOptions) {
    super(code, message, options);
  }
}

/** A sink could not write its output. */
export class SinkError extends EarshotError {
  override name = 'SinkError';
  declare readonly code: SinkErrorCode;
  constructor(code: SinkErrorCode, message: string, options?: EarshotErrorOptions) {
    super(code, message, options);
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends EarshotError {
  override name = 'AbortError';
  declare readonly code: 'EARSHOT_ABORTED';
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

/** Keys in use (most recent last), redacted wherever they appear, whatever their shape. */
const KNOWN_SECRETS = new Set<string>();
const MAX_KNOWN_SECRETS = 64;

/**
 * Remember a secret (an API key, a temporary key) so that every error message, provider code, detail and `cause`
 * earshot produces from now on shows `***` in its place, even when it has no recognisable shape. The DashScope
 * transports call it with their key; the last 64 secrets are kept.
 *
 * @param secret - The secret; ignored when shorter than 4 characters.
 * @example
 * rememberSecret(process.env.MY_PROVIDER_KEY!);
 */
export function rememberSecret(secret: string | undefined): void {
  if (!secret || secret.length < 4) return;
  KNOWN_SECRETS.delete(secret);
  KNOWN_SECRETS.add(secret);
  if (KNOWN_SECRETS.size > MAX_KNOWN_SECRETS) KNOWN_SECRETS.delete(KNOWN_SECRETS.values().next().value!);
}

/**
 * Replace anything that looks like an API key, and every secret given to {@link rememberSecret} or in `extra`, with
 * `***`. Applied to every error message.
 */
export function redactSecrets(text: string, extra: readonly string[] = []): string {
  let out = text;
  for (const secret of [...extra, ...KNOWN_SECRETS]) if (secret.length >= 4) out = out.split(secret).join('***');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m, prefix?: string) => (typeof prefix === 'string' && prefix.length < m.length && /=|\s$/.test(prefix) ? `${prefix}***` : '***'));
  return out;
}

/** A copy of a plain value (details) with every string redacted; depth-limited. */
function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubValue(v, depth + 1)]));
}

/**
 * Redact secrets in a cause chain in place: each error's message, stack and own string properties (a URL with
 * `?api_key=`, an echoed `Authorization` header), so that `util.inspect(err, { depth: 10 })` shows none.
 */
function scrubCause(cause: unknown): unknown {
  if (typeof cause === 'string') return redactSecrets(cause);
  let e: unknown = cause;
  for (let depth = 0; e instanceof Error && !(e instanceof EarshotError) && depth < 8; depth++, e = e.cause) {
    const record = e as unknown as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(e)) {
      const v = record[key];
      if (key === 'cause') continue;
      const clean = typeof v === 'string' ? redactSecrets(v) : v !== null && typeof v === 'object' && !(v instanceof Error) ? scrubValue(v, 2) : v;
      if (clean !== v) {
        try {
          record[key] = clean;
        } catch {
          /* a read-only property: left as it is */
        }
      }
    }
  }
  return cause;
}
