/**
 * OpenAI-compatible chat completions (`POST /compatible-mode/v1/chat/completions`) for the models that take audio:
 * `qwen3-asr-flash` (§6.1: stream optional, `asr_options`, `annotations` with language and emotion, ≤ 10 MB and
 * ≤ 5 min) and Qwen-Omni (§7: stream only, `input_audio{data,format}`, ≤ 20 min). Replies are built from the
 * recogniser's text and streamed as SSE: role chunk, content chunks, finish chunk, usage chunk, `data: [DONE]`.
 * Omni (§7.1): a request holds at most one audio item, and text-only turns are accepted (the emulator's stand-in for
 * an LLM's reply is the last user text); a prompt asking for `[emotion: X]` gets the reply ended with that tag (the
 * scripted or `neutral` emotion); unless `modalities` is `["text"]` the reply is also spoken: `delta.audio`
 * chunks (`data` base64 PCM at 24 kHz, `expires_at`, `id`; the last one with the `transcript`, §7.3).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';
import { AudioFetchError, decodeAudio, loadUrl, recognise } from './audio.js';
import { BodyTooLarge, compatError, readJson, sendJson } from './reply.js';

/** ASR models on the compatible endpoint (no `format` needed, annotations in the reply). */
export const COMPAT_ASR_MODELS = new Set(['qwen3-asr-flash', 'qwen3-asr-flash-2025-09-08']);
/** Omni models on the compatible endpoint (stream only). */
export const COMPAT_OMNI_MODELS = new Set(['qwen3-omni-flash', 'qwen3.5-omni-flash', 'qwen3.5-omni-plus', 'qwen-omni-turbo']);

const MAX_DATA_URI_BYTES = 10 * 1024 * 1024;

function maxDurationMs(model: string): number {
  if (COMPAT_ASR_MODELS.has(model)) return 5 * 60_000;
  if (model === 'qwen-omni-turbo') return 3 * 60_000;
  return 20 * 60_000;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c: { text?: unknown }) => (typeof c?.text === 'string' ? c.text : '')).join('');
  return '';
}

/** `POST /compatible-mode/v1/chat/completions`. */
export async function chatCompletions(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: Record<string, unknown> | undefined;
  try {
    body = await readJson(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return compatError(res, 400, 'invalid_parameter_error', '<400> InternalError.Algo.InvalidParameter: Multimodal file size is too large');
    throw err;
  }
  if (!body) return compatError(res, 400, 'invalid_parameter_error', 'The request body is not valid JSON.');
  const model = String(body.model ?? '');
  const asr = COMPAT_ASR_MODELS.has(model);
  if (!asr && !COMPAT_OMNI_MODELS.has(model)) return compatError(res, 404, 'model_not_found', `The model \`${model}\` does not exist or you do not have access to it.`);
  const stream = body.stream === true;
  if (!asr && !stream) return compatError(res, 400, 'invalid_parameter_error', '<400> InternalError.Algo.InvalidParameter: This model only support stream mode, please enable the stream parameter to access the model. ');
  if (!stream && body.stream_options !== undefined && body.stream_options !== null) return compatError(res, 400, 'invalid_parameter_error', "<400> InternalError.Algo.InvalidParameter: The parameter 'stream_options' is only allowed when 'stream' is true");
  const messages = Array.isArray(body.messages) ? (body.messages as { role?: unknown; content?: unknown }[]).filter((m) => m !== null && typeof m === 'object') : [];
  const system = messages.filter((m) => m.role === 'system');
  if (system.length > 0 && messages[0]?.role !== 'system') return compatError(res, 400, 'invalid_parameter_error', '<400> InternalError.Algo.InvalidParameter: The system message must be the first message');
  const audios: { data: string; format?: string }[] = [];
  for (const m of messages) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const item of m.content as { type?: unknown; input_audio?: { data?: unknown; format?: unknown } }[]) {
      if (item?.type === 'input_audio' && typeof item.input_audio?.data === 'string') {
        const a: { data: string; format?: string } = { data: item.input_audio.data };
        if (typeof item.input_audio.format === 'string') a.format = item.input_audio.format;
        audios.push(a);
      }
    }
  }
  if (audios.length > 1 || (asr && audios.length === 0)) {
    return compatError(res, 400, 'invalid_parameter_error', `<400> InternalError.Algo.InvalidParameter: exactly one audio item is allowed per request (got ${audios.length})`);
  }
  const modalities = Array.isArray(body.modalities) ? (body.modalities as unknown[]) : ['text', 'audio'];
  const spoken = !asr && modalities.includes('audio');
  const audio = audios[0];
  if (!audio) {
    // A text-only Omni turn: the reply stands in for what the LLM would say.
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    return streamReply(res, body, model, { text: textOf(lastUser?.content).trim(), spoken, usage: textUsage(messages) });
  }
  if (audio.data.startsWith('data:') && audio.data.length - audio.data.indexOf(',') - 1 > MAX_DATA_URI_BYTES) {
    return compatError(res, 400, 'invalid_parameter_error', '<400> InternalError.Algo.InvalidParameter: Multimodal file size is too large');
  }
  let pcm: Awaited<ReturnType<typeof decodeAudio>>;
  try {
    pcm = await decodeAudio(await loadUrl(ctx, audio.data, model, String(req.headers['x-dashscope-ossresourceresolve'] ?? '').toLowerCase() === 'enable'));
  } catch (err) {
    if (err instanceof AudioFetchError) return compatError(res, 400, 'invalid_parameter_error', `<400> InternalError.Algo.InvalidParameter: ${pcm_message(err)}`);
    throw err;
  }
  if (pcm.samples.length === 0) return compatError(res, 400, 'invalid_parameter_error', '<400> InternalError.Algo.InvalidParameter: audio is empty');
  if (pcm.durationMs > maxDurationMs(model)) return compatError(res, 400, 'invalid_parameter_error', `<400> InternalError.Algo.InvalidParameter: The audio is too long (${Math.round(pcm.durationMs / 1000)} s; at most ${maxDurationMs(model) / 1000} s)`);
  const asrOptions = (body.asr_options ?? {}) as { language?: unknown };
  const language = typeof asrOptions.language === 'string' ? asrOptions.language : undefined;
  const context = system.map((m) => textOf(m.content)).join('\n');
  const opts: Parameters<typeof recognise>[2] = {};
  if (language) opts.language = language;
  if (context) opts.context = context;
  const events = await recognise(ctx, pcm, opts);
  const heard = events.map((e) => e.text.trim()).filter(Boolean).join(' ');
  const emotion = events.find((e) => e.emotion)?.emotion ?? 'neutral';
  // Omni is an LLM: asked for the speaker's emotion as a `[emotion: X]` tag, it ends its reply with one.
  const prompt = messages.map((m) => textOf(m.content)).join('\n');
  const text = !asr && heard && /\[emotion:/i.test(prompt) ? `${heard}\n[emotion: ${emotion}]` : heard;
  const lang = events.find((e) => e.language)?.language ?? language ?? 'en';
  const seconds = Math.max(1, Math.ceil(pcm.durationMs / 1000));
  const audioTokens = asr ? seconds * 25 : Math.ceil((pcm.durationMs / 1000) * 12.5);
  const textTokens = Math.ceil(context.length / 4);
  const completionTokens = Math.max(1, text.split(/\s+/).filter(Boolean).length);
  const usage: Record<string, unknown> = {
    prompt_tokens: audioTokens + textTokens,
    completion_tokens: completionTokens,
    total_tokens: audioTokens + textTokens + completionTokens,
    prompt_tokens_details: { audio_tokens: audioTokens, text_tokens: textTokens },
    completion_tokens_details: { text_tokens: completionTokens },
  };
  if (asr) usage.seconds = seconds;
  const annotations = asr ? [{ type: 'audio_info', language: lang, emotion }] : undefined;
  if (!stream) {
    const message: Record<string, unknown> = { role: 'assistant', content: text };
    if (annotations) message.annotations = annotations;
    return sendJson(res, 200, { choices: [{ finish_reason: 'stop', index: 0, message }], created: Math.floor(Date.now() / 1000), id: `chatcmpl-${randomUUID()}`, model, object: 'chat.completion', usage });
  }
  streamReply(res, body, model, { text, spoken, usage, ...(annotations ? { annotations } : {}), asr });
}

