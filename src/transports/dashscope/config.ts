/**
 * Where a DashScope (Qwen Cloud) transport connects and with which key.
 *
 * `DASHSCOPE_BASE_URL` may be a region host (`https://dashscope-intl.aliyuncs.com`), the native base
 * (`…/api/v1`), or the emulator (`http://127.0.0.1:PORT`); every other URL is derived from it, `https://` mapping
 * to `wss://`. The key comes from `DASHSCOPE_API_KEY` unless given; it is read when a transport is made, never at
 * import time, and never appears in an error or log.
 */
import { InvalidArgumentError, TransportError, rememberSecret } from '../../core/errors.js';

export interface DashScopeOptions {
  /** API key; defaults to `DASHSCOPE_API_KEY`. */
  apiKey?: string;
  /** Base URL; defaults to `DASHSCOPE_BASE_URL`, then the Beijing host. */
  baseUrl?: string;
  /** Environment to read defaults from (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

export interface DashScopeEndpoints {
  apiKey: string;
  /** Native HTTP base, ends in `/api/v1`. */
  httpBase: string;
  /** OpenAI-compatible base, ends in `/compatible-mode/v1`. */
  compatBase: string;
  /** Inference WebSocket URL (`…/api-ws/v1/inference`). */
  inferenceWs: string;
  /** Realtime WebSocket URL without the model query (`…/api-ws/v1/realtime`). */
  realtimeWs: string;
}

export const DEFAULT_BASE_URL = 'https://dashscope.aliyuncs.com';

/** Resolve the endpoints and key; throws EARSHOT_MISSING_API_KEY when there is no key. */
export function resolveDashScope(options: DashScopeOptions = {}): DashScopeEndpoints {
  const env = options.env ?? process.env;
  const apiKey = options.apiKey ?? env.DASHSCOPE_API_KEY;
  if (!apiKey) {
    throw new TransportError('EARSHOT_MISSING_API_KEY', 'no API key: set DASHSCOPE_API_KEY or pass { apiKey }');
  }
  rememberSecret(apiKey);
  let base = (options.baseUrl ?? env.DASHSCOPE_BASE_URL ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, '');
  base = base.replace(/\/(api\/v1|compatible-mode\/v1|api-ws\/v1(\/inference|\/realtime)?)$/, '');
  let url: URL;
  try {
    url = new URL(base);
  } catch (cause) {
    throw new InvalidArgumentError(`DASHSCOPE_BASE_URL is not a URL: ${base}`, { cause });
  }
  const httpOrigin = url.protocol === 'wss:' ? `https://${url.host}${url.pathname}` : url.protocol === 'ws:' ? `http://${url.host}${url.pathname}` : base;
  const wsOrigin = httpOrigin.replace(/^https:/, 'wss:').replace(/^http:/, 'ws:');
  const o = httpOrigin.replace(/\/+$/, '');
  const w = wsOrigin.replace(/\/+$/, '');
  return {
    apiKey,
    httpBase: `${o}/api/v1`,
    compatBase: `${o}/compatible-mode/v1`,
    inferenceWs: `${w}/api-ws/v1/inference`,
    realtimeWs: `${w}/api-ws/v1/realtime`,
  };
}
