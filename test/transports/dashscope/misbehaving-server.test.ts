/**
 * Servers that misbehave, found by `npm run faults` and `npm run fuzz -- --target client-realtime`. A server that
 * accepts and then says nothing: the realtime clients used to wait for `task-started` / `session.updated` for ever,
 * and an HTTP request waited out undici's 300 s; now a session still opening after `openTimeoutMs`, and a reply that
 * does not come within `requestTimeoutMs`, fail with a retryable EARSHOT_TIMEOUT. An event with a field of the wrong
 * type used to throw out of the socket's handler (an uncaught TypeError, the session never ending); now it ends the
 * session with EARSHOT_PROTOCOL_ERROR. Real servers on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createTransport, type CreateTransportOptions } from '../../../src/transports/catalog.js';

const KEY = 'sk-silent-server-test';
let server: Server;
let base: string;
const held: IncomingMessage[] = [];
/** What the WebSocket side does with a connection (default: nothing, ever). */
let onSocket: (ws: WebSocket) => void = () => undefined;

beforeAll(async () => {
  // HTTP requests are read and never answered; WebSocket handshakes complete, then `onSocket` decides.
  server = createServer((req) => void held.push(req.resume()));
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('a server that accepts and stays silent', () => {
  it.each(['fun-asr-realtime', 'qwen3-asr-flash-realtime'])('%s: the open fails with a retryable EARSHOT_TIMEOUT after openTimeoutMs', async (model) => {
    const t = createTransport(model, { apiKey: KEY, baseUrl: base, realtime: { openTimeoutMs: 300 } } as CreateTransportOptions);
    const t0 = performance.now();
    const err = await t.openStream!({ sampleRate: 16000, onEvent: () => undefined, onError: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'EARSHOT_TIMEOUT', retryable: true, message: expect.stringContaining('did not start the session within 300 ms') });
    expect(performance.now() - t0).toBeLessThan(10_000);
    await t.close?.();
  });

  it('qwen3-asr-flash: a request never answered fails with EARSHOT_TIMEOUT after requestTimeoutMs', async () => {
    const before = held.length;
    const t = createTransport('qwen3-asr-flash', { apiKey: KEY, baseUrl: base, requestTimeoutMs: 300, retry: { attempts: 2, baseMs: 10, maxMs: 20 } } as CreateTransportOptions);
    const err = await t.transcribeClip!({ samples: new Int16Array(16000).map((_, i) => Math.round(6000 * Math.sin(i / 8))), sampleRate: 16000, startMs: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'EARSHOT_TIMEOUT' });
    expect(String((err as Error).message)).not.toContain(KEY);
    expect(held.length - before).toBeGreaterThan(0);
    await t.close?.();
  });

  it('refuses an impossible request timeout', () => {
    expect(() => createTransport('qwen3-asr-flash', { apiKey: KEY, baseUrl: base, requestTimeoutMs: 0 } as CreateTransportOptions)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});

describe('an event with a field of the wrong type', () => {
  it('fun-asr-realtime: a result whose text is a number ends the session with EARSHOT_PROTOCOL_ERROR', async () => {
    onSocket = (ws) =>
      ws.on('message', (data: Buffer, binary: boolean) => {
        if (binary) return;
        const m = JSON.parse(data.toString('utf8')) as { header: { action: string; task_id: string } };
        if (m.header.action !== 'run-task') return;
        ws.send(JSON.stringify({ header: { event: 'task-started', task_id: m.header.task_id, attributes: {} }, payload: {} }));
        ws.send(JSON.stringify({ header: { event: 'result-generated', task_id: m.header.task_id, attributes: {} }, payload: { output: { sentence: { begin_time: 0, end_time: 100, text: 5, sentence_end: true } } } }));
      });
    const t = createTransport('fun-asr-realtime', { apiKey: KEY, baseUrl: base } as CreateTransportOptions);
    const errors: unknown[] = [];
    const s = await t.openStream!({ sampleRate: 16000, onEvent: () => undefined, onError: (e) => errors.push(e) });
    await expect(s.end()).rejects.toMatchObject({ code: 'EARSHOT_PROTOCOL_ERROR', message: expect.stringContaining('could not be read') });
    expect(errors).toEqual([expect.objectContaining({ code: 'EARSHOT_PROTOCOL_ERROR' })]);
    await t.close?.();
  });
});
