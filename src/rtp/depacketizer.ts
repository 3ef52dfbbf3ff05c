/**
 * The RTP depacketizer: datagrams in, one audio stream per SSRC out. Parsing, probation of new sources, a jitter
 * buffer per source, decoding in order, and a time line derived from RTP timestamps (holes become silence of the
 * right length, so audio time stays true through loss).
 *
 * It is push-based and synchronous, for a host that owns its sockets; `rtpStreams()` and `fromRtp()` wrap it as
 * Observables. Every buffer is bounded and every drop is counted in {@link RtpStats}.
 */
import type { Observable } from 'rxjs';
import { AudioLine } from '../core/audio-line.js';
import type { AudioChunk } from '../core/types.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseRtp } from './packet.js';
import { createPayloadDecoder, outputRate, resolvePayloads, type PayloadDecoder, type PayloadFormat, type PayloadMapping, type RtpCodecName } from './codecs.js';
import { JitterBuffer, type ReleasedPacket } from './jitter-buffer.js';

/** Settings of the depacketizer (all optional). */
export interface DepacketizerOptions {
  /** Payload type → codec, as an SDP's rtpmap lines give it (`{ 97: 'opus/48000/2' }`). Static 0, 8, 10, 11 are known. */
  payloads?: Readonly<Record<number, PayloadMapping>>;
  /** Rate Opus is decoded to: 48000 (default) or 16000. */
  opusSampleRate?: 16000 | 48000;
  /** Reordering window in ms. Default 80. */
  windowMs?: number;
  /** Packets a stream's jitter buffer holds at most. Default 256. */
  jitterCapacity?: number;
  /** Most concurrent streams (SSRCs); packets of further sources are dropped and counted. Default 64. */
  maxStreams?: number;
  /** A stream with no packet for this long is flushed and completed. Default 5000 ms. */
  idleTimeoutMs?: number;
  /** Longest timestamp gap filled with silence; a larger jump restarts the time line where it was. Default 30000 ms. */
  maxGapMs?: number;
  /** Require two packets in sequence before a new SSRC becomes a stream (RFC 3550 probation). Default true. */
  probation?: boolean;
  /**
   * What fills a lost packet's place: `'silence'` (default) or `'repeat'`, the last packet played again under a
   * fade to zero for at most 60 ms, then silence (a simple concealment that costs a recogniser fewer words).
   * Timestamp gaps without loss (DTX, silence suppression) are always silence.
   */
  conceal?: 'silence' | 'repeat';
  /** Audio a stream keeps for its first subscriber (dropping the oldest beyond it). Default 2000 ms. */
  preSubscribeMs?: number;
  /** Wall clock in ms (tests may inject one). Default `Date.now`. */
  now?: () => number;
}

/** Counters of one stream. */
export interface RtpStreamStats {
  /** RTP packets of this SSRC taken in. */
  received: number;
  /** Packets decoded into audio. */
  decoded: number;
  duplicates: number;
  /** Packets that came after their place was declared lost. */
  late: number;
  /** Sequence numbers never received in time. */
  lost: number;
  /** Silence inserted for loss and timestamp gaps, in ms of audio. */
  concealedMs: number;
  /** Payloads the codec rejected. */
  decodeErrors: number;
  /** Packets with a payload type this stream cannot play (comfort noise, DTMF, another rate). */
  unsupported: number;
  /** Far sequence jumps dropped pending confirmation. */
  stray: number;
  /** Sequence restarts and timestamp jumps beyond `maxGapMs` (the time line continued where it was). */
  discontinuities: number;
  /** Audio chunks dropped because no one had subscribed yet and `preSubscribeMs` was full. */
  droppedOverflow: number;
}

