/**
 * The async task API (§1.7) with the batch models behind it: `fun-asr` / `paraformer-v2` (§3: `input.file_urls`,
 * diarization, vocabularies, `results[]`) and `qwen3-asr-flash-filetrans` (§6.3: `input.file_url`, emotion, language,
 * `output.result`). Tasks go PENDING → RUNNING → SUCCEEDED/FAILED in memory; results are served from signed local
 * URLs that expire (`faults.resultTtlMs`, 24 h by default).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TranscriptEvent } from '../../core/types.js';
import type { EmulatorContext } from '../context.js';
import { diarize, speakerAt, type SpeakerTurn } from '../../media/speakers.js';
import { AudioFetchError, decodeAudio, loadUrl, recognise, type Pcm } from './audio.js';
import { nativeError, readJson, sendJson, serviceTime } from './reply.js';
import { stateOf, type TaskRecord } from './state.js';

/** Models served on `/services/audio/asr/transcription` with `input.file_urls`. */
export const FILE_URLS_MODELS = new Set(['fun-asr', 'fun-asr-2025-11-07', 'fun-asr-2025-08-25', 'fun-asr-mtl', 'fun-asr-mtl-2025-08-25', 'paraformer-v2', 'paraformer-8k-v2', 'paraformer-v1', 'paraformer-8k-v1', 'paraformer-mtl-v1', 'sensevoice-v1']);
/** Models served there with `input.file_url`. */
export const FILE_URL_MODELS = new Set(['qwen3-asr-flash-filetrans']);

const DAY_MS = 24 * 3600_000;
const SIGNING_KEY = randomUUID();

/** `POST /api/v1/services/audio/asr/transcription`. */
export async function submitTranscription(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, apiKey: string): Promise<void> {
  if (String(req.headers['x-dashscope-async'] ?? '').toLowerCase() !== 'enable') {
    req.resume();
    return nativeError(res, 403, 'AccessDenied', 'current user api does not support synchronous calls');
  }
  const body = await readJson(req);
  if (!body) return nativeError(res, 400, 'InvalidParameter', 'The request body is not valid JSON.');
  const model = body.model;
  if (typeof model !== 'string' || model === '') return nativeError(res, 400, 'BadRequest.EmptyModel', 'Required parameter "model" missing from request.');
  if (!FILE_URLS_MODELS.has(model) && !FILE_URL_MODELS.has(model)) return nativeError(res, 400, 'InvalidParameter', 'Model not exist.');
  const input = (body.input ?? {}) as Record<string, unknown>;
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  let urls: string[];
  if (FILE_URL_MODELS.has(model)) {
    if (typeof input.file_url !== 'string' || input.file_url === '') return nativeError(res, 400, 'InvalidParameter', 'Required parameter(s) missing or invalid: input.file_url');
    urls = [input.file_url];
  } else {
    const list = input.file_urls;
    if (!Array.isArray(list) || list.length === 0 || list.length > 100 || !list.every((u) => typeof u === 'string' && u !== '')) {
      return nativeError(res, 400, 'InvalidParameter', 'Required parameter(s) missing or invalid: input.file_urls must hold 1 to 100 URLs');
    }
    urls = list as string[];
  }
  if (parameters.speaker_count !== undefined) {
    const n = parameters.speaker_count;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 2 || n > 100) return nativeError(res, 400, 'InvalidParameter', 'speaker_count must be an integer from 2 to 100');
  }
  const state = stateOf(ctx);
  let vocabulary: { text: string; weight: number; lang?: string }[] | undefined;
  if (parameters.vocabulary_id !== undefined) {
    const vocab = state.vocabularies.get(String(parameters.vocabulary_id));
    if (!vocab) return nativeError(res, 400, 'InvalidParameter', `vocabulary ${String(parameters.vocabulary_id)} does not exist`);
    if (vocab.targetModel !== model) return nativeError(res, 400, 'InvalidParameter', `vocabulary target_model ${vocab.targetModel} does not match model ${model}`);
    vocabulary = vocab.vocabulary;
  }
  const ossResolve = String(req.headers['x-dashscope-ossresourceresolve'] ?? '').toLowerCase() === 'enable';
  for (const u of urls.filter((x) => x.startsWith('oss://'))) {
    if (!ossResolve) return nativeError(res, 400, 'invalid_parameter_error', 'The provided URL does not appear to be valid. oss:// URLs need the X-DashScope-OssResourceResolve: enable header.');
    const object = state.objects.get(u.slice('oss://'.length));
    if (!object) return nativeError(res, 400, 'invalid_parameter_error', 'The provided URL does not appear to be valid: the oss:// object does not exist.');
    if (object.model !== model) return nativeError(res, 400, 'invalid_parameter_error', `The provided URL does not appear to be valid: the oss:// object was uploaded for ${object.model}, not ${model}.`);
  }
  const task: TaskRecord = { id: randomUUID(), model, apiKey, status: 'PENDING', submitMs: Date.now(), total: urls.length };
  state.tasks.set(task.id, task);
  state.stats.submits++;
  sendJson(res, 200, { output: { task_status: 'PENDING', task_id: task.id }, request_id: randomUUID() });
  setImmediate(() => void schedule(ctx, () => runTask(ctx, task, urls, parameters, ossResolve, vocabulary)));
}

