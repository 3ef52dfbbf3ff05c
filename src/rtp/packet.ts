/**
 * RTP (RFC 3550) and RTCP packet parsing, allocation-free apart from the returned header object.
 *
 * RTP and RTCP may share one port (RFC 5761): a datagram whose second byte is 192–223 is RTCP.
 * Parsing never throws: a datagram is classified as RTP, RTCP or malformed (with the reason).
 */

/** One parsed RTP packet. `payload` is a view on the datagram (no copy). */
export interface RtpPacket {
  /** Always 2. */
  readonly version: number;
  readonly padding: boolean;
  readonly extension: boolean;
  readonly marker: boolean;
  /** Payload type, 0–127. */
  readonly payloadType: number;
  /** 16-bit sequence number. */
  readonly sequence: number;
  /** 32-bit RTP timestamp (unsigned). */
  readonly timestamp: number;
  /** 32-bit synchronisation source (unsigned). */
  readonly ssrc: number;
  /** Contributing sources (unsigned), empty for most audio. */
  readonly csrcs: readonly number[];
  /** Header extension profile (`0xBEDE` for one-byte RFC 8285 extensions), when `extension` is set. */
  readonly extensionProfile?: number;
  /** The media payload, padding removed: a view on the datagram. */
  readonly payload: Uint8Array;
}

/** What a datagram turned out to be. */
export type RtpParseResult =
  | { readonly kind: 'rtp'; readonly packet: RtpPacket }
  | { readonly kind: 'rtcp'; /** SSRCs named in an RTCP BYE, if the compound packet has one. */ readonly bye: readonly number[] }
  | { readonly kind: 'malformed'; readonly reason: string };

/** Smallest RTP header: 12 bytes. */
export const RTP_HEADER_SIZE = 12;

const EMPTY: readonly number[] = Object.freeze([]);

/**
 * Classify and parse one datagram as RTP, RTCP or malformed.
 *
 * Checks the version (2), the CSRC list, the header extension length and the padding count against the
 * datagram's length. RTCP (second byte 192–223, RFC 5761) is recognised, and the SSRCs of an RTCP BYE are
 * returned so the caller can end those streams; everything else in RTCP is ignored.
 *
 * @param data - one UDP payload.
 * @returns the classification; never throws.
 * @example
 * ```ts
 * const r = parseRtp(datagram);
 * if (r.kind === 'rtp') console.log(r.packet.ssrc, r.packet.sequence, r.packet.payload.length);
 * ```
 */
export function parseRtp(data: Uint8Array): RtpParseResult {
  const len = data.length;
  if (len < 2) return { kind: 'malformed', reason: 'shorter than a header' };
  const b0 = data[0]!;
  const b1 = data[1]!;
  if (b0 >> 6 !== 2) return { kind: 'malformed', reason: `version ${b0 >> 6}` };
  if (b1 >= 192 && b1 <= 223) return parseRtcp(data);
  if (len < RTP_HEADER_SIZE) return { kind: 'malformed', reason: 'shorter than a header' };

  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  let pos = RTP_HEADER_SIZE + cc * 4;
  if (pos > len) return { kind: 'malformed', reason: 'CSRC list past the end' };
  const view = new DataView(data.buffer, data.byteOffset, len);
  let csrcs: readonly number[] = EMPTY;
  if (cc > 0) {
    const list: number[] = [];
    for (let i = 0; i < cc; i++) list.push(view.getUint32(RTP_HEADER_SIZE + i * 4));
    csrcs = list;
  }
  let extensionProfile: number | undefined;
  if (extension) {
    if (pos + 4 > len) return { kind: 'malformed', reason: 'extension header past the end' };
    extensionProfile = view.getUint16(pos);
    const words = view.getUint16(pos + 2);
    pos += 4 + words * 4;
    if (pos > len) return { kind: 'malformed', reason: 'extension past the end' };
  }
  let end = len;
  if (padding) {
    const pad = data[len - 1]!;
    if (pad === 0 || len - pad < pos) return { kind: 'malformed', reason: 'bad padding count' };
    end = len - pad;
  }
  const packet: RtpPacket = {
    version: 2,
    padding,
    extension,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    csrcs,
    ...(extensionProfile === undefined ? {} : { extensionProfile }),
    payload: data.subarray(pos, end),
  };
  return { kind: 'rtp', packet };
}

