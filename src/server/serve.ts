/**
 * `serve()`: one server for media servers — a WebSocket route per call protocol, AudioSocket on its own TCP port,
 * live events, a webhook, health and Prometheus metrics — with one transcription pipeline per call track.
 *
 * Safe by default:
 * - binds 127.0.0.1; listening anywhere else requires a token (bearer, or the password of Basic auth) on every
 *   route, else `serve()` refuses to start;
 * - frames larger than `maxFrameBytes` close the connection (WebSocket 1009) — the call's files are still closed valid;
 * - at most `maxCalls` calls at once: one more gets WebSocket close 1013 `EARSHOT_LIMIT_EXCEEDED` (AudioSocket: a
 *   hang-up frame), never a crash;
 * - bounded buffers, each with its overflow policy: a track not yet subscribed keeps 2 s of audio (oldest dropped,
 *   counted); audio waiting for the model is bounded at 60 s per track (past it the track fails with
 *   `EARSHOT_LIMIT_EXCEEDED`, its files are closed and the call is closed with 1011 — never silently shifted in
 *   time); an SSE subscriber that leaves 1 MiB unread is cut off (counted); the webhook queue keeps 1000 events
 *   (oldest dropped, counted);
 * - a call with no frame for `idleTimeoutMs` is ended (close 1001; the finals of its audio delivered, files closed);
 * - a malformed frame is counted (`earshot_malformed_frames_total`) and skipped; the call goes on;
 * - `close()` drains: no new connections, every call stops taking audio, the finals in flight are delivered (back
 *   to the media server, SSE, webhook, files), the files flushed, then the sockets close.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { mkdirSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { InvalidArgumentError } from '../core/errors.js';
import { defaultMode, transcribeMode, type Mode } from '../operators/transcribe-mode.js';
import { createTransport } from '../transports/catalog.js';
import type { RecognitionOptions, Transport } from '../transports/transport.js';
import { AudioSocketKind, audioSocketFrame, fromAudioSocket } from '../sources/audiosocket.js';
import type { CallSourceOptions, CallStream } from '../sources/call.js';
import { isLoopback, TokenCheck } from './auth.js';
import { CallRun, type CallFileFormat, type CallPipelineOptions } from './call-pipeline.js';
import { CallEvents } from './events.js';
import { ServerMetrics } from './metrics.js';
import { CALL_ROUTES, SUBPROTOCOLS, handleHttp, type CallRoute } from './routes.js';
import { Webhook, type WebhookOptions } from './webhook.js';

/** Options of {@link serve}. */
export interface ServeOptions {
  /** HTTP/WebSocket port; 0 picks a free one (read it from `server.port`). Default 0. */
  port?: number;
  /** Address to bind. Default `127.0.0.1`; anything beyond loopback needs `token`. */
  host?: string;
  /** Shared secret every route requires (`Authorization: Bearer <token>` or Basic with it as password); 8 characters or more. */
  token?: string;
  /** Open an Asterisk AudioSocket listener on this TCP port (0: a free one). Default: none. */
  audioSocketPort?: number;
  /**
   * Address the AudioSocket listener binds. Default `127.0.0.1` whatever `host` is: the AudioSocket protocol has no
   * authentication, so exposing it is an explicit choice (keep it on a private network).
   */
  audioSocketHost?: string;
  /** Model id from the catalog (`local`, `qwen3-asr-flash-realtime`, `fun-asr`, …). Default `local`. Ignored with `transport`. */
  model?: string;
  /** A transport of your own (not closed by the server). */
  transport?: Transport;
  /** Mode (default: realtime, or near-realtime for a batch-only model). */
  mode?: Mode;
  /** Language, hotwords, context… checked against the model now. */
  recognition?: RecognitionOptions;
  /** Near-realtime window, ms (default 5000). */
  windowMs?: number;
  /** Requests in flight per track in batch / near-realtime modes. */
  concurrency?: number;
  /** Write `<call id>[-<track>].<format>` here (created if missing). A single-track call has no track suffix. */
  outDir?: string;
  /** Formats written in `outDir` (default jsonl, srt and vtt). JSONL holds the finals. */
  formats?: readonly CallFileFormat[];
  /** POST each final as JSON to this URL (or with these settings). */
  webhook?: string | WebhookOptions;
  /** Calls at once (default 100). */
  maxCalls?: number;
  /** Largest WebSocket frame, bytes (default 256 KiB); a larger one closes the connection with 1009. */
  maxFrameBytes?: number;
  /** No frame for this long ends a call (close 1001, counted as EARSHOT_TIMEOUT), ms (default 60 000). */
  idleTimeoutMs?: number;
  /** Environment for cloud models (`DASHSCOPE_API_KEY`, `DASHSCOPE_BASE_URL`). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** A running server. */
export interface EarshotServer {
  /** `http://host:port` (WebSocket routes at `ws://host:port/twilio`, …). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The AudioSocket TCP port, when opened. */
  readonly audioSocketPort?: number;
  /** The server's metrics (its own prom-client Registry at `metrics.registry`). */
  readonly metrics: ServerMetrics;
  /** Calls in progress. */
  activeCalls(): number;
  /**
   * Drain and stop: refuse new connections, stop every call (finals in flight delivered, files flushed, close
   * 1001), deliver the webhook queue, close the transport it created. Resolves when all of that is done.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** How long a drain waits for the calls before closing what is left abruptly, ms. */
const DRAIN_TIMEOUT_MS = 60_000;
/** How long a drain waits for the webhook queue, ms. */
const WEBHOOK_DRAIN_MS = 15_000;

function checkPort(name: string, port: number | undefined): void {
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new InvalidArgumentError(`${name} must be 0–65535, got ${port}`);
}

/**
 * Start the media-server gateway.
 *
 * @param options - see {@link ServeOptions}.
 * @returns the running server once it listens.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a non-loopback host without a token, bad ports or
 *   limits, or a mode the model cannot run; `EARSHOT_UNKNOWN_MODEL`, `EARSHOT_MISSING_API_KEY` from the catalog; the
 *   listen error (`EADDRINUSE`) as an InvalidArgumentError.
 * @example
 * ```ts
 * const server = await serve({ port: 8080, outDir: 'calls' });
 * // TwiML: <Connect><Stream url="wss://example.com/twilio"/></Connect>
 * process.once('SIGTERM', () => server.close());
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<EarshotServer> {
  const host = options.host ?? '127.0.0.1';
  const audioSocketHost = options.audioSocketHost ?? '127.0.0.1';
  checkPort('port', options.port);
  checkPort('audioSocketPort', options.audioSocketPort);
  if (options.token !== undefined && options.token.length < 8) throw new InvalidArgumentError('the token must be at least 8 characters');
  if (!isLoopback(host) && !options.token) throw new InvalidArgumentError(`listening on ${host} (beyond loopback) needs a token: pass --token (or the token option)`);
  const maxCalls = options.maxCalls ?? 100;
  const maxFrameBytes = options.maxFrameBytes ?? 256 * 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  if (!Number.isInteger(maxCalls) || maxCalls < 1) throw new InvalidArgumentError(`maxCalls must be a whole number ≥ 1, got ${maxCalls}`);
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024) throw new InvalidArgumentError(`maxFrameBytes must be a whole number ≥ 1024, got ${maxFrameBytes}`);
  if (!(idleTimeoutMs > 0)) throw new InvalidArgumentError(`idleTimeoutMs must be > 0, got ${idleTimeoutMs}`);

  const recognition = options.recognition ?? {};
  const ownTransport = options.transport === undefined;
  const transport = options.transport ?? createTransport(options.model ?? 'local', { env: options.env ?? process.env, ...recognition });
  const mode = options.mode ?? defaultMode(transport, true);
  const windowMs = options.windowMs ?? 5000;
  const tokens = options.token ? new TokenCheck(options.token) : undefined;
  const metrics = new ServerMetrics();
  const events = new CallEvents({ onClientDropped: () => metrics.sseDropped.inc() });
  let webhook: Webhook | undefined;
  try {
    transcribeMode(transport, { mode, live: true, recognition, windowMs }); // a mode (or window) the model cannot run fails now
    if (options.outDir) mkdirSync(options.outDir, { recursive: true });
    if (options.webhook) {
      const settings: WebhookOptions = typeof options.webhook === 'string' ? { url: options.webhook } : options.webhook;
      webhook = new Webhook({
        ...settings,
        onOutcome: (outcome, err) => {
          metrics.webhook.inc({ outcome });
          if (err) metrics.errors.inc({ code: err.code });
          settings.onOutcome?.(outcome, err);
        },
      });
    }
  } catch (err) {
    if (ownTransport) await transport.close?.();
    throw err;
  }

  const runs = new Set<CallRun>();
  let draining = false;
  const pipeline: CallPipelineOptions = {
    transport,
    mode,
    recognition,
    windowMs,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.outDir ? { outDir: options.outDir } : {}),
    formats: options.formats ?? ['jsonl', 'srt', 'vtt'],
    events,
    metrics,
    ...(webhook ? { webhook } : {}),
  };
  // The sources own the connection-level limits: frame size and idle time (close 1001, EARSHOT_TIMEOUT).
  const sourceOptions: CallSourceOptions = { maxFrameBytes, idleTimeoutMs };

  /** Accept a call, or refuse it with a coded close when over the cap. */
  const admit = (refuse: (reason: string) => void): boolean => {
    if (draining) {
      metrics.refused.inc({ code: 'EARSHOT_ABORTED' });
      refuse('EARSHOT_ABORTED: the server is shutting down');
      return false;
    }
    if (runs.size >= maxCalls) {
      metrics.refused.inc({ code: 'EARSHOT_LIMIT_EXCEEDED' });
      refuse(`EARSHOT_LIMIT_EXCEEDED: ${maxCalls} calls at once`);
      return false;
    }
    return true;
  };
  const start = (protocol: string, call: CallStream, authorize?: CallPipelineOptions['authorize']): void => {
    const run = new CallRun(protocol, call, authorize ? { ...pipeline, authorize } : pipeline);
    runs.add(run);
    void run.done.then(() => runs.delete(run));
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    perMessageDeflate: false,
    // Text frames are parsed as JSON anyway: invalid UTF-8 fails there and is counted as malformed.
    skipUTF8Validation: true,
    handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? offered.values().next().value ?? false,
  });

