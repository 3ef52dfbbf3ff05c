/**
 * `qwen3-asr-flash` on the native DashScope API (§6.2): `POST /api/v1/services/aigc/multimodal-generation/generation`
 * with `input.messages[].content[{audio}]`, `parameters.asr_options`, a JSON reply — or native SSE (§1.6) with
 * `X-DashScope-SSE: enable` (`id:`/`event:result`/`:HTTP_STATUS/200`/`data:` blocks, deltas when
 * `parameters.incremental_output` is true, no `[DONE]`). This is what the official SDKs call for Qwen3-ASR.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';
import { AudioFetchError, decodeAudio, loadUrl, recognise } from './audio.js';
import { COMPAT_ASR_MODELS, COMPAT_OMNI_MODELS } from './compat.js';
import { BodyTooLarge, nativeError, readJson, sendJson } from './reply.js';

const MAX_DATA_URI_BYTES = 10 * 1024 * 1024;
const MAX_DURATION_MS = 5 * 60_000;

type Content = { text?: unknown; audio?: unknown }[];

/** `POST /api/v1/services/aigc/multimodal-generation/generation`. */
export async function multimodalGeneration(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: Record<string, unknown> | undefined;
  try {
    body = await readJson(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return nativeError(res, 400, 'InvalidParameter', 'Multimodal file size is too large');
    throw err;
  }
  if (!body) return nativeError(res, 400, 'InvalidParameter', 'The request body is not valid JSON.');
  const model = String(body.model ?? '');
  if (model === '') return nativeError(res, 400, 'BadRequest.EmptyModel', 'Required parameter "model" missing from request.');
  if (COMPAT_OMNI_MODELS.has(model)) return nativeError(res, 400, 'InvalidParameter', `Model ${model} is only available through the OpenAI-compatible endpoint.`);
  if (!COMPAT_ASR_MODELS.has(model)) return nativeError(res, 400, 'InvalidParameter', 'Model not exist.');
  const input = (body.input ?? {}) as { messages?: { role?: unknown; content?: unknown }[] };
  const messages = Array.isArray(input.messages) ? input.messages.filter((m) => m !== null && typeof m === 'object') : [];
  if (messages.length === 0) return nativeError(res, 400, 'BadRequest.EmptyInput', 'Required input parameter missing from request.');
  const audios = messages.filter((m) => m.role === 'user' && Array.isArray(m.content)).flatMap((m) => (m.content as Content).filter((c) => typeof c?.audio === 'string').map((c) => c.audio as string));
  if (audios.length !== 1) return nativeError(res, 400, 'InvalidParameter', `exactly one audio item is allowed per request (got ${audios.length})`);
  const audio = audios[0]!;
  if (audio.startsWith('data:') && audio.length - audio.indexOf(',') - 1 > MAX_DATA_URI_BYTES) return nativeError(res, 400, 'InvalidParameter', 'Multimodal file size is too large');
  let pcm: Awaited<ReturnType<typeof decodeAudio>>;
  try {
    pcm = await decodeAudio(await loadUrl(ctx, audio, model, String(req.headers['x-dashscope-ossresourceresolve'] ?? '').toLowerCase() === 'enable'));
  } catch (err) {
    if (err instanceof AudioFetchError) return nativeError(res, 400, 'InvalidParameter', /decode/.test(err.message) ? 'audio format is illegal' : err.message);
    throw err;
  }
  if (pcm.samples.length === 0) return nativeError(res, 400, 'InvalidParameter', 'audio is empty');
  if (pcm.durationMs > MAX_DURATION_MS) return nativeError(res, 400, 'InvalidParameter', `The audio is too long (${Math.round(pcm.durationMs / 1000)} s; at most ${MAX_DURATION_MS / 1000} s)`);
  const parameters = (body.parameters ?? {}) as { asr_options?: { language?: unknown }; incremental_output?: unknown };
  const language = typeof parameters.asr_options?.language === 'string' ? parameters.asr_options.language : undefined;
  const context = messages
    .filter((m) => m.role === 'system')
    .map((m) => (Array.isArray(m.content) ? (m.content as Content).map((c) => (typeof c?.text === 'string' ? c.text : '')).join('') : typeof m.content === 'string' ? m.content : ''))
    .join('\n');
  const opts: Parameters<typeof recognise>[2] = {};
  if (language) opts.language = language;
  if (context) opts.context = context;
  const events = await recognise(ctx, pcm, opts);
  const text = events.map((e) => e.text.trim()).filter(Boolean).join(' ');
  const annotations = [{ language: events.find((e) => e.language)?.language ?? language ?? 'en', type: 'audio_info', emotion: events.find((e) => e.emotion)?.emotion ?? 'neutral' }];
  const seconds = Math.max(1, Math.ceil(pcm.durationMs / 1000));
  const words = text === '' ? [] : text.match(/\S+\s*/g) ?? [];
  const usage = { input_tokens_details: { text_tokens: 0 }, output_tokens_details: { text_tokens: words.length }, seconds };
  const requestId = randomUUID();
  const reply = (content: string, finish: string, withUsage: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = { output: { choices: [{ finish_reason: finish, message: { role: 'assistant', content: content === '' && finish !== 'stop' ? [] : [{ text: content }], annotations } }] }, request_id: requestId };
    if (withUsage) out.usage = usage;
    return out;
  };
  const sse = String(req.headers['x-dashscope-sse'] ?? '').toLowerCase() === 'enable' || /text\/event-stream/.test(String(req.headers.accept ?? ''));
  if (!sse) return sendJson(res, 200, reply(text, 'stop', true));
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const incremental = parameters.incremental_output === true;
  let id = 0;
  let sofar = '';
  const send = (data: unknown): void => void res.write(`id:${++id}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`);
  for (const piece of words) {
    sofar += piece;
    send(reply(incremental ? piece : sofar, 'null', false));
  }
  send(reply(incremental ? '' : sofar, 'stop', true));
  res.end();
}
