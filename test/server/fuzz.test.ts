/**
 * Bad input against a whole server: 10,000 fuzzed frames spread over every route (WebSocket and AudioSocket), each
 * a valid protocol message mutated or random bytes, while a clean call runs. Nothing crashes, every bad frame is
 * counted or ends only its own connection with a coded close, the clean call gets all its finals, memory stays bounded.
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { twilioCall, utteranceScript } from '../../bench/call-clients.js';
import { fakeTransport } from '../../src/testing/index.js';
import { serve } from '../../src/server/serve.js';
import { mutateBytes, mutateJson } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { get, metric, parseMetrics, waitFor } from './helpers.js';

/** A valid first message and a valid media frame per WebSocket route, to mutate. */
const ROUTES: Array<{ path: string; protocol?: string; messages: Array<string | Buffer> }> = [
  {
    path: '/twilio',
    messages: [
      JSON.stringify({ event: 'start', sequenceNumber: '1', start: { streamSid: 'MZ1', callSid: 'CA1', tracks: ['inbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } }, streamSid: 'MZ1' }),
      JSON.stringify({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.alloc(160, 0xff).toString('base64') }, streamSid: 'MZ1' }),
    ],
  },
  { path: '/audio-fork', protocol: 'audio.drachtio.org', messages: [JSON.stringify({ callId: 'fs-1', mixType: 'stereo', sampleRate: 16000 }), Buffer.alloc(1280)] },
  { path: '/asterisk', protocol: 'media', messages: ['MEDIA_START connection_id:c channel:WebSocket/c/1 channel_id:1.1 format:ulaw optimal_frame_size:160 ptime:20', Buffer.alloc(160, 0xff)] },
  { path: '/jambonz/listen', protocol: 'audio.jambonz.org', messages: [JSON.stringify({ callSid: 'js-1', sampleRate: 8000, mixType: 'mono' }), Buffer.alloc(320)] },
  { path: '/jambonz/stt', messages: [JSON.stringify({ type: 'start', language: 'en-US', format: 'raw', encoding: 'LINEAR16', sampleRateHz: 8000, interimResults: true }), Buffer.alloc(320)] },
];

const FRAMES_PER_ROUTE = Math.ceil(10_000 / (ROUTES.length + 1));

describe('serve(): fuzz', () => {
  it('10,000 fuzzed frames over every route: no crash, coded closes only, a clean call unaffected, memory bounded', async () => {
    const server = await serve({ transport: fakeTransport({ script: utteranceScript(3600, 1000) }), audioSocketPort: 0, idleTimeoutMs: 5000 });
    try {
      const rand = rng(12);
      const heap0 = process.memoryUsage().heapUsed;
      const clean = twilioCall({ url: `${server.url.replace('http', 'ws')}/twilio`, ulaw: Buffer.alloc(8000 * 6, 0xff), callSid: 'CA-clean', speed: 4 });
      const closes: number[] = [];
      let sent = 0;
      await Promise.all(
        ROUTES.map(async (route) => {
          // Several connections per route: a frame that ends one connection does not end the fuzzing.
          for (let mine = 0; mine < FRAMES_PER_ROUTE; ) {
            const ws = new WebSocket(`${server.url.replace('http', 'ws')}${route.path}`, route.protocol);
            ws.on('error', () => undefined);
            const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
            if (!(await Promise.race([once(ws, 'open').then(() => true), closed.then(() => false)]))) {
              closes.push(await closed);
              continue;
            }
            ws.send(route.messages[0]!);
            for (let i = 0; i < 200 && mine < FRAMES_PER_ROUTE && ws.readyState === WebSocket.OPEN; i++, mine++, sent++) {
              const base = route.messages[Math.floor(rand() * route.messages.length)]!;
              ws.send(typeof base === 'string' && rand() < 0.8 ? mutateJson(base, rand) : mutateBytes(Buffer.from(base), rand));
            }
            ws.close(1000);
            closes.push(await closed);
          }
        }),
      );
      // AudioSocket: frames of every kind with mutated lengths and payloads.
      const socket = tcpConnect(server.audioSocketPort!, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const tcpClosed = new Promise<void>((resolve) => socket.once('close', () => resolve())); // a reset is fine: the server may end the call
      const uuid = Buffer.from('40325ec25efd4bd3805f53576e581d13', 'hex');
      socket.write(Buffer.concat([Buffer.from([0x01, 0, 16]), uuid]));
      for (let i = 0; i < FRAMES_PER_ROUTE; i++, sent++) socket.write(mutateBytes(Buffer.concat([Buffer.from([0x10, 1, 64]), Buffer.alloc(320)]), rand));
      socket.end();
      await tcpClosed;

      expect(sent).toBeGreaterThanOrEqual(9_990);
      const result = await clean;
      expect(result.closeCode).toBe(1000);
      await waitFor(() => server.activeCalls() === 0, 20_000, 'every call to end');
      expect((await get(`${server.url}/healthz`)).status).toBe(200);
      const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      // Every connection ended normally or with a coded protocol close; the clean call has all its finals.
      expect(closes.every((c) => [1000, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011].includes(c))).toBe(true);
      expect(metric(samples, 'earshot_malformed_frames_total', { protocol: 'twilio' })).toBeGreaterThan(0);
      expect(metric(samples, 'earshot_finals_total', { protocol: 'twilio' })).toBeGreaterThanOrEqual(6);
      expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(200 * 1024 * 1024);
    } finally {
      await server.close();
    }
  });
});
