/**
 * The API key (and a temporary key) never escapes: real failing paths — a host that does not resolve, a refused
 * connection, a 401, a refused WebSocket handshake, a server that echoes the key back, an upload policy that
 * fails, the CLI with `EARSHOT_DEBUG=1` — and every output of each (message, stack, `util.inspect` of the error with
 * its causes, stdout, stderr, files written) is searched for the key.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { EarshotError } from '../../src/core/errors.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createTemporaryKey } from '../../src/transports/dashscope/temporary-key.js';
import { createTransport } from '../../src/transports/catalog.js';
import type { BatchTransport } from '../../src/transports/dashscope/fun-asr.js';
import type { Transport } from '../../src/transports/transport.js';
import { built } from '../helpers/dist.js';
import { wavHeader } from '../helpers/speech.js';

/** A key with no recognisable prefix: only explicit redaction can hide it. */
const KEY = 'canaryKEY7Q2W9E4RzX81';
/** A key shaped like a real one. */
const SK = 'sk-canary5f1c0ffee0ddba11';

let dir: string;
let wav: string;
let echo: Server;
let echoUrl: string;
let emu: Emulator;

/** Every form an error can be printed in, its causes included. */
function renderings(err: unknown): string {
  const parts = [String(err), inspect(err, { depth: 10 }), inspect(err, { depth: 10, showHidden: true })];
  for (let e: unknown = err; e instanceof Error; e = e.cause) parts.push(e.message, e.stack ?? '');
  try {
    parts.push(JSON.stringify(err));
  } catch {
    /* circular: covered by inspect */
  }
  return parts.join('\n');
}

function expectNoKey(text: string, keys: readonly string[], where: string): void {
  for (const key of keys) expect(text.includes(key), `${where} leaks ${key}:\n${text.slice(Math.max(0, text.indexOf(key) - 600), text.indexOf(key) + 100).replace(/\s+at .*/g, "")}`).toBe(false);
}

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** A server that refuses everything and echoes the Authorization header and URL back, on HTTP and WebSocket. */
function echoServer(): Server {
  const reply = (req: IncomingMessage) => JSON.stringify({ code: 'InvalidApiKey', message: `Invalid API-key provided: ${req.headers.authorization ?? ''} at ${req.url ?? ''}`, request_id: 'r-1' });
  const server = createServer((req, res) => {
    req.resume();
    const port = (server.address() as AddressInfo).port;
    if (req.url?.startsWith('/api/v1/uploads')) {
      // A policy whose storage URL carries the key (and a second one that echoes it back with a 403).
      const host = req.url.includes('model=fun-asr') ? `http://127.0.0.1:1/oss?api_key=${KEY}&x=${encodeURIComponent(req.headers.authorization ?? '')}` : `http://127.0.0.1:${port}/oss?api_key=${KEY}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ request_id: 'r', data: { policy: KEY, signature: KEY, upload_dir: `dir-${KEY}`, upload_host: host, expire_in_seconds: 300, max_file_size_mb: 100, oss_access_key_id: KEY, x_oss_object_acl: 'private', x_oss_forbid_overwrite: 'true' } }));
      return;
    }
    if (req.url?.startsWith('/oss')) {
      res.writeHead(403, { 'content-type': 'application/xml' }).end(`<Error><Code>AccessDenied</Code><Message>Policy expired for ${req.url} ${req.headers.authorization ?? ''}</Message></Error>`);
      return;
    }
    res.writeHead(401, { 'content-type': 'application/json', 'x-echo': String(req.headers.authorization ?? '') }).end(reply(req));
  });
  server.on('upgrade', (req: IncomingMessage, socket) => {
    const body = reply(req);
    socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nX-Echo: ${req.headers.authorization ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  return server;
}

/**
 * A server that accepts, then misbehaves with the key: HTTP 200 bodies that are not JSON and start with the
 * Authorization header; WebSocket sessions answered with a task-failed / error event and a close reason carrying it.
 */
function acceptingEchoServer(): Server {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${req.headers.authorization ?? ''} {"output": `);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    const auth = String(req.headers.authorization ?? '');
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const m = JSON.parse(data.toString('utf8')) as { header?: { task_id?: string } };
        if (m.header) ws.send(JSON.stringify({ header: { task_id: m.header.task_id, event: 'task-failed', error_code: auth, error_message: `bad key ${auth}`, attributes: {} }, payload: {} }));
        else ws.send(JSON.stringify({ event_id: 'e', type: 'error', error: { type: 'invalid_request_error', code: auth, message: `bad key ${auth}`, param: auth } }));
        ws.close(4001, auth.slice(0, 100));
      });
      if (req.url?.includes('realtime')) ws.send(JSON.stringify({ event_id: 'e0', type: 'session.created', session: { id: auth } }));
    });
  });
  server.on('close', () => wss.close());
  return server;
}

