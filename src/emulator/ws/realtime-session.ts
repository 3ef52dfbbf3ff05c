/**
 * The part the two realtime protocols (qwen3-asr-flash-realtime §5, Omni realtime §8) share: JSON events with
 * `event_id`s, `session.created` on connect, `session.update` → `session.updated`, base64 audio in
 * `input_audio_buffer.append`, server VAD (`speech_started` / `speech_stopped` / `committed` / `conversation.item.created`)
 * or manual `input_audio_buffer.commit` (≤ 60 s of audio each, §5.2), `session.finish` → `session.finished` and the
 * server's close (§5.2, §8.4), error events, and the faults and the session cap. Each protocol supplies its session
 * object and what it sends for a transcribed item. Appended audio is s16le PCM, or (a protocol's `inputFormat()`
 * `opus`, §5.2) an Ogg Opus stream across appends decoded by a streaming ffmpeg; in manual mode a commit ends that
 * stream (the next append starts a new one).
 */
import type { WebSocket } from 'ws';
import { openRecognition, type Recognition, type Utterance } from '../recognizer.js';
import { PcmReader, framesToMs, sendJson, type WsEnv } from './common.js';
import { EncodedAudioStream } from './encoded-audio.js';
import { realtimeId } from './ids.js';

/** A user item (one utterance, or one manual commit). */
export interface UserItem {
  id: string;
  previousId: string | null;
  startMs: number;
  /** Last partial text, for the stable-prefix split of `.text` events. */
  lastPartial: string;
}

/** The protocol-specific half. */
export interface RealtimeProtocol {
  /** The full effective session object for `session.created` / `session.updated`. */
  session(): Record<string, unknown>;
  /** Merge a `session.update`; returns an error to send (and keeps the old config) when a value is invalid. */
  update(session: Record<string, unknown>): RealtimeError | undefined;
  /** Server VAD on (turn_detection not null). */
  vad(): boolean;
  /** Rate of the appended PCM. */
  sampleRate(): number;
  /** Encoding of the appended audio (default `pcm`). */
  inputFormat?(): 'pcm' | 'opus';
  /** Silence that ends an utterance (scripted mode). */
  silenceMs(): number;
  language(): string | undefined;
  context(): string | undefined;
  /** A partial of an item (after `speech_started` in VAD mode). */
  partial(item: UserItem, u: Utterance, send: Send): void;
  /** The final transcript of an item (after `conversation.item.created`). */
  final(item: UserItem, u: Utterance | undefined, send: Send): void;
  /** Other client events (response.create, …): return false when the type is unknown. */
  other?(type: string, message: Record<string, unknown>, send: Send, state: RealtimeState): boolean;
  /** Session cap in ms (undefined = none). */
  capMs(): number | undefined;
}

export interface RealtimeError {
  type: 'invalid_request_error' | 'server_error';
  code: string;
  message: string;
  param?: string | null;
}

/** Longest audio a manual-mode commit may hold (§5.2: "≤ 60 s"). */
export const MANUAL_COMMIT_MAX_MS = 60_000;

/** Send one server event (an `event_id` is added). */
export type Send = (event: Record<string, unknown>) => void;

/** What the protocol half may look at. */
export interface RealtimeState {
  /** Id of the last committed user item. */
  lastItemId: string | null;
  /** Whether any audio was appended since connect. */
  hasAudio: boolean;
  /** Drop the audio buffered and not committed (`input_audio_buffer.clear`). */
  clear(): void;
}

