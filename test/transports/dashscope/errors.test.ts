import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../../src/core/errors.js';
import { DashScopeSocket } from '../../../src/transports/dashscope/ws-client.js';
import { classifyDashScope, dashscopeError, errorFromResponse, parseErrorBody, parseRetryAfter, protocolError } from '../../../src/transports/dashscope/errors.js';

/**
 * The one DashScope error map, row by row against the protocol notes (`docs/protocol-notes.md`, section in
 * `ref`). `status` absent = a failure reported inside a protocol (task-failed, an error event).
 */
const TABLE: Array<{ ref: string; status?: number; providerCode?: string; message?: string; code: string; retryable: boolean }> = [
  // §1.2 / §1.4: keys and access
  { ref: '§1.4 401 InvalidApiKey', status: 401, providerCode: 'InvalidApiKey', message: 'Invalid API-key provided.', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.5 401 invalid_api_key', status: 401, providerCode: 'invalid_api_key', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.2 WS handshake 403 (key without access, no body)', status: 403, code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.4 403 AccessDenied (model not enabled)', status: 403, providerCode: 'AccessDenied', message: 'Access denied.', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.4 403 AccessDenied.Unpurchased', status: 403, providerCode: 'AccessDenied.Unpurchased', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.4 403 Model.AccessDenied', status: 403, providerCode: 'Model.AccessDenied', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§2.11 task-failed Model.AccessDenied', providerCode: 'Model.AccessDenied', message: 'model not enabled', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.8 403 AccessDenied "Policy expired" (upload storage)', status: 403, providerCode: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§1.7 403 AccessDenied without the async header', status: 403, providerCode: 'AccessDenied', message: 'current user api does not support synchronous calls', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§1.4 400 Arrearage (account overdue)', status: 400, providerCode: 'Arrearage', message: 'overdue', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  { ref: '§1.4 403 Arrearage (some docs)', status: 403, providerCode: 'Arrearage', code: 'EARSHOT_AUTH_FAILED', retryable: false },
  // §1.4 / §1.5 / §2.11: models
  { ref: '§1.4 404 ModelNotFound', status: 404, providerCode: 'ModelNotFound', message: 'Model not exist.', code: 'EARSHOT_UNKNOWN_MODEL', retryable: false },
  { ref: '§1.5 404 model_not_found', status: 404, providerCode: 'model_not_found', code: 'EARSHOT_UNKNOWN_MODEL', retryable: false },
  { ref: '§2.11 task-failed InvalidParameter "Invalid model"', providerCode: 'InvalidParameter', message: 'Model not exist: fun-asr-x', code: 'EARSHOT_UNKNOWN_MODEL', retryable: false },
  { ref: '§1.4 400 InvalidParameter "Model not exist." (native)', status: 400, providerCode: 'InvalidParameter', message: 'Model not exist.', code: 'EARSHOT_UNKNOWN_MODEL', retryable: false },
  { ref: '§4.5 400 InvalidParameter naming a model, not unknown (vocabulary for another model)', status: 400, providerCode: 'InvalidParameter', message: 'vocabulary target_model fun-asr does not match model paraformer-v2', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  // §1.4 / §1.5 / §2.11: throttling and quota
  { ref: '§1.4 429 Throttling.RateQuota', status: 429, providerCode: 'Throttling.RateQuota', code: 'EARSHOT_THROTTLED', retryable: true },
  { ref: '§1.5 429 limit_requests', status: 429, providerCode: 'limit_requests', code: 'EARSHOT_THROTTLED', retryable: true },
  { ref: '§1.5 429 insufficient_quota (spent: final)', status: 429, providerCode: 'insufficient_quota', message: 'You exceeded your current quota', code: 'EARSHOT_THROTTLED', retryable: false },
  { ref: '§1.5 insufficient_quota inside a protocol (final on WebSocket too)', providerCode: 'insufficient_quota', code: 'EARSHOT_THROTTLED', retryable: false },
  { ref: '§2.11 task-failed Throttling.AllocationQuota', providerCode: 'Throttling.AllocationQuota', code: 'EARSHOT_THROTTLED', retryable: true },
  // §1.4: server side
  { ref: '§1.4 500 InternalError', status: 500, providerCode: 'InternalError', code: 'EARSHOT_SERVER_ERROR', retryable: true },
  { ref: '§1.4 503 (no body)', status: 503, code: 'EARSHOT_SERVER_ERROR', retryable: true },
  { ref: '§2.11 task-failed InternalError', providerCode: 'InternalError', code: 'EARSHOT_TASK_FAILED', retryable: true },
  { ref: '§2.11 task-failed ResponseTimeout', providerCode: 'ResponseTimeout', code: 'EARSHOT_TASK_FAILED', retryable: true },
  { ref: '§5.5 error event server_error', providerCode: 'server_error', code: 'EARSHOT_TASK_FAILED', retryable: true },
  // §1.4 / §1.5 / §6.1: bad requests
  { ref: '§1.5 400 invalid_parameter_error "audio is too long"', status: 400, providerCode: 'invalid_parameter_error', message: '<400> InternalError.Algo.InvalidParameter: The audio is too long', code: 'EARSHOT_LIMIT_EXCEEDED', retryable: false },
  { ref: '§1.5 400 "Multimodal file size is too large"', status: 400, message: 'Multimodal file size is too large', code: 'EARSHOT_LIMIT_EXCEEDED', retryable: false },
  { ref: '§1.4 400 InvalidParameter', status: 400, providerCode: 'InvalidParameter', message: 'Required parameter(s) missing or invalid', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§1.4 400 DataInspectionFailed', status: 400, providerCode: 'DataInspectionFailed', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§2.11 task-failed InvalidParameter (vocabulary)', providerCode: 'InvalidParameter', message: 'vocabulary_id not found: vocab-x', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§5.5 error event invalid_value', providerCode: 'invalid_value', code: 'EARSHOT_REQUEST_FAILED', retryable: false },
  { ref: '§2.11 task-failed CLIENT_ERROR (no audio for 23 s)', providerCode: 'CLIENT_ERROR', message: 'request timeout after 23 seconds.', code: 'EARSHOT_TASK_FAILED', retryable: false },
  { ref: '§5.5 session_expired', providerCode: 'session_expired', code: 'EARSHOT_CONNECTION_LOST', retryable: true },
];

describe('classifyDashScope (the one DashScope error map)', () => {
  for (const row of TABLE) {
    it(`${row.ref} → ${row.code}${row.retryable ? ', retryable' : ''}`, () => {
      expect(classifyDashScope(row)).toEqual({ code: row.code, retryable: row.retryable });
      // The same answer whichever way the failure arrives.
      const err = row.status === undefined ? protocolError(row.providerCode ?? 'error', row.message ?? '') : errorFromResponse(row.status, JSON.stringify({ code: row.providerCode, message: row.message }));
      expect(err).toBeInstanceOf(TransportError);
      expect(err).toMatchObject({ code: row.code, retryable: row.retryable });
    });
  }
});

describe('dashscopeError / parseErrorBody', () => {
  it('reads native (§1.4), compatible (§1.5) and storage XML (§1.8) bodies', () => {
    expect(parseErrorBody('{"request_id":"r1","code":"Throttling","message":"slow"}')).toEqual({ providerCode: 'Throttling', message: 'slow', requestId: 'r1' });
    expect(parseErrorBody('{"error":{"code":"invalid_api_key","message":"bad"},"request_id":"r2"}')).toEqual({ providerCode: 'invalid_api_key', message: 'bad', requestId: 'r2' });
    expect(parseErrorBody('<Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>')).toEqual({ providerCode: 'AccessDenied', message: 'Policy expired.' });
    expect(parseErrorBody('gateway timeout')).toEqual({ message: 'gateway timeout' });
  });

  it('carries status, provider code, request id and Retry-After, and redacts the key', () => {
    const key = 'sk-errors-test-secret-77';
    const err = dashscopeError({ status: 429, providerCode: 'Throttling', message: `slow down ${key}`, requestId: 'r3', headers: { 'retry-after': '2' } }, [key]);
    expect(err).toMatchObject({ name: 'TransportError', code: 'EARSHOT_THROTTLED', statusCode: 429, providerCode: 'Throttling', requestId: 'r3', retryAfterMs: 2000 });
    expect(err.message).toBe('HTTP 429 Throttling: slow down ***');
    expect(protocolError('InternalError', 'boom', 'r4')).toMatchObject({ message: 'InternalError: boom', requestId: 'r4', providerCode: 'InternalError' });
  });
});

describe('parseRetryAfter (HTTP and WebSocket alike)', () => {
  it('reads delta-seconds and HTTP dates; a past date is 0; junk is undefined', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(' 1.5 ')).toBe(1500);
    expect(parseRetryAfter(['4', '9'])).toBe(4000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(5000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 08:00:00 GMT'))).toBe(0);
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('later')).toBeUndefined();
  });

  it('a refused WebSocket handshake (real server) maps like HTTP: 429 with a Retry-After date, 403 as auth', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const server = createServer();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const throttled = req.url?.includes('throttled');
      const body = throttled ? '{"code":"Throttling.RateQuota","message":"slow"}' : '{"code":"AccessDenied","message":"no access"}';
      const head = throttled ? `HTTP/1.1 429 Too Many Requests\r\nretry-after: ${at}\r\n` : 'HTTP/1.1 403 Forbidden\r\n';
      socket.end(`${head}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const throttled = await DashScopeSocket.open({ url: `${base}/throttled`, apiKey: 'sk-ws-test-000000' }).catch((e: unknown) => e);
      expect(throttled).toMatchObject({ name: 'TransportError', code: 'EARSHOT_THROTTLED', retryable: true, statusCode: 429, providerCode: 'Throttling.RateQuota' });
      expect((throttled as TransportError).retryAfterMs).toBeGreaterThan(50_000);
      expect((throttled as TransportError).retryAfterMs).toBeLessThanOrEqual(60_000);
      const denied = await DashScopeSocket.open({ url: `${base}/denied`, apiKey: 'sk-ws-test-000000' }).catch((e: unknown) => e);
      expect(denied).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', retryable: false, statusCode: 403 });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
