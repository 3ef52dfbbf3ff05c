/**
 * RTP sources: live audio from a media server (a SIP gateway, an SFU, a conference bridge), one stream per
 * participant (SSRC).
 *
 * - {@link fromRtp} listens on a UDP port itself.
 * - {@link rtpStreams} takes datagrams a host application already receives on its own sockets.
 *
 * Both are hot: they cannot pause a sender, so they attach no FlowControl; their buffers are bounded and
 * everything dropped is counted in `stats()`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { Observable } from 'rxjs';
import { InputError, InvalidArgumentError } from '../core/errors.js';
import { RtpDepacketizer, type DepacketizerOptions, type RtpStats, type RtpStream } from '../rtp/depacketizer.js';
import { parsePayloadMapping, type PayloadMapping } from '../rtp/codecs.js';

export type { RtpStream, RtpStats, RtpStreamStats, DepacketizerOptions } from '../rtp/depacketizer.js';

/** An Observable of per-SSRC streams that can also report its counters. */
export interface RtpStreams extends Observable<RtpStream> {
  /** Counters summed over every subscription of this source, past and present. */
  stats(): RtpStats;
}

/** Options of {@link fromRtp}. */
export interface RtpSourceOptions extends DepacketizerOptions {
  /** UDP port to listen on; 0 picks a free one (see `onListening`). */
  port: number;
  /** Address to bind. Default `127.0.0.1`; an IPv6 address binds a udp6 socket. */
  host?: string;
  /** Kernel receive buffer for the socket, in bytes. Default 1 MiB (the kernel may cap it). */
  recvBufferSize?: number;
  /** Called once the socket is bound, with the address and port actually used. */
  onListening?: (address: { address: string; port: number; family: string }) => void;
}

const STAT_ZERO: RtpStats = {
  received: 0, decoded: 0, duplicates: 0, late: 0, lost: 0, concealedMs: 0, decodeErrors: 0, unsupported: 0, stray: 0,
  discontinuities: 0, droppedOverflow: 0, datagrams: 0, rtcp: 0, malformed: 0, streams: 0, activeStreams: 0, probationDropped: 0,
};

function pollInterval(options: DepacketizerOptions): number {
  return Math.max(5, Math.min(20, Math.floor((options.windowMs ?? 80) / 4)));
}

/** Wrap a per-subscription setup as an Observable with an aggregate `stats()`. */
function streamsObservable(options: DepacketizerOptions, attach: (depack: RtpDepacketizer, fail: (err: unknown) => void, done: () => void) => () => void): RtpStreams {
  // Misuse throws here, when the pipeline is built.
  new RtpDepacketizer(options, { onStream() {} }).close();
  const live = new Set<RtpDepacketizer>();
  const retired: RtpStats = { ...STAT_ZERO };
  const observable = new Observable<RtpStream>((subscriber) => {
    const depack = new RtpDepacketizer(options, { onStream: (s) => subscriber.next(s) });
    live.add(depack);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      live.delete(depack);
      addStats(retired, depack.stats());
    };
    const timer = setInterval(() => depack.poll(), pollInterval(options));
    timer.unref();
    const detach = attach(
      depack,
      (err) => {
        depack.close({ error: err });
        finish();
        subscriber.error(err);
      },
      () => {
        depack.close();
        finish();
        subscriber.complete();
      },
    );
    return () => {
      detach();
      depack.close({ abrupt: true });
      finish();
    };
  });
  return Object.assign(observable, {
    stats(): RtpStats {
      const sum = { ...retired, activeStreams: 0 };
      for (const d of live) addStats(sum, d.stats());
      return sum;
    },
  });
}

function addStats(into: RtpStats, add: RtpStats): void {
  for (const k of Object.keys(STAT_ZERO) as Array<keyof RtpStats>) into[k] += add[k];
}