/** Counters of a depacketizer: its own plus the sum over all its streams, past and present. */
export interface RtpStats extends RtpStreamStats {
  /** Datagrams pushed. */
  datagrams: number;
  /** RTCP packets (ignored, except BYE which ends a stream). */
  rtcp: number;
  /** Datagrams that are neither valid RTP nor RTCP. */
  malformed: number;
  /** Streams opened so far. */
  streams: number;
  /** Streams open now. */
  activeStreams: number;
  /** Packets of sources that failed probation (no second packet in sequence). */
  probationDropped: number;
}

/** One participant: the audio of one SSRC, decoded, in order, with true audio time. */
export interface RtpStream {
  readonly ssrc: number;
  /** Payload type of the first packet. */
  readonly payloadType: number;
  readonly codec: RtpCodecName;
  /** Rate of the audio chunks: 8000 for PCMU/PCMA, the clock for L16, 48000 or 16000 for Opus. */
  readonly sampleRate: number;
  /**
   * Mono s16 chunks, `offset` in frames from this stream's first packet. Hot: it completes after
   * `idleTimeoutMs` without packets, an RTCP BYE, or the end of the source. Up to `preSubscribeMs` of audio is
   * kept for the first subscriber.
   */
  readonly audio$: Observable<AudioChunk>;
  /** This stream's counters. */
  stats(): RtpStreamStats;
}

/** Callbacks of a {@link RtpDepacketizer}. */
export interface DepacketizerHandlers {
  /** A new SSRC passed probation. */
  onStream(stream: RtpStream): void;
}

/** How far apart (in sequence numbers) the two packets that prove a new source may be. */
const PROBATION_SPAN = 8;

function zeroStreamStats(): RtpStreamStats {
  return { received: 0, decoded: 0, duplicates: 0, late: 0, lost: 0, concealedMs: 0, decodeErrors: 0, unsupported: 0, stray: 0, discontinuities: 0, droppedOverflow: 0 };
}

const STREAM_KEYS = Object.keys(zeroStreamStats()) as Array<keyof RtpStreamStats>;

/** Per-SSRC state: jitter buffer, decoders, time line, subscribers. */
class StreamState implements RtpStream {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly codec: RtpCodecName;
  readonly sampleRate: number;
  readonly audio$: Observable<AudioChunk>;
  readonly counters = zeroStreamStats();
  readonly jitter: JitterBuffer;
  lastArrival: number;
  closed = false;

  readonly #clockRate: number;
  readonly #ratio: number;
  readonly #maxGapFrames: number;
  readonly #repeat: boolean;
  readonly #repeatFrames: number;
  #last: Int16Array | undefined;
  readonly #table: Map<number, PayloadFormat>;
  readonly #opusRate: 16000 | 48000 | undefined;
  readonly #decoders = new Map<number, PayloadDecoder>();
  readonly #line: AudioLine;
  #started = false;
  #tsBase = 0;
  #posBase = 0;