let accepting: Server;
let acceptingUrl: string;

beforeAll(async () => {
  accepting = acceptingEchoServer();
  await new Promise<void>((r) => accepting.listen(0, '127.0.0.1', r));
  acceptingUrl = `http://127.0.0.1:${(accepting.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'earshot-secrets-'));
  wav = join(dir, 'tone.wav');
  const pcm = Buffer.alloc(16000);
  for (let i = 0; i < 8000; i++) pcm.writeInt16LE(Math.round(6000 * Math.sin(i / 5)), i * 2);
  writeFileSync(wav, Buffer.concat([wavHeader(pcm.length, 16000), pcm]));
  echo = echoServer();
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  emu = await startEmulator({ apiKeys: ['sk-the-only-accepted-key'], script: [{ text: 'hello' }] });
});

afterAll(async () => {
  accepting.closeAllConnections();
  await new Promise<void>((r) => accepting.close(() => r()));
  echo.closeAllConnections();
  await new Promise<void>((r) => echo.close(() => r()));
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

const BATCH = ['fun-asr', 'qwen3-asr-flash-filetrans', 'qwen3-asr-flash'] as const;
const REALTIME = ['fun-asr-realtime', 'qwen3-asr-flash-realtime'] as const;

function transport(model: string, apiKey: string, baseUrl: string): Transport {
  return createTransport(model, { apiKey, baseUrl, retry: { attempts: 1 } } as Parameters<typeof createTransport>[1]);
}

async function runBatch(model: string, apiKey: string, baseUrl: string): Promise<unknown> {
  const t = transport(model, apiKey, baseUrl) as BatchTransport;
  try {
    return await failure(() => (t.transcribeFile ? t.transcribeFile(wav) : t.transcribeClip!({ samples: new Int16Array(8000), sampleRate: 16000, startMs: 0 })));
  } finally {
    await t.close?.();
  }
}

async function runRealtime(model: string, apiKey: string, baseUrl: string): Promise<unknown> {
  const t = transport(model, apiKey, baseUrl);
  try {
    return await failure(async () => {
      let failed: Error | undefined;
      const s = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: (e) => (failed = e) });
      await s.write(new Int16Array(1600));
      await s.end();
      if (failed) throw failed;
    });
  } finally {
    await t.close?.();
  }
}

describe('the key never escapes an error', () => {
  const cases: Array<[string, () => Promise<unknown>]> = [];
  for (const key of [KEY, SK]) {
    for (const model of BATCH) {
      cases.push([`${model}, host that does not resolve, ${key.slice(0, 6)}`, () => runBatch(model, key, 'http://no-such-host.invalid')]);
      cases.push([`${model}, refused connection`, () => runBatch(model, key, 'http://127.0.0.1:1')]);
      cases.push([`${model}, 401 from the emulator`, () => runBatch(model, key, emu.url)]);
      cases.push([`${model}, 401 echoing the key`, () => runBatch(model, key, echoUrl)]);
      cases.push([`${model}, 200 with a non-JSON body starting with the key`, () => runBatch(model, key, acceptingUrl)]);
    }
    for (const model of REALTIME) {
      cases.push([`${model}, host that does not resolve`, () => runRealtime(model, key, 'http://no-such-host.invalid')]);
      cases.push([`${model}, refused connection`, () => runRealtime(model, key, 'http://127.0.0.1:1')]);
      cases.push([`${model}, handshake refused (401)`, () => runRealtime(model, key, emu.url)]);
      cases.push([`${model}, handshake refused echoing the key`, () => runRealtime(model, key, echoUrl)]);
      cases.push([`${model}, session failed with the key in the error and the close reason`, () => runRealtime(model, key, acceptingUrl)]);
      cases.push([`${model}, ?api_key= in the base URL`, () => runRealtime(model, key, `ws://127.0.0.1:1/?api_key=${key}`)]);
    }
  }

  it.each(cases)('%s', async (_name, run) => {
    const err = await run();
    expect(err).toBeInstanceOf(EarshotError);
    expectNoKey(renderings(err), [KEY, SK], 'the error');
  });

  it('an upload policy whose storage URL carries the key: refused storage, and storage echoing it with a 403', async () => {
    // fun-asr gets a policy pointing at a refused port; paraformer-v2 one pointing at the echo server's 403.
    for (const model of ['fun-asr', 'paraformer-v2']) {
      const err = await runBatch(model, KEY, echoUrl);
      expect(err).toBeInstanceOf(EarshotError);
      expectNoKey(renderings(err), [KEY], `${model} upload`);
    }
  });

  it('a temporary key refused by another emulator does not escape either', async () => {
    const minter = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }] });
    try {
      const { token } = await createTemporaryKey({ apiKey: KEY, baseUrl: minter.url });
      for (const err of [await runRealtime('fun-asr-realtime', token, emu.url), await runBatch('fun-asr', token, emu.url), await runRealtime('qwen3-asr-flash-realtime', token, echoUrl)]) {
        expect(err).toBeInstanceOf(EarshotError);
        expectNoKey(renderings(err), [KEY, token], 'temporary key');
      }
    } finally {
      await minter.close();
    }
  });
});

