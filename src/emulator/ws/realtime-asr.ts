/**
 * The realtime protocol of `qwen3-asr-flash-realtime` (protocol notes §5), on `/api-ws/v1/realtime?model=…`.
 *
 * Session config: `input_audio_format` (`pcm`, echoed as `pcm16`, or `opus`: an Ogg Opus stream), `sample_rate` (16000 | 8000),
 * `input_audio_transcription.{language, corpus.text}`, `turn_detection` (`server_vad` with `threshold` [-1, 1],
 * default 0.2, and `silence_duration_ms` [200, 6000], default 800; or `null` for manual commits). Unknown keys are
 * ignored. Per utterance: `….input_audio_transcription.text` partials (`text` = stable prefix, `stash` = tentative
 * tail) and `….completed` with `transcript`, `language` and `emotion` (scripted, else `neutral`).
 */
import type { WebSocket } from 'ws';
import type { WsEnv } from './common.js';
import { serveRealtime, splitStable, type RealtimeError, type RealtimeProtocol } from './realtime-session.js';
import { realtimeId } from './ids.js';

/** Language codes qwen3-asr-flash-realtime accepts (§5.2). */
export const ASR_LANGUAGES: readonly string[] = [
  'zh', 'yue', 'en', 'ja', 'de', 'ko', 'ru', 'fr', 'pt', 'ar', 'it', 'es', 'hi', 'id', 'th', 'tr', 'uk', 'vi', 'cs', 'da',
  'fil', 'fi', 'is', 'ms', 'no', 'pl', 'sv',
];

interface AsrConfig {
  format: 'pcm' | 'opus';
  sampleRate: number;
  language?: string;
  corpus?: string;
  transcription: boolean;
  turn: { threshold: number; silenceMs: number } | null;
}

/** Serve one qwen3-asr-flash-realtime connection. */
export function serveRealtimeAsr(ws: WebSocket, env: WsEnv, model: string): void {
  const id = realtimeId('sess');
  const config: AsrConfig = { format: 'pcm', sampleRate: 16000, transcription: true, turn: { threshold: 0.2, silenceMs: 800 } };
  const cap = env.ctx.faults.sessionCapMs;

  const invalid = (message: string, param: string): RealtimeError => ({ type: 'invalid_request_error', code: 'invalid_value', message, param });

  const protocol: RealtimeProtocol = {
    session: () => ({
      id,
      object: 'realtime.session',
      model,
      modalities: ['text'],
      input_audio_format: config.format === 'pcm' ? 'pcm16' : config.format,
      sample_rate: config.sampleRate,
      input_audio_transcription: config.transcription
        ? { ...(config.language ? { language: config.language } : {}), ...(config.corpus ? { corpus: { text: config.corpus } } : {}) }
        : null,
      turn_detection: config.turn ? { type: 'server_vad', threshold: config.turn.threshold, silence_duration_ms: config.turn.silenceMs } : null,
    }),
    update(session) {
      const next: AsrConfig = { ...config, turn: config.turn ? { ...config.turn } : null };
      const fmt = session.input_audio_format;
      if (fmt !== undefined) {
        if (fmt !== 'pcm' && fmt !== 'pcm16' && fmt !== 'opus') {
          return invalid(`Invalid value: '${String(fmt)}'. Supported values are: pcm, opus.`, 'session.input_audio_format');
        }
        next.format = fmt === 'opus' ? 'opus' : 'pcm';
      }
      const rate = session.sample_rate;
      if (rate !== undefined) {
        if (rate !== 16000 && rate !== 8000) return invalid(`Invalid value: '${String(rate)}'. Supported values are: 16000, 8000.`, 'session.sample_rate');
        next.sampleRate = rate;
      }
      if ('input_audio_transcription' in session) {
        const t = session.input_audio_transcription as Record<string, unknown> | null;
        if (t && typeof t === 'object') {
          if (t.language !== undefined && t.language !== null) {
            if (typeof t.language !== 'string' || !ASR_LANGUAGES.includes(t.language)) {
              return invalid(`Invalid value: '${String(t.language)}'. Supported values are: ${ASR_LANGUAGES.join(', ')}.`, 'session.input_audio_transcription.language');
            }
            next.language = t.language;
          }
          const corpus = (t.corpus as { text?: unknown } | undefined)?.text;
          if (typeof corpus === 'string') next.corpus = corpus;
        }
      }
      if ('turn_detection' in session) {
        const td = session.turn_detection as Record<string, unknown> | null;
        if (td === null) next.turn = null;
        else if (typeof td === 'object') {
          if (td.type !== undefined && td.type !== 'server_vad') return invalid(`Invalid value: '${String(td.type)}'. Supported values are: server_vad.`, 'session.turn_detection.type');
          const turn = next.turn ?? { threshold: 0.2, silenceMs: 800 };
          if (td.threshold !== undefined) {
            if (typeof td.threshold !== 'number' || td.threshold < -1 || td.threshold > 1) {
              return invalid(`Invalid value: '${String(td.threshold)}'. threshold must be in [-1, 1].`, 'session.turn_detection.threshold');
            }
            turn.threshold = td.threshold;
          }
          if (td.silence_duration_ms !== undefined) {
            const s = td.silence_duration_ms;
            if (typeof s !== 'number' || s < 200 || s > 6000) {
              return invalid(`Invalid value: '${String(s)}'. silence_duration_ms must be in [200, 6000].`, 'session.turn_detection.silence_duration_ms');
            }
            turn.silenceMs = s;
          }
          next.turn = turn;
        }
      }
      Object.assign(config, next);
      return undefined;
    },
    vad: () => config.turn !== null,
    sampleRate: () => config.sampleRate,
    inputFormat: () => config.format,
    silenceMs: () => config.turn?.silenceMs ?? 800,
    language: () => config.language,
    context: () => config.corpus,
    partial(item, u, send) {
      const { text, stash } = splitStable(item.lastPartial, u.text);
      send({
        type: 'conversation.item.input_audio_transcription.text',
        item_id: item.id,
        content_index: 0,
        language: config.language ?? u.language ?? 'en',
        emotion: u.emotion ?? 'neutral',
        text,
        stash,
      });
    },
    final(item, u, send) {
      const language = config.language ?? u?.language ?? 'en';
      const emotion = u?.emotion ?? 'neutral';
      const transcript = u?.text ?? '';
      send({ type: 'conversation.item.input_audio_transcription.text', item_id: item.id, content_index: 0, language, emotion, text: transcript, stash: '' });
      send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item.id, content_index: 0, language, emotion, transcript });
    },
    capMs: () => cap,
  };
  serveRealtime(ws, env, protocol);
}
