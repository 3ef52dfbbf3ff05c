/**
 * `qwen3-asr-flash-realtime` over its OpenAI-Realtime-style WebSocket: base64 PCM appends, server VAD or manual
 * commits, `text`/`stash` partials and `completed` finals carrying the language and the speaker's emotion.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { assertStreamOptions, connectionOf, withCapabilities, type ModelFeatures, type StreamOptions, type StreamSession, type Transport, type TransportDescriptor, type TransportOptions } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import { openRealtimeStream, sendBufferLimits, type OpenDeadline, type SendBufferLimits } from './ws-client.js';
import { keepaliveOption } from '../keepalive.js';

/** Languages the model takes as a hint (§5.2). */
export const QWEN_ASR_LANGUAGES: readonly string[] = [
  'zh', 'yue', 'en', 'ja', 'de', 'ko', 'ru', 'fr', 'pt', 'ar', 'it', 'es', 'hi', 'id', 'th', 'tr', 'uk', 'vi', 'cs', 'da',
  'fil', 'fi', 'is', 'ms', 'no', 'pl', 'sv',
];

/** What `qwen3-asr-flash-realtime` can do (the session cap is {@link QwenAsrRealtimeOptions.maxDurationMs}). */
const FEATURES: ModelFeatures = { wordTimes: false, emotion: true, diarization: false, hotwords: false, context: true, maxDurationMs: Infinity, languages: QWEN_ASR_LANGUAGES };

/** `qwen3-asr-flash-realtime` in the catalog; `options.realtime` goes to {@link qwenAsrRealtime}. */
export const qwenAsrRealtimeDescriptor: TransportDescriptor<TransportOptions & { realtime?: Omit<QwenAsrRealtimeOptions, 'model'> }> = {
  provider: 'dashscope',
  api: 'ws-realtime',
  models: { 'qwen3-asr-flash-realtime': { summary: 'Streaming Qwen3-ASR: partials and finals with language and emotion; prompt context.', capabilities: FEATURES } },
  create: (id, options) => qwenAsrRealtime({ ...options.realtime, ...connectionOf(options), model: id }),
};

/** Options of {@link qwenAsrRealtime}. */
export interface QwenAsrRealtimeOptions extends DashScopeOptions, SendBufferLimits, OpenDeadline {
  /** Model id (default `qwen3-asr-flash-realtime`). */
  model?: string;
  /** Audio rate sent: 16000 (default) or 8000. */
  sampleRate?: 16000 | 8000;
  /** `vad` (default): the server ends utterances; `manual`: the client commits at pauses (≤ 60 s each). */
  turnDetection?: 'vad' | 'manual';
  /** Server VAD sensitivity in [-1, 1] (service default 0.2). */
  vadThreshold?: number;
  /** Silence that ends an utterance, ms, in [200, 6000] (service default 800). */
  silenceDurationMs?: number;
  /** Manual mode: commit at a pause of this many ms once at least `minCommitMs` is buffered (defaults 500 / 3000). */
  pauseMs?: number;
  minCommitMs?: number;
  /** Longest session the service allows, ms (not documented: Infinity); transcribeRealtime rotates before it. */
  maxDurationMs?: number;
  /**
   * Keepalive: after this many ms without audio from the caller, 100 ms of silence goes to the session (not on the
   * events' time line) so the service's no-audio timer does not end it. Default 10 000; 0 turns it off.
   */
  keepaliveMs?: number;
}

/**
 * A realtime transport for `qwen3-asr-flash-realtime` (emotion, language, prompt context as `corpus.text`).
 *
 * @param options - key and base URL (default `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), turn detection, VAD knobs.
 * @returns a {@link Transport} with `openStream`.
 * @throws EARSHOT_MISSING_API_KEY without a key; EARSHOT_INVALID_ARGUMENT for out-of-range knobs or an unknown
 *   language. Streams fail with EARSHOT_AUTH_FAILED, EARSHOT_UNKNOWN_MODEL, EARSHOT_THROTTLED (retryable),
 *   EARSHOT_TASK_FAILED, EARSHOT_CONNECTION_LOST (retryable).
 * @example
 * ```ts
 * const transport = qwenAsrRealtime({ silenceDurationMs: 500 });
 * fromMic().pipe(transcribeRealtime(transport), filterEmotion(['angry'])).subscribe(console.log);
 * ```
 */
export function qwenAsrRealtime(options: QwenAsrRealtimeOptions = {}): Transport {
  const endpoints = resolveDashScope(options);
  const model = options.model ?? 'qwen3-asr-flash-realtime';
  const sampleRate = options.sampleRate ?? 16000;
  if (sampleRate !== 16000 && sampleRate !== 8000) throw new InvalidArgumentError(`sampleRate must be 16000 or 8000, got ${String(sampleRate)}`);
  const threshold = options.vadThreshold ?? 0.2;
  if (!(threshold >= -1 && threshold <= 1)) throw new InvalidArgumentError(`vadThreshold must be in [-1, 1], got ${threshold}`);
  const silence = options.silenceDurationMs ?? 800;
  if (!(Number.isInteger(silence) && silence >= 200 && silence <= 6000)) throw new InvalidArgumentError(`silenceDurationMs must be an integer in [200, 6000], got ${silence}`);
  const manual = options.turnDetection === 'manual';
  const keepaliveMs = keepaliveOption(options.keepaliveMs);
  const transport: Transport = withCapabilities({ ...FEATURES, maxDurationMs: options.maxDurationMs ?? FEATURES.maxDurationMs }, {
    model,
    sampleRate,
    async openStream(stream: StreamOptions): Promise<StreamSession> {
      assertStreamOptions(transport, stream);
      if (stream.language && !QWEN_ASR_LANGUAGES.includes(stream.language)) throw new InvalidArgumentError(`${model} does not know language ${stream.language}`);
      const transcription: Record<string, unknown> = {};
      if (stream.language) transcription.language = stream.language;
      if (stream.context) transcription.corpus = { text: stream.context };
      return openRealtimeStream(
        {
          url: `${endpoints.realtimeWs}?model=${encodeURIComponent(model)}`,
          apiKey: endpoints.apiKey,
          session: {
            input_audio_format: 'pcm',
            sample_rate: sampleRate,
            input_audio_transcription: transcription,
            turn_detection: manual ? null : { type: 'server_vad', threshold, silence_duration_ms: silence },
          },
          ...(manual ? { manual: { minCommitMs: options.minCommitMs ?? 3000, pauseMs: options.pauseMs ?? 500, maxCommitMs: 55_000 } } : {}),
          keepaliveMs,
          ...(options.openTimeoutMs ? { openTimeoutMs: options.openTimeoutMs } : {}),
          ...sendBufferLimits(options),
        },
        stream,
      );
    },
  });
  return transport;
}
