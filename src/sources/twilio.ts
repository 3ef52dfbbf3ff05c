/**
 * Media-stream WebSocket protocols of the cloud telephony platforms: Twilio Media Streams, and its close variants
 * Telnyx media streaming, Plivo audio streams and Exotel Stream/Voicebot. All four send JSON text frames
 * `connected` → `start` (call ids, tracks, custom parameters, media format) → `media` (track, chunk, timestamp,
 * base64 payload) … → `stop`, with `dtmf` and `mark` between. They differ in spelling and audio:
 *
 * | flavor | spelling | audio | `media.timestamp` |
 * |---|---|---|---|
 * | twilio | camelCase, counters as strings | µ-law 8 kHz | ms since the stream started |
 * | telnyx | snake_case | the call's RTP payload (PCMU, PCMA, L16 big-endian, Opus); frames may arrive out of order | ms since the stream started |
 * | plivo | camelCase, `extra_headers` | µ-law 8 kHz or L16 little-endian 8/16 kHz | Unix ms (made relative to the first media frame) |
 * | exotel | snake_case | 16-bit little-endian PCM 8/16/24 kHz | ms (made relative to the first media frame: the documented example gives chunk 2 the time 200) |
 *
 * Audio is placed by `media.timestamp`, not by arrival: these platforms do not always send silence, and a gap in
 * the timestamps becomes silence of the same length, so caption times stay on the call's clock.
 */
import type { WebSocket } from 'ws';
import { InputError, InvalidArgumentError } from '../core/errors.js';
import { createPayloadDecoder, parsePayloadMapping, type PayloadDecoder } from '../rtp/codecs.js';
import { JitterBuffer, type ReleasedPacket } from '../rtp/jitter-buffer.js';
import { toS16 } from '../media/wav.js';
import {
  bindWebSocket,
  createCallStream,
  decodeBase64,
  numberField,
  objectField,
  parseJsonObject,
  stringField,
  stringRecord,
  type CallContext,
  type CallSourceOptions,
  type CallStream,
  type TrackState,
} from './call.js';

/** The platforms that speak a Twilio-style media stream. */
export type MediaStreamFlavor = 'twilio' | 'telnyx' | 'plivo' | 'exotel';

/** Options of {@link fromTwilioMediaStream} and its variants. */
export interface MediaStreamOptions extends CallSourceOptions {
  /** Which platform's spelling and audio to expect. Default `'twilio'`. */
  flavor?: MediaStreamFlavor;
  /**
   * Reordering window for frames that arrive out of order, ms (by `media.chunk`, as Telnyx advises). Default 80 for
   * Telnyx, 0 (frames are in order) for the others.
   */
  reorderWindowMs?: number;
  /** Opus is decoded to this rate (Telnyx). Default 48000. */
  opusSampleRate?: 16000 | 48000;
}

/** How one track's payloads become samples. */
interface TrackCodec {
  readonly rate: number;
  decode(payload: Uint8Array): Int16Array | null;
  close(): void;
}

const TRACK_CHANNEL: Record<string, number> = { inbound: 0, inbound_track: 0, outbound: 1, outbound_track: 1 };

/**
 * Read a Twilio Media Streams WebSocket (or a Telnyx, Plivo or Exotel one, with `flavor`) as a call: one
 * {@link CallTrack} per track (`inbound` channel 0, `outbound` channel 1 with `both_tracks`), each an 8 kHz (or the
 * stream's rate) mono audio stream on the stream's own clock.
 *
 * Listens from the moment it is called; the stream completes on `stop` or when the socket closes. A malformed
 * frame (bad JSON, bad base64, a media frame before `start`, an unknown track) is counted in `stats().malformed`
 * and skipped. An audio format earshot cannot decode ends the call with EARSHOT_UNSUPPORTED_FORMAT.
 *
 * @param ws - a `ws` WebSocket your server accepted (Twilio connects to the URL of your TwiML `<Stream>`).
 * @param options - flavor, limits, `signal`, `onEvent` (DTMF, marks); see {@link MediaStreamOptions}.
 * @returns the call, with `stats()`, `info()` and `close()`; `reply()` is a no-op (these protocols take no text back).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option. At run time the stream errors with
 *   EARSHOT_UNSUPPORTED_FORMAT (an undecodable codec) or EARSHOT_CONNECTION_LOST (a socket error).
 * @example
 * ```ts
 * wss.on('connection', (ws) => {
 *   fromTwilioMediaStream(ws).subscribe((track) =>
 *     track.audio$.pipe(resample(16000), transcribe(local())).subscribe((e) => console.log(track.track, e.text)));
 * });
 * ```
 */
