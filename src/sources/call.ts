/**
 * Live call audio from media servers, the shared half: the shapes every call source emits ({@link CallStream},
 * {@link CallTrack}, {@link CallInfo}, {@link CallStats}) and the machinery the protocol parsers share: a time line
 * per track that places audio by the protocol's own clock and fills gaps with silence, a bounded hold for a track's
 * first subscriber, one set of counters, and the WebSocket plumbing.
 *
 * Each protocol lives in its own file (`twilio.ts`, `audio-fork.ts`, `audiosocket.ts`, `asterisk.ts`,
 * `jambonz.ts`); they all take a connection the host's own server accepted and return a {@link CallStream}.
 *
 * Call sources are hot: a media server cannot be paused. They listen from the moment they are called (nothing
 * sent between accepting the connection and subscribing is lost), carry no FlowControl, keep at most
 * `preSubscribeMs` of audio per track for a subscriber still to come (dropping the oldest, counted in
 * `stats().overflowDropped`), and hand audio on synchronously once a track is subscribed.
 */
import { Observable, type Subscriber } from 'rxjs';
import { AudioLine } from '../core/audio-line.js';
import type { RawData, WebSocket } from 'ws';
import { EarshotError, InputError, InvalidArgumentError } from '../core/errors.js';
import { listen } from '../core/listen.js';
import type { AudioChunk, TranscriptEvent } from '../core/types.js';
import { FrameAligner } from '../media/frame-aligner.js';
import { toS16 } from '../media/wav.js';

/** The call-audio protocols earshot speaks. */
export type CallProtocol = 'twilio' | 'telnyx' | 'plivo' | 'exotel' | 'audio-fork' | 'audiosocket' | 'asterisk' | 'jambonz' | 'jambonz-stt';