  constructor(ssrc: number, payloadType: number, format: PayloadFormat, table: Map<number, PayloadFormat>, options: Required<Pick<DepacketizerOptions, 'windowMs' | 'jitterCapacity' | 'maxGapMs' | 'preSubscribeMs' | 'conceal'>> & { opusSampleRate: 16000 | 48000 | undefined }, now: number) {
    this.ssrc = ssrc;
    this.payloadType = payloadType;
    this.codec = format.codec;
    this.#opusRate = options.opusSampleRate;
    this.sampleRate = outputRate(format, this.#decoderOptions());
    this.#clockRate = format.clockRate;
    this.#ratio = this.sampleRate / this.#clockRate;
    this.#maxGapFrames = Math.round((options.maxGapMs * this.sampleRate) / 1000);
    this.#line = new AudioLine(this.sampleRate, options.preSubscribeMs, () => this.counters.droppedOverflow++);
    this.audio$ = this.#line.audio$;
    this.#repeat = options.conceal === 'repeat';
    this.#repeatFrames = Math.round((60 * this.sampleRate) / 1000);
    this.#table = table;
    this.lastArrival = now;
    this.jitter = new JitterBuffer({ windowMs: options.windowMs, clockRate: format.clockRate, capacity: options.jitterCapacity }, (p) => this.#play(p));
  }

  stats(): RtpStreamStats {
    const j = this.jitter.stats;
    return { ...this.counters, duplicates: j.duplicates, late: j.late, lost: j.lost, stray: j.stray, discontinuities: this.counters.discontinuities + j.resyncs };
  }

  /** End the stream: flush the jitter buffer (unless `abrupt`), complete or error the subscribers. */
  end(options: { abrupt?: boolean; error?: unknown } = {}): void {
    if (this.closed) return;
    if (!options.abrupt) this.jitter.flush();
    this.closed = true;
    for (const d of this.#decoders.values()) d.close();
    this.#decoders.clear();
    this.#line.end(options);
  }

  #decoderOptions(): { opusSampleRate?: 16000 | 48000 } {
    return this.#opusRate === undefined ? {} : { opusSampleRate: this.#opusRate };
  }

  #decoder(pt: number): PayloadDecoder | undefined {
    let d = this.#decoders.get(pt);
    if (d) return d;
    const format = this.#table.get(pt);
    if (!format || outputRate(format, this.#decoderOptions()) !== this.sampleRate) return undefined;
    d = createPayloadDecoder(format, this.#decoderOptions());
    this.#decoders.set(pt, d);
    return d;
  }

  /** A packet leaves the jitter buffer in order: place it on the time line, fill the gap before it, decode. */
  #play(p: ReleasedPacket): void {
    const decoder = this.#decoder(p.payloadType);
    if (!decoder) {
      this.counters.unsupported++;
      return;
    }
    if (!this.#started) {
      this.#started = true;
      this.#tsBase = p.extendedTimestamp;
      this.#posBase = 0;
    } else if (p.resync) {
      this.#rebase(p.extendedTimestamp);
    }
    let pos = this.#posBase + Math.round((p.extendedTimestamp - this.#tsBase) * this.#ratio);
    const gap = pos - this.#line.head;
    if (gap > this.#maxGapFrames || gap < -this.#maxGapFrames) {
      this.counters.discontinuities++;
      this.#rebase(p.extendedTimestamp);
      pos = this.#line.head;
    }
    if (pos > this.#line.head) {
      const gap = pos - this.#line.head;
      const repeated = this.#repeat && p.lostBefore > 0 && this.#last ? this.#conceal(Math.min(gap, this.#repeatFrames)) : 0;
      if (gap > repeated) this.#silence(gap - repeated);
    }
    const samples = decoder.decode(p.payload);
    if (!samples) {
      this.counters.decodeErrors++;
      return;
    }
    this.counters.decoded++;
    this.#last = samples;
    const trim = this.#line.head - pos;
    if (trim >= samples.length) return;
    this.#emit(trim > 0 ? samples.subarray(trim) : samples);
  }

  #rebase(extTs: number): void {
    this.#tsBase = extTs;
    this.#posBase = this.#line.head;
  }

  /** Play the last packet again, cyclically, fading to zero over `frames`; returns the frames written. */
  #conceal(frames: number): number {
    const last = this.#last!;
    const out = new Int16Array(frames);
    for (let i = 0; i < frames; i++) out[i] = Math.round(last[i % last.length]! * (1 - (i + 1) / (frames + 1)));
    this.counters.concealedMs += (frames * 1000) / this.sampleRate;
    this.#emit(out);
    return frames;
  }

  #silence(frames: number): void {
    this.counters.concealedMs += (frames * 1000) / this.sampleRate;
    this.#line.silence(frames);
  }

  #emit(samples: Int16Array): void {
    this.#line.write(samples);
  }
}

/**
 * Turns RTP datagrams into per-SSRC audio streams. Push datagrams with {@link RtpDepacketizer.push}; call
 * {@link RtpDepacketizer.poll} every few ms (or let `rtpStreams()` do it); {@link RtpDepacketizer.close} at the end.
 *
 * @example
 * ```ts
 * const depack = new RtpDepacketizer({ payloads: { 97: 'opus/48000/2' } }, {
 *   onStream: (s) => s.audio$.subscribe((chunk) => console.log(s.ssrc, chunk.offset)),
 * });
 * socket.on('message', (msg) => depack.push(msg));
 * ```
 */
