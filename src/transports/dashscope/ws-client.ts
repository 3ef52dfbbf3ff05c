/**
 * The WebSocket plumbing shared by the DashScope realtime transports: an authenticated connection, sends that
 * respect high/low water marks on the socket's `bufferedAmount`, and provider failures turned into coded errors.
 *
 * The API key travels only in the `Authorization` header; it never appears in a URL, an error or a log.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { AbortError, EarshotError, TransportError } from '../../core/errors.js';
import type { TranscriptEvent } from '../../core/types.js';
import type { StreamOptions, StreamSession } from '../transport.js';
import { errorFromResponse, protocolError } from './errors.js';
import { sessionLife } from './session-life.js';
import { withKeepalive } from '../keepalive.js';
import { AudioFrames } from './audio-frames.js';

/** Default high-water mark of the socket's send buffer: 256 KiB (8 s of 16 kHz PCM). */
export const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/**
 * Bounds of a realtime transport's socket send buffer, in bytes (the shared vocabulary: README "Backpressure").
 * `write()` waits while the buffer is above the high-water mark, until it falls to the low one.
 */
export interface SendBufferLimits {
  /** `write()` waits once the socket's `bufferedAmount` exceeds this many bytes (default 256 KiB, 8 s of 16 kHz PCM)… */
  highWaterBytes?: number;
  /** …until it falls to this (default: half the high-water mark). */
  lowWaterBytes?: number;
  /** @deprecated Use `highWaterBytes` (same meaning). */
  highWaterMark?: number;
  /** @deprecated Use `lowWaterBytes` (same meaning). */
  lowWaterMark?: number;
}

/**
 * The send-buffer bounds given in `options`, the current names winning over the deprecated ones.
 *
 * @example
 * ```ts
 * sendBufferLimits({ highWaterMark: 65536 }); // { highWaterBytes: 65536 }
 * ```
 */
export function sendBufferLimits(options: SendBufferLimits): Pick<SendBufferLimits, 'highWaterBytes' | 'lowWaterBytes'> {
  const high = options.highWaterBytes ?? options.highWaterMark;
  const low = options.lowWaterBytes ?? options.lowWaterMark;
  return { ...(high === undefined ? {} : { highWaterBytes: high }), ...(low === undefined ? {} : { lowWaterBytes: low }) };
}

/** The deadline of a realtime session's opening, an option of every realtime DashScope transport. */
export interface OpenDeadline {
  /**
   * Deadline of the handshake, and then of the session's start (`task-started`, `session.updated`), ms (default
   * 15 000): a server that accepts the connection and says nothing fails the open with a retryable EARSHOT_TIMEOUT.
   */
  openTimeoutMs?: number;
}

export interface SocketOptions extends Pick<SendBufferLimits, 'highWaterBytes' | 'lowWaterBytes'> {
  url: string;
  apiKey: string;
  /** Extra handshake headers. */
  headers?: Record<string, string>;
  /** Handshake deadline, ms (default 15 000). */
  openTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A connected DashScope WebSocket. */
export class DashScopeSocket {
  readonly #ws: WebSocket;
  readonly #high: number;
  readonly #low: number;
  #waiters: Array<() => void> = [];
  #closed = false;
  #onMessage: ((data: Buffer, isBinary: boolean) => void) | undefined;
  /** Frames that arrived before a handler was set (the server may speak first, in the handshake's packet). */
  #early: Array<[Buffer, boolean]> = [];
  #onClose: ((error: EarshotError | undefined) => void) | undefined;
  /** Set when the socket closed before a close handler was set. */
  #earlyClose: { error: EarshotError | undefined } | undefined;
  #closing = false;
  #lastError: EarshotError | undefined;

