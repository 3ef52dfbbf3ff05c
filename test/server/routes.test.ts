/**
 * Each protocol route of `serve()` in a short exchange written from the protocol's public description, with a
 * fake transport (the sources' own tests check the text with the engine): the call is recognised, its tracks get
 * their files, and transcripts go back in the protocol's own shape where it has one.
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { utteranceScript } from '../../bench/call-clients.js';
import { fakeTransport } from '../../src/testing/index.js';
import { serve, type EarshotServer } from '../../src/server/serve.js';
import { get, metric, parseMetrics, readJsonl, waitFor } from './helpers.js';

let server: EarshotServer;
let out: string;
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'earshot-routes-'));
  server = await serve({ transport: fakeTransport({ script: utteranceScript(3600, 1000) }), outDir: out, audioSocketPort: 0 });
});
afterAll(async () => {
  await server.close();
});

/** Open a WebSocket to a route; collect the text frames the server sends. */
async function connect(path: string, protocols?: string | string[]): Promise<{ ws: WebSocket; texts: string[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, protocols);
  const texts: string[] = [];
  ws.on('message', (d, binary) => {
    if (!binary) texts.push(d.toString());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await once(ws, 'open');
  return { ws, texts, closed };
}

/** `seconds` of interleaved s16le PCM, `channels` channels, a different tone on each, as 20 ms frames. */
function pcmFrames(seconds: number, rate: number, channels: number): Buffer[] {
  const frame = rate / 50;
  const frames: Buffer[] = [];
  for (let f = 0; f < seconds * 50; f++) {
    const b = Buffer.alloc(frame * channels * 2);
    for (let i = 0; i < frame; i++) for (let c = 0; c < channels; c++) b.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * (300 + 200 * c) * (f * frame + i)) / rate)), (i * channels + c) * 2);
    frames.push(b);
  }
  return frames;
}

