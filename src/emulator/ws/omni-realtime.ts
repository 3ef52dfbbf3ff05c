/**
 * The Omni realtime protocol (`qwen3-omni-flash-realtime`, `qwen3.5-omni-flash-realtime`,
 * `qwen3.5-omni-plus-realtime`; protocol notes §8), on `/api-ws/v1/realtime?model=…`.
 *
 * Session config: `modalities` (`["text"]` or `["text","audio"]`), `voice`, `instructions`, `input_audio_format`
 * (`pcm16`, `pcm`, or the nested `audio.input.format` whose `sample_rate` may be 8000, 16000, 24000 or 48000, §8.2),
 * `output_audio_format`, `input_audio_transcription` (object or
 * `null`), `turn_detection` (`server_vad` / `semantic_vad` or `null`), sampling knobs (echoed). Per user turn:
 * `conversation.item.input_audio_transcription.completed` (and `.text` partials on qwen3.5 models), then, when
 * `create_response` is on (VAD) or on `response.create` (manual), a response whose text is the transcript (ended
 * with `[emotion: X]` when the `instructions` ask for it; the instructions never bias the input transcription):
 * `response.created` … `response.text.delta` (or `response.audio_transcript.delta` + `response.audio.delta`) …
 * `response.done`. The session is capped at 120 minutes (`faults.sessionCapMs`).
 */
import type { WebSocket } from 'ws';
import type { WsEnv } from './common.js';
import { realtimeId } from './ids.js';
import { clearBufferEvent, serveRealtime, splitStable, type RealtimeError, type RealtimeProtocol, type Send } from './realtime-session.js';

/** Input rates of the nested `audio.input.format` (§8.2, Java SDK's OmniRealtimeConfig). */
export const OMNI_INPUT_RATES: readonly number[] = [8000, 16000, 24000, 48000];

/** The documented Omni realtime session cap: 120 minutes. */
export const OMNI_SESSION_CAP_MS = 120 * 60 * 1000;

interface OmniConfig {
  modalities: string[];
  voice: string;
  inputFormat: string;
  /** Rate of the appended PCM: 16000 unless the nested `audio.input.format.sample_rate` says otherwise. */
  inputRate: number;
  outputFormat: string;
  instructions: string;
  transcription: Record<string, unknown> | null;
  turn: Record<string, unknown> | null;
  sampling: Record<string, unknown>;
}

