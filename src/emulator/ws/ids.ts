/**
 * Identifiers in the formats the real service uses (protocol notes §1.3): `event_` / `item_` / `sess_` plus 21
 * alphanumerics for realtime events, dashed UUIDs for request ids.
 */
import { randomBytes, randomUUID } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `prefix_` followed by 21 random alphanumerics, e.g. `event_RdvlSpbBb2ssyBjYrDHjt`. */
export function realtimeId(prefix: 'event' | 'item' | 'sess' | 'resp' | 'conv'): string {
  const bytes = randomBytes(21);
  let out = `${prefix}_`;
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** A dashed UUID v4, the format of HTTP `request_id`s. */
export function requestId(): string {
  return randomUUID();
}
