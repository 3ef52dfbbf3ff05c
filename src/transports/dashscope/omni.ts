/**
 * Audio models on the OpenAI-compatible chat completions endpoint: Qwen-Omni (`qwen3.5-omni-plus`,
 * `qwen3.5-omni-flash`, `qwen3-omni-flash`; §7: stream only, audio as a `data:;base64,` WAV, prompt context in the
 * system prompt) and `qwen3-asr-flash` (§6.1: context as the system message, `asr_options.language`, emotion and
 * language from `annotations`). Replies arrive as SSE and are concatenated. Audio longer than one request allows is
 * cut at pauses, sent as several requests (a few at a time, results kept in order) and stitched back on the time line.
 */
import { basename } from 'node:path';
import { AbortError, EarshotError, InvalidArgumentError } from '../../core/errors.js';
import { EMOTIONS, type Emotion, type TranscriptEvent } from '../../core/types.js';
import { assertCapabilities, withCapabilities, type ChunkJob, type ModelFeatures, type ModelSpec, type RecognitionOptions, type TransportDescriptor } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import type { BatchFileOptions, BatchTransport } from './fun-asr.js';
import { recognitionOptions } from './async-task.js';
import { progressReporter, transportHttp, type DashScopeHttp, type BatchProgress, type WithRetry } from './http.js';
import { QWEN_ASR_FILE_LANGUAGES } from './qwen-asr-filetrans.js';
import { encodeWav } from './upload.js';
import { ffmpegFailure, probeDurationMs, spawnError, spawnFfmpeg, StderrTail } from '../../media/ffmpeg.js';

/** Models this transport serves. */
export type CompatAudioModel = 'qwen3.5-omni-plus' | 'qwen3.5-omni-flash' | 'qwen3-omni-flash' | 'qwen3-asr-flash';

/** Languages the Omni models understand (speech input). */
export const OMNI_LANGUAGES = ['zh', 'en', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'pt', 'it', 'ar', 'th', 'vi', 'id', 'yue'] as const;

/** Default instruction for Omni: it is an LLM, so it is told to transcribe verbatim and nothing else. */
export const TRANSCRIBE_INSTRUCTION = 'You are a transcription engine. Output only the verbatim transcript of the audio, in the language spoken, with no commentary, translation or summary. Output nothing if there is no speech.';

/**
 * Omni: how the speaker's emotion is asked for. An LLM gives it as text, so the instruction names a tag the reply ends
 * with; {@link splitEmotionTag} takes it off the transcript.
 */
export const EMOTION_INSTRUCTION = `After the transcript, on a last line of its own, write the speaker's emotion as [emotion: X], where X is one of ${EMOTIONS.join(', ')}.`;

/**
 * Take the `[emotion: X]` tag off the end of an Omni reply (§7: an LLM's text answer to {@link EMOTION_INSTRUCTION}).
 *
 * @param reply - The model's reply.
 * @returns The transcript without the tag and the emotion when the tag names one of {@link EMOTIONS}.
 * @example
 * splitEmotionTag('I am fine.\n[emotion: happy]'); // { text: 'I am fine.', emotion: 'happy' }
 */
export function splitEmotionTag(reply: string): { text: string; emotion?: Emotion } {
  const m = /\[\s*emotion\s*:\s*([a-z]+)\s*\]\s*$/i.exec(reply);
  if (!m) return { text: reply.trim() };
  const text = reply.slice(0, m.index).trim();
  const emotion = m[1]!.toLowerCase() as Emotion;
  return EMOTIONS.includes(emotion) ? { text, emotion } : { text };
}

/**
 * The prompt that makes an Omni model a transcriber: the instruction ({@link TRANSCRIBE_INSTRUCTION} by default), the
 * emotion tag ({@link EMOTION_INSTRUCTION}), the language and the user's context. Omni over HTTP sends it as the
 * system message, Omni realtime as the session `instructions` (the reply to it is the transcript).
 *
 * @param o - The language and context of the recognition.
 * @param instruction - Replaces {@link TRANSCRIBE_INSTRUCTION}.
 * @example
 * transcriptionPrompt({ context: 'A call about hotel bookings.' });
 */