export function fromTwilioMediaStream(ws: WebSocket, options: MediaStreamOptions = {}): CallStream {
  const flavor = options.flavor ?? 'twilio';
  if (!['twilio', 'telnyx', 'plivo', 'exotel'].includes(flavor)) throw new InvalidArgumentError(`unknown media-stream flavor "${String(flavor)}"`);
  const reorderMs = options.reorderWindowMs ?? (flavor === 'telnyx' ? 80 : 0);
  if (typeof reorderMs !== 'number' || !(reorderMs >= 0)) throw new InvalidArgumentError('reorderWindowMs must be zero or more');
  return createCallStream(flavor, options, (ctx) => {
    const parser = new MediaStreamParser(ctx, flavor, reorderMs, options.opusSampleRate ?? 48000);
    const socket = bindWebSocket(ws, ctx, { text: (t) => parser.text(t), binary: () => ctx.malformed() });
    return { close: (code, reason) => socket.close(code, reason), finish: () => parser.finish() };
  });
}

/**
 * {@link fromTwilioMediaStream} for Telnyx media streaming (`stream_url`): snake_case frames, the call's RTP payload
 * (PCMU, PCMA, L16, Opus) base64-encoded, frames reordered by `media.chunk`.
 * @param ws - the WebSocket Telnyx opened to your `stream_url`.
 * @param options - as {@link fromTwilioMediaStream}.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option.
 * @example
 * ```ts
 * wss.on('connection', (ws) => fromTelnyxMediaStream(ws).subscribe((t) => t.audio$.subscribe(console.log)));
 * ```
 */
export function fromTelnyxMediaStream(ws: WebSocket, options: Omit<MediaStreamOptions, 'flavor'> = {}): CallStream {
  return fromTwilioMediaStream(ws, { ...options, flavor: 'telnyx' });
}

/**
 * {@link fromTwilioMediaStream} for Plivo audio streams (`<Stream>` XML): µ-law or L16, Unix-ms timestamps,
 * `extra_headers` as custom parameters.
 * @param ws - the WebSocket Plivo opened.
 * @param options - as {@link fromTwilioMediaStream}.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option.
 * @example
 * ```ts
 * wss.on('connection', (ws) => fromPlivoAudioStream(ws).subscribe((t) => t.audio$.subscribe(console.log)));
 * ```
 */
export function fromPlivoAudioStream(ws: WebSocket, options: Omit<MediaStreamOptions, 'flavor'> = {}): CallStream {
  return fromTwilioMediaStream(ws, { ...options, flavor: 'plivo' });
}

/**
 * {@link fromTwilioMediaStream} for Exotel's Stream and Voicebot applets: snake_case frames, 16-bit little-endian
 * PCM at the stream's `sample_rate`.
 * @param ws - the WebSocket Exotel opened.
 * @param options - as {@link fromTwilioMediaStream}.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option.
 * @example
 * ```ts
 * wss.on('connection', (ws) => fromExotelStream(ws).subscribe((t) => t.audio$.subscribe(console.log)));
 * ```
 */
export function fromExotelStream(ws: WebSocket, options: Omit<MediaStreamOptions, 'flavor'> = {}): CallStream {
  return fromTwilioMediaStream(ws, { ...options, flavor: 'exotel' });
}

