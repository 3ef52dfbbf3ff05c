/**
 * The Qwen-Omni realtime models (`qwen3.5-omni-plus-realtime`, `qwen3.5-omni-flash-realtime`,
 * `qwen3-omni-flash-realtime`) used as speech recognisers, the way the protocol notes describe them (§8): an LLM that
 * hears the audio and answers the session `instructions`. The instructions ask for a verbatim transcript with an
 * `[emotion: X]` tag, plus the user's language and context; the model's text reply to each turn (`response.text.*`,
 * billed, and used) is the turn's final, with its emotion. The service's input transcription
 * (`conversation.item.input_audio_transcription.completed`, a separate ASR model that never sees the instructions)
 * arrives first and is the turn's partial. Server VAD; sessions are capped at 120 minutes by the service
 * (`transcribeRealtime` rotates before).
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { assertStreamOptions, connectionOf, withCapabilities, type ModelFeatures, type StreamOptions, type StreamSession, type Transport, type TransportDescriptor, type TransportOptions } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import { openRealtimeStream, sendBufferLimits, type OpenDeadline, type SendBufferLimits } from './ws-client.js';
import { keepaliveOption } from '../keepalive.js';
import { splitEmotionTag, transcriptionPrompt } from './omni.js';

/** The Omni realtime models this transport knows. */
export type OmniRealtimeModel = 'qwen3.5-omni-plus-realtime' | 'qwen3.5-omni-flash-realtime' | 'qwen3-omni-flash-realtime';

/** The service's session cap: 120 minutes. */
export const OMNI_MAX_SESSION_MS = 120 * 60 * 1000;

/** What every Omni realtime model can do (the session cap is {@link OmniRealtimeOptions.maxDurationMs}). */
const FEATURES: ModelFeatures = {
  wordTimes: false,
  emotion: true,
  diarization: false,
  hotwords: false,
  context: true,
  maxDurationMs: OMNI_MAX_SESSION_MS,
  languages: ['zh', 'en', 'yue', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'it', 'pt'],
};

/** The Omni realtime models in the catalog; `options.realtime` goes to {@link omniRealtime}. */
export const omniRealtimeDescriptor: TransportDescriptor<TransportOptions & { realtime?: OmniRealtimeOptions }> = {
  provider: 'dashscope',
  api: 'ws-realtime',
  models: {
    'qwen3.5-omni-plus-realtime': { summary: 'Omni realtime (best): an LLM listening live; emotion; prompt context; 120 min sessions.', capabilities: FEATURES },
    'qwen3.5-omni-flash-realtime': { summary: 'Omni realtime (fast); emotion; prompt context; 120 min sessions.', capabilities: FEATURES },
    'qwen3-omni-flash-realtime': { summary: 'Omni realtime (previous generation); emotion; prompt context; 120 min sessions.', capabilities: FEATURES },
  },
  create: (id, options) => omniRealtime(id, { ...options.realtime, ...connectionOf(options) }),
};

/** Options of {@link omniRealtime}. */
export interface OmniRealtimeOptions extends DashScopeOptions, SendBufferLimits, OpenDeadline {
  /** Server VAD sensitivity in [-1, 1] (service default 0.5). */
  vadThreshold?: number;
  /** Silence that ends a turn, ms, in [200, 6000] (service default 800). */
  silenceDurationMs?: number;
  /** Session cap, ms (default 120 min); transcribeRealtime rotates sessions before it. */
  maxDurationMs?: number;
  /** How long end() waits for `session.finished` before closing (default 20 000 ms). */
  finishTimeoutMs?: number;
  /**
   * Keepalive: after this many ms without audio from the caller, 100 ms of silence goes to the session (not on the
   * events' time line) so the service's no-audio timer does not end it. Default 10 000; 0 turns it off.
   */
  keepaliveMs?: number;
}

/**
 * A realtime transport for an Omni realtime model.
 *
 * @param model - `qwen3.5-omni-plus-realtime`, `qwen3.5-omni-flash-realtime` or `qwen3-omni-flash-realtime` (any
 *   other id of the family is passed through).
 * @param options - key and base URL (default `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), VAD knobs, session cap.
 * @returns a {@link Transport} with `openStream`.
 * @throws EARSHOT_MISSING_API_KEY without a key; EARSHOT_INVALID_ARGUMENT for an empty model or bad knobs. Streams fail
 *   with EARSHOT_AUTH_FAILED, EARSHOT_UNKNOWN_MODEL, EARSHOT_THROTTLED (retryable), EARSHOT_TASK_FAILED,
 *   EARSHOT_CONNECTION_LOST (retryable).
 * @example
 * ```ts
 * const transport = omniRealtime('qwen3.5-omni-flash-realtime');
 * fromMic().pipe(transcribeRealtime(transport, { options: { context: 'A call about hotel bookings.' } })).subscribe(console.log);
 * ```
 */
export function omniRealtime(model: OmniRealtimeModel | (string & {}), options: OmniRealtimeOptions = {}): Transport {
  if (!model) throw new InvalidArgumentError('omniRealtime needs a model id');
  const endpoints = resolveDashScope(options);
  const keepaliveMs = keepaliveOption(options.keepaliveMs);
  const threshold = options.vadThreshold ?? 0.5;
  if (!(threshold >= -1 && threshold <= 1)) throw new InvalidArgumentError(`vadThreshold must be in [-1, 1], got ${threshold}`);
  const silence = options.silenceDurationMs ?? 800;
  if (!(Number.isInteger(silence) && silence >= 200 && silence <= 6000)) throw new InvalidArgumentError(`silenceDurationMs must be an integer in [200, 6000], got ${silence}`);
  const maxDurationMs = options.maxDurationMs ?? OMNI_MAX_SESSION_MS;
  if (!(maxDurationMs > 0)) throw new InvalidArgumentError(`maxDurationMs must be positive, got ${maxDurationMs}`);
  const qwen35 = model.startsWith('qwen3.5-');
  const transport: Transport = withCapabilities({ ...FEATURES, maxDurationMs }, {
    model,
    sampleRate: 16000,
    async openStream(stream: StreamOptions): Promise<StreamSession> {
      assertStreamOptions(transport, stream);
      return openRealtimeStream(
        {
          url: `${endpoints.realtimeWs}?model=${encodeURIComponent(model)}`,
          apiKey: endpoints.apiKey,
          session: {
            modalities: ['text'],
            input_audio_format: 'pcm16',
            // The reply to these instructions is the transcript (context and emotion reach it); see the module doc.
            instructions: transcriptionPrompt(stream),
            // qwen3.5 models transcribe with a built-in model; qwen3-omni-flash takes gummy-realtime-v1.
            input_audio_transcription: qwen35 ? {} : { model: 'gummy-realtime-v1' },
            turn_detection: { type: 'server_vad', threshold, silence_duration_ms: silence },
          },
          finishTimeoutMs: options.finishTimeoutMs ?? 20_000,
          reply: { parse: splitEmotionTag },
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
