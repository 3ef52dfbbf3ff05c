/**
 * Authentication of WebSocket handshakes the way the service does it (protocol notes §1.2): a key in
 * `Authorization: Bearer <key>` (scheme case-insensitive) or, for browsers, `?api_key=<key>`. A missing or unknown
 * key fails the upgrade with HTTP 401 and `{"code":"InvalidApiKey","message":…,"request_id":…}`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { requestId } from './ids.js';

/** The key a handshake carries, or undefined. Never logged. */
export function keyOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    if (m?.[1]) return m[1];
  }
  const q = url.searchParams.get('api_key');
  return q ? q : undefined;
}

/** True when `key` is accepted: any non-empty key if `accepted` is empty, else one of them. */
export function isAccepted(accepted: ReadonlySet<string>, key: string | undefined): boolean {
  if (!key) return false;
  return accepted.size === 0 || accepted.has(key);
}

/** Refuse an upgrade with a plain HTTP response and a native DashScope error body, then close the socket. */
export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ code, message, request_id: requestId() });
  const reason = STATUS_TEXT[status] ?? 'Error';
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};