/** Usage of a text-only turn (4 characters a token). */
function textUsage(messages: { content?: unknown }[]): Record<string, unknown> {
  const prompt = Math.max(1, Math.ceil(messages.map((m) => textOf(m.content)).join('').length / 4));
  return { prompt_tokens: prompt, completion_tokens: 1, total_tokens: prompt + 1, prompt_tokens_details: { text_tokens: prompt }, completion_tokens_details: { text_tokens: 1 } };
}

/** What {@link streamReply} streams. */
interface Reply {
  text: string;
  /** Omni with audio output: `delta.audio` chunks follow the text. */
  spoken: boolean;
  usage: Record<string, unknown>;
  annotations?: unknown[];
  asr?: boolean;
}

/** Stream a reply as compat SSE: role chunk, content chunks, audio chunks, finish chunk, usage chunk, `[DONE]`. */
function streamReply(res: ServerResponse, body: Record<string, unknown>, model: string, reply: Reply): void {
  const { text, annotations, asr = false } = reply;
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (choices: unknown[], u: unknown = null): void => {
    const chunk: Record<string, unknown> = { choices, object: 'chat.completion.chunk', usage: u, created, system_fingerprint: null, model, id };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  };
  send([{ delta: { content: '', role: 'assistant' }, index: 0, logprobs: null, finish_reason: null }]);
  const pieces = text === '' ? [] : text.match(/\S+\s*/g) ?? [];
  for (const piece of pieces) {
    const delta: Record<string, unknown> = { content: piece };
    if (annotations) Object.assign(delta, { annotations, role: null });
    send([{ delta, finish_reason: null, index: 0, logprobs: null }]);
  }
  if (reply.spoken) {
    // 100 ms of 24 kHz silence per chunk stands in for the spoken reply; the last chunk carries its transcript (§7.3).
    const audioId = `audio_${randomUUID()}`;
    const data = Buffer.alloc(4800).toString('base64');
    send([{ delta: { audio: { data, expires_at: created + 3600, id: audioId } }, finish_reason: null, index: 0, logprobs: null }]);
    send([{ delta: { audio: { data, expires_at: created + 3600, id: audioId, transcript: text } }, finish_reason: null, index: 0, logprobs: null }]);
  }
  // qwen3-asr-flash ends with `delta:{role:null}` (§6.1), Omni with `delta:{content:""}` (§7.3).
  send([{ finish_reason: 'stop', delta: asr ? { role: null } : { content: '' }, index: 0, logprobs: null }]);
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  if (includeUsage) send([], reply.usage);
  res.end('data: [DONE]\n\n');
}

function pcm_message(err: AudioFetchError): string {
  return /decode/.test(err.message) ? 'audio format is illegal' : err.message;
}