/** Tasks the emulator runs at once; later ones wait in PENDING (and can be cancelled there), as on the service. */
export const MAX_RUNNING_TASKS = 2;

async function schedule(ctx: EmulatorContext, run: () => Promise<void>): Promise<void> {
  const queue = stateOf(ctx).queue;
  if (queue.running >= MAX_RUNNING_TASKS) await new Promise<void>((resolve) => queue.waiting.push(resolve));
  queue.running++;
  try {
    await run();
  } finally {
    queue.running--;
    queue.waiting.shift()?.();
  }
}

async function runTask(ctx: EmulatorContext, task: TaskRecord, urls: string[], parameters: Record<string, unknown>, ossResolve: boolean, vocabulary?: { text: string; weight: number; lang?: string }[]): Promise<void> {
  if (task.status !== 'PENDING') return; // cancelled
  task.status = 'RUNNING';
  task.scheduledMs = Date.now();
  const qwen = FILE_URL_MODELS.has(task.model);
  const ttl = ctx.faults.resultTtlMs ?? DAY_MS;
  if (ctx.faults.failTasks) {
    finish(task, 'FAILED', qwen ? { code: 'InternalError.Algo', message: 'The task failed (injected fault).' } : { results: urls.map((u) => ({ file_url: u, code: 'InternalError.Algo', message: 'The task failed (injected fault).', subtask_status: 'FAILED' })), task_metrics: { TOTAL: urls.length, SUCCEEDED: 0, FAILED: urls.length } });
    return;
  }
  const results: Record<string, unknown>[] = [];
  let billedMs = 0;
  let succeeded = 0;
  for (const [n, url] of urls.entries()) {
    try {
      const pcm = await decodeAudio(await loadUrl(ctx, url, task.model, ossResolve));
      const language = qwen ? (typeof parameters.language === 'string' ? parameters.language : undefined) : Array.isArray(parameters.language_hints) ? String(parameters.language_hints[0]) : undefined;
      const opts: Parameters<typeof recognise>[2] = {};
      if (language) opts.language = language;
      if (vocabulary) opts.hotwords = vocabulary;
      if (qwen && typeof (parameters.corpus as { text?: unknown } | undefined)?.text === 'string') opts.context = (parameters.corpus as { text: string }).text;
      // channel_id picks the tracks: each is transcribed on its own and answered as its own transcripts[] entry.
      const ids = Array.isArray(parameters.channel_id) && parameters.channel_id.length ? parameters.channel_id.map(Number) : [0];
      const missing = ids.find((c) => !Number.isInteger(c) || c < 0 || c >= pcm.channels.length);
      if (missing !== undefined) throw new AudioFetchError(`channel_id ${missing} is not a channel of the file (it has ${pcm.channels.length})`, 400);
      const tracks: Track[] = [];
      for (const channel of ids) {
        const one: Pcm = { ...pcm, samples: pcm.channels[channel]!, channels: [pcm.channels[channel]!] };
        const events = await recognise(ctx, one, opts);
        const speechMs = events.reduce((s, e) => s + Math.max(0, e.endMs - e.startMs), 0);
        billedMs += speechMs;
        tracks.push({ channel, pcm: one, events, speechMs });
      }
      const body = qwen ? qwenResult(url, pcm, tracks, parameters, language) : funAsrResult(url, pcm, tracks, parameters);
      const key = `${task.id}/${n + 1}`;
      const expiresMs = Date.now() + ttl;
      stateOf(ctx).results.set(key, { body, expiresMs });
      results.push({ file_url: url, transcription_url: resultUrl(ctx, key, expiresMs), subtask_status: 'SUCCEEDED' });
      succeeded++;
    } catch (err) {
      const fetchErr = err instanceof AudioFetchError ? err : undefined;
      const code = qwen ? qwenFailCode(fetchErr) : fetchErr ? (fetchErr.status === 400 && /decode/.test(fetchErr.message) ? 'InvalidFile.DecodeFailed' : 'InvalidFile.DownloadFailed') : 'InternalError.Algo';
      results.push({ file_url: url, code, message: (err as Error).message, subtask_status: 'FAILED' });
    }
  }
  if (task.status !== 'RUNNING') return;
  const metrics = { TOTAL: urls.length, SUCCEEDED: succeeded, FAILED: urls.length - succeeded };
  if (qwen) {
    const r = results[0]!;
    if (r.subtask_status === 'SUCCEEDED') finish(task, 'SUCCEEDED', { result: { transcription_url: r.transcription_url } }, { seconds: Math.ceil(billedMs / 1000) });
    else finish(task, 'FAILED', { code: r.code, message: r.code });
  } else {
    finish(task, succeeded > 0 ? 'SUCCEEDED' : 'FAILED', { results, task_metrics: metrics }, succeeded > 0 ? { duration: Math.ceil(billedMs / 1000) } : undefined);
  }
}

