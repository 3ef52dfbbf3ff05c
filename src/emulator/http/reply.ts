/**
 * Small helpers shared by the emulator's HTTP routes: JSON replies, the native (§1.4) and OpenAI-compatible (§1.5)
 * error bodies, request bodies with a size cap, and the service's id and time formats (§1.3, §3.3).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the emulator reads (a 10 MB base64 data URI plus JSON around it fits). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Send a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Send the native error body `{request_id, code, message}`. */
export function nativeError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { request_id: randomUUID(), code, message }, headers);
}

/** Send the OpenAI-compatible error body `{error:{code,param,message,type}, id, request_id}`. */
export function compatError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const requestId = randomUUID();
  const type = status === 401 ? 'invalid_request_error' : status === 429 ? 'requests' : status >= 500 ? 'internal_error' : 'invalid_request_error';
  sendJson(res, status, { error: { code, param: null, message, type }, id: `chatcmpl-${requestId}`, request_id: requestId }, headers);
}

/** Error thrown by {@link readBody} when the body is over the cap. */
export class BodyTooLarge extends Error {}

/** Read a request body (at most `limit` bytes). */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const piece of req as AsyncIterable<Buffer>) {
    size += piece.length;
    if (size > limit) {
      req.resume();
      throw new BodyTooLarge(`body over ${limit} bytes`);
    }
    parts.push(piece);
  }
  return Buffer.concat(parts);
}

/** Read a JSON object body; `undefined` when it is not a JSON object. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown> | undefined> {
  const raw = await readBody(req, limit);
  try {
    const value = JSON.parse(raw.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `"YYYY-MM-DD HH:mm:ss.SSS"` in UTC+8, as the task API writes times. */
export function serviceTime(ms: number = Date.now()): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').replace('Z', '');
}

/** `"YYYY-MM-DD HH:mm:ss"` in UTC+8 (vocabulary times). */
export function serviceTimeSeconds(ms: number = Date.now()): string {
  return serviceTime(ms).slice(0, 19);
}

/** 32 lowercase hex characters. */
export function hex32(): string {
  return randomBytes(16).toString('hex');
}

/** The bearer key of a request (header, case-insensitive scheme), if any. */
export function bearerKey(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^bearer\s+(.+)$/i.exec(h.trim()) : null;
  return m?.[1]?.trim() || undefined;
}
