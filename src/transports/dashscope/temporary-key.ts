/**
 * Temporary API keys (§1.9): a server holding the real key mints a short-lived `st-…` key for a browser or any other
 * untrusted client, which uses it exactly like an API key (header or `?api_key=`) until it expires.
 */
import { InvalidArgumentError, TransportError, rememberSecret } from '../../core/errors.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import { transportHttp, type WithRetry } from './http.js';

/** Options of {@link createTemporaryKey}. */
export interface TemporaryKeyOptions extends DashScopeOptions, WithRetry {
  /** Lifetime of the temporary key in whole seconds, 1 to 1800 (default 60). */
  expireInSeconds?: number;
  signal?: AbortSignal;
}

/** A temporary API key and when it stops working. */
export interface TemporaryKey {
  /** The `st-…` key; use it as `apiKey` (or `DASHSCOPE_API_KEY`) anywhere a real key goes. */
  token: string;
  /** When the service stops accepting it (whole seconds, never later than the real expiry). */
  expiresAt: Date;
}

/**
 * Mint a temporary API key with the real key (`POST {base}/api/v1/tokens?expire_in_seconds=…`). Give it to an
 * untrusted client instead of the real key; it carries the real key's permissions until it expires.
 *
 * @param options - `apiKey` (default `DASHSCOPE_API_KEY`; must be a real key, not a temporary one), `baseUrl`
 *   (default `DASHSCOPE_BASE_URL`, then the Beijing host), `expireInSeconds` (1–1800, default 60), `signal`, retry policy.
 * @returns The `st-…` token and its expiry.
 * @throws EARSHOT_INVALID_ARGUMENT for an expiry that is not an integer from 1 to 1800 (before any request);
 *   EARSHOT_MISSING_API_KEY without a key; EARSHOT_AUTH_FAILED for a wrong key (or a temporary one);
 *   EARSHOT_THROTTLED, EARSHOT_SERVER_ERROR, EARSHOT_CONNECTION_LOST once retries are spent; EARSHOT_PROTOCOL_ERROR
 *   for a reply without a token; EARSHOT_ABORTED.
 * @example
 * ```ts
 * const { token, expiresAt } = await createTemporaryKey({ expireInSeconds: 300 });
 * // hand `token` to the browser; it connects with `wss://…/api-ws/v1/inference?api_key=${token}`
 * ```
 */
export async function createTemporaryKey(options: TemporaryKeyOptions = {}): Promise<TemporaryKey> {
  const ttl = options.expireInSeconds ?? 60;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 1800) throw new InvalidArgumentError(`expireInSeconds must be an integer from 1 to 1800, got ${ttl}`);
  const endpoints = resolveDashScope(options);
  const { http, close } = transportHttp(options, endpoints.apiKey);
  try {
    const init: Parameters<typeof http.json>[1] = { method: 'POST' };
    if (options.signal) init.signal = options.signal;
    const { body } = await http.json<{ token?: unknown; expires_at?: unknown }>(`${endpoints.httpBase}/tokens?expire_in_seconds=${ttl}`, init);
    if (typeof body.token !== 'string' || body.token === '' || typeof body.expires_at !== 'number' || !Number.isFinite(body.expires_at)) {
      throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'tokens: the reply has no token or expires_at');
    }
    rememberSecret(body.token);
    return { token: body.token, expiresAt: new Date(body.expires_at * 1000) };
  } finally {
    await close();
  }
}