/** What the media server told about the call. */
export interface CallInfo {
  readonly protocol: CallProtocol;
  /** The call's id as the media server names it (Twilio callSid, FreeSWITCH/Asterisk channel UUID, Jambonz call_sid). */
  readonly callId: string;
  /** The stream's own id where the protocol has one (Twilio streamSid, Telnyx stream_id). */
  readonly streamId?: string;
  /** Parameters the application attached to the stream (Twilio `<Parameter>`, Jambonz `metadata`), as strings. */
  readonly customParameters: Readonly<Record<string, string>>;
  /** Everything else the protocol's start message carried, verbatim (secrets are the host's concern: never logged here). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** One direction (or channel) of a call: mono audio on the protocol's clock. */
export interface CallTrack {
  readonly call: CallInfo;
  /** The protocol's name for it: `inbound`/`outbound` (Twilio family), `caller`/`callee` (stereo), `mixed`, `mono`. */
  readonly track: string;
  /** 0-based index of the track in the call (the `channel` of the transcript events made from it). */
  readonly channel: number;
  /** Sample rate of `audio$`, Hz. */
  readonly sampleRate: number;
  /**
   * Mono s16 chunks; `offset` counts frames on the protocol's own clock from the start of the stream, gaps filled
   * with silence. Hot and multicast: up to `preSubscribeMs` is kept for the first subscriber. Completes when the call ends.
   */
  readonly audio$: Observable<AudioChunk>;
}

/** Counters of a call (a snapshot). */
export interface CallStats {
  /** Messages (WebSocket frames, AudioSocket frames) received. */
  frames: number;
  /** Bytes received in them. */
  bytes: number;
  /** Frames that carried audio and were used. */
  mediaFrames: number;
  /** Frames that could not be understood (bad JSON, a bad field, a payload of the wrong size, an unknown kind): skipped. */
  malformed: number;
  /** Frames larger than `maxFrameBytes`: skipped (also counted in `malformed`). */
  oversized: number;
  /** Gaps in the protocol's clock filled with silence. */
  gapsFilled: number;
  /** Silence inserted for those gaps, ms. */
  silenceMs: number;
  /** Audio that came after its place on the time line had been played (late, duplicated or reordered beyond the window): dropped. */
  lateDropped: number;
  /** Audio chunks dropped because no one had subscribed to the track yet and `preSubscribeMs` was full (oldest first). */
  overflowDropped: number;
  /** Clock jumps beyond `maxGapMs` (the time line went on where it was instead of filling). */
  discontinuities: number;
  /** DTMF digits seen. */
  dtmf: number;
  /** Transcript replies sent back to the media server. */
  replies: number;
}

/** A control event of the protocol that is not audio. */
export type CallControlEvent =
  | { readonly type: 'dtmf'; readonly digit: string; readonly track?: string }
  | { readonly type: 'mark'; readonly name: string }
  | { readonly type: 'flow'; readonly state: 'xoff' | 'xon' }
  /** A text frame the protocol passes through untouched (FreeSWITCH `uuid_audio_fork … send_text`). */
  | { readonly type: 'text'; readonly text: string };

/** Settings shared by every call source. */
export interface CallSourceOptions {
  /** Largest frame accepted, bytes; a larger one is counted (`oversized`) and skipped. Default 1 MiB. */
  maxFrameBytes?: number;
  /**
   * Audio a track holds for its first subscriber, ms; beyond it the oldest is dropped (`overflowDropped`): the same
   * hold as an RTP stream's. Once subscribed, audio is handed on synchronously and held nowhere. Default 2000.
   */
  preSubscribeMs?: number;
  /** Longest clock gap filled with silence, ms; a larger jump goes on where the time line was (`discontinuities`). Default 60000. */
  maxGapMs?: number;
  /** Clock jitter absorbed without filling or trimming, ms (timestamps of a few ms off the sample count). Default 10. */
  clockToleranceMs?: number;
  /**
   * End the call when no frame has come for this long, ms: the connection is closed (WebSocket code 1001) and the
   * stream errors with EARSHOT_TIMEOUT (its tracks complete with the audio so far). Default 0: no idle limit.
   */
  idleTimeoutMs?: number;
  /** Ends the call (closing the connection) when aborted. */
  signal?: AbortSignal;
  /** Called for DTMF digits, marks and flow-control messages, synchronously from the socket handler. */
  onEvent?: (event: CallControlEvent) => void;
}

/** A call: an Observable of its tracks that can answer and count. */
export interface CallStream extends Observable<CallTrack> {
  /**
   * Send a transcript event back in the protocol's own shape where it has one (audio fork, Jambonz STT); a no-op
   * for protocols without one. Works while the connection is open, also after the audio has ended (the finals of
   * the last words come then). Never throws (a closed connection is ignored).
   */
  reply(event: TranscriptEvent, track?: CallTrack): void;
  /** Counters of this call so far. */
  stats(): CallStats;
  /** What the media server told about the call, once it has (undefined before its start message). */
  info(): CallInfo | undefined;
  /** End the call from this side: close the connection (WebSocket close `code`, default 1000) and complete every track. */
  close(code?: number, reason?: string): void;
}

function zeroStats(): CallStats {
  return { frames: 0, bytes: 0, mediaFrames: 0, malformed: 0, oversized: 0, gapsFilled: 0, silenceMs: 0, lateDropped: 0, overflowDropped: 0, discontinuities: 0, dtmf: 0, replies: 0 };
}

interface Limits {
  readonly idleMs: number;
  readonly maxFrameBytes: number;
  readonly preSubscribeMs: number;
  readonly maxGapMs: number;
  readonly toleranceMs: number;
}

/** Validate the shared options (misuse throws when the source is built). */
function callLimits(options: CallSourceOptions): Limits {
  const num = (v: number | undefined, d: number, name: string, min: number): number => {
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}`, { details: { [name]: v } });
    return v;
  };
  return {
    idleMs: num(options.idleTimeoutMs, 0, 'idleTimeoutMs', 0),
    maxFrameBytes: num(options.maxFrameBytes, 1 << 20, 'maxFrameBytes', 1),
    preSubscribeMs: num(options.preSubscribeMs, 2000, 'preSubscribeMs', 0),
    maxGapMs: num(options.maxGapMs, 60000, 'maxGapMs', 0),
    toleranceMs: num(options.clockToleranceMs, 10, 'clockToleranceMs', 0),
  };
}

/**
 * One track: an {@link AudioLine} plus placement on the protocol's clock. A gap before the audio's position is
 * filled with silence (up to `maxGapMs`), audio before the head is trimmed or dropped as late, and jitter up to
 * `clockToleranceMs` is absorbed. Made by `ctx.openTrack()`.
 *
 * @example
 * ```ts
 * const track = ctx.openTrack('inbound', 0, 8000);
 * track.place(samples, Math.round(timestampMs * 8)); // at its place on Twilio's clock
 * ```
 */
export class TrackState implements CallTrack {
  readonly audio$: Observable<AudioChunk>;
  readonly #line: AudioLine;
  readonly #toleranceFrames: number;
  readonly #maxGapFrames: number;

  constructor(
    readonly call: CallInfo,
    readonly track: string,
    readonly channel: number,
    readonly sampleRate: number,
    limits: Limits,
    private readonly counters: CallStats,
  ) {
    this.#toleranceFrames = Math.round((limits.toleranceMs * sampleRate) / 1000);
    this.#maxGapFrames = Math.round((limits.maxGapMs * sampleRate) / 1000);
    this.#line = new AudioLine(sampleRate, limits.preSubscribeMs, () => counters.overflowDropped++);
    this.audio$ = this.#line.audio$;
  }

  /** Frames written so far (the time line's head). */
  get position(): number {
    return this.#line.head;
  }

  /**
   * Place decoded samples at frame `at` on the clock (default: right after the previous audio).
   * Never throws.
   */
  place(samples: Int16Array, at: number = this.#line.head): void {
    if (this.#line.ended || samples.length === 0) return;
    let gap = Math.round(at) - this.#line.head;
    if (gap > this.#maxGapFrames || (gap < 0 && -gap > samples.length + this.#maxGapFrames)) {
      // A jump no call makes: keep the audio, not the clock.
      this.counters.discontinuities++;
      gap = 0;
    }
    if (gap > this.#toleranceFrames) {
      this.counters.gapsFilled++;
      this.counters.silenceMs += (gap * 1000) / this.sampleRate;
      this.#line.silence(gap);
    } else if (gap < -this.#toleranceFrames) {
      if (-gap >= samples.length) {
        this.counters.lateDropped++;
        return;
      }
      samples = samples.subarray(-gap);
    }
    this.#line.write(samples);
  }

  /** Complete the track (idempotent). What a subscriber still to come would get stays for it. */
  end(): void {
    this.#line.end();
  }
}

/** What a protocol parser uses to build its call. */
export interface CallContext {
  readonly protocol: CallProtocol;
  readonly limits: Limits;
  /** The counters (the parser bumps `malformed`, `mediaFrames`, `dtmf`…). */
  readonly stats: CallStats;
  /** The call's info, once `begin` has been called. */
  readonly call: CallInfo | undefined;
  /** True once the call has ended. */
  readonly ended: boolean;
  /** Declare the call (once, from the protocol's start message). */
  begin(info: Omit<CallInfo, 'protocol'>): CallInfo;
  /** Open a track (after `begin`); it is emitted to subscribers at once. */
  openTrack(track: string, channel: number, sampleRate: number): TrackState;
  /** Count a frame that could not be understood; the call goes on. */
  malformed(): void;
  /** Pass a control event to `onEvent` (a throwing handler is isolated). */
  event(event: CallControlEvent): void;
  /** End the call: tracks complete; the CallStream completes, or errors with `error`. Idempotent. */
  end(error?: EarshotError): void;
}

/** What a protocol parser gives back: how to answer and how to hang up. */
export interface CallBinding {
  reply?(event: TranscriptEvent, track: CallTrack | undefined): boolean;
  close(code: number, reason: string): void;
  /** Called once when the call ends, before its tracks complete: play out what is held, release decoders and timers. */
  finish?(): void;
}

/**
 * Build a {@link CallStream}: the parser is attached at once (a hot source) through `attach`, which returns how to
 * reply, close and finish. Used by each protocol's source; the stream replays the tracks opened so far to each
 * subscriber and completes (or errors) when `ctx.end()` is called.
 *
 * @param protocol - the protocol's name, for `CallInfo` and messages.
 * @param options - the shared options (checked here).
 * @param attach - wires the connection to a parser; returns the binding.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad shared option.
 * @example
 * ```ts
 * return createCallStream('asterisk', options, (ctx) => {
 *   const socket = bindWebSocket(ws, ctx, { text: (t) => …, binary: (b) => … });
 *   return { close: (code, reason) => socket.close(code, reason) };
 * });
 * ```
 */
export function createCallStream(protocol: CallProtocol, options: CallSourceOptions, attach: (ctx: CallContext) => CallBinding): CallStream {
  const limits = callLimits(options);
  const stats = zeroStats();
  const tracks: TrackState[] = [];
  const subscribers = new Set<Subscriber<CallTrack>>();
  let call: CallInfo | undefined;
  let ended: { error?: EarshotError } | undefined;
  let ending = false;
  let binding: CallBinding | undefined;
  let idle: ReturnType<typeof setInterval> | undefined;
  const onEvent = options.onEvent;

  const ctx: CallContext = {
    protocol,
    limits,
    stats,
    get call() {
      return call;
    },
    get ended() {
      return ended !== undefined;
    },
    begin(info) {
      call ??= Object.freeze({ protocol, ...info });
      return call;
    },
    openTrack(track, channel, sampleRate) {
      if (!call) throw new EarshotError('EARSHOT_PROTOCOL_ERROR', 'a track was opened before the call began');
      const t = new TrackState(call, track, channel, sampleRate, limits, stats);
      tracks.push(t);
      for (const s of subscribers) s.next(t);
      return t;
    },
    malformed() {
      stats.malformed++;
    },
    event(e) {
      if (e.type === 'dtmf') stats.dtmf++;
      if (!onEvent) return;
      try {
        onEvent(e);
      } catch {
        // The host's handler failed: that is its concern, never the call's.
      }
    },
    end(error) {
      if (ended || ending) return;
      ending = true;
      try {
        binding?.finish?.();
      } catch {
        // A parser that fails while flushing loses only what it held.
      }
      ended = error ? { error } : {};
      if (idle) clearInterval(idle);
      options.signal?.removeEventListener('abort', onAbort);
      for (const t of tracks) t.end();
      const subs = [...subscribers];
      subscribers.clear();
      for (const s of subs) {
        if (error) s.error(error);
        else s.complete();
      }
    },
  };
  binding = attach(ctx);
  if (ended) binding.finish?.(); // the call ended while it was being attached (a refused api key)
  function onAbort(): void {
    close(1000, 'aborted');
  }
  function close(code = 1000, reason = 'earshot closed the call'): void {
    binding!.close(code, reason); // idempotent; also after the audio ended (a Jambonz STT socket stays open for replies)
    ctx.end();
  }
  if (options.signal?.aborted) close(1000, 'aborted');
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  if (limits.idleMs > 0 && !ended) {
    let frames = stats.frames;
    let lastAt = Date.now();
    idle = setInterval(() => {
      const now = Date.now();
      if (stats.frames !== frames) {
        frames = stats.frames;
        lastAt = now;
      } else if (now - lastAt >= limits.idleMs) {
        binding!.close(1001, 'idle');
        ctx.end(new EarshotError('EARSHOT_TIMEOUT', `${protocol}: no frame for ${limits.idleMs} ms`, { details: { protocol, idleTimeoutMs: limits.idleMs } }));
      }
    }, Math.max(10, Math.min(1000, Math.floor(limits.idleMs / 4))));
    idle.unref();
  }

  const observable = new Observable<CallTrack>((subscriber) => {
    for (const t of tracks) subscriber.next(t);
    if (ended) {
      if (ended.error) subscriber.error(ended.error);
      else subscriber.complete();
      return;
    }
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
    };
  });
  return Object.assign(observable, {
    reply(event: TranscriptEvent, track?: CallTrack): void {
      // Replies may follow the end of the audio (Jambonz STT answers after `stop`): the binding knows if it is open.
      if (!binding?.reply) return;
      try {
        if (binding.reply(event, track)) stats.replies++;
      } catch {
        // A reply to a closing connection is lost, never thrown at the pipeline.
      }
    },
    stats: (): CallStats => ({ ...stats }),
    info: (): CallInfo | undefined => call,
    close,
  });
}

/** ws's ready state for an open connection. */
const WS_OPEN = 1;

/** What a WebSocket protocol parser handles. */
export interface WebSocketHandlers {
  text(message: string): void;
  binary(data: Buffer): void;
}

/**
 * Wire a `ws` WebSocket to a parser: size limit, text/binary split, a handler that throws is contained (counted as
 * malformed, the call goes on; an EarshotError EARSHOT_PROTOCOL_ERROR ends it), close ends the call, a socket
 * error ends it with EARSHOT_PROTOCOL_ERROR (a WebSocket protocol violation, `WS_ERR_*`) or EARSHOT_CONNECTION_LOST.
 *
 * @param ws - the accepted WebSocket.
 * @param ctx - the call being built.
 * @param handlers - the parser's text and binary handlers.
 * @returns `send` (false once the socket is not open) and an idempotent `close`.
 * @example
 * ```ts
 * const socket = bindWebSocket(ws, ctx, { text: (t) => parser.text(t), binary: () => ctx.malformed() });
 * socket.send(JSON.stringify({ type: 'transcription', data: {} }));
 * ```
 */
export function bindWebSocket(ws: WebSocket, ctx: CallContext, handlers: WebSocketHandlers): Pick<CallBinding, 'close'> & { send(text: string): boolean } {
  const onMessage = (data: RawData, isBinary: boolean): void => {
    if (ctx.ended) return;
    const buf = toBuffer(data);
    ctx.stats.frames++;
    ctx.stats.bytes += buf.length;
    if (buf.length > ctx.limits.maxFrameBytes) {
      ctx.stats.oversized++;
      ctx.malformed();
      return;
    }
    try {
      if (isBinary) handlers.binary(buf);
      else handlers.text(buf.toString('utf8'));
    } catch (err) {
      if (err instanceof EarshotError && err.code === 'EARSHOT_PROTOCOL_ERROR') ctx.end(err);
      else ctx.malformed();
    }
  };
  const onClose = (): void => {
    detach();
    ctx.end();
  };
  const onError = (err: Error & { code?: string }): void => {
    detach();
    const message = `${ctx.protocol} connection failed: ${err.message}`;
    const options = { cause: err, details: { protocol: ctx.protocol } };
    // A WebSocket protocol violation by the media server (WS_ERR_*) is its protocol error; anything else a lost connection.
    ctx.end(typeof err.code === 'string' && err.code.startsWith('WS_ERR_') ? new EarshotError('EARSHOT_PROTOCOL_ERROR', message, options) : new InputError('EARSHOT_CONNECTION_LOST', message, options));
  };
  const detach = listen(ws, { message: onMessage, close: onClose, error: onError });
  if (ws.readyState > WS_OPEN) queueMicrotask(onClose);
  return {
    send(text: string): boolean {
      if (ws.readyState !== WS_OPEN) return false;
      ws.send(text);
      return true;
    },
    close(code: number, reason: string): void {
      detach();
      // The closing handshake may still see a bad frame (one over maxPayload): its error is nobody's now, and an
      // 'error' without a listener would end the process.
      ws.on('error', () => undefined);
      if (ws.readyState <= WS_OPEN) ws.close(code, reason.slice(0, 120));
    },
  };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Parse a JSON text frame into an object, or undefined (counted by the caller) for anything else.
 * @example
 * ```ts
 * parseJsonObject('{"event":"start"}'); // { event: 'start' }
 * parseJsonObject('[1]'); // undefined
 * ```
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * A field as an object, or undefined.
 * @example
 * ```ts
 * objectField({ start: { callSid: 'CA1' } }, 'start'); // { callSid: 'CA1' }
 * ```
 */
export function objectField(obj: Record<string, unknown> | undefined, key: string): Record<string, unknown> | undefined {
  const v = obj?.[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * A field as a string (numbers are taken too: counters arrive as either), or undefined.
 * @example
 * ```ts
 * stringField({ sequenceNumber: 4 }, 'sequenceNumber'); // '4'
 * ```
 */
export function stringField(obj: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = obj?.[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * A field as a finite number, whether sent as a number or a numeric string (`"5"`), or undefined.
 * @example
 * ```ts
 * numberField({ timestamp: '5' }, 'timestamp'); // 5
 * numberField({ timestamp: '1e999' }, 'timestamp'); // undefined
 * ```
 */
export function numberField(obj: Record<string, unknown> | undefined, key: string): number | undefined {
  const v = obj?.[key];
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v.trim())) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * Every string, number or boolean entry of an object, as strings (nested objects are left out).
 * @example
 * ```ts
 * stringRecord({ a: 'x', n: 42, o: {} }); // { a: 'x', n: '42' }
 * ```
 */
export function stringRecord(obj: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!obj) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

/**
 * Strict base64 (standard alphabet, padding optional): bytes, or undefined for anything else.
 * @example
 * ```ts
 * decodeBase64('/38='); // <Buffer ff 7f>
 * decodeBase64('%%'); // undefined
 * ```
 */
export function decodeBase64(text: string): Buffer | undefined {
  if (text.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64');
}

/**
 * Raw 16-bit little-endian PCM (as media servers send it) onto one track per channel: whole sample frames only, a
 * partial frame carried over to the next message (a message boundary need not fall on a sample boundary), two
 * channels de-interleaved. Audio is appended on each track's time line (these protocols carry no timestamps: the
 * media server sends audio continuously, silence included).
 *
 * @example
 * ```ts
 * const pcm = new PcmTracks([ctx.openTrack('caller', 0, 16000), ctx.openTrack('callee', 1, 16000)], ctx.stats);
 * pcm.push(binaryFrame);
 * ```
 */
export class PcmTracks {
  readonly #aligner: FrameAligner;

  /**
   * @param tracks - one track per interleaved channel, in channel order.
   * @param stats - the call's counters (`mediaFrames` is counted here).
   */
  constructor(
    private readonly tracks: readonly TrackState[],
    private readonly stats: CallStats,
  ) {
    this.#aligner = new FrameAligner(2 * tracks.length);
  }

  /** Take one message's bytes. */
  push(data: Buffer): void {
    const bytes = this.#aligner.take(data);
    if (!bytes) return;
    const samples = toS16(bytes, 's16le');
    this.stats.mediaFrames++;
    const n = this.tracks.length;
    if (n === 1) return this.tracks[0]!.place(samples);
    const frames = samples.length / n;
    for (let c = 0; c < n; c++) {
      const mono = new Int16Array(frames);
      for (let f = 0, i = c; f < frames; f++, i += n) mono[f] = samples[i]!;
      this.tracks[c]!.place(mono);
    }
  }
}