function qwenFailCode(err?: AudioFetchError): string {
  if (!err) return 'InternalError.Algo';
  if (err.status === 403) return 'FILE_403_FORBIDDEN';
  if (err.status === 404) return 'FILE_404_NOT_FOUND';
  if (err.status === 400 && /decode/.test(err.message)) return 'FILE_DECODE_FAILED';
  return 'FILE_DOWNLOAD_FAILED';
}

function finish(task: TaskRecord, status: 'SUCCEEDED' | 'FAILED', outcome: Record<string, unknown>, usage?: Record<string, unknown>): void {
  task.status = status;
  task.endMs = Date.now();
  task.outcome = outcome;
  if (usage) task.usage = usage;
}

function resultUrl(ctx: EmulatorContext, key: string, expiresMs: number): string {
  const expires = Math.floor(expiresMs / 1000);
  const signature = createHmac('sha256', SIGNING_KEY).update(`${key}|${expires}`).digest('base64url');
  return `${ctx.baseUrl}/results/${key}.json?Expires=${expires}&OSSAccessKeyId=LTAIemulator&Signature=${signature}`;
}

/** Words of an event, or the event's text spread evenly over its span. */
function wordsOf(e: TranscriptEvent): { text: string; startMs: number; endMs: number }[] {
  if (e.words?.length) return e.words;
  const tokens = e.text.trim().split(/\s+/).filter(Boolean);
  const span = Math.max(1, e.endMs - e.startMs);
  return tokens.map((t, i) => ({ text: t, startMs: Math.round(e.startMs + (span * i) / tokens.length), endMs: Math.round(e.startMs + (span * (i + 1)) / tokens.length) }));
}

interface Sentence {
  begin_time: number;
  end_time: number;
  text: string;
  words: { begin_time: number; end_time: number; text: string; punctuation: string }[];
  speaker_id?: number;
  source: TranscriptEvent;
}

/**
 * A pause this long between two words ends a sentence: the VAD segmentation default the service documents for Fun-ASR
 * (`max_sentence_silence`, 1300 ms, §2 parameters).
 */
const SENTENCE_PAUSE_MS = 1300;
/**
 * Longest sentence. The reference says only that the service keeps VAD sentences from growing too long
 * (`multi_threshold_mode_enabled`, §2); results seen from the service stay well under this.
 */
