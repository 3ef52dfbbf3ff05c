/**
 * `earshot/rtp`: RTP below the `fromRtp` source — packet parsing and building, payload formats (static, SDP,
 * mappings) and the per-SSRC depacketizer with its jitter buffer, for servers that receive packets themselves.
 *
 * @example
 * ```ts
 * import { parseRtp, payloadsFromSdp } from 'earshot/rtp';
 * ```
 */
export { RtpDepacketizer } from './depacketizer.js';
export type { DepacketizerHandlers, DepacketizerOptions, RtpStream, RtpStats, RtpStreamStats } from './depacketizer.js';
export { parseRtp, buildRtp, ssrcName } from './packet.js';
export type { RtpPacket, RtpPacketInit, RtpParseResult } from './packet.js';
export { payloadsFromSdp, parsePayloadMapping } from './codecs.js';
export type { PayloadMapping, PayloadFormat, RtpCodecName } from './codecs.js';