  const http: Server = createHttpServer((req, res) => {
    if (tokens && !tokens.header(req.headers.authorization)) {
      metrics.refused.inc({ code: 'EARSHOT_AUTH_FAILED' });
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="earshot", Basic realm="earshot"', 'content-type': 'application/json' });
      res.end('{"error":"EARSHOT_AUTH_FAILED"}');
      return;
    }
    handleHttp(req, res, {
      metrics,
      events,
      activeCalls: () => runs.size,
      draining: () => draining,
      syncStats: () => {
        for (const r of runs) r.syncStats();
      },
    });
  });
  http.headersTimeout = 10_000;
  http.requestTimeout = 30_000;

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://x');
    const route: CallRoute | undefined = CALL_ROUTES.find((r) => r.path === url.pathname);
    if (!route) return rejectUpgrade(socket, 404, 'Not Found');
    const headerOk = !tokens || tokens.header(req.headers.authorization);
    if (!headerOk && !route.tokenInStart) {
      metrics.refused.inc({ code: 'EARSHOT_AUTH_FAILED' });
      return rejectUpgrade(socket, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer realm="earshot", Basic realm="earshot"' });
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('error', () => undefined); // the call source reports errors; never an unhandled 'error'
      if (!admit((reason) => ws.close(draining ? 1001 : 1013, reason))) return;
      const authorize = headerOk ? undefined : (info: { customParameters: Readonly<Record<string, string>> }) => tokens!.matches(info.customParameters['token']);
      start(route.protocol, route.open(ws, sourceOptions, url), authorize);
    });
  });

  let tcp: TcpServer | undefined;
  const tcpSockets = new Set<Socket>();
  if (options.audioSocketPort !== undefined) {
    tcp = createTcpServer((socket: Socket) => {
      socket.on('error', () => undefined);
      tcpSockets.add(socket);
      socket.once('close', () => tcpSockets.delete(socket));
      socket.setNoDelay(true);
      if (!admit(() => socket.end(HANGUP_FRAME))) return;
      start('audiosocket', fromAudioSocket(socket, sourceOptions));
    });
    tcp.maxConnections = maxCalls * 2;
  }

  try {
    await listen(http, options.port ?? 0, host);
    if (tcp) await listen(tcp, options.audioSocketPort!, audioSocketHost);
  } catch (err) {
    http.close();
    tcp?.close();
    if (ownTransport) await transport.close?.();
    throw new InvalidArgumentError(`cannot listen: ${(err as Error).message}`, { cause: err });
  }
  const port = (http.address() as AddressInfo).port;
  const audioSocketPort = tcp ? (tcp.address() as AddressInfo).port : undefined;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      const tcpClosed = tcp ? new Promise<void>((resolve) => tcp!.close(() => resolve())) : Promise.resolve();
      for (const r of runs) r.stop(1001, 'going away: the server is shutting down');
      const all = Promise.all([...runs].map((r) => r.done));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (timedOut) {
        for (const ws of wss.clients) ws.terminate();
        for (const s of tcpSockets) s.destroy();
      }
      if (webhook) {
        // A dead endpoint must not hold the shutdown: what is still queued after this is dropped (and counted).
        await Promise.race([webhook.drain(), new Promise<void>((resolve) => setTimeout(resolve, WEBHOOK_DRAIN_MS).unref())]);
        webhook.close();
      }
      events.closeAll();
      http.closeAllConnections();
      wss.close();
      await Promise.all([httpClosed, tcpClosed]);
      if (ownTransport) await transport.close?.();
    })();
    return closing;
  };

  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    host,
    port,
    ...(audioSocketPort !== undefined ? { audioSocketPort } : {}),
    metrics,
    activeCalls: () => runs.size,
    close,
  };
}

/** AudioSocket's hang-up frame, for a refused connection. */
const HANGUP_FRAME = audioSocketFrame(AudioSocketKind.hangup);

function rejectUpgrade(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
}

function listen(server: Server | TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