  private constructor(ws: WebSocket, high: number, low: number) {
    this.#ws = ws;
    this.#high = high;
    this.#low = low;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.#onMessage) this.#deliver(this.#onMessage, data, isBinary);
      else this.#early.push([data, isBinary]);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.#closed = true;
      this.#release();
      const report = (error: EarshotError | undefined) => {
        if (this.#onClose && this.#onMessage) this.#onClose(error);
        else this.#earlyClose = { error };
      };
      if (this.#closing) return report(undefined);
      const why = reason.toString('utf8');
      report(
        this.#lastError ??
          new TransportError('EARSHOT_CONNECTION_LOST', `the connection closed unexpectedly (code ${code}${why ? `, ${why}` : ''})`, {
            retryable: true,
            details: { closeCode: code },
          }),
      );
    });
    ws.on('error', () => {
      /* 'close' follows and reports */
    });
  }

  /**
   * Connect and authenticate.
   * @throws EARSHOT_AUTH_FAILED (401/403), EARSHOT_UNKNOWN_MODEL (404 ModelNotFound), EARSHOT_THROTTLED (429),
   *   EARSHOT_SERVER_ERROR (5xx), EARSHOT_REQUEST_FAILED (other statuses), EARSHOT_CONNECTION_LOST (network),
   *   EARSHOT_TIMEOUT, EARSHOT_ABORTED.
   */
  static open(options: SocketOptions): Promise<DashScopeSocket> {
    const high = options.highWaterBytes ?? DEFAULT_HIGH_WATER_MARK;
    const low = options.lowWaterBytes ?? Math.floor(high / 2);
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new AbortError(options.signal.reason));
      const ws = new WebSocket(options.url, {
        headers: { Authorization: `Bearer ${options.apiKey}`, 'user-agent': 'earshot', ...(options.headers ?? {}) },
        perMessageDeflate: false,
        handshakeTimeout: options.openTimeoutMs ?? 15_000,
      });
      let settled = false;
      const settle = (error: EarshotError | undefined) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          ws.removeAllListeners();
          ws.on('error', () => {});
          ws.terminate();
          reject(error);
        } else {
          ws.removeAllListeners();
          resolve(new DashScopeSocket(ws, high, low));
        }
      };
      const onAbort = () => settle(new AbortError(options.signal?.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => settle(undefined));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => settle(errorFromResponse(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'), res.headers, [options.apiKey])));
        res.on('error', () => settle(errorFromResponse(res.statusCode ?? 0, '', res.headers, [options.apiKey])));
      });
      ws.once('error', (err: Error & { code?: string }) => {
        const timeout = /timed out/i.test(err.message);
        settle(
          new TransportError(timeout ? 'EARSHOT_TIMEOUT' : 'EARSHOT_CONNECTION_LOST', `could not connect: ${err.code ?? err.message}`, {
            retryable: true,
            cause: err,
          }),
        );
      });
    });
  }

  /**
   * Handler of every incoming frame. A frame the handler throws on (an event of the right name with fields of the
   * wrong type) ends the connection with EARSHOT_PROTOCOL_ERROR, reported through `onClose`, instead of escaping
   * the socket's event handler.
   */
  onMessage(handler: (data: Buffer, isBinary: boolean) => void): void {
    this.#onMessage = handler;
    const early = this.#early;
    this.#early = [];
    for (const [data, isBinary] of early) this.#deliver(handler, data, isBinary);
    this.#fireEarlyClose();
  }

  #deliver(handler: (data: Buffer, isBinary: boolean) => void, data: Buffer, isBinary: boolean): void {
    if (this.#closed && this.#lastError) return;
    try {
      handler(data, isBinary);
    } catch (cause) {
      this.#lastError ??= new TransportError('EARSHOT_PROTOCOL_ERROR', `the server sent an event that could not be read: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      this.#ws.terminate();
    }
  }

  /** A close that came before both handlers were set is reported after the frames that preceded it. */
  #fireEarlyClose(): void {
    const early = this.#earlyClose;
    if (!early || !this.#onClose || !this.#onMessage) return;
    this.#earlyClose = undefined;
    this.#onClose(early.error);
  }

  /** Called once when the socket closes: with an error unless {@link close} was asked for. */
  onClose(handler: (error: EarshotError | undefined) => void): void {
    this.#onClose = handler;
    this.#fireEarlyClose();
  }

  /** An error to report if the socket closes next (a fatal error event the server sent before closing). */
  setCloseError(error: EarshotError): void {
    this.#lastError = error;
  }

  get isOpen(): boolean {
    return !this.#closed && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Send a JSON text frame; resolves when the send buffer is below the high-water mark. */
  sendJson(message: unknown): Promise<void> {
    return this.#send(JSON.stringify(message));
  }

  /** Send a binary frame; resolves when the send buffer is below the high-water mark. */
  sendBinary(data: Buffer): Promise<void> {
    return this.#send(data);
  }

  #send(data: string | Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(new TransportError('EARSHOT_CONNECTION_LOST', 'the connection is closed', { retryable: true }));
    this.#ws.send(data, () => this.#drained());
    if (this.#ws.bufferedAmount <= this.#high) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #drained(): void {
    if (this.#waiters.length > 0 && this.#ws.bufferedAmount <= this.#low) this.#release();
  }

  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Close politely; `onClose` then reports no error. */
  close(code = 1000): void {
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code);
    this.#release();
  }

  /** Drop the connection at once. */
  terminate(): void {
    this.#closing = true;
    this.#ws.terminate();
    this.#release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The OpenAI-Realtime-style protocols (qwen3-asr-flash-realtime, Omni realtime)

/** Settings of {@link openRealtimeStream}. */
export interface RealtimeStreamSettings extends Pick<SendBufferLimits, 'highWaterBytes' | 'lowWaterBytes'>, OpenDeadline {
  /** `…/api-ws/v1/realtime?model=…`. */
  url: string;
  apiKey: string;
  /** The `session` object of the `session.update` sent after `session.created`. */
  session: Record<string, unknown>;
  /** Manual mode (`turn_detection: null`): the client commits at pauses and at the end. */
  manual?: { minCommitMs: number; pauseMs: number; maxCommitMs: number };
  /** Idle ms before a keepalive silence goes to the session (see `withKeepalive`); 0 or absent: none. */
  keepaliveMs?: number;
  /** How long `end()` waits, after the server's last event, for `session.finished` before closing anyway (default 20 000 ms). */
  finishTimeoutMs?: number;
  /**
   * Omni: the model's reply (`response.text.*` / `response.audio_transcript.*`, made under a transcription
   * instruction) is the final of the user turn it answers, taken apart by `parse`; the input transcription
   * (`….completed`, a separate ASR model that never sees the instructions) is its fast partial, and the final when no
   * reply comes before the session ends.
   */
  reply?: { parse(text: string): { text: string; emotion?: string } };
}

interface ItemTimes {
  startMs: number;
  endMs?: number;
  /** Last partial, to keep partial text from shrinking below what was shown. */
  partial?: string;
}

/** RMS (int16 units) below which a 20 ms frame counts as a pause when committing in manual mode. */
const PAUSE_RMS = 300;
/** Voiced audio this close after the last final's end is its tail (a VAD trims it), not an unanswered utterance. */
const UNANSWERED_MARGIN_MS = 250;

/**
 * Open a realtime-protocol session: connect, wait for `session.created`, send `session.update`, wait for
 * `session.updated`; then base64 `input_audio_buffer.append`s, `….input_audio_transcription.text` partials and
 * `….completed` finals (times from `speech_started` / `speech_stopped`, which are also reported as `speech-start` /
 * `speech-end` events, or from the commits in manual mode),
 * `session.finish` → `session.finished` at the end (closing anyway after an error or a timeout, as some Omni models
 * reject `session.finish`).
 */
export async function openRealtimeStream(settings: RealtimeStreamSettings, stream: StreamOptions): Promise<StreamSession> {
  if (settings.keepaliveMs) return withKeepalive(stream, settings.keepaliveMs, (s) => openRealtimeStream({ ...settings, keepaliveMs: 0 }, s));
  const socket = await DashScopeSocket.open({
    url: settings.url,
    apiKey: settings.apiKey,
    ...(settings.openTimeoutMs ? { openTimeoutMs: settings.openTimeoutMs } : {}),
    ...sendBufferLimits(settings),
    ...(stream.signal ? { signal: stream.signal } : {}),
  });
  const rate = stream.sampleRate;
  const items = new Map<string, ItemTimes>();
  /** Manual commits not yet acknowledged: their audio span. */
  const commits: Array<{ startMs: number; endMs: number }> = [];
  let state: 'starting' | 'updating' | 'running' | 'finishing' | 'done' = 'starting';
  let sentFrames = 0;
  let lastFinalEndMs = 0;
  let finishTimer: NodeJS.Timeout | undefined;
  // Manual-mode commit tracking.
  let commitStartFrame = 0;
  let pauseFrames = 0;
  let heardSpeech = false;
  /** End (ms) of the last voiced 20 ms frame sent: speech the server owes a transcript for, if after the last final. */
  let voicedEndMs = 0;
  /** Audio sent, whole ms (event times are integers; never past what was sent). */
  const sentMs = () => Math.floor((sentFrames * 1000) / rate);

  return new Promise<StreamSession>((resolveOpen, rejectOpen) => {
    const life = sessionLife(socket, stream, {
      isDone: () => state === 'done',
      isOpening: () => state === 'starting' || state === 'updating',
      markDone: () => {
        state = 'done';
        clearTimeout(finishTimer);
      },
      rejectOpen,
    }, settings.openTimeoutMs);
    // Reply mode: user turns waiting for their reply (commit order), their input transcriptions, the reply so far.
    const awaiting: string[] = [];
    const drafts = new Map<string, string>();
    const replied: string[] = [];
    let replyText = '';
    const finalOf = (id: string, raw: string): void => {
      const i = awaiting.indexOf(id);
      if (i >= 0) awaiting.splice(i, 1);
      drafts.delete(id);
      replied.push(id);
      if (replied.length > 64) replied.shift();
      const item = itemFor(id);
      items.delete(id);
      const endMs = Math.max(item.startMs, item.endMs ?? sentMs());
      lastFinalEndMs = Math.max(lastFinalEndMs, endMs);
      const parsed = settings.reply ? settings.reply.parse(raw) : { text: raw.trim() };
      if (!parsed.text) return;
      const event: TranscriptEvent = { type: 'final', text: parsed.text, startMs: item.startMs, endMs };
      if (parsed.emotion) event.emotion = parsed.emotion;
      stream.onEvent(event);
    };
    const finishDone = () => {
      // A turn transcribed but never answered keeps its input transcription as its final.
      for (const id of [...awaiting]) {
        const draft = drafts.get(id);
        if (draft !== undefined) finalOf(id, draft);
      }
      life.finish('close');
    };
    const fail = life.fail;
    /**
     * After session.finish: close anyway once the server has been silent for finishTimeoutMs (some Omni models never
     * answer it), unless speech sent after the last final is still unanswered: that is a timeout (retryable, so
     * `transcribeRealtime` replays it into a new session) rather than a silent loss.
     */
    const armFinish = () => {
      clearTimeout(finishTimer);
      const waitMs = settings.finishTimeoutMs ?? 20_000;
      finishTimer = setTimeout(() => {
        if (voicedEndMs <= lastFinalEndMs + UNANSWERED_MARGIN_MS) return finishDone();
        fail(
          new TransportError('EARSHOT_TIMEOUT', `no session.finished ${Math.round(waitMs / 1000)} s after session.finish, speech up to ${Math.round(voicedEndMs)} ms unanswered`, {
            retryable: true,
          }),
        );
      }, waitMs);
    };
    socket.onClose((error) => {
      if (state === 'done') return;
      if (state === 'finishing' && !error) return finishDone();
      fail(error ?? new TransportError('EARSHOT_CONNECTION_LOST', 'the connection closed before the session finished', { retryable: true }));
    });

    const itemFor = (id: string): ItemTimes => {
      let item = items.get(id);
      if (!item) {
        item = { startMs: lastFinalEndMs };
        items.set(id, item);
      }
      return item;
    };

    socket.onMessage((data, isBinary) => {
      if (isBinary || state === 'done') return;
      if (state === 'finishing') armFinish();
      let ev: Record<string, any>;
      try {
        ev = JSON.parse(data.toString('utf8')) as Record<string, any>;
      } catch {
        return fail(new TransportError('EARSHOT_PROTOCOL_ERROR', 'the server sent an event that is not JSON'));
      }
      switch (ev.type) {
        case 'session.created':
          if (state === 'starting') {
            state = 'updating';
            socket.sendJson({ event_id: clientEventId(), type: 'session.update', session: settings.session }).catch(() => {});
          }
          return;
        case 'session.updated':
          if (state === 'updating') {
            state = 'running';
            resolveOpen(session);
          }
          return;
        case 'error': {
          const err = ev.error ?? {};
          const error = protocolError(String(err.code ?? err.type ?? 'error'), String(err.message ?? 'error event'));
          if (state === 'starting' || state === 'updating') return fail(error);
          // After session.finish an error ends the session: cleanly when every speech sent was answered, otherwise as
          // this (coded) error, so unanswered speech is replayed or reported, never dropped in silence.
          if (state === 'finishing') return voicedEndMs <= lastFinalEndMs + UNANSWERED_MARGIN_MS ? finishDone() : fail(error);
          // Most errors are not fatal; if the server closes next, this is why.
          socket.setCloseError(error);
          return;
        }
        case 'input_audio_buffer.speech_started': {
          const at = Number(ev.audio_start_ms ?? lastFinalEndMs);
          itemFor(String(ev.item_id)).startMs = at;
          stream.onEvent({ type: 'speech-start', text: '', startMs: at, endMs: at });
          return;
        }
        case 'input_audio_buffer.speech_stopped': {
          const at = Number(ev.audio_end_ms ?? sentMs());
          itemFor(String(ev.item_id)).endMs = at;
          stream.onEvent({ type: 'speech-end', text: '', startMs: at, endMs: at });
          return;
        }
        case 'input_audio_buffer.committed': {
          if (settings.reply && !awaiting.includes(String(ev.item_id))) awaiting.push(String(ev.item_id));
          const span = settings.manual ? commits.shift() : undefined;
          if (span) {
            const item = itemFor(String(ev.item_id));
            item.startMs = span.startMs;
            item.endMs = span.endMs;
          }
          return;
        }
        case 'conversation.item.input_audio_transcription.text': {
          const item = itemFor(String(ev.item_id));
          const text = `${ev.text ?? ''}${ev.stash ?? ''}`.trim();
          if (!text) return;
          item.partial = text;
          const endMs = Math.max(item.startMs, item.endMs ?? sentMs());
          const event: TranscriptEvent = { type: 'partial', text, startMs: item.startMs, endMs };
          if (typeof ev.emotion === 'string') event.emotion = ev.emotion;
          if (typeof ev.language === 'string') event.language = ev.language;
          stream.onEvent(event);
          return;
        }
        case 'conversation.item.input_audio_transcription.completed': {
          const id = String(ev.item_id);
          if (settings.reply) {
            if (replied.includes(id)) return;
            if (!awaiting.includes(id)) awaiting.push(id);
            const text = String(ev.transcript ?? '').trim();
            drafts.set(id, text);
            const item = itemFor(id);
            const endMs = Math.max(item.startMs, item.endMs ?? sentMs());
            // Transcribed: the speech is not unanswered any more (its reply, or this draft at the end, is its final).
            lastFinalEndMs = Math.max(lastFinalEndMs, endMs);
            if (text) stream.onEvent({ type: 'partial', text, startMs: item.startMs, endMs });
            return;
          }
          const item = itemFor(id);
          items.delete(id);
          const endMs = Math.max(item.startMs, item.endMs ?? sentMs());
          lastFinalEndMs = Math.max(lastFinalEndMs, endMs);
          const text = String(ev.transcript ?? '').trim();
          if (!text) return;
          const event: TranscriptEvent = { type: 'final', text, startMs: item.startMs, endMs };
          if (typeof ev.emotion === 'string') event.emotion = ev.emotion;
          if (typeof ev.language === 'string') event.language = ev.language;
          stream.onEvent(event);
          return;
        }
        case 'response.text.delta':
        case 'response.audio_transcript.delta':
          if (settings.reply && typeof ev.delta === 'string') replyText += ev.delta;
          return;
        case 'response.text.done':
        case 'response.audio_transcript.done': {
          if (!settings.reply) return;
          const raw = typeof ev.text === 'string' ? ev.text : typeof ev.transcript === 'string' ? ev.transcript : replyText;
          replyText = '';
          const id = awaiting[0];
          if (id !== undefined) finalOf(id, raw);
          return;
        }
        case 'conversation.item.input_audio_transcription.failed':
          items.delete(String(ev.item_id));
          return;
        case 'session.finished':
          return finishDone();
        default:
          return;
      }
    });

    // ~100 ms appends whatever the upstream chunks (§5.2: 3,200 bytes at 16 kHz recommended).
    const frames = new AudioFrames(rate);
    const append = (frame: Buffer): Promise<void> => socket.sendJson({ event_id: clientEventId(), type: 'input_audio_buffer.append', audio: frame.toString('base64') });
    /** Send the partial frame held back (before a commit, and at the end). */
    const flushFrames = (): void => {
      const rest = frames.flush();
      if (rest) append(rest).catch(() => {});
    };

    const commit = () => {
      const startMs = Math.floor((commitStartFrame * 1000) / rate);
      const endMs = sentMs();
      commits.push({ startMs, endMs });
      commitStartFrame = sentFrames;
      pauseFrames = 0;
      heardSpeech = false;
      return socket.sendJson({ event_id: clientEventId(), type: 'input_audio_buffer.commit' });
    };

    const session: StreamSession = {
      async write(samples) {
        if (life.failure) throw life.failure;
        if (state !== 'running') return;
        sentFrames += samples.length;
        const sending = frames.push(samples).map(append);
        const manual = settings.manual;
        trackPause(samples);
        if (manual) {
          const buffered = ((sentFrames - commitStartFrame) * 1000) / rate;
          const pauseMs = (pauseFrames * 1000) / rate;
          if ((heardSpeech && buffered >= manual.minCommitMs && pauseMs >= manual.pauseMs) || buffered >= manual.maxCommitMs) {
            flushFrames();
            await commit();
          }
        }
        try {
          await Promise.all(sending);
        } catch (e) {
          throw life.failure ?? e;
        }
      },
      end() {
        if (state === 'running') {
          state = 'finishing';
          flushFrames();
          const pending = settings.manual && sentFrames > commitStartFrame ? commit() : Promise.resolve();
          pending
            .then(() => socket.sendJson({ event_id: clientEventId(), type: 'session.finish' }))
            .catch(() => {});
          armFinish();
        }
        return life.ended;
      },
      close() {
        life.finish('terminate');
      },
    };

    /** Count trailing quiet frames (20 ms RMS) to commit at a pause (manual mode), and note the last voiced one. */
    function trackPause(samples: Int16Array): void {
      const frame = Math.round(rate / 50);
      const firstFrame = sentFrames - samples.length;
      for (let i = 0; i + frame <= samples.length; i += frame) {
        let sum = 0;
        for (let k = i; k < i + frame; k++) sum += samples[k]! * samples[k]!;
        if (Math.sqrt(sum / frame) < PAUSE_RMS) pauseFrames += frame;
        else {
          voicedEndMs = ((firstFrame + i + frame) * 1000) / rate;
          pauseFrames = 0;
          heardSpeech = true;
        }
      }
    }
  });
}

function clientEventId(): string {
  return `event_${randomUUID().replace(/-/g, '')}`;
}
