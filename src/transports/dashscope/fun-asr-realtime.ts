/**
 * `fun-asr-realtime` (and `paraformer-realtime-v2`) over the inference duplex WebSocket protocol: `run-task`, binary
 * PCM frames, `result-generated` sentences (interim and final, with word times), `finish-task` → `task-finished`.
 */
import { randomUUID } from 'node:crypto';
import type { TranscriptEvent, Word } from '../../core/types.js';
import { EarshotError, InvalidArgumentError, TransportError } from '../../core/errors.js';
import { assertStreamOptions, connectionOf, withCapabilities, type ModelSpec, type StreamOptions, type StreamSession, type Transport, type TransportDescriptor, type TransportOptions } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import { protocolError } from './errors.js';
import { transportHttp, type DashScopeHttp, type WithRetry } from './http.js';
import { Vocabularies } from './vocabulary.js';
import { DashScopeSocket, sendBufferLimits, type OpenDeadline, type SendBufferLimits } from './ws-client.js';
import { AudioFrames } from './audio-frames.js';
import { sessionLife } from './session-life.js';
import { keepaliveOption, withKeepalive } from '../keepalive.js';
import { PARAFORMER_LANGUAGES } from './fun-asr.js';

/** Options of {@link funAsrRealtime}. */
export interface FunAsrRealtimeOptions extends DashScopeOptions, SendBufferLimits, WithRetry, OpenDeadline {
  /** Model id (default `fun-asr-realtime`; `paraformer-realtime-v2` and snapshots speak the same protocol). */
  model?: string;
  /** Sample rate of the audio sent (default 16000; 8000 for `*-8k-*` models). */
  sampleRate?: number;
  /** Silence that ends a sentence, ms, in [200, 6000] (service default 1300). */
  maxSentenceSilence?: number;
  /** Semantic sentence segmentation instead of VAD segmentation (service default false). */
  semanticPunctuation?: boolean;
  /** Keep the task alive through long silence (default true here; the service's default false ends a task after 60 s of silence). */
  heartbeat?: boolean;
  /**
   * Keepalive: after this many ms without audio from the caller, 100 ms of silence goes to the session (not on the
   * events' time line) so the service's no-audio timer (23 s) does not end it. Default 10 000; 0 turns it off.
   */
  keepaliveMs?: number;
  /** Share an HTTP client (used for hotword vocabularies). */
  http?: DashScopeHttp;
}

/** The models of the inference protocol with what each can do (snapshots and `-8k-` variants take their family's). */
const MODELS = {
  'fun-asr-realtime': {
    summary: 'Streaming Fun-ASR: sentences with word times while you speak; hotword vocabularies.',
    capabilities: { wordTimes: true, emotion: false, diarization: false, hotwords: true, context: true, maxDurationMs: Infinity, languages: ['zh', 'en', 'ja'] },
  },
  'paraformer-realtime-v2': {
    summary: 'Streaming Paraformer (Beijing only); hotword vocabularies.',
    capabilities: { wordTimes: true, emotion: false, diarization: false, hotwords: true, context: false, maxDurationMs: Infinity, languages: PARAFORMER_LANGUAGES },
  },
} satisfies Record<string, ModelSpec>;

/** `fun-asr-realtime` and `paraformer-realtime-v2` in the catalog; `options.realtime` goes to {@link funAsrRealtime}. */
export const funAsrRealtimeDescriptor: TransportDescriptor<TransportOptions & { realtime?: Omit<FunAsrRealtimeOptions, 'model'> }> = {
  provider: 'dashscope',
  api: 'ws-inference',
  models: MODELS,
  create: (id, options) => funAsrRealtime({ ...options.realtime, ...connectionOf(options), model: id }),
};

/**
 * A realtime transport for `fun-asr-realtime` (hotwords by vocabulary id, a language hint, prompt context). Inline
 * hotwords become a vocabulary through {@link Vocabularies.ensureVocabulary} on the DashScope HTTP client (an existing
 * list with the same hotwords is reused, across processes too; requests follow the `retry` policy), made on first use
 * and released by `close()`.
 *
 * @param options - key and base URL (default `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), model, segmentation knobs.
 * @returns a {@link Transport} with `openStream` and `close`.
 * @throws EARSHOT_MISSING_API_KEY when no key is given or set; EARSHOT_INVALID_ARGUMENT for a bad option. Streams fail
 *   with EARSHOT_AUTH_FAILED, EARSHOT_UNKNOWN_MODEL, EARSHOT_REQUEST_FAILED, EARSHOT_THROTTLED (retryable),
 *   EARSHOT_TASK_FAILED, EARSHOT_CONNECTION_LOST (retryable).
 * @example
 * ```ts
 * const transport = funAsrRealtime({ maxSentenceSilence: 800 });
 * fromMic().pipe(transcribeRealtime(transport, { options: { language: 'en' } })).subscribe(console.log);
 * ```
 */
