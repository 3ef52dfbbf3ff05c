/**
 * A TCP fault proxy in front of the emulator, for faults the emulator does not inject on every protocol: a 429
 * with or without `Retry-After` and a 500 (on HTTP requests and WebSocket handshakes alike), a silent server (an
 * HTTP request never answered; a WebSocket whose handshake completes and then hears nothing), and a malformed reply
 * (an HTTP 200 whose body is cut JSON; on a WebSocket, a text frame that is not JSON before the server's first
 * message), and a connection dropped once `dropAfterBytes` have come from the client. The first `first` connections get the fault (every one for `silent`); the others are piped to the
 * emulator byte for byte.
 */
import { connect, createServer, type Socket } from 'node:net';

export type ProxyFault = 'silent' | 'throttle' | 'throttle-no-retry-after' | 'server-error' | 'malformed' | 'drop';

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`, to use as the base URL. */
  url: string;
  /** Connections that got the fault. */
  readonly faulted: number;
  /** Connections accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';

/** Collect what `socket` sends until an HTTP head's end, then stop listening and give all of it and where the head ends. */
function whenHead(socket: Socket, then: (data: Buffer, end: number) => void): void {
  let data = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    data = Buffer.concat([data, chunk]);
    const end = data.indexOf(HEAD_END);
    if (end < 0) return;
    socket.off('data', onData);
    then(data, end);
  };
  socket.on('data', onData);
}

/** One unmasked WebSocket text frame (server to client), payload under 126 bytes. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

function reply(socket: Socket, status: string, body: string, extra = ''): void {
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
}

/** The service's own error body: OpenAI-compatible routes nest it under `error`. */
function errorBody(compat: boolean, code: string, compatCode: string, message: string): string {
  return compat ? JSON.stringify({ error: { code: compatCode, message, type: compatCode } }) : JSON.stringify({ code, message, request_id: 'fault-proxy' });
}

/**
 * Start a proxy on 127.0.0.1 that injects `fault` into the first `first` connections to `targetPort`.
 *
 * @param targetPort - the emulator's port.
 * @param fault - what to inject.
 * @param first - how many connections get it (ignored for `silent`: all do), or which (by index from 0).
 * @param dropAfterBytes - for `drop`: bytes from the client after which the connection is cut (default 48 000, ~1.5 s of 16 kHz audio).
 */
export async function startFaultProxy(targetPort: number, fault: ProxyFault, first: number | ((index: number) => boolean) = 1, dropAfterBytes = 48_000): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let count = 0;
  let faulted = 0;
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const index = count++;
    const inject = fault === 'silent' || (typeof first === 'number' ? index < first : first(index));
    if (inject) faulted++;
    if (fault === 'silent') client.on('data', () => {}); // Read everything; answer HTTP requests never.
    whenHead(client, (head, end) => {
      const text = head.subarray(0, end).toString('latin1');
      const upgrade = /^upgrade:\s*websocket/im.test(text);
      const compat = /^\S+ \/compatible-mode\//.test(text);
      if (inject && (fault === 'throttle' || fault === 'throttle-no-retry-after')) {
        const body = errorBody(compat, 'Throttling.RateQuota', 'limit_requests', 'Requests rate limit exceeded, please try your request again later.');
        reply(client, '429 Too Many Requests', body, fault === 'throttle' ? 'retry-after: 1\r\n' : '');
        return;
      }
      if (inject && fault === 'server-error') {
        reply(client, '500 Internal Server Error', errorBody(compat, 'InternalError', 'internal_error', 'An internal error has occurred, please try again later.'));
        return;
      }
      if (inject && !upgrade) {
        if (fault === 'malformed') reply(client, '200 OK', '{"output": {"task_id": "cut-he');
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.write(head);
      client.pipe(upstream);
      if (inject && fault === 'drop') {
        let bytes = 0;
        client.on('data', (d: Buffer) => (bytes += d.length) > dropAfterBytes && (client.destroy(), upstream.destroy()));
      }
      if (!inject || fault === 'drop') {
        upstream.pipe(client);
        return;
      }
      // Malformed WebSocket message: after the 101 head, one text frame that is not JSON, then the server's frames.
      whenHead(upstream, (up, at) => {
        client.write(up.subarray(0, at + HEAD_END.length));
        if (fault === 'silent') return; // The handshake went through; nothing the server says arrives.
        if (up.subarray(0, 12).toString('latin1').includes(' 101')) client.write(textFrame('{"header": {"event": "task-start'));
        client.write(up.subarray(at + HEAD_END.length));
        upstream.pipe(client);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get faulted() {
      return faulted;
    },
    get connections() {
      return count;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
