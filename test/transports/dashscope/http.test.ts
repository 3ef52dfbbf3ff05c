import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../../src/core/errors.js';
import { errorFromResponse, parseRetryAfter } from '../../../src/transports/dashscope/errors.js';
import { DashScopeHttp, fetchResult, submitTask, waitForTask } from '../../../src/transports/dashscope/http.js';

const KEY = 'sk-http-test-secret-42';
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
let close: (() => Promise<void>) | undefined;

async function serve(handler: Handler): Promise<{ url: string; hits: { at: number; auth?: string; path?: string }[] }> {
  const hits: { at: number; auth?: string; path?: string }[] = [];
  const server = createServer((req, res) => {
    hits.push({ at: Date.now(), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), ...(req.url ? { path: req.url } : {}) });
    req.resume();
    handler(req, res, hits.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}
afterEach(async () => {
  await close?.();
  close = undefined;
});
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('parseRetryAfter / errorFromResponse', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('maps native, compatible and storage error bodies to coded errors', () => {
    expect(errorFromResponse(401, '{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r1"}')).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', providerCode: 'InvalidApiKey', requestId: 'r1', retryable: false });
    expect(errorFromResponse(429, '{"code":"Throttling.RateQuota","message":"slow"}', { 'retry-after': '3' })).toMatchObject({ code: 'EARSHOT_THROTTLED', retryable: true, retryAfterMs: 3000 });
    expect(errorFromResponse(503, '')).toMatchObject({ code: 'EARSHOT_SERVER_ERROR', retryable: true, statusCode: 503 });
    expect(errorFromResponse(400, '{"error":{"code":"invalid_parameter_error","message":"<400> InternalError.Algo.InvalidParameter: The audio is too long"}}')).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', providerCode: 'invalid_parameter_error' });
    expect(errorFromResponse(400, '{"code":"InvalidParameter","message":"bad"}')).toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', retryable: false });
    expect(errorFromResponse(403, '<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>')).toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', providerCode: 'AccessDenied' });
    expect(errorFromResponse(404, '{"code":"ModelNotFound","message":"Model not exist."}')).toMatchObject({ code: 'EARSHOT_UNKNOWN_MODEL' });
    expect(errorFromResponse(400, '{"code":"Arrearage","message":"overdue"}')).toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    expect(errorFromResponse(429, '{"error":{"code":"insufficient_quota","message":"quota"}}')).toMatchObject({ code: 'EARSHOT_THROTTLED', retryable: false });
    expect(errorFromResponse(400, `{"message":"key ${KEY} is wrong"}`, {}, [KEY]).message).not.toContain(KEY);
  });
});

describe('DashScopeHttp', () => {
  it('sends the key only in Authorization, retries 5xx, waits Retry-After on 429', async () => {
    const { url, hits } = await serve((_req, res, n) => (n === 1 ? json(res, 503, {}) : n === 2 ? json(res, 429, { code: 'Throttling' }, { 'retry-after': '1' }) : json(res, 200, { output: { ok: true } })));
    const http = new DashScopeHttp({ apiKey: KEY, retry: { baseMs: 10 } });
    const { body } = await http.json<{ output: { ok: boolean } }>(`${url}/api/v1/x`);
    await http.close();
    expect(body.output.ok).toBe(true);
    expect(hits).toHaveLength(3);
    expect(hits.every((h) => h.auth === `Bearer ${KEY}`)).toBe(true);
    expect(hits[2]!.at - hits[1]!.at).toBeGreaterThanOrEqual(950);
  });

  it('does not retry other 4xx, and ends with the last error after the retries', async () => {
    const bad = await serve((_req, res) => json(res, 400, { code: 'InvalidParameter', message: 'nope' }));
    const http = new DashScopeHttp({ apiKey: KEY, retry: { attempts: 3, baseMs: 5 } });
    await expect(http.json(`${bad.url}/a`)).rejects.toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', statusCode: 400 });
    expect(bad.hits).toHaveLength(1);
    await close!();
    const down = await serve((_req, res) => json(res, 500, { code: 'InternalError', message: 'boom' }));
    const err = (await http.json(`${down.url}/a`).catch((e: unknown) => e)) as EarshotError;
    expect(err.code).toBe('EARSHOT_SERVER_ERROR');
    expect(err.cause).toBeInstanceOf(EarshotError);
    expect(down.hits).toHaveLength(3);
    await http.close();
  });

  it('maps a refused connection to a retryable EARSHOT_CONNECTION_LOST and stops on abort during backoff', async () => {
    const http = new DashScopeHttp({ apiKey: KEY, retry: { attempts: 1, baseMs: 5 } });
    const err = (await http.json('http://127.0.0.1:9/x').catch((e: unknown) => e)) as EarshotError;
    expect(err).toMatchObject({ code: 'EARSHOT_CONNECTION_LOST', retryable: true });
    const { url } = await serve((_req, res) => json(res, 429, {}, { 'retry-after': '30' }));
    const slow = new DashScopeHttp({ apiKey: KEY });
    const controller = new AbortController();
    const pending = slow.json(`${url}/x`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await http.close();
    await slow.close();
  });

  it('parses compatible-mode SSE, maps an error chunk, and never retries after a chunk arrived', async () => {
    const { url, hits } = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (req.url === '/ok') res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\r\n\r\ndata: [DONE]\n\n');
      else if (req.url === '/err') res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"error":{"code":"internal_error","message":"<500> boom"}}\n\n');
      else res.end('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    });
    const http = new DashScopeHttp({ apiKey: KEY, retry: { baseMs: 5 } });
    const got: string[] = [];
    await http.sse(`${url}/ok`, {}, (c) => got.push((c.choices as { delta: { content: string } }[])[0]!.delta.content));
    expect(got).toEqual(['a', 'b']);
    await expect(http.sse(`${url}/err`, {}, () => undefined)).rejects.toMatchObject({ code: 'EARSHOT_SERVER_ERROR', retryable: false });
    await expect(http.sse(`${url}/cut`, {}, () => undefined)).rejects.toMatchObject({ code: 'EARSHOT_PROTOCOL_ERROR' });
    expect(hits.filter((h) => h.path === '/err')).toHaveLength(1);
    await http.close();
  });
});

describe('async task helpers', () => {
  it('submit retries only 429; polling keeps the same task through 5xx; UNKNOWN means expired', async () => {
    let polls = 0;
    const { url, hits } = await serve((req, res, n) => {
      if (req.url === '/api/v1/services/audio/asr/transcription') return n === 1 ? json(res, 429, {}, { 'retry-after': '0' }) : json(res, 200, { output: { task_id: 't1', task_status: 'PENDING' } });
      if (req.url === '/api/v1/tasks/t1') {
        polls++;
        return polls === 2 ? json(res, 502, {}) : json(res, 200, { output: { task_id: 't1', task_status: polls < 4 ? 'RUNNING' : 'SUCCEEDED' } });
      }
      if (req.url === '/api/v1/tasks/gone') return json(res, 200, { output: { task_id: 'gone', task_status: 'UNKNOWN' } });
      if (req.url === '/result') return void res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>');
      json(res, 500, {});
    });
    const http = new DashScopeHttp({ apiKey: KEY, retry: { baseMs: 5 } });
    expect(await submitTask(http, `${url}/api/v1`, { model: 'fun-asr' })).toBe('t1');
    const statuses: string[] = [];
    const out = await waitForTask(http, `${url}/api/v1`, 't1', { pollMs: 5, onStatus: (s) => statuses.push(s) });
    expect(out.task_status).toBe('SUCCEEDED');
    expect(statuses).toEqual(['RUNNING', 'RUNNING', 'SUCCEEDED']);
    expect(hits.filter((h) => h.path === '/api/v1/services/audio/asr/transcription')).toHaveLength(2);
    await expect(waitForTask(http, `${url}/api/v1`, 'gone', { pollMs: 5 })).rejects.toMatchObject({ code: 'EARSHOT_RESULT_EXPIRED' });
    await expect(fetchResult(http, `${url}/result`)).rejects.toMatchObject({ code: 'EARSHOT_RESULT_EXPIRED' });
    await http.close();
  });

  it('does not resubmit after a 5xx on submit (the task may exist)', async () => {
    const { url, hits } = await serve((_req, res) => json(res, 500, { code: 'InternalError', message: 'x' }));
    const http = new DashScopeHttp({ apiKey: KEY, retry: { baseMs: 5 } });
    await expect(submitTask(http, `${url}/api/v1`, {})).rejects.toMatchObject({ code: 'EARSHOT_SERVER_ERROR' });
    expect(hits).toHaveLength(1);
    await http.close();
  });
});