export function funAsrRealtime(options: FunAsrRealtimeOptions = {}): Transport {
  const endpoints = resolveDashScope(options);
  const model = options.model ?? 'fun-asr-realtime';
  const sampleRate = options.sampleRate ?? (/8k/.test(model) ? 8000 : 16000);
  const silence = options.maxSentenceSilence;
  if (silence !== undefined && !(Number.isInteger(silence) && silence >= 200 && silence <= 6000)) {
    throw new InvalidArgumentError(`maxSentenceSilence must be an integer in [200, 6000], got ${silence}`);
  }
  const features = MODELS[model.startsWith('paraformer') ? 'paraformer-realtime-v2' : 'fun-asr-realtime'].capabilities;
  const keepaliveMs = keepaliveOption(options.keepaliveMs);
  let client: { vocabularies: Vocabularies; close(): Promise<void> } | undefined;
  const vocabularies = (): Vocabularies => {
    if (!client) {
      const { http, close } = transportHttp(options, endpoints.apiKey);
      client = { vocabularies: new Vocabularies({ apiKey: endpoints.apiKey, baseUrl: endpoints.httpBase, http }), close };
    }
    return client.vocabularies;
  };

  const transport: Transport = withCapabilities(features, {
    model,
    sampleRate,
    async openStream(stream: StreamOptions): Promise<StreamSession> {
      assertStreamOptions(transport, stream);
      const vocabularyId = stream.vocabularyId ?? (stream.hotwords?.length ? await vocabularies().vocabularyFor(stream.hotwords, model, { signal: stream.signal }) : undefined);
      const socket = await DashScopeSocket.open({
        url: endpoints.inferenceWs,
        apiKey: endpoints.apiKey,
        ...(options.openTimeoutMs ? { openTimeoutMs: options.openTimeoutMs } : {}),
        ...sendBufferLimits(options),
        ...(stream.signal ? { signal: stream.signal } : {}),
      });
      return startTask(socket, stream, {
        model,
        ...(options.openTimeoutMs ? { openTimeoutMs: options.openTimeoutMs } : {}),
        sampleRate,
        ...(vocabularyId ? { vocabularyId } : {}),
        ...(silence !== undefined ? { maxSentenceSilence: silence } : {}),
        ...(options.semanticPunctuation !== undefined ? { semanticPunctuation: options.semanticPunctuation } : {}),
        heartbeat: options.heartbeat ?? true,
        keepaliveMs,
      });
    },
    async close() {
      const open = client;
      client = undefined;
      await open?.close();
    },
  });
  return transport;
}

interface TaskSettings {
  model: string;
  sampleRate: number;
  vocabularyId?: string;
  maxSentenceSilence?: number;
  semanticPunctuation?: boolean;
  heartbeat?: boolean;
  /** Idle ms before a keepalive silence (0: none). */
  keepaliveMs?: number;
  /** Deadline of `task-started`, ms (default 15 000). */
  openTimeoutMs?: number;
}

interface Sentence {
  begin_time?: number;
  end_time?: number | null;
  text?: string;
  heartbeat?: boolean | null;
  sentence_end?: boolean;
  words?: Array<{ begin_time?: number; end_time?: number; text?: string; punctuation?: string }>;
  emo_tag?: string;
}