export function transcriptionPrompt(o: Pick<RecognitionOptions, 'language' | 'context'>, instruction = TRANSCRIBE_INSTRUCTION): string {
  let prompt = `${instruction}\n${EMOTION_INSTRUCTION}`;
  if (o.language) prompt += `\nThe speech is in language "${o.language}".`;
  if (o.context) prompt += `\nContext (use it to spell names and domain terms correctly): ${o.context}`;
  return prompt;
}

/**
 * Whether a region offers OpenAI-compatible mode for Qwen-ASR: not the US (Virginia) hosts (§1.1:
 * `{WorkspaceId}.us-east-1.maas.aliyuncs.com`, `dashscope-us.aliyuncs.com`).
 *
 * @param httpBase - The native base URL (`…/api/v1`) the transport resolved.
 * @example
 * compatModeOffered('https://ws1.us-east-1.maas.aliyuncs.com/api/v1'); // false
 */
export function compatModeOffered(httpBase: string): boolean {
  let host: string;
  try {
    host = new URL(httpBase).hostname;
  } catch {
    return true;
  }
  return !/(^|\.)us-east-1\.maas\.aliyuncs\.com$|^dashscope-us\.aliyuncs\.com$/i.test(host);
}

/** Base64 payloads above ~10 MB are refused; 16 kHz mono WAV stays under that up to ~3.9 min. */
const MAX_BASE64_BYTES = 10 * 1024 * 1024;

/** Options of {@link omni}. */
export interface OmniOptions extends DashScopeOptions, RecognitionOptions, WithRetry {
  /** Longest audio per request in ms (default: the model's limit, capped by the 10 MB base64 payload: 3 min). */
  maxRequestMs?: number;
  /** Requests in flight at once for split audio (default 2). */
  concurrency?: number;
  /**
   * `qwen3-asr-flash` only: which API to call — `compatible` (OpenAI-compatible chat completions, §6.1) or `native`
   * (DashScope multimodal-generation with native SSE, §6.2, as the SDK does). Default: `native` where the region has
   * no compatible mode for Qwen-ASR (US, from the base URL; {@link compatModeOffered}), else `compatible`.
   */
  api?: 'compatible' | 'native';
  /** Omni only: the instruction put first in the system prompt (default {@link TRANSCRIBE_INSTRUCTION}). */
  instruction?: string;
  onProgress?: (progress: BatchProgress) => void;
  http?: DashScopeHttp;
}

const OMNI_FEATURES: ModelFeatures = { wordTimes: false, emotion: true, diarization: false, hotwords: false, context: true, maxDurationMs: 20 * 60_000, languages: OMNI_LANGUAGES };

/** The models of the compatible-mode endpoint, with what each can do. */
const MODELS: Record<CompatAudioModel, ModelSpec> = {
  'qwen3-asr-flash': {
    summary: 'Qwen3-ASR per request (≤ 5 min, split automatically): language and emotion; prompt context.',
    capabilities: { wordTimes: false, emotion: true, diarization: false, hotwords: false, context: true, maxDurationMs: 5 * 60_000, languages: QWEN_ASR_FILE_LANGUAGES },
  },
  'qwen3.5-omni-plus': { summary: 'Omni (best) per request (≤ 20 min, split at pauses); emotion; prompt context.', capabilities: OMNI_FEATURES },
  'qwen3.5-omni-flash': { summary: 'Omni (fast) per request; good for near-realtime windows; emotion; prompt context.', capabilities: OMNI_FEATURES },
  'qwen3-omni-flash': { summary: 'Omni (previous generation) per request; emotion; prompt context.', capabilities: OMNI_FEATURES },
};

/** The compatible-mode audio models in the catalog: {@link omni} with the model id. */
export const omniDescriptor: TransportDescriptor<OmniOptions> = {
  provider: 'dashscope',
  api: 'compatible-chat',
  models: MODELS,
  create: (id, options) => omni(id, options),
};

/**
 * Where to cut audio longer than `maxMs`: the quietest 100 ms stretch in the last 40 % of the window, so pieces end
 * at pauses, never mid-word when there is a pause to use.
 *
 * @param samples - Mono s16.
 * @param sampleRate - Its rate.
 * @param maxMs - Longest piece.
 * @returns Piece boundaries in samples: `[0, c1, c2, …, samples.length]`.
 * @example
 * cutAtPauses(pcm, 16000, 180_000); // [0, 2841600, 5760000]
 */
