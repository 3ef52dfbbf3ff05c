/**
 * Who may talk to the server: a shared token, given as `Authorization: Bearer <token>` or as the password of
 * `Authorization: Basic` (any user name — media servers such as mod_audio_fork, Jambonz and Asterisk only speak Basic).
 * Compared in constant time; the token never appears in an error, a log or a metric.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * True when `host` only accepts connections from this machine (`localhost`, `127.0.0.0/8`, `::1`).
 *
 * @example
 * isLoopback('127.0.0.1'); // true
 * isLoopback('0.0.0.0');   // false
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * A token check bound to one secret.
 *
 * @example
 * const check = new TokenCheck(process.env.EARSHOT_TOKEN!);
 * if (!check.header(req.headers.authorization)) res.writeHead(401).end();
 */
export class TokenCheck {
  readonly #digest: Buffer;

  /** @param token - the shared secret. */
  constructor(token: string) {
    this.#digest = digest(token);
  }

  /** True when `candidate` is the token (constant time in the token's length). */
  matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(digest(candidate), this.#digest);
  }

  /**
   * True when an `Authorization` header carries the token: `Bearer <token>`, or `Basic base64(user:<token>)`.
   *
   * @example
   * new TokenCheck('s3cret').header(`Basic ${Buffer.from('twilio:s3cret').toString('base64')}`); // true
   */
  header(value: string | undefined): boolean {
    if (!value) return false;
    const m = /^(\w+)\s+(.+)$/.exec(value.trim());
    if (!m) return false;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'bearer') return this.matches(m[2]!.trim());
    if (scheme !== 'basic') return false;
    const decoded = Buffer.from(m[2]!.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && this.matches(decoded.slice(colon + 1));
  }
}
