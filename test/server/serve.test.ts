/**
 * `serve()` end to end on 127.0.0.1:0: a Twilio call (a client written from Twilio's documented messages) carrying
 * flite speech through the embedded engine, checked against the same audio transcribed from a file, in the call's
 * JSONL file and on its SSE channel; the metrics; and the safety rules (token, call cap, malformed and oversized
 * frames, idle timeout).
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { local, type LocalTransport } from '../../src/transports/local.js';
import { serve } from '../../src/server/serve.js';
import { twilioCall, utteranceScript } from '../../bench/call-clients.js';
import { fakeTransport } from '../../src/testing/index.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { finalsText, get, metric, parseMetrics, readJsonl, sse, transcribeLikeACall, ulawOf, waitFor } from './helpers.js';

let engine: LocalTransport;
beforeAll(() => {
  engine = local({ size: 1 });
});
afterAll(async () => {
  await engine.close();
});

const tmp = (): string => mkdtempSync(join(tmpdir(), 'earshot-serve-'));

describe('serve(): a Twilio call through the embedded engine', () => {
  it('gives the text of the same audio from a file (within 2 WER points) in the JSONL file and on SSE, times on the protocol clock; /metrics counts it', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['slt'], leadMs: 400, gapsMs: [1500], format: 'ulaw.wav', sampleRate: 8000 });
    const ulaw = ulawOf(speech.path);
    const reference = await transcribeLikeACall(speech.path, engine);
    const refFinals = reference.filter((e) => e.type === 'final');

    const out = tmp();
    const server = await serve({ transport: engine, outDir: out });
    try {
      const callSid = 'CA0123456789abcdef0123456789abcdef';
      // Twilio leaves out 800 ms of the pause after the first sentence: timestamps jump, times must not shift.
      const gapFrom = Math.round((speech.segments[0]!.endMs + 300) / 20) * 20;
      let events: Awaited<ReturnType<typeof sse>> | undefined;
      const result = await twilioCall({
        url: `${server.url.replace('http', 'ws')}/twilio`,
        ulaw,
        callSid,
        customParameters: { caller: '+15550100' },
        speed: 4,
        gaps: [{ fromMs: gapFrom, toMs: gapFrom + 800 }],
        afterStart: async () => {
          await waitFor(async () => JSON.parse((await get(`${server.url}/calls`)).body).calls.length === 1, 10_000, 'the call to be listed');
          events = await sse(`${server.url}/calls/${callSid}/events`);
        },
      });
      expect(result.closeCode).toBe(1000);
      await events!.ended;
      expect(events!.status).toBe(200);

      const jsonl = readJsonl(join(out, `${callSid}.jsonl`));
      expect(jsonl.every((e) => e.type === 'final')).toBe(true);
      const served = finalsText(jsonl);
      const fileWer = wer(speech.text, finalsText(refFinals));
      const serveWer = wer(speech.text, served);
      expect(serveWer).toBeLessThanOrEqual(fileWer + 0.02);
      // Word times follow the protocol's clock: each final starts where the same utterance starts in the file.
      for (const e of jsonl) expect(refFinals.some((r) => Math.abs(r.startMs - e.startMs) <= 150)).toBe(true);
      expect(existsSync(join(out, `${callSid}.srt`)) && existsSync(join(out, `${callSid}.vtt`))).toBe(true);
      expect(readFileSync(join(out, `${callSid}.vtt`), 'utf8').startsWith('WEBVTT')).toBe(true);

      const types = events!.events.map((e) => e.event);
      expect(types[0]).toBe('call');
      expect(events!.events[0]!.data).toMatchObject({ callId: callSid, protocol: 'twilio', customParameters: { caller: '+15550100' } });
      expect(types).toContain('track');
      expect(types[types.length - 1]).toBe('end');
      expect(finalsText(events!.events.filter((e) => e.event === 'final').map((e) => e.data))).toBe(served);

      const res = await get(`${server.url}/metrics`);
      expect(res.headers['content-type']).toContain('text/plain');
      const samples = parseMetrics(res.body);
      expect(metric(samples, 'earshot_calls_total', { protocol: 'twilio' })).toBe(1);
      expect(metric(samples, 'earshot_active_calls', { protocol: 'twilio' })).toBe(0);
      expect(metric(samples, 'earshot_finals_total', { protocol: 'twilio' })).toBe(jsonl.length);
      expect(metric(samples, 'earshot_audio_seconds_total', { protocol: 'twilio' })).toBeCloseTo(ulaw.length / 8000, 0);
      expect(metric(samples, 'earshot_end_of_speech_latency_seconds_count', { protocol: 'twilio' })).toBe(jsonl.length);
      expect(metric(samples, 'earshot_malformed_frames_total', { protocol: 'twilio' })).toBe(0);
    } finally {
      await server.close();
    }
  }, 300_000); // the engine on a loaded 2-core machine
});

describe('serve(): safety', () => {
  const silence = Buffer.alloc(8000 * 6, 0xff); // 6 s of µ-law silence
  const fake = fakeTransport({ script: utteranceScript(3600, 1000) });

  it('refuses to listen beyond loopback without a token; with one, every route wants it (bearer or basic)', async () => {
    await expect(serve({ transport: fake, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    // a window too short for near-realtime is refused at start, not by failing every call with close 1011
    await expect(serve({ transport: fake, mode: 'near-realtime', windowMs: 300 })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT', message: expect.stringContaining('window') });
    const token = 'correct-horse-battery';
    let server;
    try {
      server = await serve({ transport: fake, host: '0.0.0.0', token });
    } catch {
      server = await serve({ transport: fake, token }); // a sandbox that forbids 0.0.0.0: the same rules on loopback
    }
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await get(`${base}/healthz`)).status).toBe(401);
      expect((await get(`${base}/metrics`, { authorization: 'Bearer wrong-token-here' })).status).toBe(401);
      expect((await get(`${base}/healthz`, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await get(`${base}/healthz`, { authorization: `Basic ${Buffer.from(`jambonz:${token}`).toString('base64')}` })).status).toBe(200);
      expect((await get(`${base}/calls/x/events`, { authorization: `Basic ${Buffer.from('jambonz:nope').toString('base64')}` })).status).toBe(401);

      const ws = `ws://127.0.0.1:${server.port}/twilio`;
      const noToken = await twilioCall({ url: ws, ulaw: silence, speed: Infinity, hangUp: false });
      expect(noToken.closeCode).toBe(1008);
      expect(noToken.closeReason).toMatch(/^EARSHOT_AUTH_FAILED/);
      const inStart = await twilioCall({ url: ws, ulaw: silence, speed: Infinity, customParameters: { token } });
      expect(inStart.closeCode).toBe(1000);
      const inHeader = await twilioCall({ url: ws, ulaw: silence, speed: Infinity, headers: { authorization: `Bearer ${token}` } });
      expect(inHeader.closeCode).toBe(1000);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'the calls to end');
      const samples = parseMetrics((await get(`${base}/metrics`, { authorization: `Bearer ${token}` })).body);
      expect(metric(samples, 'earshot_calls_refused_total', { code: 'EARSHOT_AUTH_FAILED' })).toBe(4);
      expect(metric(samples, 'earshot_finals_total', { protocol: 'twilio' })).toBe(12);
      const text = (await get(`${base}/metrics`, { authorization: `Bearer ${token}` })).body;
      expect(text).not.toContain(token);
    } finally {
      await server.close();
    }
  });

  it('over the concurrent-call cap a call gets close 1013 EARSHOT_LIMIT_EXCEEDED; the call in progress is unaffected', async () => {
    const out = tmp();
    const server = await serve({ transport: fake, maxCalls: 1, outDir: out });
    try {
      const url = `${server.url.replace('http', 'ws')}/twilio`;
      const first = twilioCall({ url, ulaw: silence, callSid: 'CA-first', speed: 3 });
      await waitFor(() => server.activeCalls() === 1, 10_000, 'the first call');
      const second = await twilioCall({ url, ulaw: silence, callSid: 'CA-second', speed: Infinity });
      expect(second.closeCode).toBe(1013);
      expect(second.closeReason).toMatch(/^EARSHOT_LIMIT_EXCEEDED/);
      expect((await first).closeCode).toBe(1000);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'the first call to end');
      expect(readJsonl(join(out, 'CA-first.jsonl')).length).toBe(6);
      expect(existsSync(join(out, 'CA-second.jsonl'))).toBe(false);
      const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_calls_refused_total', { code: 'EARSHOT_LIMIT_EXCEEDED' })).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('malformed frames are counted and skipped, the call goes on and another call is unaffected; an oversized frame closes only its own call (1009)', async () => {
    const out = tmp();
    const server = await serve({ transport: fake, outDir: out, maxFrameBytes: 4096 });
    try {
      const url = `${server.url.replace('http', 'ws')}/twilio`;
      const junk = ['{"event":"media","media":', '{"event":"media","sequenceNumber":"x","media":{"track":"inbound","chunk":"1","timestamp":"abc","payload":"!!"}}', Buffer.from([0xde, 0xad, 0xbe, 0xef])];
      const [bad, good] = await Promise.all([
        twilioCall({ url, ulaw: silence, callSid: 'CA-bad', speed: 6, junk: { frames: junk, everyFrames: 25 } }),
        twilioCall({ url, ulaw: silence, callSid: 'CA-good', speed: 6 }),
      ]);
      expect(bad.closeCode).toBe(1000);
      expect(good.closeCode).toBe(1000);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'both calls to end');
      expect(readJsonl(join(out, 'CA-bad.jsonl')).map((e) => e.text)).toEqual(readJsonl(join(out, 'CA-good.jsonl')).map((e) => e.text));
      expect(readJsonl(join(out, 'CA-good.jsonl')).length).toBe(6);
      let samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_malformed_frames_total', { protocol: 'twilio' })).toBe(bad.mediaFrames / 25 * junk.length);

      const huge = await twilioCall({ url, ulaw: silence, callSid: 'CA-huge', speed: Infinity, junk: { frames: ['x'.repeat(8192)], everyFrames: 1000 } });
      expect(huge.closeCode).toBe(1009);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'the oversized call to end');
      expect((await get(`${server.url}/healthz`)).status).toBe(200);
      samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_errors_total', { code: 'EARSHOT_PROTOCOL_ERROR' })).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a flood of connections: up to the cap admitted, the rest refused with 1013, the server keeps answering', async () => {
    const server = await serve({ transport: fake, maxCalls: 20, idleTimeoutMs: 2000 });
    try {
      const url = `${server.url.replace('http', 'ws')}/twilio`;
      const sockets = Array.from({ length: 200 }, () => new WebSocket(url));
      const codes = await Promise.all(
        sockets.map((ws) => {
          ws.on('error', () => undefined);
          return new Promise<number>((resolve) => {
            ws.once('close', (code) => resolve(code));
            // Admitted calls say nothing: the idle timeout ends them.
          });
        }),
      );
      expect(codes.filter((c) => c === 1013)).toHaveLength(180);
      expect(codes.filter((c) => c === 1001)).toHaveLength(20); // the admitted ones, idle
      expect((await get(`${server.url}/healthz`)).status).toBe(200);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'the admitted calls to end');
      const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_calls_refused_total', { code: 'EARSHOT_LIMIT_EXCEEDED' })).toBe(180);
    } finally {
      await server.close();
    }
  });

  it('a call without frames for idleTimeoutMs is ended (close 1001, EARSHOT_TIMEOUT counted) with its files closed', async () => {
    const out = tmp();
    const server = await serve({ transport: fake, outDir: out, idleTimeoutMs: 300 });
    try {
      const r = await twilioCall({ url: `${server.url.replace('http', 'ws')}/twilio`, ulaw: silence.subarray(0, 8000), callSid: 'CA-idle', speed: Infinity, hangUp: false });
      expect(r.closeCode).toBe(1001);
      await waitFor(() => server.activeCalls() === 0, 10_000, 'the idle call to end');
      expect(readJsonl(join(out, 'CA-idle.jsonl')).map((e) => e.text)).toEqual(['utterance 1']);
      const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_errors_total', { code: 'EARSHOT_TIMEOUT' })).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('serve(): webhook', () => {
  it('POSTs each final as JSON, retrying a 503, in order', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    let failures = 1;
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (failures-- > 0) {
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const server = await serve({ transport: fakeTransport({ script: utteranceScript(3600, 1000) }), webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/finals`, concurrency: 1 } });
    try {
      const r = await twilioCall({ url: `${server.url.replace('http', 'ws')}/twilio`, ulaw: Buffer.alloc(8000 * 4, 0xff), callSid: 'CA-hook', speed: Infinity });
      expect(r.closeCode).toBe(1000);
      await waitFor(() => bodies.length === 4, 20_000, 'four deliveries');
      expect(bodies.map((b) => b.text)).toEqual(['utterance 1', 'utterance 2', 'utterance 3', 'utterance 4']);
      expect(bodies[0]).toMatchObject({ callId: 'CA-hook', protocol: 'twilio', track: 'inbound', type: 'final', channel: 0 });
      const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
      expect(metric(samples, 'earshot_webhook_events_total', { outcome: 'delivered' })).toBe(4);
    } finally {
      await server.close();
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  });
});