export function cutAtPauses(samples: Int16Array, sampleRate: number, maxMs: number): number[] {
  const max = Math.floor((maxMs * sampleRate) / 1000);
  const cuts = [0];
  let start = 0;
  while (samples.length - start > max) {
    cuts.push(quietestPoint(samples, sampleRate, start + Math.floor(max * 0.6), start + max));
    start = cuts[cuts.length - 1]!;
  }
  cuts.push(samples.length);
  return cuts;
}

function quietestPoint(samples: Int16Array, sampleRate: number, from: number, to: number): number {
  const win = Math.max(1, Math.round(sampleRate / 10));
  const hop = Math.max(1, Math.round(sampleRate / 100));
  let best = to;
  let bestEnergy = Infinity;
  for (let o = from; o + win <= to; o += hop) {
    let e = 0;
    for (let i = o; i < o + win; i += 2) e += samples[i]! * samples[i]!;
    if (e < bestEnergy) {
      bestEnergy = e;
      best = o + Math.floor(win / 2);
    }
  }
  return best;
}

function hasSound(samples: Int16Array): boolean {
  for (let i = 0; i < samples.length; i++) if (samples[i]! > 64 || samples[i]! < -64) return true;
  return false;
}

/**
 * Make a transport for a compatible-mode audio model (Omni or `qwen3-asr-flash`).
 *
 * @param model - `qwen3.5-omni-plus`, `qwen3.5-omni-flash`, `qwen3-omni-flash` or `qwen3-asr-flash`.
 * @param options - Key/base URL, prompt `context`, `language`, `maxRequestMs`, `concurrency`, retry policy.
 * @returns A {@link BatchTransport}: `transcribeClip` (split when long) and `transcribeFile` (decoded by ffmpeg,
 *   streamed in pieces). One final event per request, spanning its piece.
 * @throws EARSHOT_UNKNOWN_MODEL, EARSHOT_MISSING_API_KEY, EARSHOT_CAPABILITY_MISSING (diarization, hotwords),
 *   EARSHOT_INVALID_ARGUMENT (maxRequestMs over the model's limit). At run time: EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED,
 *   EARSHOT_SERVER_ERROR, EARSHOT_LIMIT_EXCEEDED, EARSHOT_REQUEST_FAILED, EARSHOT_PROTOCOL_ERROR, EARSHOT_DECODE_FAILED,
 *   EARSHOT_ABORTED.
 * @example
 * const asr = omni('qwen3.5-omni-flash', { context: 'A podcast about Kubernetes and etcd.' });
 * const events = await asr.transcribeFile('episode.mp3');
 */