const MAX_SENTENCE_MS = 20_000;

/**
 * Sentences from recogniser events, cut as the service cuts them: at a pause of {@link SENTENCE_PAUSE_MS}, at a
 * change of speaker (with diarization), and before a sentence grows past {@link MAX_SENTENCE_MS}.
 */
function sentencesOf(events: TranscriptEvent[], turns?: SpeakerTurn[]): Sentence[] {
  const out: Sentence[] = [];
  for (const e of events) {
    const words = wordsOf(e);
    const own: Sentence[] = [];
    let current: Sentence | undefined;
    for (const w of words) {
      const speaker = turns ? speakerAt(turns, w.startMs, w.endMs) : undefined;
      const pause = current ? w.startMs - current.end_time : 0;
      if (!current || current.speaker_id !== speaker || pause >= SENTENCE_PAUSE_MS || w.endMs - current.begin_time > MAX_SENTENCE_MS) {
        current = { begin_time: Math.round(w.startMs), end_time: Math.round(w.endMs), text: '', words: [], source: e };
        if (speaker !== undefined) current.speaker_id = speaker;
        own.push(current);
      }
      current.words.push(toWire(w));
      current.end_time = Math.round(w.endMs);
    }
    // One sentence for the whole event keeps the recogniser's text and span as they are.
    if (own.length === 1) Object.assign(own[0]!, { begin_time: Math.round(e.startMs), end_time: Math.round(e.endMs), text: e.text.trim() });
    if (own.length === 0) own.push({ begin_time: Math.round(e.startMs), end_time: Math.round(e.endMs), text: e.text.trim(), words: [], source: e });
    out.push(...own);
  }
  for (const s of out) if (s.text === '') s.text = s.words.map((w) => w.text).join(' ');
  return out;
}

function toWire(w: { text: string; startMs: number; endMs: number }): Sentence['words'][number] {
  return { begin_time: Math.round(w.startMs), end_time: Math.round(w.endMs), text: w.text, punctuation: '' };
}

/** One requested channel of a file, transcribed on its own. */
interface Track {
  channel: number;
  pcm: Pcm;
  events: TranscriptEvent[];
  speechMs: number;
}

function funAsrResult(url: string, pcm: Pcm, tracks: Track[], parameters: Record<string, unknown>): unknown {
  const diarization = parameters.diarization_enabled === true;
  const transcripts = tracks.map((track) => {
    const turns = diarization ? diarize(track.pcm.samples, track.pcm.sampleRate, typeof parameters.speaker_count === 'number' ? { speakerCount: parameters.speaker_count } : {}) : undefined;
    const sentences = sentencesOf(track.events, turns).map((s, i) => {
      const out: Record<string, unknown> = { begin_time: s.begin_time, end_time: s.end_time, text: s.text, sentence_id: i + 1 };
      if (s.speaker_id !== undefined) out.speaker_id = s.speaker_id;
      out.words = s.words;
      return out;
    });
    return { channel_id: track.channel, content_duration_in_milliseconds: Math.round(track.speechMs), text: sentences.map((s) => s.text).join(' '), sentences };
  });
  return {
    file_url: url,
    properties: { audio_format: pcm.format, channels: pcm.channels.map((_, i) => i), original_sampling_rate: pcm.originalRate, original_duration_in_milliseconds: pcm.durationMs },
    transcripts,
  };
}

function qwenResult(url: string, pcm: Pcm, tracks: Track[], parameters: Record<string, unknown>, language?: string): unknown {
  const withWords = parameters.enable_words === true;
  const transcripts = tracks.map((track) => {
    const sentences = sentencesOf(track.events).map((s, i) => {
      const out: Record<string, unknown> = { sentence_id: i, begin_time: s.begin_time, end_time: s.end_time, language: s.source.language ?? language ?? 'en', emotion: s.source.emotion ?? 'neutral', text: s.text };
      if (withWords) out.words = s.words;
      return out;
    });
    return { channel_id: track.channel, text: sentences.map((s) => s.text).join(' '), sentences };
  });
  return { file_url: url, audio_info: { format: pcm.format, sample_rate: pcm.originalRate }, transcripts };
}

