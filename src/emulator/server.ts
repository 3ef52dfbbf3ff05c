/**
 * The emulator's server: one port serving every path of the DashScope (Qwen Cloud) API under its base URL. HTTP
 * requests go to the HTTP routes (`handleHttp`); WebSocket upgrades go to the inference duplex protocol
 * (`/api-ws/v1/inference`) or the realtime protocols (`/api-ws/v1/realtime?model=…`: qwen3-asr-flash-realtime and the
 * Omni realtime models). Handshakes are authenticated like the service does it (real or temporary keys).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';
import type { Transport } from '../transports/transport.js';
import type { AccountLimits, EmulatorContext, FaultOptions, ProtocolTimers, ScriptedUtterance } from './context.js';
import { handleHttp } from './http/index.js';
import { keyOwner } from './http/tokens.js';
import { keyOf, refuseUpgrade } from './ws/auth.js';
import { boundMessages, DEFAULT_MAX_MESSAGE_BYTES } from './limits.js';
import { sendJson, type WsEnv } from './ws/common.js';
import { realtimeId, requestId } from './ws/ids.js';
import { serveInference } from './ws/inference.js';
import { realtimeKind } from './ws/models.js';
import { serveRealtimeAsr } from './ws/realtime-asr.js';
import { serveOmniRealtime } from './ws/omni-realtime.js';

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default `127.0.0.1`). */
  host?: string;
  /** Keys accepted; when empty or absent any non-empty key is accepted. */
  apiKeys?: Iterable<string>;
  /** The engine that recognises real audio; defaults to the embedded engine (`local()`), unless `script` is given. */
  recognizer?: Transport;
  /** Scripted mode: utterances "recognised" in order instead of running an engine. */
  script?: ScriptedUtterance[];
  /** Faults to inject (all off by default). */
  faults?: FaultOptions;
  /** Protocol timers (defaults: the service's own); tests shorten them. */
  timers?: ProtocolTimers;
  /** Per-account limits (defaults: the figures of the protocol notes, e.g. 10 hotword lists, §9.5). */
  limits?: AccountLimits;
  /**
   * Engine mode: decode every utterance with an engine stream of its own, so results do not depend on the session's
   * history and a client that reconnects and replays gets the same text, as from a cloud model (default true;
   * `false` keeps one adapting decoder per session). Either way the audio is decoded as it arrives.
   */
  stateless?: boolean;
  /**
   * Hosts (besides loopback) the task APIs may download `file_url`s from, as `host` or `host:port` (default none:
   * an emulator left running cannot be made to reach other machines).
   */
  allowHosts?: Iterable<string>;
  /** Largest WebSocket message accepted, bytes (default 4 MiB); a larger one gets the protocol's own error. */
  maxMessageBytes?: number;
}

/** A running emulator. */
export interface Emulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`: use it as `DASHSCOPE_BASE_URL`. */
  readonly url: string;
  readonly port: number;
  /** Shared state (keys, recognizer, script, faults); faults may be changed while it runs. */
  readonly context: EmulatorContext;
  /** Stop listening, drop every connection, release the recognizer it made. */
  close(): Promise<void>;
}

/**
 * Start the DashScope emulator.
 *
 * @param options - port, host, accepted keys, recognizer or script, faults and timers.
 * @returns the running emulator with its base URL.
 * @throws EARSHOT_INVALID_ARGUMENT for a bad port or an empty script entry; EARSHOT_ENGINE_UNAVAILABLE when no
 *   recognizer is given and the embedded engine cannot be loaded.
 * @example
 * ```ts
 * const emu = await startEmulator({ script: [{ text: 'hello world', emotion: 'happy' }] });
 * process.env.DASHSCOPE_BASE_URL = emu.url;
 * // … run transports against it …
 * await emu.close();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${port}`);
  if (options.script?.some((s) => typeof s.text !== 'string')) throw new InvalidArgumentError('every scripted utterance needs a text');
  const host = options.host ?? '127.0.0.1';
  let ownRecognizer: Transport | undefined;
  let recognizer = options.recognizer;
  if (!recognizer && !(options.script && options.script.length > 0)) {
    ownRecognizer = await loadLocal();
    recognizer = ownRecognizer;
  }
  const ctx: EmulatorContext = {
    apiKeys: new Set(options.apiKeys ?? []),
    ...(recognizer ? { recognizer } : {}),
    ...(options.script ? { script: options.script } : {}),
    faults: { ...(options.faults ?? {}) },
    baseUrl: '',
    ...(options.timers ? { timers: options.timers } : {}),
    ...(options.limits ? { limits: { ...options.limits } } : {}),
    ...(options.stateless !== false ? { stateless: true } : {}),
    allowHosts: new Set([...(options.allowHosts ?? [])].map((h) => h.toLowerCase())),
  };
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) throw new InvalidArgumentError(`maxMessageBytes must be a positive integer, got ${maxMessageBytes}`);
  let throttled = 0;
  const env: WsEnv = {
    ctx,
    throttle: () => {
      if (throttled < (ctx.faults.throttleFirst ?? 0)) {
        throttled++;
        return true;
      }
      return false;
    },
  };

  // Messages over maxPayload close the socket (1009) before they are buffered; between the two limits the protocol's own error.
  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(16 * 1024 * 1024, 2 * maxMessageBytes) });
  const server: Server = createServer((req, res) => void serveHttp(ctx, req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(env, wss, req, socket, head, maxMessageBytes));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  ctx.baseUrl = `http://${hostPart}:${actualPort}`;

  let closing: Promise<void> | undefined;
  return {
    url: ctx.baseUrl,
    port: actualPort,
    context: ctx,
    close() {
      closing ??= (async () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ownRecognizer?.close?.();
      })();
      return closing;
    },
  };
}