export class RtpDepacketizer {
  readonly #table: Map<number, PayloadFormat>;
  readonly #handlers: DepacketizerHandlers;
  readonly #now: () => number;
  readonly #maxStreams: number;
  readonly #idleMs: number;
  readonly #probation: boolean;
  readonly #streamOptions: ConstructorParameters<typeof StreamState>[4];
  readonly #streams = new Map<number, StreamState>();
  /** First packet of each source on probation (at most max(64, 2 × maxStreams); the oldest is evicted). */
  readonly #candidates = new Map<number, { sequence: number; timestamp: number; payloadType: number; marker: boolean; payload: Uint8Array; at: number }>();
  readonly #retired = zeroStreamStats();
  readonly #own = { datagrams: 0, rtcp: 0, malformed: 0, streams: 0, probationDropped: 0, droppedOverflow: 0, unsupported: 0, received: 0 };
  #closed = false;

  /**
   * @param options - see {@link DepacketizerOptions}.
   * @param handlers - `onStream` for each new SSRC.
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for bad payload mappings or limits.
   */
  constructor(options: DepacketizerOptions, handlers: DepacketizerHandlers) {
    this.#table = resolvePayloads(options.payloads);
    this.#handlers = handlers;
    this.#now = options.now ?? Date.now;
    this.#maxStreams = positive(options.maxStreams ?? 64, 'maxStreams');
    this.#idleMs = positive(options.idleTimeoutMs ?? 5000, 'idleTimeoutMs');
    this.#probation = options.probation ?? true;
    if (options.conceal !== undefined && options.conceal !== 'silence' && options.conceal !== 'repeat') throw new InvalidArgumentError(`conceal must be 'silence' or 'repeat'`);
    const opus = options.opusSampleRate;
    if (opus !== undefined && opus !== 16000 && opus !== 48000) throw new InvalidArgumentError(`opusSampleRate must be 16000 or 48000, not ${String(opus)}`);
    this.#streamOptions = {
      windowMs: positive(options.windowMs ?? 80, 'windowMs'),
      jitterCapacity: positive(options.jitterCapacity ?? 256, 'jitterCapacity'),
      maxGapMs: positive(options.maxGapMs ?? 30000, 'maxGapMs'),
      preSubscribeMs: nonNegative(options.preSubscribeMs ?? 2000, 'preSubscribeMs'),
      conceal: options.conceal ?? 'silence',
      opusSampleRate: opus,
    };
  }

  /** True once streams are open (the owner should call `poll` regularly while it is). */
  get active(): boolean {
    return this.#streams.size > 0;
  }

  /**
   * Take one datagram (RTP or RTCP). Never throws on bad input: it is counted.
   * @param datagram - the UDP payload; it is not kept (payloads are copied).
   */
  push(datagram: Uint8Array): void {
    if (this.#closed) return;
    this.#own.datagrams++;
    const now = this.#now();
    const r = parseRtp(datagram);
    if (r.kind === 'malformed') {
      this.#own.malformed++;
      return;
    }
    if (r.kind === 'rtcp') {
      this.#own.rtcp++;
      for (const ssrc of r.bye) this.#end(ssrc);
      return;
    }
    const p = r.packet;
    const stream = this.#streams.get(p.ssrc);
    const packet = { sequence: p.sequence, timestamp: p.timestamp, payloadType: p.payloadType, marker: p.marker, payload: Uint8Array.prototype.slice.call(p.payload) };
    if (stream) {
      stream.counters.received++;
      stream.lastArrival = now;
      stream.jitter.push(packet, now);
      return;
    }
    this.#own.received++;
    const format = this.#table.get(p.payloadType);
    if (!format) {
      this.#own.unsupported++;
      return;
    }
    if (this.#streams.size >= this.#maxStreams) {
      this.#own.droppedOverflow++;
      return;
    }
    if (this.#probation) {
      const prev = this.#candidates.get(p.ssrc);
      // Two packets close in sequence (a little reordering allowed) prove a source (RFC 3550 A.1, relaxed).
      const delta = prev ? ((p.sequence - prev.sequence + 0x8000) & 0xffff) - 0x8000 : 0;
      if (!prev || delta === 0 || delta > PROBATION_SPAN || delta < -PROBATION_SPAN) {
        if (prev) this.#own.probationDropped++;
        this.#candidates.delete(p.ssrc);
        if (this.#candidates.size >= Math.max(64, 2 * this.#maxStreams)) {
          const oldest = this.#candidates.keys().next().value as number;
          this.#candidates.delete(oldest);
          this.#own.probationDropped++;
        }
        this.#candidates.set(p.ssrc, { ...packet, at: now });
        return;
      }
      this.#candidates.delete(p.ssrc);
      const s = this.#open(p.ssrc, prev.payloadType, this.#table.get(prev.payloadType) ?? format, now);
      this.#own.received -= 2;
      s.counters.received += 2;
      const [first, second] = delta > 0 ? [prev, packet] : [packet, prev];
      s.jitter.push(first, prev.at);
      s.jitter.push(second, now);
      return;
    }
    this.#own.received--;
    const s = this.#open(p.ssrc, p.payloadType, format, now);
    s.counters.received++;
    s.jitter.push(packet, now);
  }

  /** Release packets whose reordering wait has passed and end idle streams. Call every few ms. */
  poll(): void {
    const now = this.#now();
    for (const s of this.#streams.values()) {
      s.jitter.poll(now);
      if (now - s.lastArrival >= this.#idleMs) this.#end(s.ssrc);
    }
    for (const [ssrc, c] of this.#candidates) {
      if (now - c.at < this.#idleMs) break;
      this.#candidates.delete(ssrc);
      this.#own.probationDropped++;
    }
  }

  /**
   * End every stream: flush (or, with `abrupt`, drop) what their jitter buffers hold, then complete them, or
   * error them with `error`. Further pushes are ignored.
   */
  close(options: { abrupt?: boolean; error?: unknown } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ssrc of [...this.#streams.keys()]) this.#end(ssrc, options);
    this.#candidates.clear();
  }

  /** Counters so far (a snapshot). */
  stats(): RtpStats {
    const sum = { ...this.#retired };
    for (const s of this.#streams.values()) addInto(sum, s.stats());
    return {
      ...sum,
      received: sum.received + this.#own.received,
      unsupported: sum.unsupported + this.#own.unsupported,
      droppedOverflow: sum.droppedOverflow + this.#own.droppedOverflow,
      datagrams: this.#own.datagrams,
      rtcp: this.#own.rtcp,
      malformed: this.#own.malformed,
      streams: this.#own.streams,
      activeStreams: this.#streams.size,
      probationDropped: this.#own.probationDropped,
    };
  }

  #open(ssrc: number, payloadType: number, format: PayloadFormat, now: number): StreamState {
    const s = new StreamState(ssrc, payloadType, format, this.#table, this.#streamOptions, now);
    this.#streams.set(ssrc, s);
    this.#own.streams++;
    this.#handlers.onStream(s);
    return s;
  }

  #end(ssrc: number, options: { abrupt?: boolean; error?: unknown } = {}): void {
    const s = this.#streams.get(ssrc);
    if (!s) return;
    this.#streams.delete(ssrc);
    s.end(options);
    addInto(this.#retired, s.stats());
  }
}

function addInto(into: RtpStreamStats, add: RtpStreamStats): void {
  for (const k of STREAM_KEYS) into[k] += add[k];
}

function positive(v: number, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive number`, { details: { [name]: v } });
  return v;
}

function nonNegative(v: number, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${name} must be zero or more`, { details: { [name]: v } });
  return v;
}