export function omni(model: string, options: OmniOptions = {}): BatchTransport {
  const capabilities = MODELS[model as CompatAudioModel]?.capabilities;
  if (!capabilities) throw new EarshotError('EARSHOT_UNKNOWN_MODEL', `omni() serves ${Object.keys(MODELS).join(', ')}; not ${model}`, { details: { model } });
  const transport = { model, capabilities };
  assertCapabilities(transport, options);
  const asr = model === 'qwen3-asr-flash';
  const payloadMs = Math.floor(((MAX_BASE64_BYTES * 3) / 4 - 44) / 32); // 16 kHz s16 mono: 32 bytes a ms
  const maxRequestMs = options.maxRequestMs ?? Math.min(capabilities.maxDurationMs, payloadMs, 180_000);
  if (maxRequestMs > capabilities.maxDurationMs || maxRequestMs < 1000) throw new InvalidArgumentError(`maxRequestMs must be 1000 to ${capabilities.maxDurationMs} for ${model}`);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const endpoints = resolveDashScope(options);
  const { http, close } = transportHttp(options, endpoints.apiKey);
  const native = asr && (options.api ?? (compatModeOffered(endpoints.httpBase) ? 'compatible' : 'native')) === 'native';
  const url = native ? `${endpoints.httpBase}/services/aigc/multimodal-generation/generation` : `${endpoints.compatBase}/chat/completions`;

  function body(wav: Buffer, o: RecognitionOptions): Record<string, unknown> {
    const b64 = wav.toString('base64');
    if (native) {
      // §6.2: the SDK's shape; deltas as native SSE.
      const messages: unknown[] = [];
      if (o.context) messages.push({ role: 'system', content: [{ text: o.context }] });
      messages.push({ role: 'user', content: [{ audio: `data:audio/wav;base64,${b64}` }] });
      const asrOptions: Record<string, unknown> = { enable_itn: false };
      if (o.language) asrOptions.language = o.language;
      return { model, input: { messages }, parameters: { asr_options: asrOptions, incremental_output: true } };
    }
    if (asr) {
      const messages: unknown[] = [];
      if (o.context) messages.push({ role: 'system', content: [{ text: o.context }] });
      messages.push({ role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:audio/wav;base64,${b64}` } }] });
      const asrOptions: Record<string, unknown> = { enable_itn: false };
      if (o.language) asrOptions.language = o.language;
      return { model, messages, stream: true, stream_options: { include_usage: true }, asr_options: asrOptions };
    }
    const system = transcriptionPrompt(o, options.instruction);
    return {
      model,
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:;base64,${b64}`, format: 'wav' } }, { type: 'text', text: 'Transcribe this audio.' }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text'],
    };
  }

  /** One request for one piece; an event spanning the piece (times relative to it), or none when nothing was said. */
  async function request(samples: Int16Array, sampleRate: number, o: RecognitionOptions, signal?: AbortSignal): Promise<TranscriptEvent | undefined> {
    if (!hasSound(samples)) return undefined;
    let text = '';
    let emotion: string | undefined;
    let language: string | undefined;
    await http.sse(
      url,
      body(encodeWav(samples, sampleRate), o),
      (chunk) => {
        type Info = { type?: string; language?: string; emotion?: string }[];
        if (native) {
          // §6.2: output.choices[].message.content[].text deltas, annotations on the message.
          const choices = (chunk.output as { choices?: { message?: { content?: { text?: unknown }[]; annotations?: Info } }[] } | undefined)?.choices;
          for (const c of choices ?? []) {
            for (const part of c.message?.content ?? []) if (typeof part.text === 'string') text += part.text;
            const info = c.message?.annotations?.find((a) => a.type === 'audio_info');
            if (info?.emotion) emotion = info.emotion;
            if (info?.language) language = info.language;
          }
          return;
        }
        const choices = chunk.choices as { delta?: { content?: unknown; annotations?: Info } }[] | undefined;
        for (const c of choices ?? []) {
          if (typeof c.delta?.content === 'string') text += c.delta.content;
          const info = c.delta?.annotations?.find((a) => a.type === 'audio_info');
          if (info?.emotion) emotion = info.emotion;
          if (info?.language) language = info.language;
        }
      },
      signal,
      { native },
    );
    if (!asr) {
      const tagged = splitEmotionTag(text);
      text = tagged.text;
      emotion = tagged.emotion;
    }
    text = text.trim();
    if (text === '') return undefined;
    const event: TranscriptEvent = { type: 'final', text, startMs: 0, endMs: (samples.length * 1000) / sampleRate };
    if (emotion) event.emotion = emotion;
    if (language ?? (asr ? o.language : undefined)) event.language = (language ?? o.language)!;
    return event;
  }

  /**
   * Run pieces with bounded concurrency; events in time order. `owned`: this call owns the pieces (a file), so each
   * piece's request is retried under the client's policy; a clip's pieces get one attempt each, its owner retries it.
   */
  async function runPieces(pieces: AsyncIterable<{ samples: Int16Array; startMs: number }> | Iterable<{ samples: Int16Array; startMs: number }>, sampleRate: number, o: RecognitionOptions, signal: AbortSignal | undefined, owned: boolean, progress: (done: number) => void): Promise<TranscriptEvent[]> {
    const results: (TranscriptEvent | undefined)[] = [];
    const running = new Set<Promise<void>>();
    let done = 0;
    let failure: unknown;
    const inner = new AbortController();
    const onAbort = (): void => inner.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let index = 0;
      for await (const piece of pieces) {
        if (failure !== undefined) break;
        const i = index++;
        const send = (): Promise<TranscriptEvent | undefined> => request(piece.samples, sampleRate, o, inner.signal);
        const p = (owned ? http.retry(send, inner.signal) : send()).then(
          (event) => {
            results[i] = event && { ...event, startMs: event.startMs + piece.startMs, endMs: event.endMs + piece.startMs };
            progress(++done);
          },
          (err: unknown) => {
            failure ??= err;
            inner.abort(err);
          },
        );
        running.add(p);
        void p.finally(() => running.delete(p));
        if (running.size >= concurrency) await Promise.race(running);
      }
      await Promise.all(running);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure;
    if (signal?.aborted) throw new AbortError(signal.reason);
    return results.filter((e): e is TranscriptEvent => e !== undefined);
  }

  function split(job: ChunkJob): { samples: Int16Array; startMs: number }[] {
    const cuts = cutAtPauses(job.samples, job.sampleRate, maxRequestMs);
    const out: { samples: Int16Array; startMs: number }[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) out.push({ samples: job.samples.subarray(cuts[i]!, cuts[i + 1]!), startMs: (cuts[i]! * 1000) / job.sampleRate });
    return out;
  }

  return withCapabilities(capabilities, {
    model,
    sampleRate: 16000,
    async transcribeClip(job: ChunkJob, call: { signal?: AbortSignal } = {}) {
      const o: RecognitionOptions = { ...recognitionOptions(options), ...(job.options ?? {}) };
      assertCapabilities(transport, o);
      return runPieces(split(job), job.sampleRate, o, call.signal, false, () => undefined);
    },
    async transcribeFile(source: string, call: BatchFileOptions = {}) {
      const o: RecognitionOptions = { ...recognitionOptions(options), ...recognitionOptions(call) };
      assertCapabilities(transport, o);
      const report = progressReporter(call.onProgress ?? options.onProgress);
      report({ phase: 'checking' });
      const totalMs = /^https?:\/\//.test(source) ? undefined : await probeDurationMs(source);
      const expected = totalMs === undefined ? undefined : Math.max(1, Math.ceil(totalMs / maxRequestMs));
      const pieces = decodePieces(source, maxRequestMs, call.signal);
      const events = await runPieces(pieces, 16000, o, call.signal, true, (done) => report({ phase: 'transcribing', ...(expected ? { fraction: Math.min(1, done / expected) } : {}) }));
      report({ phase: 'done', fraction: 1 });
      return events;
    },
    close,
  });
}