/** Run one task on a connected socket; resolves once `task-started` arrived. */
function startTask(socket: DashScopeSocket, stream: StreamOptions, settings: TaskSettings): Promise<StreamSession> {
  if (settings.keepaliveMs) return withKeepalive(stream, settings.keepaliveMs, (s) => startTask(socket, s, { ...settings, keepaliveMs: 0 }));
  const taskId = randomUUID().replace(/-/g, '');
  let state: 'starting' | 'running' | 'finishing' | 'done' = 'starting';

  return new Promise<StreamSession>((resolveOpen, rejectOpen) => {
    const life = sessionLife(socket, stream, {
      isDone: () => state === 'done',
      isOpening: () => state === 'starting',
      markDone: () => {
        state = 'done';
      },
      rejectOpen,
    }, settings.openTimeoutMs);
    const fail = life.fail;

    socket.onClose((error) => {
      if (state === 'done') return;
      fail(error ?? new TransportError('EARSHOT_CONNECTION_LOST', 'the connection closed before the task finished', { retryable: true }));
    });
    socket.onMessage((data, isBinary) => {
      if (isBinary || state === 'done') return;
      let message: { header?: { event?: string; error_code?: string; error_message?: string }; payload?: { output?: { sentence?: Sentence } } };
      try {
        message = JSON.parse(data.toString('utf8')) as typeof message;
      } catch {
        return fail(new TransportError('EARSHOT_PROTOCOL_ERROR', 'the server sent a frame that is not JSON'));
      }
      switch (message.header?.event) {
        case 'task-started':
          if (state === 'starting') {
            state = 'running';
            resolveOpen(session);
          }
          return;
        case 'result-generated': {
          const sentence = message.payload?.output?.sentence;
          if (!sentence || sentence.heartbeat === true) return;
          const event = toEvent(sentence, stream.language);
          if (event) stream.onEvent(event);
          return;
        }
        case 'task-finished':
          return life.finish('close');
        case 'task-failed':
          return fail(protocolError(message.header.error_code ?? 'UNKNOWN', message.header.error_message ?? 'task failed'));
        default:
          return;
      }
    });

    // ~100 ms binary frames whatever the upstream chunks (§2.2: 1–16 KB a frame).
    const frames = new AudioFrames(settings.sampleRate);
    const session: StreamSession = {
      write(samples) {
        if (life.failure) return Promise.reject(life.failure);
        if (state !== 'running') return Promise.resolve();
        return Promise.all(frames.push(samples).map((f) => socket.sendBinary(f))).then(
          () => undefined,
          (e: unknown) => {
            throw life.failure ?? e;
          },
        );
      },
      end() {
        if (state === 'running') {
          state = 'finishing';
          const rest = frames.flush();
          if (rest) socket.sendBinary(rest).catch(() => {});
          socket.sendJson({ header: { action: 'finish-task', task_id: taskId, streaming: 'duplex' }, payload: { input: {} } }).catch(() => {});
        }
        return life.ended;
      },
      close() {
        life.finish('terminate');
      },
    };

    const parameters: Record<string, unknown> = { format: 'pcm', sample_rate: settings.sampleRate };
    if (settings.vocabularyId) parameters.vocabulary_id = settings.vocabularyId;
    if (settings.maxSentenceSilence !== undefined) parameters.max_sentence_silence = settings.maxSentenceSilence;
    if (settings.semanticPunctuation !== undefined) parameters.semantic_punctuation_enabled = settings.semanticPunctuation;
    if (settings.heartbeat !== undefined) parameters.heartbeat = settings.heartbeat;
    if (stream.language) parameters.language_hints = [stream.language];
    const input: Record<string, unknown> = {};
    if (stream.context) input.context = [{ role: 'user', content: [{ type: 'input_text', text: stream.context }] }];
    socket
      .sendJson({
        header: { action: 'run-task', task_id: taskId, streaming: 'duplex' },
        payload: { task_group: 'audio', task: 'asr', function: 'recognition', model: settings.model, parameters, input },
      })
      .catch((e: unknown) => fail(e instanceof EarshotError ? e : new TransportError('EARSHOT_CONNECTION_LOST', 'could not send run-task', { retryable: true, cause: e })));
  });
}

/** A `result-generated` sentence as a transcript event (times relative to the task's first sample). */
function toEvent(sentence: Sentence, language: string | undefined): TranscriptEvent | undefined {
  const words: Word[] = [];
  for (const w of sentence.words ?? []) {
    const text = (w.text ?? '').trim();
    if (!text || w.begin_time === undefined || w.end_time === undefined) continue;
    words.push({ text, startMs: w.begin_time, endMs: w.end_time });
  }
  const final = sentence.sentence_end === true || (sentence.end_time !== null && sentence.end_time !== undefined);
  const startMs = sentence.begin_time ?? words[0]?.startMs ?? 0;
  const endMs = sentence.end_time ?? words[words.length - 1]?.endMs ?? startMs;
  const event: TranscriptEvent = { type: final ? 'final' : 'partial', text: (sentence.text ?? '').trim(), startMs, endMs: Math.max(startMs, endMs) };
  if (words.length > 0) event.words = words;
  if (language) event.language = language;
  if (sentence.emo_tag) event.emotion = sentence.emo_tag;
  return event;
}
