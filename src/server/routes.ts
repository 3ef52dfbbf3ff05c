/**
 * The server's routes: one WebSocket path per call protocol, and the HTTP endpoints (health, metrics, live events).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { fromAsteriskWebSocket } from '../sources/asterisk.js';
import { forkRate, fromAudioFork, type MixType } from '../sources/audio-fork.js';
import type { CallSourceOptions, CallStream } from '../sources/call.js';
import { fromJambonz, fromJambonzStt } from '../sources/jambonz.js';
import { fromTwilioMediaStream } from '../sources/twilio.js';
import type { CallEvents } from './events.js';
import type { ServerMetrics } from './metrics.js';

/** A WebSocket route: the path a media server is pointed at, and the source that speaks its protocol. */
export interface CallRoute {
  readonly path: string;
  /** The protocol name (metrics label). */
  readonly protocol: string;
  /** Turn an accepted WebSocket into a call (`url`: the request's URL, for settings a protocol carries there). */
  open(ws: WebSocket, options: CallSourceOptions, url: URL): CallStream;
  /**
   * The media server cannot send an `Authorization` header (Twilio): the token may come instead as a custom
   * parameter `token` of the start message, checked before any audio is used.
   */
  readonly tokenInStart?: boolean;
}

/**
 * Every WebSocket route of `earshot serve`.
 *
 * @example
 * CALL_ROUTES.map((r) => r.path); // ['/twilio', '/audio-fork', '/asterisk', '/jambonz/listen', '/jambonz/stt']
 */
export const CALL_ROUTES: readonly CallRoute[] = [
  { path: '/twilio', protocol: 'twilio', open: (ws, o) => fromTwilioMediaStream(ws, o), tokenInStart: true },
  { path: '/audio-fork', protocol: 'audio-fork', open: (ws, o, url) => fromAudioFork(ws, { ...o, ...forkSettings(url) }) },
  { path: '/asterisk', protocol: 'asterisk', open: (ws, o) => fromAsteriskWebSocket(ws, o) },
  { path: '/jambonz/listen', protocol: 'jambonz', open: (ws, o) => fromJambonz(ws, o) },
  // The vendor's api key is the server's token, checked on the upgrade like every route.
  { path: '/jambonz/stt', protocol: 'jambonz-stt', open: (ws, o) => fromJambonzStt(ws, o) },
];

/**
 * The fork command's `<mix-type>` and `<sampling-rate>` when given on the URL (`/audio-fork?mix=stereo&rate=16k`);
 * otherwise the source reads them from the metadata frame. Bad values are ignored (the metadata decides).
 */
function forkSettings(url: URL): { mixType?: MixType; sampleRate?: number } {
  const mix = url.searchParams.get('mix');
  const rateText = url.searchParams.get('rate')?.replace(/k$/i, '000');
  const rate = forkRate(rateText === undefined ? undefined : Number(rateText));
  return { ...(mix === 'mono' || mix === 'mixed' || mix === 'stereo' ? { mixType: mix } : {}), ...(rate ? { sampleRate: rate } : {}) };
}

/** WebSocket subprotocols the routes speak, chosen when a client offers one. */
export const SUBPROTOCOLS: readonly string[] = ['audio.drachtio.org', 'audio.jambonz.org', 'media'];

/** What the HTTP routes read. */
export interface HttpContext {
  metrics: ServerMetrics;
  events: CallEvents;
  activeCalls(): number;
  draining(): boolean;
  /** Bring live calls' counters into the metrics before a scrape. */
  syncStats(): void;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Serve one (already authorized) HTTP request: `GET /healthz`, `GET /metrics`, `GET /calls`,
 * `GET /calls/:id/events`; anything else is a 404 (or 405 for another method).
 *
 * @example
 * createServer((req, res) => handleHttp(req, res, context));
 */
export function handleHttp(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
  if (path === '/healthz') return json(res, ctx.draining() ? 503 : 200, { status: ctx.draining() ? 'draining' : 'ok', calls: ctx.activeCalls() });
  if (path === '/metrics') {
    ctx.syncStats();
    ctx.metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
        res.end(text);
      },
      () => json(res, 500, { error: 'metrics failed' }),
    );
    return;
  }
  if (path === '/calls') return json(res, 200, { calls: ctx.events.live() });
  const m = /^\/calls\/([^/]+)\/events$/.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return json(res, 400, { error: 'bad call id' });
    }
    const last = req.headers['last-event-id'];
    if (!ctx.events.subscribe(id, res, Array.isArray(last) ? last[0] : last)) json(res, 404, { error: 'no such call' });
    return;
  }
  json(res, 404, { error: 'not found' });
}
