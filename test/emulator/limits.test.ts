/**
 * The emulator is safe to leave running: its task APIs download `file_url`s only from loopback or hosts the user
 * allows, and oversize request bodies and WebSocket messages get the service's own errors (real emulator, real
 * sockets on 127.0.0.1, a real file server).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/cli/args.js';
import { isAllowedHost } from '../../src/emulator/limits.js';
import { wavHeader } from '../helpers/speech.js';
import { emulatorPerTest, until } from './ws/helpers.js';

const KEY = 'sk-limits-test-key';
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const emulator = emulatorPerTest();

let files: Server | undefined;
let fileRequests = 0;
afterEach(async () => {
  files?.closeAllConnections();
  await new Promise<void>((resolve) => (files ? files.close(() => resolve()) : resolve()));
  files = undefined;
});

/** A file server on 127.0.0.1 serving one second of a 440 Hz tone as WAV at any path. */
async function fileServer(): Promise<string> {
  const samples = Buffer.alloc(32000);
  for (let i = 0; i < 16000; i++) samples.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);
  const wav = Buffer.concat([wavHeader(samples.length, 16000), samples]);
  fileRequests = 0;
  files = createServer((_req, res) => {
    fileRequests++;
    res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
  });
  await new Promise<void>((resolve) => files!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
}

