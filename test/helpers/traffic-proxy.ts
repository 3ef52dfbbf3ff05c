/**
 * A small logging proxy on 127.0.0.1:0 in front of a DashScope endpoint (the emulator in tests): it forwards HTTP
 * requests and WebSocket connections unchanged and records what the client sent — request rates, frame sizes, the
 * fields of every JSON body and event — so a test (or scripts/compare-traffic.ts) can compare earshot's traffic
 * with what the protocol notes (docs/protocol-notes.md) ask for. The key is never recorded.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';

/** One thing the client sent (or, for `ws-in`, received). */
export interface TrafficRecord {
  kind: 'http' | 'ws-out' | 'ws-in';
  /** ms since the proxy started. */
  atMs: number;
  /** Path without the query (the model of a realtime URL is in `model`). */
  path: string;
  /** Connection number (WebSocket records). */
  connection?: number;
  method?: string;
  /** HTTP status of the response. */
  status?: number;
  /** Binary frame. */
  binary?: boolean;
  /** Bytes of the frame or body. */
  bytes: number;
  /** `type` of a realtime event, `header.action` / `header.event` of an inference frame. */
  event?: string;
  /** Dotted names of the fields set in a JSON body or event (values left out, `audio` and `data` included by name). */
  fields?: string[];
  /** Bytes of audio in an `input_audio_buffer.append` (base64 decoded). */
  audioBytes?: number;
  /** The `model` of the body, payload or realtime URL. */
  model?: string;
}

/** A running proxy. */
export interface TrafficProxy {
  /** `http://127.0.0.1:PORT`: use it as the base URL. */
  url: string;
  records: TrafficRecord[];
  close(): Promise<void>;
}

/** Dotted field names of a JSON value (arrays of objects are walked through their first element as `name[]`). */
export function fieldNames(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length > 0 && typeof value[0] === 'object' && value[0] !== null ? fieldNames(value[0], `${prefix}[]`) : [];
  if (typeof value !== 'object' || value === null) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${k}` : k;
    out.push(name);
    if (k !== 'audio' && k !== 'data') out.push(...fieldNames(v, name));
  }
  return out;
}

function modelOf(body: Record<string, unknown> | undefined): string | undefined {
  const m = body?.model ?? (body?.payload as { model?: unknown } | undefined)?.model;
  return typeof m === 'string' ? m : undefined;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What a JSON text frame says about itself. */
function describeFrame(text: string): Pick<TrafficRecord, 'event' | 'fields' | 'audioBytes' | 'model'> {
  const msg = parse(text);
  if (!msg) return {};
  const header = msg.header as { action?: string; event?: string } | undefined;
  const event = typeof msg.type === 'string' ? msg.type : (header?.action ?? header?.event);
  const out: Pick<TrafficRecord, 'event' | 'fields' | 'audioBytes' | 'model'> = { fields: fieldNames(msg) };
  if (event) out.event = event;
  if (typeof msg.audio === 'string') out.audioBytes = Buffer.from(msg.audio, 'base64').length;
  const model = modelOf(msg);
  if (model) out.model = model;
  return out;
}

/**
 * Start a logging proxy to `target` (an `http://host:port` base).
 *
 * @example
 * const proxy = await startTrafficProxy(emulator.url);
 * const t = funAsrRealtime({ apiKey, baseUrl: proxy.url });
 * // … proxy.records.filter((r) => r.kind === 'ws-out' && r.binary).map((r) => r.bytes)
 */
export async function startTrafficProxy(target: string): Promise<TrafficProxy> {
  const t0 = Date.now();
  const records: TrafficRecord[] = [];
  const targetUrl = new URL(target);
  let connections = 0;

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const path = (req.url ?? '/').split('?')[0]!;
      const json = body.length > 0 ? parse(body.toString('utf8')) : undefined;
      const record: TrafficRecord = { kind: 'http', atMs: Date.now() - t0, path, method: req.method ?? 'GET', bytes: body.length, ...(json ? { fields: fieldNames(json) } : {}) };
      const model = modelOf(json);
      if (model) record.model = model;
      records.push(record);
      const upstream = httpRequest(
        { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: { ...req.headers, host: targetUrl.host } },
        (up) => {
          record.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const connection = ++connections;
    const model = url.searchParams.get('model') ?? undefined;
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'user-agent', 'openai-beta', 'x-dashscope-workspace', 'x-dashscope-datainspection']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const upstream = new WebSocket(`${target.replace(/^http/, 'ws')}${req.url ?? '/'}`, { headers });
    upstream.on('unexpected-response', (_r, res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        socket.end(`HTTP/1.1 ${res.statusCode ?? 502} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`);
      });
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('open', () => {
      wss.handleUpgrade(req, socket, head, (client) => {
        const record = (kind: 'ws-out' | 'ws-in', data: Buffer, isBinary: boolean) => {
          const r: TrafficRecord = { kind, atMs: Date.now() - t0, path: url.pathname, connection, bytes: data.length, ...(isBinary ? { binary: true } : describeFrame(data.toString('utf8'))) };
          if (model && !r.model) r.model = model;
          records.push(r);
        };
        client.on('message', (data: Buffer, isBinary: boolean) => {
          record('ws-out', data, isBinary);
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
        });
        upstream.on('message', (data: Buffer, isBinary: boolean) => {
          record('ws-in', data, isBinary);
          if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
        });
        client.on('close', (code, reason) => upstream.close(code === 1005 || code === 1006 ? 1000 : code, reason));
        upstream.on('close', (code, reason) => (client.readyState === WebSocket.OPEN ? client.close(code === 1005 || code === 1006 ? 1000 : code, reason) : undefined));
        client.on('error', () => upstream.terminate());
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