describe('the CLI with DASHSCOPE_API_KEY and EARSHOT_DEBUG=1', () => {
  async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
    const child = spawn(process.execPath, [built('src/cli/main.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    return { code, out, err };
  }

  it.each([
    ['fun-asr', [], 'emulator'],
    ['fun-asr', [], 'echo'],
    ['qwen3-asr-flash', [], 'echo'],
    ['fun-asr-realtime', ['--mode', 'realtime'], 'echo'],
    ['qwen3-asr-flash-realtime', ['--mode', 'realtime'], 'refused'],
    ['qwen3.5-omni-flash', ['--mode', 'near-realtime'], 'emulator'],
  ] as const)('%s %j against %s: one coded line, no key in stdout, stderr or the files', async (model, extra, where) => {
    const outDir = mkdtempSync(join(dir, 'cli-'));
    const base = where === 'refused' ? 'http://127.0.0.1:1' : where === 'echo' ? echoUrl : emu.url;
    const run = await cli(['transcribe', wav, '--model', model, ...extra, '--jsonl', join(outDir, 'out.jsonl'), '--srt', join(outDir, 'out.srt')], {
      DASHSCOPE_API_KEY: KEY,
      DASHSCOPE_BASE_URL: base,
      EARSHOT_DEBUG: '1',
    });
    expect(run.code).not.toBe(0);
    expect(run.err).toMatch(/^EARSHOT_[A-Z_]+: /);
    expectNoKey(run.out, [KEY], 'stdout');
    expectNoKey(run.err, [KEY], 'stderr');
    for (const f of readdirSync(outDir)) expectNoKey(readFileSync(join(outDir, f), 'utf8'), [KEY], f);
  });
});