async function serveHttp(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (await handleHttp(ctx, req, res)) return;
    if (res.headersSent) return;
    const body = JSON.stringify({ code: 'NotFound', message: `no route for ${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`, request_id: requestId() });
    res.writeHead(404, { 'content-type': 'application/json' }).end(body);
  } catch {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'InternalError', message: 'Internal server error.', request_id: requestId() }));
    } else res.destroy();
  }
}

function upgrade(env: WsEnv, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, maxMessageBytes: number): void {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://emulator');
  const path = url.pathname.replace(/\/+$/, '');
  const isInference = path === '/api-ws/v1/inference';
  const isRealtime = path === '/api-ws/v1/realtime';
  if (!isInference && !isRealtime) return refuseUpgrade(socket, 404, 'NotFound', `no WebSocket endpoint at ${path}`);
  const key = keyOf(req, url);
  if (!keyOwner(env.ctx, key)) {
    return refuseUpgrade(socket, 401, 'InvalidApiKey', key ? 'Invalid API-key provided.' : 'No API-key provided.');
  }
  if (isInference) {
    const account = keyOwner(env.ctx, key)!;
    wss.handleUpgrade(req, socket, head, (ws) => {
      // The task a refusal belongs to: the last run-task's id (text frames are small; audio frames are binary).
      let taskId = '';
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const id = /"task_id"\s*:\s*"([^"]*)"/.exec(data.toString('utf8', 0, 4096))?.[1];
        if (id !== undefined) taskId = id;
      });
      boundMessages(ws, maxMessageBytes, (size) => {
        const message = `message too large: ${size} bytes (at most ${maxMessageBytes})`;
        sendJson(ws, { header: { task_id: taskId, event: 'task-failed', error_code: 'InvalidParameter', error_message: message, attributes: {} }, payload: {} });
        ws.close(1009, 'message too large');
      });
      serveInference(ws, env, account);
    });
    return;
  }
  const model = url.searchParams.get('model') ?? '';
  const kind = realtimeKind(model);
  if (!kind) return refuseUpgrade(socket, 404, 'ModelNotFound', `Model not exist: ${model || '(none)'}`);
  if (env.throttle()) return refuseUpgrade(socket, 429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', { 'retry-after': '1' });
  wss.handleUpgrade(req, socket, head, (ws) => {
    boundMessages(ws, maxMessageBytes, (size) => {
      const message = `Invalid value: the event is too large (${size} bytes; at most ${maxMessageBytes}).`;
      sendJson(ws, { event_id: realtimeId('event'), type: 'error', error: { type: 'invalid_request_error', code: 'invalid_value', message, param: null } });
      ws.close(1009, 'message too large');
    });
    if (kind === 'asr') serveRealtimeAsr(ws, env, model);
    else serveOmniRealtime(ws, env, model);
  });
}

/** Load the embedded engine (`local()`) as the default recognizer. */
async function loadLocal(): Promise<Transport> {
  try {
    // Loaded on demand so that a scripted emulator never touches the engine.
    const { local } = await import('../transports/local.js');
    return local();
  } catch (cause) {
    throw new EarshotError('EARSHOT_ENGINE_UNAVAILABLE', 'the embedded engine could not be loaded; pass { recognizer } or { script }', { cause });
  }
}