/**
 * Depacketize RTP datagrams that the host application already receives (a media server owns its sockets).
 *
 * Each new SSRC (after two packets in sequence) becomes an {@link RtpStream} whose `audio$` emits mono s16
 * chunks in order with true audio time: reordered packets are put back within `windowMs`, duplicates dropped,
 * lost packets and timestamp gaps filled with silence, sequence/timestamp wraparound handled. RTCP is counted and
 * ignored, except a BYE, which ends its streams. A stream completes after `idleTimeoutMs` without packets, and all
 * complete when `packets$` completes (after flushing their jitter buffers). If `packets$` errors, every stream and
 * the outer Observable error with that error.
 *
 * @param packets$ - UDP payloads (Buffer or Uint8Array), RTP and RTCP mixed as they come.
 * @param options - payload mapping, jitter and bounds; see {@link DepacketizerOptions}.
 * @returns an Observable of streams, with `stats()`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad payload mapping or limit.
 * @example
 * ```ts
 * const packets$ = new Subject<Buffer>();
 * mySocket.on('message', (m) => packets$.next(m));
 * rtpStreams(packets$, { payloads: { 111: 'opus/48000/2' } }).subscribe((s) =>
 *   s.audio$.pipe(resample(16000), transcribe(local())).subscribe((e) => console.log(s.ssrc, e.text)));
 * ```
 */
export function rtpStreams(packets$: Observable<Uint8Array>, options: DepacketizerOptions = {}): RtpStreams {
  if (!packets$ || typeof packets$.subscribe !== 'function') throw new InvalidArgumentError('rtpStreams needs an Observable of packets');
  return streamsObservable(options, (depack, fail, done) => {
    const sub = packets$.subscribe({
      next: (packet) => {
        if (packet instanceof Uint8Array) depack.push(packet);
        else depack.push(new Uint8Array(0)); // counted as malformed
      },
      error: fail,
      complete: done,
    });
    return () => sub.unsubscribe();
  });
}

/**
 * Listen for RTP on a UDP port and emit one audio stream per SSRC (see {@link rtpStreams} for the stream
 * semantics). The socket opens on subscribe and closes on unsubscribe; the Observable never completes by itself.
 *
 * @param options - `port` (0 for any; read it in `onListening`), `host` (default 127.0.0.1), `payloads`
 *   (dynamic payload types, e.g. `{ 97: 'opus/48000/2' }`), and the depacketizer settings.
 * @returns an Observable of streams, with `stats()`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad port, host or payload mapping.
 *   A socket failure (port in use) errors the Observable with an InputError `EARSHOT_RTP_FAILED`.
 * @example
 * ```ts
 * fromRtp({ port: 5004, payloads: { 97: 'opus/48000/2' } }).subscribe((s) =>
 *   s.audio$.subscribe((chunk) => console.log(s.ssrc, chunk.offset / chunk.sampleRate)));
 * ```
 */
export function fromRtp(options: RtpSourceOptions): RtpStreams {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('fromRtp needs options with a port');
  const { port, host = '127.0.0.1', recvBufferSize = 1 << 20, onListening } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`RTP port must be an integer 0–65535, not ${String(port)}`);
  const family = isIP(host);
  if (family === 0) throw new InvalidArgumentError(`RTP host must be an IP address, not "${host}"`);
  if (!Number.isInteger(recvBufferSize) || recvBufferSize <= 0) throw new InvalidArgumentError('recvBufferSize must be a positive integer');
  return streamsObservable(options, (depack, fail) => {
    let socket: Socket | undefined = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    socket.on('message', (msg) => depack.push(msg));
    socket.on('error', (err) => {
      closeSocket();
      fail(new InputError('EARSHOT_RTP_FAILED', `RTP socket on ${host}:${port} failed: ${err.message}`, { cause: err, details: { host, port } }));
    });
    socket.once('listening', () => {
      if (!socket) return;
      try {
        socket.setRecvBufferSize(recvBufferSize);
      } catch {
        // The kernel refused the size: keep its default (the socket still works).
      }
      const a = socket.address();
      onListening?.({ address: a.address, port: a.port, family: a.family });
    });
    socket.bind(port, host);
    function closeSocket(): void {
      const s = socket;
      socket = undefined;
      if (!s) return;
      s.removeAllListeners('message');
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    return closeSocket;
  });
}