describe('serve() routes', () => {
  it('/audio-fork: mod_audio_fork stereo 16k — caller and callee tracks, {"type":"transcription"} replies, one file per track', async () => {
    const uuid = '8b5c2f3e-1d6a-4f7e-9c2b-3a4d5e6f7a8b';
    const { ws, texts, closed } = await connect('/audio-fork?mix=stereo&rate=16k', 'audio.drachtio.org');
    expect(ws.protocol).toBe('audio.drachtio.org');
    ws.send(JSON.stringify({ callId: uuid, from: '+15550100', to: '+15550111' }));
    for (const f of pcmFrames(3, 16000, 2)) ws.send(f);
    // The last finals come when the audio ends; the earlier ones are sent back while the fork is open.
    await waitFor(() => texts.length >= 4, 10_000, 'transcription replies');
    ws.close(1000);
    await closed;
    await waitFor(() => server.activeCalls() === 0, 10_000, 'the call to end');
    const replies = texts.map((t) => JSON.parse(t) as { type: string; data: { text: string; track: string; channel: number } });
    expect(replies.every((r) => r.type === 'transcription')).toBe(true);
    expect(new Set(replies.map((r) => r.data.track))).toEqual(new Set(['caller', 'callee']));
    expect(readJsonl(join(out, `${uuid}-caller.jsonl`)).map((e) => e.text)).toEqual(['utterance 1', 'utterance 2', 'utterance 3']);
    expect(readJsonl(join(out, `${uuid}-callee.jsonl`))).toHaveLength(3);
    expect(replies.every((r) => r.data.channel === (r.data.track === 'caller' ? 0 : 1))).toBe(true);
    const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
    expect(metric(samples, 'earshot_calls_total', { protocol: 'audio-fork' })).toBe(1);
    expect(metric(samples, 'earshot_audio_seconds_total', { protocol: 'audio-fork' })).toBeCloseTo(6, 1);
  });

  it('AudioSocket (TCP): UUID frame, 0x10 slin 8 kHz frames, hang-up — the UUID names the call and its files', async () => {
    const uuid = '40325ec2-5efd-4bd3-805f-53576e581d13';
    // Each frame: 1 byte kind, 2 bytes big-endian payload length, payload (as the AudioSocket protocol defines it).
    const frame = (kind: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([kind, payload.length >> 8, payload.length & 0xff]), payload]);
    const socket = tcpConnect(server.audioSocketPort!, '127.0.0.1');
    await once(socket, 'connect');
    const closed = once(socket, 'close');
    socket.write(frame(0x01, Buffer.from(uuid.replace(/-/g, ''), 'hex')));
    for (const f of pcmFrames(3, 8000, 1)) socket.write(frame(0x10, f));
    socket.write(frame(0x03, Buffer.from('5')));
    socket.end(frame(0x00, Buffer.alloc(0)));
    await closed;
    await waitFor(() => server.activeCalls() === 0, 10_000, 'the call to end');
    expect(readJsonl(join(out, `${uuid}.jsonl`)).map((e) => e.text)).toEqual(['utterance 1', 'utterance 2', 'utterance 3']);
    const samples = parseMetrics((await get(`${server.url}/metrics`)).body);
    expect(metric(samples, 'earshot_calls_total', { protocol: 'audiosocket' })).toBe(1);
    expect(metric(samples, 'earshot_malformed_frames_total', { protocol: 'audiosocket' })).toBe(0);
  });

  it('/asterisk: chan_websocket MEDIA_START (plain text) then slin16 media, hang-up by closing — channel id names the call', async () => {
    const { ws, closed } = await connect('/asterisk', 'media');
    expect(ws.protocol).toBe('media');
    ws.send('MEDIA_START connection_id:earshot channel:WebSocket/earshot/0x7f00 channel_id:1761245643.1 format:slin16 optimal_frame_size:640 ptime:20');
    for (const f of pcmFrames(3, 16000, 1)) ws.send(f);
    ws.send('DTMF_END digit:5');
    ws.close(1000);
    await closed;
    await waitFor(() => server.activeCalls() === 0, 10_000, 'the call to end');
    expect(readJsonl(join(out, '1761245643.1.jsonl')).map((e) => e.text)).toEqual(['utterance 1', 'utterance 2', 'utterance 3']);
  });

  it('/jambonz/listen: the call-attributes frame (callSid, sampleRate, mixType stereo) then L16 — caller and callee files', async () => {
    const callSid = 'ac5c697a-bfae-4335-ad8a-0123456789ab';
    const { ws, closed } = await connect('/jambonz/listen', 'audio.jambonz.org');
    expect(ws.protocol).toBe('audio.jambonz.org');
    ws.send(JSON.stringify({ callSid, direction: 'inbound', from: '+15550100', to: '+15550111', sampleRate: 8000, mixType: 'stereo', metadata: { ticket: '42' } }));
    for (const f of pcmFrames(2, 8000, 2)) ws.send(f);
    ws.close(1000);
    await closed;
    await waitFor(() => server.activeCalls() === 0, 10_000, 'the call to end');
    expect(readJsonl(join(out, `${callSid}-caller.jsonl`)).map((e) => e.text)).toEqual(['utterance 1', 'utterance 2']);
    expect(readJsonl(join(out, `${callSid}-callee.jsonl`))).toHaveLength(2);
  });

  it('/jambonz/stt: start (LINEAR16 8 kHz) → audio → stop, answered with transcription messages, then earshot closes the socket', async () => {
    const { ws, texts, closed } = await connect('/jambonz/stt');
    ws.send(JSON.stringify({ type: 'start', language: 'en-US', format: 'raw', encoding: 'LINEAR16', sampleRateHz: 8000, interimResults: false, options: {} }));
    for (const f of pcmFrames(3, 8000, 1)) ws.send(f);
    ws.send(JSON.stringify({ type: 'stop' }));
    const { code } = await closed; // the vendor closes after stop, once its finals are sent
    expect(code).toBe(1000);
    const messages = texts.map((t) => JSON.parse(t) as { type: string; is_final: boolean; alternatives: Array<{ transcript: string }> });
    expect(messages.map((m) => [m.type, m.is_final, m.alternatives[0]!.transcript])).toEqual([
      ['transcription', true, 'utterance 1'],
      ['transcription', true, 'utterance 2'],
      ['transcription', true, 'utterance 3'],
    ]);
    await waitFor(() => server.activeCalls() === 0, 10_000, 'the call to end');
  });
});