/** Serve one Omni realtime connection. */
export function serveOmniRealtime(ws: WebSocket, env: WsEnv, model: string): void {
  const id = realtimeId('sess');
  const conversationId = realtimeId('conv');
  const qwen35 = model.startsWith('qwen3.5-');
  const turbo = model.startsWith('qwen-omni-turbo');
  const config: OmniConfig = {
    modalities: ['text', 'audio'],
    voice: turbo ? 'Chelsie' : qwen35 ? 'Tina' : 'Cherry',
    inputFormat: 'pcm16',
    inputRate: 16000,
    outputFormat: turbo ? 'pcm16' : 'pcm24',
    instructions: '',
    transcription: qwen35 ? { model: 'qwen3-asr-flash-realtime' } : { model: 'gummy-realtime-v1' },
    turn: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 800, create_response: true, interrupt_response: true },
    sampling: { temperature: 0.9, top_p: 1.0, top_k: 50, max_tokens: 16384, repetition_penalty: 1.05, presence_penalty: 0.0, seed: -1 },
  };
  /** Transcript of the last committed user turn (what a response answers). */
  let lastTranscript = '';
  let responding = false;
  let lastEmotion = 'neutral';
  /**
   * The emulator's stand-in for the LLM's reply: what was heard, ended with `[emotion: X]` (the scripted emotion)
   * when the instructions ask for that tag.
   */
  const replyTo = (heard: string): string => (heard && /\[emotion:/i.test(config.instructions) ? `${heard}\n[emotion: ${lastEmotion}]` : heard);
  const invalid = (message: string, param: string): RealtimeError => ({ type: 'invalid_request_error', code: 'invalid_value', message, param });

  const respond = (send: Send, text: string) => {
    const responseId = realtimeId('resp');
    const itemId = realtimeId('item');
    const audioOut = config.modalities.includes('audio');
    const base = { object: 'realtime.response', conversation_id: conversationId, modalities: config.modalities, voice: config.voice, output_audio_format: config.outputFormat };
    responding = true;
    send({ type: 'response.created', response: { id: responseId, ...base, status: 'in_progress', output: [] } });
    const item = { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item });
    send({ type: 'conversation.item.created', previous_item_id: null, item });
    const at = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    send({ type: 'response.content_part.added', ...at, part: audioOut ? { type: 'audio', transcript: '' } : { type: 'text', text: '' } });
    const pieces = text.split(/(?<=\s)/).filter(Boolean);
    for (const delta of pieces) send({ type: audioOut ? 'response.audio_transcript.delta' : 'response.text.delta', ...at, delta });
    if (audioOut) {
      // 100 ms of silence at the output rate stands in for the spoken reply.
      const rate = config.outputFormat === 'pcm16' ? 16000 : 24000;
      send({ type: 'response.audio.delta', ...at, delta: Buffer.alloc((rate / 10) * 2).toString('base64') });
      send({ type: 'response.audio_transcript.done', ...at, transcript: text });
      send({ type: 'response.audio.done', ...at });
    } else {
      send({ type: 'response.text.done', ...at, text });
    }
    const part = audioOut ? { type: 'audio', transcript: text } : { type: 'text', text };
    send({ type: 'response.content_part.done', ...at, part });
    const doneItem = { ...item, status: 'completed', content: [part] };
    send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: doneItem });
    const words = text.split(/\s+/).filter(Boolean).length;
    send({
      type: 'response.done',
      response: {
        id: responseId,
        ...base,
        status: 'completed',
        output: [doneItem],
        usage: {
          total_tokens: 2 * words + 10,
          input_tokens: words + 10,
          output_tokens: words,
          input_tokens_details: { text_tokens: 10, audio_tokens: words },
          output_tokens_details: { text_tokens: words, audio_tokens: audioOut ? words : 0 },
        },
      },
    });
    responding = false;
  };

  const protocol: RealtimeProtocol = {
    session: () => ({
      id,
      object: 'realtime.session',
      model,
      modalities: config.modalities,
      voice: config.voice,
      input_audio_format: config.inputFormat,
      output_audio_format: config.outputFormat,
      instructions: config.instructions,
      input_audio_transcription: config.transcription,
      turn_detection: config.turn,
      tools: [],
      tool_choice: 'auto',
      max_response_output_token: 'inf',
      ...config.sampling,
    }),
    update(session) {
      const next: OmniConfig = { ...config, sampling: { ...config.sampling } };
      if (session.modalities !== undefined) {
        const m = session.modalities;
        const ok = Array.isArray(m) && m.every((x) => typeof x === 'string') && ((m.length === 1 && m[0] === 'text') || (m.length === 2 && m.includes('text') && m.includes('audio')));
        if (!ok) return invalid(`Invalid modalities: ${JSON.stringify(m)}. Supported combinations are: ['text'] and ['audio', 'text'].`, 'session.modalities');
        next.modalities = [...(m as string[])];
      }
      if (typeof session.voice === 'string') next.voice = session.voice;
      if (typeof session.instructions === 'string') next.instructions = session.instructions;
      const nested = ((session.audio as Record<string, unknown> | undefined)?.input as Record<string, unknown> | undefined)?.format as Record<string, unknown> | undefined;
      const fmt = session.input_audio_format ?? nested?.type;
      if (fmt !== undefined) {
        if (fmt !== 'pcm16' && fmt !== 'pcm') return invalid(`Invalid value: '${String(fmt)}'. Supported values are: pcm16, pcm.`, 'session.input_audio_format');
        const rate = nested?.sample_rate;
        if (rate !== undefined) {
          if (typeof rate !== 'number' || !OMNI_INPUT_RATES.includes(rate)) {
            return invalid(`Invalid value: '${String(rate)}'. Supported values are: ${OMNI_INPUT_RATES.join(', ')}.`, 'session.audio.input.format.sample_rate');
          }
          next.inputRate = rate;
        }
        next.inputFormat = fmt;
      }
      if (typeof session.output_audio_format === 'string') next.outputFormat = session.output_audio_format;
      if ('input_audio_transcription' in session) {
        const t = session.input_audio_transcription;
        next.transcription = t && typeof t === 'object' ? { ...(t as Record<string, unknown>) } : null;
      }
      if ('turn_detection' in session) {
        const td = session.turn_detection as Record<string, unknown> | null;
        if (td === null) next.turn = null;
        else if (typeof td === 'object') {
          const type = td.type ?? 'server_vad';
          if (type !== 'server_vad' && type !== 'semantic_vad') return invalid(`Invalid value: '${String(type)}'. Supported values are: server_vad, semantic_vad.`, 'session.turn_detection.type');
          if (td.threshold !== undefined && (typeof td.threshold !== 'number' || td.threshold < -1 || td.threshold > 1)) {
            return invalid(`Invalid value: '${String(td.threshold)}'. threshold must be in [-1, 1].`, 'session.turn_detection.threshold');
          }
          const s = td.silence_duration_ms;
          if (s !== undefined && (typeof s !== 'number' || s < 200 || s > 6000)) {
            return invalid(`Invalid value: '${String(s)}'. silence_duration_ms must be in [200, 6000].`, 'session.turn_detection.silence_duration_ms');
          }
          next.turn = { ...(config.turn ?? { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 800 }), ...td, type, create_response: td.create_response ?? true, interrupt_response: td.interrupt_response ?? true };
        }
      }
      for (const k of ['temperature', 'top_p', 'top_k', 'max_tokens', 'repetition_penalty', 'presence_penalty', 'seed', 'smooth_output']) {
        if (k in session) next.sampling[k] = session[k];
      }
      Object.assign(config, next);
      return undefined;
    },
    vad: () => config.turn !== null,
    sampleRate: () => config.inputRate,
    silenceMs: () => (typeof config.turn?.silence_duration_ms === 'number' ? config.turn.silence_duration_ms : 800),
    language: () => undefined,
    // §8.2: the instructions steer the reply; the input transcription comes from a separate ASR model that never sees them.
    context: () => undefined,
    partial(item, u, send) {
      if (!qwen35 || !config.transcription) return;
      const { text, stash } = splitStable(item.lastPartial, u.text);
      send({ type: 'conversation.item.input_audio_transcription.text', item_id: item.id, content_index: 0, text, stash });
    },
    final(item, u, send) {
      const transcript = u?.text ?? '';
      lastTranscript = transcript;
      if (config.transcription) send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item.id, content_index: 0, transcript });
      lastEmotion = u?.emotion ?? 'neutral';
      if (config.turn && config.turn.create_response !== false) respond(send, replyTo(transcript));
    },
    other(type, message, send, state) {
      switch (type) {
        case 'response.create':
          respond(send, replyTo(lastTranscript));
          return true;
        case 'response.cancel':
          if (!responding) send({ type: 'error', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found.', param: null } });
          return true;
        case 'input_audio_buffer.clear':
          clearBufferEvent(state, send);
          return true;
        case 'input_image_buffer.append':
          if (!state.hasAudio) {
            send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_value', message: 'input_image_buffer.append must follow at least one input_audio_buffer.append.', param: 'type' } });
          }
          return true;
        case 'conversation.item.create': {
          const item = (message.item ?? {}) as Record<string, unknown>;
          send({ type: 'conversation.item.created', previous_item_id: state.lastItemId, item: { id: realtimeId('item'), object: 'realtime.item', status: 'completed', ...item } });
          return true;
        }
        default:
          return false;
      }
    },
    capMs: () => env.ctx.faults.sessionCapMs ?? OMNI_SESSION_CAP_MS,
  };
  serveRealtime(ws, env, protocol);
}
