/**
 * The retry rule end to end: under a storm of 5xx (or 429) replies, a clip given to `transcribeBatch` with
 * `retry: { attempts: 3 }` reaches the server at most 3 times — the operator owns the clip and retries it; the SSE
 * client, the async-task submit and the HTTP client below make one attempt of it each. (Before, the layers stacked:
 * Omni's SSE client sent the clip 5 times inside one operator attempt, a throttled fun-asr submit went out 5 times,
 * and the operator stopped only because the inner error arrived marked final.) A 5xx on submit stays final: the task
 * may exist, so it is never sent again.
 *
 * A real HTTP proxy on 127.0.0.1:0 counts every request and answers the storm on one route; everything else goes
 * on to the emulator.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { AudioSegment } from '../../../src/core/types.js';
import { httpStats } from '../../../src/emulator/http/index.js';
import { transcribeBatch } from '../../../src/operators/transcribe-batch.js';
import { funAsr } from '../../../src/transports/dashscope/fun-asr.js';
import { omni } from '../../../src/transports/dashscope/omni.js';
import type { Transport } from '../../../src/transports/transport.js';
import { fakeRecognizer, KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

interface Proxy {
  url: string;
  /** Requests seen, by `METHOD /path`. */
  seen: Map<string, number>;
  close(): Promise<void>;
}

/** Forward to `target`, except `storm` paths, which get `status` with a DashScope error body. */
async function stormProxy(target: string, storm: { path: string; status: number; body: unknown; headers?: Record<string, string> }): Promise<Proxy> {
  const seen = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    const key = `${req.method} ${path}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (path === storm.path) {
      req.resume();
      req.on('end', () => res.writeHead(storm.status, { 'content-type': 'application/json', ...storm.headers }).end(JSON.stringify(storm.body)));
      return;
    }
    const out = request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    out.on('error', (err) => res.writeHead(502).end(err.message));
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let h: Harness | undefined;
let proxy: Proxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await h?.close();
  proxy = undefined;
  h = undefined;
});

/** One second of a tone (not silence: Omni sends nothing for silence). */
function clip(): AudioSegment {
  const samples = new Int16Array(16000).map((_, i) => Math.round(6000 * Math.sin(i / 7)));
  return { kind: 'audio', samples, sampleRate: 16000, channels: 1, offset: 0, cut: 'pause' };
}

async function batch(transport: Transport): Promise<unknown> {
  return lastValueFrom(from([clip()]).pipe(transcribeBatch(transport, { retry: { attempts: 3, baseMs: 10, maxMs: 50 } }), toArray())).catch((e: unknown) => e);
}

describe('a clip under a storm is sent at most `attempts` times end to end', () => {
  it('omni (OpenAI-compatible SSE): 503 on every chat request → exactly 3 requests, then the coded error', async () => {
    h = await startHarness({ recognizer: fakeRecognizer('never heard') });
    const chat = '/compatible-mode/v1/chat/completions';
    proxy = await stormProxy(h.url, { path: chat, status: 503, body: { error: { code: 'internal_error', message: 'The server is overloaded.', type: 'server_error' } } });
    const asr = omni('qwen3-omni-flash', { apiKey: KEY, baseUrl: proxy.url });
    const err = await batch(asr);
    await asr.close();
    expect(err).toMatchObject({ name: 'TransportError', code: 'EARSHOT_SERVER_ERROR', statusCode: 503, retryable: false, details: { attempts: 3 } });
    expect(proxy.seen.get(`POST ${chat}`)).toBe(3);
    expect(httpStats(h.ctx).recognitions).toBe(0);
  });

  /** fun-asr through the proxy (the upload host too, so that uploads are counted) under `storm`. */
  async function funAsrStorm(storm: Parameters<typeof stormProxy>[1]): Promise<{ err: unknown; uploads: number; submits: number }> {
    h = await startHarness({ recognizer: fakeRecognizer() });
    proxy = await stormProxy(h.url, storm);
    // The upload policy names the emulator's own storage host: send that through the proxy too.
    h.ctx.baseUrl = proxy.url;
    const asr = funAsr({ apiKey: KEY, baseUrl: proxy.url, pollMs: 10 });
    const err = await batch(asr);
    await asr.close();
    expect(httpStats(h.ctx).recognitions).toBe(0);
    return { err, uploads: proxy.seen.get('POST /oss') ?? 0, submits: proxy.seen.get(`POST ${SUBMIT}`) ?? 0 };
  }
  const SUBMIT = '/api/v1/services/audio/asr/transcription';

  it('fun-asr (async task): 503 on every upload of the clip → exactly 3 uploads', async () => {
    const { err, uploads, submits } = await funAsrStorm({ path: '/oss', status: 503, body: { code: 'ServiceUnavailable', message: 'busy' } });
    expect(err).toMatchObject({ name: 'TransportError', code: 'EARSHOT_SERVER_ERROR', statusCode: 503, details: { attempts: 3 } });
    expect({ uploads, submits }).toEqual({ uploads: 3, submits: 0 });
  });

  it('fun-asr (async task): 429 on every submit → the clip uploaded and submitted exactly 3 times (Retry-After capped)', async () => {
    const { err, uploads, submits } = await funAsrStorm({ path: SUBMIT, status: 429, body: { request_id: 'r-storm', code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded.' }, headers: { 'retry-after': '1' } });
    expect(err).toMatchObject({ name: 'TransportError', code: 'EARSHOT_THROTTLED', statusCode: 429, requestId: 'r-storm', retryAfterMs: 1000, details: { attempts: 3 } });
    expect({ uploads, submits }).toEqual({ uploads: 3, submits: 3 });
  });

  it('fun-asr (async task): 500 on submit is final (the task may exist) → submitted once, never again', async () => {
    const { err, uploads, submits } = await funAsrStorm({ path: SUBMIT, status: 500, body: { code: 'InternalError', message: 'An internal error has occured.' } });
    expect(err).toMatchObject({ name: 'TransportError', code: 'EARSHOT_SERVER_ERROR', retryable: false, details: { attempts: 1 } });
    expect((err as Error).message).toMatch(/may have taken effect/);
    expect({ uploads, submits }).toEqual({ uploads: 1, submits: 1 });
  });

  it('fun-asr: a storm that passes is ridden out by the operator, and the clip is transcribed once', async () => {
    h = await startHarness({ recognizer: fakeRecognizer() });
    h.ctx.faults.serverErrorFirst = 2;
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, pollMs: 10, retry: { attempts: 1 } });
    const events = await batch(asr);
    await asr.close();
    expect((events as { text: string }[]).map((e) => e.text)).toEqual(['hello world from the emulator']);
    expect(httpStats(h.ctx)).toMatchObject({ submits: 1, recognitions: 1 });
  });
});
