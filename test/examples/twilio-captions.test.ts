/** examples/twilio-captions.ts run as a user would: a Twilio Media Streams client calls it, captions come out. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { until } from '../sinks/helpers.js';
import { sendAll, slices, wavData } from '../sources/call-fixtures.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('examples/twilio-captions', () => {
  it('captions a Twilio call (start, 20 ms µ-law media with string counters, stop) and exits cleanly on SIGINT', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(4, 6), voices: ['slt'], leadMs: 300, gapsMs: [900], format: 'ulaw.wav' });
    const server = spawn(process.execPath, [built('examples/twilio-captions.js'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let stdout = '';
    let stderr = '';
    server.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(() => /listening .*:(\d+)\/twilio/.test(stderr), 30_000, 'the example to listen');
    const port = Number(/:(\d+)\/twilio/.exec(stderr)![1]);

    const client = new WebSocket(`ws://127.0.0.1:${port}/twilio`);
    await once(client, 'open');
    const sid = 'MZ00000000000000000000000000000001';
    let seq = 0;
    const frames = [
      JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
      JSON.stringify({ event: 'start', sequenceNumber: String(++seq), start: { accountSid: 'AC1', streamSid: sid, callSid: 'CAexample', tracks: ['inbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } }, streamSid: sid }),
      ...slices(wavData(speech.path), 160).map((b, i) => JSON.stringify({ event: 'media', sequenceNumber: String(++seq), media: { track: 'inbound', chunk: String(i + 1), timestamp: String(i * 20), payload: b.toString('base64') }, streamSid: sid })),
      JSON.stringify({ event: 'stop', sequenceNumber: String(++seq), stop: { accountSid: 'AC1', callSid: 'CAexample' }, streamSid: sid }),
    ];
    await sendAll(client, frames);
    client.close();
    await until(() => /call CAexample done/.test(stderr), 120_000, 'the last captions');
    server.kill('SIGINT');
    const [code] = (await once(server, 'exit')) as [number | null];
    expect(code).toBe(0);
    const text = stdout.split('\n').filter((l) => l.startsWith('CAexample inbound: ')).map((l) => l.slice('CAexample inbound: '.length)).join(' ');
    expect(wer(speech.text, text)).toBeLessThanOrEqual(0.6); // 8 kHz narrowband is hard for this wideband model; test/sources/twilio.test.ts shows a file of the same audio scores the same
    expect(stderr).toMatch(/"malformed":0/);
  }, 180_000);
});