async function submit(base: string, model: string, fileUrl: string): Promise<Record<string, any>> {
  const input = model === 'qwen3-asr-flash-filetrans' ? { file_url: fileUrl } : { file_urls: [fileUrl] };
  const res = await fetch(`${base}/api/v1/services/audio/asr/transcription`, { method: 'POST', headers: { ...auth, 'x-dashscope-async': 'enable' }, body: JSON.stringify({ model, input }) });
  expect(res.status).toBe(200);
  const taskId = ((await res.json()) as { output: { task_id: string } }).output.task_id;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const body = (await (await fetch(`${base}/api/v1/tasks/${taskId}`, { headers: auth })).json()) as { output: Record<string, any> };
    if (['SUCCEEDED', 'FAILED'].includes(body.output.task_status)) return body.output;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${body.output.task_status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('file_url allow-list', () => {
  it('accepts loopback and allowed hosts only', () => {
    const none = { allowHosts: new Set<string>() };
    for (const u of ['http://127.0.0.1:9/a.wav', 'http://127.8.0.1/a', 'http://localhost:80/a', 'http://[::1]:9/a', 'http://a.localhost/x']) expect(isAllowedHost(none, new URL(u))).toBe(true);
    for (const u of ['http://10.0.0.1/a.wav', 'http://169.254.169.254/latest/meta-data', 'https://example.com/a.wav', 'http://127.0.0.1.nip.io/a', 'http://[::2]/a', 'http://0.0.0.0/a']) expect(isAllowedHost(none, new URL(u))).toBe(false);
    const some = { allowHosts: new Set(['files.example.com', 'cdn.example.com:8443']) };
    expect(isAllowedHost(some, new URL('https://FILES.example.com/a.wav'))).toBe(true);
    expect(isAllowedHost(some, new URL('https://cdn.example.com:8443/a.wav'))).toBe(true);
    expect(isAllowedHost(some, new URL('https://cdn.example.com/a.wav'))).toBe(false);
  });

  it('downloads from loopback, and fails a task for another host before any download, in each model family’s shape', async () => {
    const base = await fileServer();
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello from loopback' }] });
    const ok = await submit(emu.url, 'fun-asr', `${base}/a.wav`);
    expect(ok.task_status).toBe('SUCCEEDED');
    expect(fileRequests).toBe(1);

    const far = await submit(emu.url, 'fun-asr', 'http://169.254.169.254/latest/meta-data/a.wav');
    expect(far).toMatchObject({ task_status: 'FAILED', results: [{ subtask_status: 'FAILED', code: 'InvalidFile.DownloadFailed' }] });
    expect(far.results[0].message).toMatch(/--allow-host 169\.254\.169\.254/);
    const qwen = await submit(emu.url, 'qwen3-asr-flash-filetrans', 'https://example.com/a.wav');
    expect(qwen).toMatchObject({ task_status: 'FAILED', code: 'FILE_403_FORBIDDEN' });

    const compat = await fetch(`${emu.url}/compatible-mode/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'qwen3-asr-flash', stream: false, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'http://10.1.2.3/a.wav' } }] }] }),
    });
    expect(compat.status).toBe(400);
    const body = (await compat.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_parameter_error', type: 'invalid_request_error' });
    expect(body.error.message).toMatch(/allowed hosts/);
  });

  it('fetches from a host the user allows (here one that does not resolve: the failure is the download, not the list)', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], allowHosts: ['files.example.invalid'] });
    const out = await submit(emu.url, 'fun-asr', 'http://files.example.invalid/a.wav');
    expect(out.results[0]).toMatchObject({ subtask_status: 'FAILED', code: 'InvalidFile.DownloadFailed' });
    expect(out.results[0].message).toMatch(/^download failed/);
  });

  it('earshot emulator --allow-host (repeatable), and refuses a malformed host', () => {
    expect(parseCommand(['emulator', '--allow-host', 'files.example.com', '--allow-host', 'cdn.example.com:8443'])).toMatchObject({ command: 'emulator', allowHosts: ['files.example.com', 'cdn.example.com:8443'] });
    expect(() => parseCommand(['emulator', '--allow-host', 'http://x/'])).toThrow(/--allow-host/);
  });
});

describe('size bounds', () => {
  it('refuses a request body over the cap with the native and the compatible error bodies', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const huge = JSON.stringify({ model: 'fun-asr', input: { file_urls: ['http://127.0.0.1/a.wav'] }, pad: 'x'.repeat(33 * 1024 * 1024) });
    const native = await fetch(`${emu.url}/api/v1/services/audio/asr/transcription`, { method: 'POST', headers: { ...auth, 'x-dashscope-async': 'enable' }, body: huge });
    expect(native.status).toBe(400);
    expect(await native.json()).toMatchObject({ code: 'InvalidParameter', message: expect.stringMatching(/too large/), request_id: expect.any(String) });
    const compat = await fetch(`${emu.url}/compatible-mode/v1/chat/completions`, { method: 'POST', headers: auth, body: huge });
    expect(compat.status).toBe(400);
    expect(await compat.json()).toMatchObject({ error: { code: 'invalid_parameter_error', type: 'invalid_request_error', message: expect.stringMatching(/too large/) } });
  });

  it('refuses an oversize WebSocket message with task-failed (inference) or an error event (realtime), then closes 1009', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], maxMessageBytes: 64 * 1024 });
    const inference = emulator.client('/api-ws/v1/inference', { authorization: `bearer ${KEY}` });
    await inference.ready();
    inference.send({ header: { action: 'run-task', task_id: 'task-oversize', streaming: 'duplex' }, payload: { model: 'fun-asr-realtime', task_group: 'audio', task: 'asr', function: 'recognition', parameters: { format: 'pcm', sample_rate: 16000 }, input: {} } });
    await inference.waitFor('task-started');
    inference.ws.send(Buffer.alloc(65 * 1024));
    const [failed] = await inference.waitFor('task-failed');
    expect(failed!.header).toMatchObject({ task_id: 'task-oversize', error_code: 'InvalidParameter', error_message: expect.stringMatching(/too large/) });
    await until(() => inference.closed, 5000, 'close');
    expect(inference.closed!.code).toBe(1009);

    const realtime = emulator.client('/api-ws/v1/realtime?model=qwen3-asr-flash-realtime', { authorization: `Bearer ${KEY}` });
    await realtime.ready();
    realtime.send({ type: 'input_audio_buffer.append', audio: 'A'.repeat(70 * 1024) });
    const [error] = await realtime.waitFor('error');
    expect(error!.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_value', message: expect.stringMatching(/too large/) });
    await until(() => realtime.closed, 5000, 'close');
    expect(realtime.closed!.code).toBe(1009);
    expect(emu.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });

  it('closes 1009 on a message over the hard cap without buffering it', async () => {
    await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const c = emulator.client('/api-ws/v1/realtime?model=qwen3-asr-flash-realtime', { authorization: `Bearer ${KEY}` });
    await c.ready();
    c.ws.send(Buffer.alloc(17 * 1024 * 1024));
    await until(() => c.closed, 10_000, 'close');
    expect(c.closed!.code).toBe(1009);
  });
});