/** What the CLI's `--codec` accepts: a codec name, optionally with rate and channels for L16 (`l16/16000/1`). */
export type CliCodec = string;

/**
 * Payload mappings for a `--codec` flag: PCMU and PCMA use their static types (0, 8) and also claim the
 * dynamic range; L16 (default 16000 Hz mono) and Opus claim every dynamic type 96–127, unless `payloadType`
 * names the one to use.
 *
 * @param codec - `pcmu`, `pcma`, `l16[/rate[/channels]]` or `opus`.
 * @param payloadType - the dynamic type the sender uses, if known.
 * @returns a `payloads` table for {@link fromRtp}.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for an unknown codec or payload type.
 * @example
 * ```ts
 * codecPayloads('opus', 111); // { 111: 'opus/48000/2' }
 * ```
 */
export function codecPayloads(codec: CliCodec, payloadType?: number): Record<number, PayloadMapping> {
  let text = codec.trim().toLowerCase();
  if (text === 'l16') text = 'l16/16000/1';
  const format = parsePayloadMapping(text);
  const mapping = `${format.codec}/${format.clockRate}/${format.channels}`;
  if (payloadType !== undefined) {
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) throw new InvalidArgumentError(`RTP payload type must be 0–127, not ${String(payloadType)}`);
    return { [payloadType]: mapping };
  }
  const out: Record<number, PayloadMapping> = {};
  for (let pt = 96; pt <= 127; pt++) out[pt] = mapping;
  return out;
}

/**
 * Turn an `rtp://host:port` URL (and the CLI's `--codec`) into {@link fromRtp} options.
 * Query parameters: `codec` (as `--codec`), `pt` (the sender's payload type), `rate` (L16 sample rate),
 * `opusRate` (16000 or 48000).
 *
 * @param url - e.g. `rtp://127.0.0.1:5004`, `rtp://0.0.0.0:5004?codec=opus&pt=111`, `rtp://[::1]:5004`.
 * @param options - `codec` from the command line (wins over the URL's).
 * @returns options for `fromRtp` (port, host, payloads, opusSampleRate).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a URL that is not `rtp://ip:port` or a bad codec.
 * @example
 * ```ts
 * fromRtp(parseRtpUrl('rtp://127.0.0.1:5004', { codec: 'opus' }));
 * ```
 */
export function parseRtpUrl(url: string, options: { codec?: string } = {}): RtpSourceOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new InvalidArgumentError(`not a URL: ${url}`, { cause });
  }
  if (u.protocol !== 'rtp:') throw new InvalidArgumentError(`RTP URL must start with rtp://, not ${u.protocol}//`);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port);
  if (!u.port || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`RTP URL needs a port (0 for any free one): ${url}`);
  if (isIP(host) === 0) throw new InvalidArgumentError(`RTP URL host must be an IP address: ${host}`);
  const out: RtpSourceOptions = { port, host };
  let codec = options.codec ?? u.searchParams.get('codec') ?? undefined;
  const rate = u.searchParams.get('rate');
  if (codec && rate && codec.toLowerCase() === 'l16') codec = `l16/${rate}/1`;
  const ptText = u.searchParams.get('pt');
  const pt = ptText === null ? undefined : Number(ptText);
  if (codec) out.payloads = codecPayloads(codec, pt);
  else if (pt !== undefined) throw new InvalidArgumentError('an RTP payload type (pt) needs a codec');
  const opusRate = u.searchParams.get('opusRate');
  if (opusRate !== null) {
    const r = Number(opusRate);
    if (r !== 16000 && r !== 48000) throw new InvalidArgumentError(`opusRate must be 16000 or 48000, not ${opusRate}`);
    out.opusSampleRate = r;
  }
  return out;
}
