/**
 * RTP audio payload formats and their decoders: G.711 µ-law (PCMU) and A-law (PCMA) by table, L16 (big-endian
 * signed 16-bit, RFC 3551) and Opus (RFC 7587) through the `opusscript` WASM build of libopus.
 *
 * Every decoder returns mono signed 16-bit samples at its `sampleRate`; multichannel payloads are averaged to mono
 * (Opus is decoded straight to mono by libopus).
 */
import OpusScript from 'opusscript';
import { InvalidArgumentError } from '../core/errors.js';

/** Codecs the RTP source decodes. */
export type RtpCodecName = 'pcmu' | 'pcma' | 'l16' | 'opus';

/** What one payload type carries, as an SDP `a=rtpmap` line states it. */
export interface PayloadFormat {
  readonly codec: RtpCodecName;
  /** RTP timestamp clock rate (Hz): 8000 for G.711, the sample rate for L16, always 48000 for Opus. */
  readonly clockRate: number;
  /** Channels in the payload (Opus: what the SDP says, usually 2; decoded to mono either way). */
  readonly channels: number;
}

/**
 * How a caller maps a payload type: a codec name (`'pcmu'`), an rtpmap string (`'opus/48000/2'`, `'L16/16000/1'`)
 * or an object.
 */
export type PayloadMapping = RtpCodecName | string | { codec: RtpCodecName; clockRate?: number; channels?: number };

/** Static payload types of RFC 3551 that earshot decodes. */
export const STATIC_PAYLOADS: Readonly<Record<number, PayloadFormat>> = Object.freeze({
  0: { codec: 'pcmu', clockRate: 8000, channels: 1 },
  8: { codec: 'pcma', clockRate: 8000, channels: 1 },
  10: { codec: 'l16', clockRate: 44100, channels: 2 },
  11: { codec: 'l16', clockRate: 44100, channels: 1 },
});

const DEFAULT_CLOCK: Record<RtpCodecName, number> = { pcmu: 8000, pcma: 8000, l16: 8000, opus: 48000 };
const CODEC_NAMES: Record<string, RtpCodecName> = { pcmu: 'pcmu', pcma: 'pcma', l16: 'l16', opus: 'opus' };

/**
 * Parse one mapping (`'pcmu'`, `'opus/48000/2'`, `{ codec: 'l16', clockRate: 16000 }`) into a payload format.
 *
 * @param mapping - codec name, rtpmap encoding string, or object.
 * @returns the format, with defaults filled in (G.711 8000/1, L16 8000/1, Opus 48000/2).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for an unknown codec, a bad rate or channel count,
 *   or an Opus clock other than 48000 (RFC 7587).
 * @example
 * ```ts
 * parsePayloadMapping('opus/48000/2'); // { codec: 'opus', clockRate: 48000, channels: 2 }
 * ```
 */