/** Walk a (compound) RTCP packet; collect BYE SSRCs. Malformed RTCP is still RTCP: it is ignored, never fatal. */
function parseRtcp(data: Uint8Array): RtpParseResult {
  const len = data.length;
  let bye: number[] | undefined;
  let pos = 0;
  while (pos + 4 <= len) {
    const b0 = data[pos]!;
    if (b0 >> 6 !== 2) break;
    const pt = data[pos + 1]!;
    const words = (data[pos + 2]! << 8) | data[pos + 3]!;
    const size = (words + 1) * 4;
    if (pos + size > len) break;
    if (pt === 203) {
      const count = b0 & 0x1f;
      for (let i = 0; i < count && 4 + (i + 1) * 4 <= size; i++) {
        const o = pos + 4 + i * 4;
        (bye ??= []).push(((data[o]! << 24) | (data[o + 1]! << 16) | (data[o + 2]! << 8) | data[o + 3]!) >>> 0);
      }
    }
    pos += size;
  }
  return { kind: 'rtcp', bye: bye ?? EMPTY };
}

/** Fields for {@link buildRtp}. */
export interface RtpPacketInit {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
  marker?: boolean;
  csrcs?: readonly number[];
  /** Extension profile and data (data length must be a multiple of 4). */
  extension?: { profile: number; data: Uint8Array };
  /** Padding bytes to append (1–255). */
  padding?: number;
}

/**
 * Build one RTP packet: for tests, benchmarks and hosts that relay audio.
 *
 * Numbers are masked to their field widths (sequence to 16 bits, timestamp and SSRC to 32), at most 15 CSRCs are
 * written, and the extension data is cut to a multiple of 4 bytes; nothing is thrown.
 *
 * @param init - header fields and payload.
 * @returns a new Buffer with the packet.
 * @example
 * ```ts
 * const pkt = buildRtp({ payloadType: 0, sequence: 1, timestamp: 160, ssrc: 42, payload: new Uint8Array(160) });
 * ```
 */
export function buildRtp(init: RtpPacketInit): Buffer {
  const csrcs = init.csrcs ?? [];
  const cc = Math.min(csrcs.length, 15);
  const ext = init.extension;
  const extLen = ext ? 4 + (ext.data.length & ~3) : 0;
  const pad = init.padding ? Math.max(1, Math.min(255, init.padding)) : 0;
  const size = RTP_HEADER_SIZE + cc * 4 + extLen + init.payload.length + pad;
  const buf = Buffer.alloc(size);
  buf[0] = 0x80 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | cc;
  buf[1] = (init.marker ? 0x80 : 0) | (init.payloadType & 0x7f);
  buf.writeUInt16BE(init.sequence & 0xffff, 2);
  buf.writeUInt32BE(init.timestamp >>> 0, 4);
  buf.writeUInt32BE(init.ssrc >>> 0, 8);
  let pos = RTP_HEADER_SIZE;
  for (let i = 0; i < cc; i++, pos += 4) buf.writeUInt32BE(csrcs[i]! >>> 0, pos);
  if (ext) {
    buf.writeUInt16BE(ext.profile & 0xffff, pos);
    buf.writeUInt16BE((ext.data.length >> 2) & 0xffff, pos + 2);
    buf.set(ext.data.subarray(0, ext.data.length & ~3), pos + 4);
    pos += extLen;
  }
  buf.set(init.payload, pos);
  if (pad) buf[size - 1] = pad;
  return buf;
}

/**
 * The name earshot gives an RTP participant: its SSRC in hex as RTP tools show it (Wireshark's
 * `0x3bd0e7c5`), 8 digits, e.g. `ssrc-0x3bd0e7c5`. The CLI labels captions with it (`--vtt`: `<v ssrc-0x3bd0e7c5>`).
 *
 * @param ssrc - the synchronization source identifier (an unsigned 32-bit number).
 * @example
 * ```ts
 * ssrcName(1003546565); // 'ssrc-0x3bd0e7c5'
 * fromRtp({ port: 5004 }).subscribe((p) => p.audio$.pipe(resample(16000), transcribe(local()), toVtt(`${ssrcName(p.ssrc)}.vtt`)).subscribe());
 * ```
 */
export function ssrcName(ssrc: number): string {
  return `ssrc-0x${(ssrc >>> 0).toString(16).padStart(8, '0')}`;
}