/** Serve one realtime connection with the given protocol half. */
export function serveRealtime(ws: WebSocket, env: WsEnv, protocol: RealtimeProtocol): void {
  const { ctx } = env;
  const send: Send = (event) => sendJson(ws, { event_id: realtimeId('event'), ...event });
  const reader = new PcmReader();
  let recognition: Recognition | undefined;
  /** Session audio ms at which the current recognition started. */
  let recognitionStartMs = 0;
  let frames = 0;
  /** Frames appended since the last manual commit. */
  let bufferedFrames = 0;
  let item: UserItem | undefined;
  let finished = false;
  let closed = false;
  let manualFinals: Utterance[] = [];
  let work: Promise<void> = Promise.resolve();
  /** `opus` input: the decoder of the current Ogg stream. */
  let decoder: EncodedAudioStream | undefined;
  const state: RealtimeState = {
    lastItemId: null,
    hasAudio: false,
    clear: () => {
      recognition?.close();
      recognition = undefined;
      bufferedFrames = 0;
      manualFinals = [];
      item = undefined;
    },
  };

  const error = (err: RealtimeError, clientEventId?: string) =>
    send({ type: 'error', error: { type: err.type, code: err.code, message: err.message, param: err.param ?? null, ...(clientEventId ? { event_id: clientEventId } : {}) } });

  const shut = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    decoder?.close();
    recognition?.close();
    recognition = undefined;
    clearTimeout(capTimer);
    ws.close(code, reason);
  };

  const newItem = (startMs: number): UserItem => {
    item = { id: realtimeId('item'), previousId: state.lastItemId, startMs, lastPartial: '' };
    return item;
  };

  const commitItem = (it: UserItem, endMs: number) => {
    if (protocol.vad()) send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(endMs), item_id: it.id });
    send({ type: 'input_audio_buffer.committed', previous_item_id: it.previousId, item_id: it.id });
    send({
      type: 'conversation.item.created',
      previous_item_id: it.previousId,
      item: { id: it.id, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] },
    });
    state.lastItemId = it.id;
  };

  const shift = (u: Utterance): Utterance => {
    if (recognitionStartMs === 0) return u;
    const d = recognitionStartMs;
    return { ...u, startMs: u.startMs + d, endMs: u.endMs + d, words: u.words.map((w) => ({ text: w.text, startMs: w.startMs + d, endMs: w.endMs + d })) };
  };

  const open = (): Recognition => {
    recognitionStartMs = framesToMs(frames, protocol.sampleRate());
    const language = protocol.language();
    const context = protocol.context();
    const r: Recognition = openRecognition(
      ctx,
      { sampleRate: protocol.sampleRate(), silenceMs: protocol.silenceMs(), ...(language ? { language } : {}), ...(context ? { context } : {}) },
      {
        onPartial: (raw) => {
          if (recognition !== r || closed) return;
          const u = shift(raw);
          if (!protocol.vad()) {
            // Manual mode: nothing is sent before the commit.
            return;
          }
          let it = item;
          if (!it) {
            it = newItem(u.startMs);
            send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(u.startMs), item_id: it.id });
          }
          protocol.partial(it, u, send);
          it.lastPartial = u.text;
        },
        onFinal: (raw) => {
          if (recognition !== r || closed) return;
          const u = shift(raw);
          if (!protocol.vad()) {
            manualFinals.push(u);
            return;
          }
          let it = item;
          if (!it) {
            it = newItem(u.startMs);
            send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(u.startMs), item_id: it.id });
          }
          item = undefined;
          commitItem(it, u.endMs);
          protocol.final(it, u, send);
        },
        onError: (err) => {
          if (recognition !== r || closed) return;
          error({ type: 'server_error', code: 'internal_error', message: `recognition failed: ${err.message}` });
          shut(1011, 'recognition failed');
        },
      },
    );
    return r;
  };

  /** Manual commit; `opus` input: once the stream's decoder has given its last PCM. */
  const commit = (clientEventId?: string) => {
    const d = decoder;
    decoder = undefined;
    if (!d) {
      const deliver = commitBuffered(clientEventId);
      if (deliver) work = work.then(deliver);
      return;
    }
    work = work.then(async () => {
      await d.end();
      if (!closed) await commitBuffered(clientEventId)?.();
    });
  };

  /**
   * Manual commit: send the item now; the returned function flushes the recognition of the buffered audio and sends
   * the item's transcript (undefined when the buffer was empty: an error was sent).
   */
  const commitBuffered = (clientEventId?: string): (() => Promise<void>) | undefined => {
    if (bufferedFrames === 0 || !recognition) {
      error({ type: 'invalid_request_error', code: 'input_audio_buffer_commit_empty', message: 'Error committing input audio buffer: the buffer is empty.' }, clientEventId);
      return undefined;
    }
    const r = recognition;
    const startMs = recognitionStartMs;
    const endMs = framesToMs(frames, protocol.sampleRate());
    bufferedFrames = 0;
    const it = newItem(startMs);
    item = undefined;
    commitItem(it, endMs);
    return async () => {
      await r.flush();
      if (closed) return;
      const finals = manualFinals;
      manualFinals = [];
      if (recognition === r) recognition = undefined;
      r.close();
      const text = finals.map((f) => f.text).join(' ');
      const first = finals[0];
      const u: Utterance | undefined = first
        ? { ...first, text, startMs, endMs, words: finals.flatMap((f) => f.words) }
        : undefined;
      protocol.final(it, u, send);
    };
  };

  const finish = () => {
    if (finished) return;
    finished = true;
    work = work.then(async () => {
      const d = decoder;
      decoder = undefined;
      if (d) await d.end();
      if (protocol.vad()) {
        const r = recognition;
        if (r) await r.flush();
      } else if (bufferedFrames > 0) {
        await commitBuffered()?.();
      }
      if (closed) return;
      send({ type: 'session.finished' });
      // The service ends the session after session.finished (§5.2: "the client should close after receiving it").
      shut(1000, 'session finished');
    });
  };

  const append = (audio: unknown, clientEventId?: string) => {
    if (finished) return;
    if (typeof audio !== 'string') {
      error({ type: 'invalid_request_error', code: 'invalid_value', message: 'audio must be a base64 string', param: 'audio' }, clientEventId);
      return;
    }
    const bytes = Buffer.from(audio, 'base64');
    if (protocol.inputFormat?.() !== 'opus') return appendPcm(reader.read(bytes), clientEventId);
    decoder ??= new EncodedAudioStream({
      format: 'opus',
      sampleRate: protocol.sampleRate(),
      onPcm: (samples) => appendPcm(samples),
      onError: (err, origin) => {
        if (closed) return;
        if (origin === 'server') {
          error({ type: 'server_error', code: 'internal_error', message: 'Internal server error (the audio decoder could not start).' });
          shut(1011, 'decoder failed');
        } else error({ type: 'invalid_request_error', code: 'invalid_value', message: `the audio is not valid Ogg Opus: ${err.message}`, param: 'audio' });
      },
    });
    const d = decoder;
    if (!d.write(bytes) && !ws.isPaused) {
      ws.pause();
      void d.drained().then(() => ws.resume());
    }
  };

  const appendPcm = (samples: Int16Array, clientEventId?: string) => {
    if (closed || samples.length === 0) return;
    if (!protocol.vad() && framesToMs(bufferedFrames + samples.length, protocol.sampleRate()) > MANUAL_COMMIT_MAX_MS) {
      error({ type: 'invalid_request_error', code: 'invalid_value', message: `The audio buffered before a commit must be at most ${MANUAL_COMMIT_MAX_MS / 1000} s: commit, then append again.`, param: 'audio' }, clientEventId);
      return;
    }
    state.hasAudio = true;
    recognition ??= open();
    if (!recognition.write(samples) && !ws.isPaused) {
      // The engine is behind: stop reading the socket (TCP pushes back on the client) until it catches up.
      ws.pause();
      void recognition.drained().then(() => ws.resume());
    }
    frames += samples.length;
    bufferedFrames += samples.length;
    const ms = framesToMs(frames, protocol.sampleRate());
    const faults = ctx.faults;
    if (faults.dropAfterAudioMs !== undefined && ms >= faults.dropAfterAudioMs) {
      closed = true;
      recognition?.close();
      clearTimeout(capTimer);
      ws.terminate();
      return;
    }
    if (faults.failAfterAudioMs !== undefined && ms >= faults.failAfterAudioMs) {
      error({ type: 'server_error', code: 'internal_error', message: 'Internal server error (emulated fault).' });
      shut(1011, 'internal error');
    }
  };

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (closed) return;
    if (isBinary) {
      error({ type: 'invalid_request_error', code: 'invalid_value', message: 'binary frames are not supported: send audio as base64 in input_audio_buffer.append' });
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      error({ type: 'invalid_request_error', code: 'invalid_json', message: 'the event is not valid JSON' });
      return;
    }
    const eventId = typeof message.event_id === 'string' ? message.event_id : undefined;
    const type = typeof message.type === 'string' ? message.type : '';
    switch (type) {
      case 'session.update': {
        const session = message.session;
        if (!session || typeof session !== 'object') {
          error({ type: 'invalid_request_error', code: 'missing_required_parameter', message: 'Missing required parameter: session', param: 'session' }, eventId);
          return;
        }
        const err = protocol.update(session as Record<string, unknown>);
        if (err) error(err, eventId);
        else send({ type: 'session.updated', session: protocol.session() });
        return;
      }
      case 'input_audio_buffer.append':
        return append(message.audio, eventId);
      case 'input_audio_buffer.commit':
        if (protocol.vad()) {
          error({ type: 'invalid_request_error', code: 'invalid_value', message: 'input_audio_buffer.commit is only valid when turn_detection is null', param: 'type' }, eventId);
          return;
        }
        return commit(eventId);
      case 'session.finish':
        return finish();
      default:
        if (protocol.other?.(type, message, send, state)) return;
        error({ type: 'invalid_request_error', code: 'invalid_value', message: `Invalid value: '${type}'. Unknown event type.`, param: 'type' }, eventId);
    }
  });
  ws.on('close', () => {
    closed = true;
    clearTimeout(capTimer);
    decoder?.close();
    recognition?.close();
    recognition = undefined;
  });
  ws.on('error', () => ws.terminate());

  const cap = protocol.capMs();
  const capTimer: NodeJS.Timeout | undefined =
    cap === undefined
      ? undefined
      : setTimeout(() => {
          error({ type: 'invalid_request_error', code: 'session_expired', message: `Your session hit the maximum duration of ${cap >= 60000 ? `${Math.round(cap / 60000)} minutes` : `${Math.round(cap / 1000)} seconds`}.` });
          shut(1000, 'session expired');
        }, cap);
  send({ type: 'session.created', session: protocol.session() });
}

/** Split a partial into its stable prefix (`text`, words shared with the previous partial) and the rest (`stash`). */
export function splitStable(previous: string, current: string): { text: string; stash: string } {
  const a = previous.split(/\s+/).filter(Boolean);
  const b = current.split(/\s+/).filter(Boolean);
  let n = 0;
  while (n < a.length && n < b.length - 1 && a[n] === b[n]) n++;
  const text = b.slice(0, n).join(' ');
  const stash = b.slice(n).join(' ');
  return { text: n > 0 && stash ? `${text} ` : text, stash };
}

/** `input_audio_buffer.clear`: drop the buffered audio and confirm with `input_audio_buffer.cleared`. */
export function clearBufferEvent(state: RealtimeState, send: Send): void {
  state.clear();
  send({ type: 'input_audio_buffer.cleared' });
}