export function parsePayloadMapping(mapping: PayloadMapping): PayloadFormat {
  let codecText: string;
  let clockRate: number | undefined;
  let channels: number | undefined;
  if (typeof mapping === 'string') {
    const parts = mapping.trim().split('/');
    codecText = parts[0] ?? '';
    if (parts[1] !== undefined) clockRate = Number(parts[1]);
    if (parts[2] !== undefined) channels = Number(parts[2]);
  } else if (mapping && typeof mapping === 'object') {
    codecText = String(mapping.codec);
    clockRate = mapping.clockRate;
    channels = mapping.channels;
  } else {
    throw new InvalidArgumentError(`payload mapping must be a codec name, an rtpmap string or an object`);
  }
  const codec = CODEC_NAMES[codecText.toLowerCase()];
  if (!codec) throw new InvalidArgumentError(`unsupported RTP codec "${codecText}" (pcmu, pcma, l16, opus)`, { details: { codec: codecText } });
  clockRate ??= DEFAULT_CLOCK[codec];
  channels ??= codec === 'opus' ? 2 : 1;
  if (!Number.isInteger(clockRate) || clockRate < 1000 || clockRate > 384000) throw new InvalidArgumentError(`bad RTP clock rate ${clockRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new InvalidArgumentError(`bad RTP channel count ${channels}`);
  if (codec === 'opus' && clockRate !== 48000) throw new InvalidArgumentError('Opus over RTP always uses a 48000 Hz clock (RFC 7587)');
  return { codec, clockRate, channels };
}

/**
 * Build the payload-type table: the static types of RFC 3551 (0 PCMU, 8 PCMA, 10/11 L16 44.1 kHz) overlaid with
 * the caller's mappings (dynamic types 96–127, or overrides).
 *
 * @param payloads - payload type → mapping, as an SDP's `a=rtpmap` lines would give.
 * @returns a map from payload type to format.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a payload type outside 0–127 or a bad mapping.
 * @example
 * ```ts
 * resolvePayloads({ 97: 'opus/48000/2', 96: 'L16/16000/1' }).get(97)?.codec; // 'opus'
 * ```
 */
export function resolvePayloads(payloads: Readonly<Record<number, PayloadMapping>> = {}): Map<number, PayloadFormat> {
  const table = new Map<number, PayloadFormat>();
  for (const [pt, fmt] of Object.entries(STATIC_PAYLOADS)) table.set(Number(pt), fmt);
  for (const [key, mapping] of Object.entries(payloads)) {
    const pt = Number(key);
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new InvalidArgumentError(`RTP payload type ${key} is outside 0–127`);
    table.set(pt, parsePayloadMapping(mapping));
  }
  return table;
}

/**
 * Read the audio payload types an SDP offers (its `m=audio` formats and `a=rtpmap` lines), keeping the codecs
 * earshot decodes. Feed the result to `fromRtp({ payloads })`.
 *
 * @param sdp - SDP text, e.g. what `ffmpeg -f rtp` prints.
 * @returns payload type → rtpmap string (`{ 97: 'opus/48000/2' }`).
 * @example
 * ```ts
 * payloadsFromSdp('m=audio 5004 RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n'); // { 97: 'opus/48000/2' }
 * ```
 */
export function payloadsFromSdp(sdp: string): Record<number, string> {
  const out: Record<number, string> = {};
  let inAudio = false;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      inAudio = line.startsWith('m=audio');
      if (inAudio) {
        for (const f of line.split(/\s+/).slice(3)) {
          const fmt = STATIC_PAYLOADS[Number(f)];
          if (fmt && Number(f) < 96) out[Number(f)] = `${fmt.codec}/${fmt.clockRate}/${fmt.channels}`;
        }
      }
      continue;
    }
    const m = /^a=rtpmap:(\d+)\s+([^\s]+)/.exec(line);
    if (!m || !inAudio) continue;
    const name = m[2]!.split('/')[0]!.toLowerCase();
    if (CODEC_NAMES[name]) out[Number(m[1])] = m[2]!;
  }
  return out;
}

/** A stateful decoder for one payload format. */
export interface PayloadDecoder {
  readonly format: PayloadFormat;
  /** Output sample rate (Hz): the clock rate, except Opus (the chosen 16000 or 48000). */
  readonly sampleRate: number;
  /** Decode one payload to mono s16; `null` when the payload is invalid for the codec. Never throws. */
  decode(payload: Uint8Array): Int16Array | null;
  /** Release native memory (Opus). Safe to call twice. */
  close(): void;
}

/** Options for {@link createPayloadDecoder}. */
export interface DecoderOptions {
  /** Rate Opus is decoded to (libopus resamples internally): 48000 (default) or 16000. */
  opusSampleRate?: 16000 | 48000;
}

/** µ-law byte → linear sample (ITU-T G.711). */
export const ULAW_TABLE: Int16Array = buildTable((byte) => {
  const u = ~byte & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
});

/** A-law byte → linear sample (ITU-T G.711). */
export const ALAW_TABLE: Int16Array = buildTable((byte) => {
  const a = byte ^ 0x55;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
});

function buildTable(f: (byte: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let i = 0; i < 256; i++) t[i] = f(i);
  return t;
}

/**
 * Encode one linear sample as µ-law (G.711). For tests, benchmarks and hosts that send audio.
 * @param sample - signed 16-bit value.
 * @returns the µ-law byte.
 * @example
 * ```ts
 * ULAW_TABLE[linearToUlaw(1000)]; // ≈ 1000
 * ```
 */
export function linearToUlaw(sample: number): number {
  let s = sample | 0;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > 32635) s = 32635;
  s += 0x84;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mant = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}

/**
 * Encode one linear sample as A-law (G.711). For tests, benchmarks and hosts that send audio.
 * @param sample - signed 16-bit value.
 * @returns the A-law byte.
 * @example
 * ```ts
 * ALAW_TABLE[linearToAlaw(-1000)]; // ≈ -1000
 * ```
 */
export function linearToAlaw(sample: number): number {
  let s = sample | 0;
  let mask: number;
  if (s >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    s = -s - 1;
  }
  s >>= 3;
  let seg = 0;
  while (seg < 8 && s > (0x20 << seg) - 1) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f);
  return aval ^ mask;
}

function downmix(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames);
  for (let f = 0, i = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i++]!;
    out[f] = Math.round(sum / channels);
  }
  return out;
}

class G711Decoder implements PayloadDecoder {
  readonly sampleRate: number;
  constructor(
    readonly format: PayloadFormat,
    private readonly table: Int16Array,
  ) {
    this.sampleRate = format.clockRate;
  }
  decode(payload: Uint8Array): Int16Array | null {
    const n = payload.length;
    if (n === 0) return null;
    const out = new Int16Array(n);
    const table = this.table;
    for (let i = 0; i < n; i++) out[i] = table[payload[i]!]!;
    return downmix(out, this.format.channels);
  }
  close(): void {}
}

class L16Decoder implements PayloadDecoder {
  readonly sampleRate: number;
  constructor(readonly format: PayloadFormat) {
    this.sampleRate = format.clockRate;
  }
  decode(payload: Uint8Array): Int16Array | null {
    const frameBytes = 2 * this.format.channels;
    const n = Math.floor(payload.length / frameBytes) * this.format.channels;
    if (n === 0) return null;
    const out = new Int16Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = (payload[j]! << 24) >> 16 | payload[j + 1]!;
    return downmix(out, this.format.channels);
  }
  close(): void {}
}

/** Largest Opus packet the WASM decoder's input buffer takes (opusscript's MAX_PACKET_SIZE). */
const OPUS_MAX_PACKET = 1276 * 3;

class OpusDecoder implements PayloadDecoder {
  readonly sampleRate: number;
  #opus: OpusScript | undefined;
  constructor(
    readonly format: PayloadFormat,
    rate: 16000 | 48000,
  ) {
    this.sampleRate = rate;
    this.#opus = new OpusScript(rate, 1, OpusScript.Application.VOIP);
  }
  decode(payload: Uint8Array): Int16Array | null {
    const opus = this.#opus;
    if (!opus || payload.length === 0 || payload.length > OPUS_MAX_PACKET) return null;
    let pcm: Buffer;
    try {
      pcm = opus.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    } catch {
      return null; // libopus rejected the packet (OPUS_INVALID_PACKET): counted as a decode error by the caller
    }
    const out = new Int16Array(pcm.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2);
    return out;
  }
  close(): void {
    this.#opus?.delete();
    this.#opus = undefined;
  }
}

/**
 * Make a decoder for one payload format.
 *
 * @param format - from {@link parsePayloadMapping} or {@link resolvePayloads}.
 * @param options - `opusSampleRate` (16000 or 48000, default 48000).
 * @returns a decoder; call `close()` when done (it frees the Opus decoder's WASM memory).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad `opusSampleRate`.
 * @example
 * ```ts
 * const dec = createPayloadDecoder(parsePayloadMapping('pcmu'));
 * const samples = dec.decode(payload); // Int16Array at 8000 Hz
 * ```
 */
export function createPayloadDecoder(format: PayloadFormat, options: DecoderOptions = {}): PayloadDecoder {
  switch (format.codec) {
    case 'pcmu':
      return new G711Decoder(format, ULAW_TABLE);
    case 'pcma':
      return new G711Decoder(format, ALAW_TABLE);
    case 'l16':
      return new L16Decoder(format);
    case 'opus': {
      const rate = options.opusSampleRate ?? 48000;
      if (rate !== 16000 && rate !== 48000) throw new InvalidArgumentError(`opusSampleRate must be 16000 or 48000, not ${String(rate)}`);
      return new OpusDecoder(format, rate);
    }
  }
}

/**
 * Output sample rate a format decodes to: its clock rate, except Opus (the chosen `opusSampleRate`, default 48000).
 * @param format - a payload format.
 * @param options - `opusSampleRate`.
 * @returns the rate in Hz of the decoder's samples.
 * @example
 * ```ts
 * outputRate(parsePayloadMapping('opus'), { opusSampleRate: 16000 }); // 16000
 * ```
 */
export function outputRate(format: PayloadFormat, options: DecoderOptions = {}): number {
  return format.codec === 'opus' ? (options.opusSampleRate ?? 48000) : format.clockRate;
}