/**
 * Decode a file with ffmpeg to 16 kHz mono and yield pieces of at most `maxMs`, cut at pauses, holding at most one
 * piece (plus the read-ahead) in memory. ffmpeg is killed when the consumer stops or `signal` aborts.
 */
async function* decodePieces(source: string, maxMs: number, signal?: AbortSignal): AsyncGenerator<{ samples: Int16Array; startMs: number }> {
  const rate = 16000;
  const max = Math.floor((maxMs * rate) / 1000);
  const child = spawnFfmpeg('ffmpeg', { path: source }, rate, 1);
  const stderr = new StderrTail();
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err) => reject(spawnError(err, 'ffmpeg')));
    child.on('close', (code, sig) => resolve({ code, signal: sig }));
  });
  exited.catch(() => undefined);
  const onAbort = (): void => void child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  const buffer = new Int16Array(max + rate * 2);
  let filled = 0;
  let startSample = 0;
  let carry: Buffer | undefined;
  try {
    for await (const raw of child.stdout as AsyncIterable<Buffer>) {
      let data = carry ? Buffer.concat([carry, raw]) : raw;
      const usable = data.length - (data.length % 2);
      carry = usable < data.length ? data.subarray(usable) : undefined;
      data = data.subarray(0, usable);
      let offset = 0;
      while (offset < data.length) {
        const n = Math.min((data.length - offset) / 2, buffer.length - filled);
        for (let i = 0; i < n; i++) buffer[filled + i] = data.readInt16LE(offset + i * 2);
        filled += n;
        offset += n * 2;
        if (filled >= max) {
          const cut = quietestPoint(buffer, rate, Math.floor(max * 0.6), max);
          yield { samples: buffer.slice(0, cut), startMs: (startSample * 1000) / rate };
          buffer.copyWithin(0, cut, filled);
          filled -= cut;
          startSample += cut;
        }
      }
    }
    const { code, signal: killedBy } = await exited;
    if (signal?.aborted) throw new AbortError(signal.reason);
    if (code !== 0) throw ffmpegFailure(code, killedBy, stderr.text(source), basename(source));
    if (filled > 0) yield { samples: buffer.slice(0, filled), startMs: (startSample * 1000) / rate };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

