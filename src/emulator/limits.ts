/**
 * What keeps an emulator left running from being a liability: the hosts its task APIs may download `file_url`s from
 * (loopback, plus the ones the user allows), and the size of what it reads from a client (request bodies, WebSocket
 * messages), refused with the service's own errors rather than by running out of memory.
 */
import { isIP } from 'node:net';
import type { WebSocket } from 'ws';
import type { EmulatorContext } from './context.js';

/** Largest WebSocket message a protocol handler sees by default (an Omni image is ≤ 256 KB base64; audio frames are far smaller). */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Largest download of a `file_url` (the service's own file cap, 100 MB). */
export const MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024;

/**
 * True when `url`'s host is loopback (`localhost`, `127.0.0.0/8`, `::1`) or one of `ctx.allowHosts` (matched as
 * `host` or `host:port`, case-insensitive).
 *
 * @param ctx - The emulator's state (its `allowHosts`).
 * @param url - The URL a task wants downloaded.
 * @returns whether the emulator may fetch it.
 * @example
 * isAllowedHost({ ...ctx, allowHosts: new Set(['files.example.com']) }, new URL('https://files.example.com/a.wav')); // true
 */
export function isAllowedHost(ctx: Pick<EmulatorContext, 'allowHosts'>, url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isLoopback(host)) return true;
  const allowed = ctx.allowHosts;
  if (!allowed || allowed.size === 0) return false;
  return allowed.has(host) || allowed.has(url.host.toLowerCase());
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host) || /^(0{1,4}:){7}0{0,3}1$/.test(host);
  return false;
}

/**
 * Refuse WebSocket messages over `limit` bytes before any protocol handler sees them: `refuse` sends the protocol's
 * own error and closes. Messages over the socket's `maxPayload` never get this far (the socket closes with 1009).
 *
 * @param ws - The accepted socket, before its protocol handler is attached.
 * @param limit - Largest message passed on, in bytes.
 * @param refuse - Sends the protocol's error for a message of `size` bytes and closes the socket.
 * @example
 * boundMessages(ws, 4 << 20, (size) => { ws.send(JSON.stringify({ type: 'error', … })); ws.close(1009); });
 */
export function boundMessages(ws: WebSocket, limit: number, refuse: (size: number) => void): void {
  const emit = ws.emit.bind(ws);
  let refused = false;
  ws.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'message') {
      if (refused) return true;
      const size = messageSize(args[0]);
      if (size > limit) {
        refused = true;
        refuse(size);
        return true;
      }
    }
    return emit(event, ...args);
  }) as typeof ws.emit;
}

function messageSize(data: unknown): number {
  if (Buffer.isBuffer(data) || data instanceof ArrayBuffer) return data.byteLength;
  if (Array.isArray(data)) return data.reduce((n: number, b: Buffer) => n + b.length, 0);
  return 0;
}
