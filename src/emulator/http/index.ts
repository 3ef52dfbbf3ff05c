/**
 * HTTP routes of the emulator: the async task API (§1.7, §3, §6.3), temporary uploads with the emulator playing the
 * storage endpoint (§1.8), hotword vocabularies (§4), OpenAI-compatible chat completions with SSE (§6.1, §7),
 * qwen3-asr-flash on the native API with native SSE (§6.2, §1.6), temporary API keys (§1.9), and the signed result URLs. Auth and the HTTP faults (`throttleFirst` → 429 with `Retry-After`, `serverErrorFirst` → 500,
 * `taskQueryUnavailableFirst` → 503/504 on task queries, the statuses the SDK's `wait()` retries, §1.4) are applied here, in the body shape of the API that was called.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';
import { chatCompletions } from './compat.js';
import { multimodalGeneration } from './native.js';
import { bearerKey, BodyTooLarge, compatError, MAX_BODY_BYTES, nativeError } from './reply.js';
import { stateOf, sweep } from './state.js';
import { cancelTask, listTasks, queryTask, serveResult, submitTranscription } from './tasks.js';
import { issueToken, keyOwner } from './tokens.js';
import { getPolicy, storageUpload } from './uploads.js';
import { customization } from './vocabulary.js';

export { httpStats } from './state.js';

/**
 * Serve one HTTP request if it belongs to these routes.
 *
 * @param ctx - The emulator's shared state (keys, recogniser or script, faults, base URL).
 * @param req - The request.
 * @param res - The response.
 * @returns `true` when the request was handled (a reply was or is being sent), `false` to let the server 404.
 * @example
 * const server = http.createServer((req, res) => void handleHttp(ctx, req, res).then((done) => done || res.writeHead(404).end()));
 */
export async function handleHttp(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const compat = path.startsWith('/compatible-mode/v1/');
  const fail = compat ? compatError : nativeError;

  // Storage and result URLs are signed, not keyed.
  if (path === '/oss' && method === 'POST') {
    await guard(res, () => storageUpload(ctx, req, res));
    return true;
  }
  const result = /^\/results\/([0-9a-f-]+\/\d+)\.json$/.exec(path);
  if (result && method === 'GET') {
    serveResult(ctx, res, result[1]!, url.searchParams);
    return true;
  }

  const route = matchRoute(method, path);
  if (!route) return false;
  const state = stateOf(ctx);
  state.stats.requests++;
  sweep(ctx, ctx.faults.resultTtlMs ?? 24 * 3600_000);

  const presented = bearerKey(req);
  // The account the request acts for: a temporary key acts for the key that made it.
  const key = keyOwner(ctx, presented);
  if (!key || !presented) {
    req.resume();
    if (compat) compatError(res, 401, 'invalid_api_key', 'Incorrect API key provided. ');
    else nativeError(res, 401, 'InvalidApiKey', 'Invalid API-key provided.');
    return true;
  }
  if (ctx.faults.throttleFirst && state.faults.throttled < ctx.faults.throttleFirst) {
    state.faults.throttled++;
    req.resume();
    fail(res, 429, compat ? 'limit_requests' : 'Throttling.RateQuota', 'Requests rate limit exceeded, please try your request again later.', { 'retry-after': '1' });
    return true;
  }
  if (ctx.faults.serverErrorFirst && state.faults.failed < ctx.faults.serverErrorFirst) {
    state.faults.failed++;
    req.resume();
    fail(res, 500, compat ? 'internal_error' : 'InternalError', 'An internal error has occured, please try again later or contact service support.');
    return true;
  }

  if (route.name === 'task') {
    state.stats.taskQueries.push(Date.now());
    if (state.stats.taskQueries.length > 10_000) state.stats.taskQueries.splice(0, 5_000);
    const unavailable = ctx.faults.taskQueryUnavailableFirst ?? 0;
    if (state.faults.unavailable < unavailable) {
      const status = state.faults.unavailable++ % 2 === 0 ? 503 : 504;
      req.resume();
      nativeError(res, status, status === 503 ? 'ServiceUnavailable' : 'GatewayTimeout', 'The service is temporarily unavailable, please try again later.');
      return true;
    }
  }

  await guard(res, async () => {
    switch (route.name) {
      case 'submit':
        return submitTranscription(ctx, req, res, key);
      case 'task':
        return queryTask(ctx, res, route.id!);
      case 'cancel':
        return cancelTask(ctx, res, route.id!);
      case 'tasks':
        return listTasks(ctx, res, url.searchParams, key);
      case 'uploads':
        return getPolicy(ctx, res, url.searchParams);
      case 'customization':
        return customization(ctx, req, res, key);
      case 'chat':
        return chatCompletions(ctx, req, res);
      case 'generation':
        return multimodalGeneration(ctx, req, res);
      case 'tokens':
        req.resume();
        return issueToken(ctx, res, presented, url.searchParams);
    }
  }, compat);
  return true;
}

interface Route {
  name: 'submit' | 'task' | 'cancel' | 'tasks' | 'uploads' | 'customization' | 'chat' | 'generation' | 'tokens';
  id?: string;
}

function matchRoute(method: string, path: string): Route | undefined {
  if (method === 'POST' && path === '/api/v1/services/audio/asr/transcription') return { name: 'submit' };
  if (method === 'POST' && path === '/api/v1/services/audio/asr/customization') return { name: 'customization' };
  if (method === 'POST' && path === '/compatible-mode/v1/chat/completions') return { name: 'chat' };
  if (method === 'POST' && path === '/api/v1/services/aigc/multimodal-generation/generation') return { name: 'generation' };
  if (method === 'GET' && path === '/api/v1/uploads') return { name: 'uploads' };
  if (method === 'GET' && path === '/api/v1/tasks') return { name: 'tasks' };
  if (method === 'POST' && path === '/api/v1/tokens') return { name: 'tokens' };
  const cancel = /^\/api\/v1\/tasks\/([^/]+)\/cancel$/.exec(path);
  if (cancel && method === 'POST') return { name: 'cancel', id: decodeURIComponent(cancel[1]!) };
  const task = /^\/api\/v1\/tasks\/([^/]+)$/.exec(path);
  if (task && (method === 'GET' || method === 'POST')) return { name: 'task', id: decodeURIComponent(task[1]!) };
  return undefined;
}

/** Run a route; an unexpected failure becomes a 500 in the API's error shape (or ends a started stream). */
async function guard(res: ServerResponse, run: () => Promise<void> | void, compat = false): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (res.headersSent) {
      res.destroy(err as Error);
      return;
    }
    if (err instanceof BodyTooLarge) {
      const tooLarge = `Request body too large: at most ${MAX_BODY_BYTES} bytes`;
      if (compat) compatError(res, 400, 'invalid_parameter_error', `<400> InternalError.Algo.InvalidParameter: ${tooLarge}`);
      else nativeError(res, 400, 'InvalidParameter', tooLarge);
      return;
    }
    const message = `emulator error: ${(err as Error).message}`;
    if (compat) compatError(res, 500, 'internal_error', message);
    else nativeError(res, 500, 'InternalError', message);
  }
}