function taskOutput(task: TaskRecord): Record<string, unknown> {
  const output: Record<string, unknown> = { task_id: task.id, task_status: task.status, submit_time: serviceTime(task.submitMs) };
  if (task.scheduledMs !== undefined) output.scheduled_time = serviceTime(task.scheduledMs);
  if (task.endMs !== undefined) output.end_time = serviceTime(task.endMs);
  if (task.outcome) Object.assign(output, task.outcome);
  else output.task_metrics = { TOTAL: task.total, SUCCEEDED: 0, FAILED: 0 };
  return output;
}

/** `GET|POST /api/v1/tasks/{id}` (both methods accepted, §9.2). Unknown or expired ids answer `UNKNOWN`. */
export function queryTask(ctx: EmulatorContext, res: ServerResponse, id: string): void {
  const task = stateOf(ctx).tasks.get(id);
  const ttl = ctx.faults.resultTtlMs ?? DAY_MS;
  if (!task || Date.now() - task.submitMs > ttl) return sendJson(res, 200, { request_id: randomUUID(), output: { task_id: id, task_status: 'UNKNOWN' } });
  const body: Record<string, unknown> = { request_id: randomUUID(), output: taskOutput(task) };
  if (task.usage) body.usage = task.usage;
  sendJson(res, 200, body);
}

/** `POST /api/v1/tasks/{id}/cancel`: only while PENDING. */
export function cancelTask(ctx: EmulatorContext, res: ServerResponse, id: string): void {
  const task = stateOf(ctx).tasks.get(id);
  if (!task) return nativeError(res, 404, 'InvalidParameter', `task ${id} does not exist`);
  if (task.status !== 'PENDING') return nativeError(res, 400, 'UnsupportedOperation', `task ${id} is ${task.status} and cannot be canceled`);
  task.status = 'CANCELED';
  task.endMs = Date.now();
  sendJson(res, 200, { request_id: randomUUID() });
}

/** `GET /api/v1/tasks?…&page_no=&page_size=`. */
export function listTasks(ctx: EmulatorContext, res: ServerResponse, query: URLSearchParams, apiKey: string): void {
  const pageNo = Math.max(1, Number(query.get('page_no') ?? 1) || 1);
  const pageSize = Math.min(100, Math.max(1, Number(query.get('page_size') ?? 10) || 10));
  const status = query.get('status');
  const model = query.get('model_name');
  const all = [...stateOf(ctx).tasks.values()].filter((t) => t.apiKey === apiKey && (!status || t.status === status) && (!model || t.model === model));
  const data = all.slice((pageNo - 1) * pageSize, pageNo * pageSize).map((t) => ({ task_id: t.id, status: t.status, model_name: t.model, gmt_create: serviceTime(t.submitMs), gmt_modified: serviceTime(t.endMs ?? t.scheduledMs ?? t.submitMs), region: 'cn-beijing', request_id: randomUUID() }));
  sendJson(res, 200, { request_id: randomUUID(), data, page_no: pageNo, page_size: pageSize, total: all.length, total_page: Math.ceil(all.length / pageSize) });
}

/** `GET /results/<task>/<n>.json?Expires=&Signature=`: the result JSON, or OSS's 403 once expired. */
export function serveResult(ctx: EmulatorContext, res: ServerResponse, key: string, query: URLSearchParams): void {
  const expires = Number(query.get('Expires'));
  const signature = createHmac('sha256', SIGNING_KEY).update(`${key}|${expires}`).digest('base64url');
  const stored = stateOf(ctx).results.get(key);
  const ossError = (status: number, code: string, message: string): void => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>${code}</Code>\n  <Message>${message}</Message>\n  <RequestId>${randomUUID()}</RequestId>\n</Error>\n`;
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(xml);
  };
  if (query.get('Signature') !== signature) return ossError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  if (!stored || Date.now() > stored.expiresMs || Date.now() / 1000 > expires) return ossError(403, 'AccessDenied', 'Request has expired.');
  sendJson(res, 200, stored.body);
}
