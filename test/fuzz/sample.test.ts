/**
 * A small fixed-seed sample of every `npm run fuzz` target (the same mutator and targets, a few hundred cases each):
 * every case ends in a result or a coded error within its bound; none uncaught, none hung. And a defect the `calls`
 * target found, kept fixed.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { runFuzz } from '../../bench/fuzz/run.js';
import { fromAsteriskWebSocket } from '../../src/sources/asterisk.js';

// client-realtime runs 32 cases at a time, each deadline 500 ms: 160 cases take ~1.5 s.
const SAMPLE: Array<[string, number]> = [
  ['wav', 3000],
  ['rtp', 3000],
  ['decode', 300],
  ['client', 300],
  ['emulator-http', 120],
  ['emulator-ws', 120],
  ['calls', 180],
  ['client-realtime', 160],
];

describe('fuzz sample (seed 7)', () => {
  it.each(SAMPLE)('%s: %i cases, each a result or a coded error', async (target, count) => {
    const [row] = await runFuzz({ seed: 7, count, targets: [target] });
    expect(row!.failures).toEqual([]);
    expect(row).toMatchObject({ cases: count, uncaught: 0, hangs: 0 });
    expect(row!.coded + row!.results).toBe(count);
    // Both outcomes occur: the mutations reach past the first check and the seeds are still valid enough to pass.
    expect(row!.coded).toBeGreaterThan(0);
    expect(row!.results).toBeGreaterThan(0);
  }, 60_000);
});

describe('call sources after the call ended (found by the calls fuzz target)', () => {
  it('a frame over maxPayload during the closing handshake does not end the process', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 });
    await once(server, 'listening');
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const accepted = new Promise<{ call: ReturnType<typeof fromAsteriskWebSocket> }>((resolve) => server.once('connection', (ws) => resolve({ call: fromAsteriskWebSocket(ws) })));
      const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
      client.on('error', () => undefined);
      await once(client, 'open');
      const { call } = await accepted;
      call.subscribe({ error: () => undefined });
      call.close();
      client.send(Buffer.alloc(4096)); // over maxPayload, while the server's close is under way
      await once(client, 'close');
      await new Promise((r) => setTimeout(r, 50));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