/** First defined string among `keys` (both spellings of a field). */
function pick(obj: Record<string, unknown> | undefined, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = stringField(obj, k);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Plivo's `extra_headers`: `a=1;b=2` (or comma-separated). */
function parseExtraHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const part of text.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** The audio a stream carries. */
interface CodecSpec {
  readonly kind: 'ulaw' | 'alaw' | 'l16be' | 'l16le' | 'opus';
  readonly rate: number;
  readonly channels: number;
}

interface Track {
  readonly state: TrackState;
  readonly codec: TrackCodec;
  readonly jitter: JitterBuffer | undefined;
}

/** The parser of one connection: state per call, per track. */
class MediaStreamParser {
  readonly #tracks = new Map<string, Track>();
  #codecSpec: CodecSpec | undefined;
  /** Plivo and Exotel: the first media timestamp, the zero of the clock. */
  #epoch: number | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly flavor: MediaStreamFlavor,
    private readonly reorderMs: number,
    private readonly opusRate: 16000 | 48000,
  ) {}

  text(text: string): void {
    const msg = parseJsonObject(text);
    const event = msg && stringField(msg, 'event');
    if (!msg || !event) return this.ctx.malformed();
    switch (event) {
      case 'connected':
        return;
      case 'start':
        return this.#start(msg);
      case 'media':
        return this.#media(msg);
      case 'dtmf': {
        const dtmf = objectField(msg, 'dtmf');
        const digit = pick(dtmf, 'digit');
        if (!digit) return this.ctx.malformed();
        const track = pick(dtmf, 'track');
        return this.ctx.event(track ? { type: 'dtmf', digit, track } : { type: 'dtmf', digit });
      }
      case 'mark': {
        const name = pick(objectField(msg, 'mark'), 'name');
        if (name === undefined) return this.ctx.malformed();
        return this.ctx.event({ type: 'mark', name });
      }
      case 'stop':
        return this.ctx.end();
      default:
        // Later additions to the protocol (Plivo's playedStream, Telnyx's error…): not audio, not ours to judge.
        return;
    }
  }

  /** Play out what the reorder buffers hold and release decoders (once, when the call ends). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#poll) clearInterval(this.#poll);
    for (const t of new Set(this.#tracks.values())) {
      t.jitter?.flush();
      t.codec.close();
    }
  }

  #start(msg: Record<string, unknown>): void {
    if (this.ctx.call) return this.ctx.malformed(); // one start per stream
    const start = objectField(msg, 'start');
    if (!start) return this.ctx.malformed();
    const format = objectField(start, 'mediaFormat') ?? objectField(start, 'media_format');
    const spec = this.#resolveCodec(format);
    const streamId = pick(msg, 'streamSid', 'stream_sid', 'stream_id', 'streamId') ?? pick(start, 'streamSid', 'stream_sid', 'streamId', 'stream_id');
    const callId = pick(start, 'callSid', 'call_sid', 'call_control_id', 'callId', 'call_id') ?? streamId;
    if (!callId) return this.ctx.malformed();
    const custom = objectField(start, 'customParameters') ?? objectField(start, 'custom_parameters');
    const customParameters = this.flavor === 'plivo' ? { ...parseExtraHeaders(pick(msg, 'extra_headers')), ...stringRecord(custom) } : stringRecord(custom);
    const metadata: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(start)) if (k !== 'customParameters' && k !== 'custom_parameters') metadata[k] = v;
    if (msg['extra_headers'] !== undefined) metadata['extra_headers'] = msg['extra_headers'];
    this.ctx.begin({ callId, ...(streamId ? { streamId } : {}), customParameters, metadata });
    if (!spec) {
      const encoding = pick(format, 'encoding') ?? 'none';
      this.ctx.end(new InputError('EARSHOT_UNSUPPORTED_FORMAT', `${this.flavor}: cannot decode the stream's audio (${encoding})`, { details: { protocol: this.flavor, encoding } }));
      return;
    }
    this.#codecSpec = spec;
    const tracks = start['tracks'];
    if (Array.isArray(tracks)) for (const t of tracks) if (typeof t === 'string') this.#track(t);
  }

  #resolveCodec(format: Record<string, unknown> | undefined): CodecSpec | undefined {
    const encoding = (pick(format, 'encoding') ?? '').toLowerCase();
    const rate = numberField(format, 'sampleRate') ?? numberField(format, 'sample_rate');
    const channels = numberField(format, 'channels') ?? 1;
    const valid = (r: number | undefined, d: number): number | undefined => {
      const v = r ?? d;
      return (Number.isInteger(v) && v >= 8000 && v <= 48000 && v % 1000 === 0) || v === 22050 || v === 44100 ? v : undefined;
    };
    if (!Number.isInteger(channels) || channels < 1 || channels > 2) return undefined;
    switch (this.flavor) {
      case 'twilio':
        return encoding === '' || encoding === 'audio/x-mulaw' ? { kind: 'ulaw', rate: 8000, channels: 1 } : undefined;
      case 'plivo': {
        const r = valid(rate, 8000);
        if (r === undefined) return undefined;
        if (encoding === '' || encoding.startsWith('audio/x-mulaw')) return { kind: 'ulaw', rate: 8000, channels: 1 };
        if (encoding.startsWith('audio/x-l16')) return { kind: 'l16le', rate: r, channels: 1 };
        return undefined;
      }
      case 'exotel': {
        const r = valid(rate, 8000);
        if (r === undefined) return undefined;
        if (encoding.includes('mulaw') || encoding.includes('ulaw')) return { kind: 'ulaw', rate: 8000, channels: 1 };
        return { kind: 'l16le', rate: r, channels: 1 }; // "audio/x-raw", "base64", or absent: raw 16-bit PCM
      }
      case 'telnyx': {
        if (encoding === '' || encoding === 'pcmu') return { kind: 'ulaw', rate: 8000, channels }; // G.711 is 8 kHz whatever sample_rate says
        if (encoding === 'pcma') return { kind: 'alaw', rate: 8000, channels };
        if (encoding === 'l16') {
          const r = valid(rate, 16000);
          return r === undefined ? undefined : { kind: 'l16be', rate: r, channels };
        }
        if (encoding === 'opus') return { kind: 'opus', rate: this.opusRate, channels: 2 };
        return undefined; // G722, AMR-WB: no decoder here
      }
    }
  }

  #track(name: string): Track | undefined {
    const existing = this.#tracks.get(name);
    if (existing) return existing;
    const channel = TRACK_CHANNEL[name];
    const spec = this.#codecSpec;
    if (channel === undefined || !spec) return undefined;
    // inbound_track and inbound are the same track.
    const canonical = name.replace(/_track$/, '');
    const same = this.#tracks.get(canonical);
    if (same) {
      this.#tracks.set(name, same);
      return same;
    }
    const codec = makeCodec(spec);
    const state = this.ctx.openTrack(canonical, channel, codec.rate);
    const jitter = this.reorderMs > 0 ? new JitterBuffer({ windowMs: this.reorderMs, clockRate: codec.rate, capacity: 64 }, (p) => this.#play(track, p)) : undefined;
    const track: Track = { state, codec, jitter };
    this.#tracks.set(canonical, track);
    if (canonical !== name) this.#tracks.set(name, track);
    if (jitter && !this.#poll) {
      this.#poll = setInterval(() => {
        const now = Date.now();
        for (const t of new Set(this.#tracks.values())) t.jitter?.poll(now);
      }, Math.max(5, Math.min(20, Math.floor(this.reorderMs / 4))));
      this.#poll.unref();
    }
    return track;
  }

  #media(msg: Record<string, unknown>): void {
    if (!this.ctx.call || !this.#codecSpec) return this.ctx.malformed();
    const media = objectField(msg, 'media');
    const payloadText = pick(media, 'payload');
    const payload = payloadText === undefined ? undefined : decodeBase64(payloadText);
    if (!media || !payload) return this.ctx.malformed();
    const trackName = pick(media, 'track') ?? 'inbound';
    const track = this.#track(trackName);
    if (!track) return this.ctx.malformed();
    const ts = numberField(media, 'timestamp');
    let at: number | undefined;
    if (ts !== undefined && ts >= 0) {
      let ms = ts;
      if (this.flavor === 'plivo' || this.flavor === 'exotel') {
        this.#epoch ??= ts;
        ms = ts - this.#epoch;
      }
      at = Math.round((ms * track.state.sampleRate) / 1000);
    }
    const chunk = numberField(media, 'chunk');
    if (track.jitter && chunk !== undefined && at !== undefined && Number.isInteger(chunk) && chunk >= 0) {
      const outcome = track.jitter.push({ sequence: chunk & 0xffff, timestamp: at >>> 0, payloadType: 0, marker: false, payload: Uint8Array.prototype.slice.call(payload) }, Date.now());
      if (outcome !== 'buffered') this.ctx.stats.lateDropped++; // a repeat, or later than its place (a frame before the first one included)
      return;
    }
    this.#decodeAndPlace(track, payload, at);
  }

  #play(track: Track, p: ReleasedPacket): void {
    if (this.ctx.ended) return;
    this.#decodeAndPlace(track, p.payload, p.extendedTimestamp);
  }

  #decodeAndPlace(track: Track, payload: Uint8Array, at: number | undefined): void {
    const samples = track.codec.decode(payload);
    if (!samples || samples.length === 0) return this.ctx.malformed();
    this.ctx.stats.mediaFrames++;
    track.state.place(samples, at);
  }
}

function makeCodec(spec: CodecSpec): TrackCodec {
  if (spec.kind === 'l16le') {
    return { rate: spec.rate, decode: (p) => (p.length % 2 === 0 ? toS16(Buffer.from(p.buffer, p.byteOffset, p.length), 's16le') : null), close() {} };
  }
  const mapping = spec.kind === 'ulaw' ? 'pcmu' : spec.kind === 'alaw' ? 'pcma' : spec.kind === 'l16be' ? 'l16' : 'opus';
  const clock = spec.kind === 'opus' ? 48000 : spec.rate;
  let decoder: PayloadDecoder | undefined = createPayloadDecoder(parsePayloadMapping({ codec: mapping, clockRate: clock, channels: spec.channels }), spec.kind === 'opus' ? { opusSampleRate: spec.rate as 16000 | 48000 } : {});
  return {
    rate: decoder.sampleRate,
    decode: (p) => {
      if (!decoder) return null;
      if (spec.kind === 'l16be' && p.length % (2 * spec.channels) !== 0) return null;
      return decoder.decode(p);
    },
    close: () => {
      decoder?.close();
      decoder = undefined;
    },
  };
}

