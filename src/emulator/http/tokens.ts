/**
 * Temporary API keys (§1.9): `POST /api/v1/tokens?expire_in_seconds=<1..1800>` (default 60) with a real key →
 * `{"token":"st-…","expires_at":<unix seconds>}`. A temporary key works like the key that made it (it inherits its
 * permissions, and per-key state such as tasks and vocabularies) until it expires; then, like an unknown `st-` key,
 * it is refused as a wrong key is (401 `InvalidApiKey`). {@link keyOwner} is the one key check of the emulator, used
 * by the HTTP routes and the WebSocket handshakes alike.
 */
import type { ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';
import { isAccepted } from '../ws/auth.js';
import { hex32, nativeError, sendJson } from './reply.js';
import { stateOf } from './state.js';

const DEFAULT_TTL_S = 60;
const MAX_TTL_S = 1800;
const PREFIX = 'st-';

/**
 * Who a presented key acts for: the key itself when it is one of the accepted keys (any non-empty key when the
 * emulator accepts all), the key that made it when it is a live temporary key, else `undefined` (refuse it).
 * A key starting with `st-` is always checked as a temporary key, even when the emulator accepts any key.
 *
 * @param ctx - The emulator (its accepted keys and issued tokens).
 * @param key - The key from `Authorization: Bearer` or `?api_key=`, if any.
 * @param now - The current time in ms.
 * @returns The owning real key, or `undefined` when the key is missing, unknown or expired.
 * @example
 * const owner = keyOwner(ctx, bearerKey(req));
 * if (!owner) return nativeError(res, 401, 'InvalidApiKey', 'Invalid API-key provided.');
 */
export function keyOwner(ctx: EmulatorContext, key: string | undefined, now = Date.now()): string | undefined {
  if (!key) return undefined;
  if (!key.startsWith(PREFIX)) return isAccepted(ctx.apiKeys, key) ? key : undefined;
  const tokens = stateOf(ctx).tokens;
  const token = tokens.get(key);
  if (!token) return undefined;
  if (now >= token.expiresMs) {
    tokens.delete(key);
    return undefined;
  }
  return token.owner;
}

/**
 * `POST /api/v1/tokens`: mint a temporary key for `presented`, which must be a real key (a temporary key cannot
 * make another one: 403 `AccessDenied`). A non-integer or out-of-range `expire_in_seconds` → 400 `InvalidParameter`;
 * without it the key lives 60 s.
 *
 * @param ctx - The emulator.
 * @param res - The response.
 * @param presented - The key the request carried (already accepted by {@link keyOwner}).
 * @param query - The request's query (`expire_in_seconds`).
 * @example
 * issueToken(ctx, res, 'sk-…', new URLSearchParams('expire_in_seconds=300'));
 */
export function issueToken(ctx: EmulatorContext, res: ServerResponse, presented: string, query: URLSearchParams): void {
  if (presented.startsWith(PREFIX)) return nativeError(res, 403, 'AccessDenied', 'A temporary API key cannot create temporary API keys.');
  const raw = query.get('expire_in_seconds');
  const ttl = raw === null ? DEFAULT_TTL_S : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_S) {
    return nativeError(res, 400, 'InvalidParameter', `expire_in_seconds must be an integer from 1 to ${MAX_TTL_S}`);
  }
  const token = `${PREFIX}${hex32()}`;
  const expiresMs = Date.now() + ttl * 1000;
  stateOf(ctx).tokens.set(token, { owner: presented, expiresMs });
  // Rounded down, so a client that trusts `expires_at` never uses the token after it expired.
  sendJson(res, 200, { token, expires_at: Math.floor(expiresMs / 1000) });
}
