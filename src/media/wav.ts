/**
 * WAV header parsing and PCM sample conversion for decode()'s in-process fast path.
 *
 * The parser works on the first bytes of a stream (it never needs the whole file) and either finds the `data`
 * chunk, asks for more bytes, or says the input is not a WAV it can read itself.
 */
import { InputError } from '../core/errors.js';

/** PCM sample encodings the in-process path converts to s16. */
export type PcmEncoding = 'u8' | 's16le' | 's24le' | 's32le' | 'f32le' | 'f64le';

/** A PCM layout: encoding, rate and channel count. */
export interface PcmFormat {
  encoding: PcmEncoding;
  sampleRate: number;
  channels: number;
}

/** What {@link parseWavHead} found in the first bytes. */
export type WavHead =
  /** Call again once at least `need` bytes have arrived. */
  | { status: 'more'; need: number }
  | { status: 'not-wav' }
  /** A WAV whose codec the fast path does not handle (µ-law, ADPCM, …); ffmpeg may. */
  | { status: 'other-codec'; formatTag: number; bitsPerSample: number }
  /** `dataBytes` is undefined when the header leaves it open (0 or 0xFFFFFFFF: read to the end). */
  | { status: 'pcm'; format: PcmFormat; dataOffset: number; dataBytes: number | undefined };

/** Bytes of header the parser will buffer before calling the input corrupt (metadata chunks before `data`). */
export const MAX_WAV_HEAD = 16 * 1024 * 1024;
const MAX_CHANNELS = 64;
const MAX_RATE = 1_000_000;

/** Bytes per sample of an encoding. */
export function bytesPerSample(encoding: PcmEncoding): number {
  switch (encoding) {
    case 'u8':
      return 1;
    case 's16le':
      return 2;
    case 's24le':
      return 3;
    case 's32le':
    case 'f32le':
      return 4;
    case 'f64le':
      return 8;
  }
}

function corrupt(message: string, details: Record<string, unknown>): InputError {
  return new InputError('EARSHOT_CORRUPT_INPUT', message, { details });
}

/**
 * Parse a RIFF/RF64 WAVE header from the first bytes of an input.
 *
 * @param head - the bytes received so far, from the start of the input.
 * @param ended - true when no more bytes will come (a short input is then judged on what there is).
 * @throws EARSHOT_CORRUPT_INPUT for a WAV header with impossible values (no channels, a zero or absurd rate, a
 *   `fmt ` chunk too short, metadata larger than {@link MAX_WAV_HEAD}, `data` before `fmt `).
 */
export function parseWavHead(head: Buffer, ended = false): WavHead {
  if (head.length < 12) return ended ? { status: 'not-wav' } : { status: 'more', need: 12 };
  const riff = head.toString('latin1', 0, 4);
  if ((riff !== 'RIFF' && riff !== 'RF64') || head.toString('latin1', 8, 12) !== 'WAVE') return { status: 'not-wav' };
  let pos = 12;
  let fmt: { tag: number; channels: number; rate: number; blockAlign: number; bits: number } | undefined;
  let ds64Data: number | undefined;
  for (;;) {
    if (pos > MAX_WAV_HEAD) throw corrupt('WAV header is larger than 16 MiB before its data chunk', { headerBytes: pos });
    if (head.length < pos + 8) {
      if (ended) throw corrupt('WAV header ends before its data chunk', { headerBytes: head.length });
      return { status: 'more', need: pos + 8 };
    }
    const id = head.toString('latin1', pos, pos + 4);
    const size = head.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'data') {
      if (!fmt) throw corrupt('WAV data chunk comes before its fmt chunk', {});
      let dataBytes: number | undefined = size;
      if (riff === 'RF64' && size === 0xffffffff) dataBytes = ds64Data;
      if (dataBytes === 0 || dataBytes === 0xffffffff) dataBytes = undefined;
      const pcm = pcmEncoding(fmt.tag, fmt.bits, fmt.blockAlign, fmt.channels);
      if (!pcm) return { status: 'other-codec', formatTag: fmt.tag, bitsPerSample: fmt.bits };
      return { status: 'pcm', format: { encoding: pcm, sampleRate: fmt.rate, channels: fmt.channels }, dataOffset: body, dataBytes };
    }
    if (size > MAX_WAV_HEAD) throw corrupt(`WAV ${JSON.stringify(id)} chunk claims ${size} bytes before the data chunk`, { chunk: id, size });
    if (head.length < body + size) {
      if (ended) throw corrupt('WAV header ends inside a chunk', { chunk: id, size });
      return { status: 'more', need: body + size };
    }
    if (id === 'fmt ') {
      if (size < 16) throw corrupt('WAV fmt chunk is shorter than 16 bytes', { size });
      let tag = head.readUInt16LE(body);
      const channels = head.readUInt16LE(body + 2);
      const rate = head.readUInt32LE(body + 4);
      const blockAlign = head.readUInt16LE(body + 12);
      const bits = head.readUInt16LE(body + 14);
      if (tag === 0xfffe && size >= 40) tag = head.readUInt16LE(body + 24); // WAVE_FORMAT_EXTENSIBLE: sub-format GUID
      if (channels < 1 || channels > MAX_CHANNELS) throw corrupt(`WAV header claims ${channels} channels`, { channels });
      if (rate < 1 || rate > MAX_RATE) throw corrupt(`WAV header claims a sample rate of ${rate} Hz`, { sampleRate: rate });
      if (blockAlign < 1) throw corrupt('WAV header claims a block size of 0', { blockAlign });
      fmt = { tag, channels, rate, blockAlign, bits };
    } else if (id === 'ds64' && size >= 16) {
      const low = head.readUInt32LE(body + 8);
      const high = head.readUInt32LE(body + 12);
      ds64Data = high * 2 ** 32 + low;
    }
    pos = body + size + (size & 1);
  }
}

function pcmEncoding(tag: number, bits: number, blockAlign: number, channels: number): PcmEncoding | undefined {
  let enc: PcmEncoding | undefined;
  if (tag === 1) enc = bits === 8 ? 'u8' : bits === 16 ? 's16le' : bits === 24 ? 's24le' : bits === 32 ? 's32le' : undefined;
  else if (tag === 3) enc = bits === 32 ? 'f32le' : bits === 64 ? 'f64le' : undefined;
  if (!enc || blockAlign !== channels * bytesPerSample(enc)) return undefined;
  return enc;
}

/**
 * Convert whole frames of PCM bytes to interleaved s16 (new, aligned memory). Integer formats wider than 16 bits
 * keep their top 16 bits; floats are scaled by 32768, rounded and clipped (as ffmpeg does).
 *
 * @param bytes - a whole number of samples in `encoding`.
 */
export function toS16(bytes: Buffer, encoding: PcmEncoding): Int16Array {
  const bps = bytesPerSample(encoding);
  const n = Math.floor(bytes.length / bps);
  const out = new Int16Array(n);
  switch (encoding) {
    case 's16le':
      new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
      break;
    case 'u8':
      for (let i = 0; i < n; i++) out[i] = (bytes[i]! - 128) << 8;
      break;
    case 's24le':
      for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = (bytes[j + 1]! | (bytes[j + 2]! << 8)) << 16 >> 16;
      break;
    case 's32le':
      for (let i = 0; i < n; i++) out[i] = bytes.readInt32LE(i * 4) >> 16;
      break;
    case 'f32le':
      for (let i = 0; i < n; i++) out[i] = clip16(Math.round(bytes.readFloatLE(i * 4) * 32768));
      break;
    case 'f64le':
      for (let i = 0; i < n; i++) out[i] = clip16(Math.round(bytes.readDoubleLE(i * 8) * 32768));
      break;
  }
  return out;
}

function clip16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * Change the channel count of interleaved s16: average to mono, copy mono to every channel, or return the input
 * when the counts match. Other conversions return undefined (ffmpeg's matrices handle those).
 */
export function remix(samples: Int16Array, from: number, to: number): Int16Array | undefined {
  if (from === to) return samples;
  const frames = samples.length / from;
  if (to === 1) {
    const out = new Int16Array(frames);
    for (let f = 0, i = 0; f < frames; f++) {
      let sum = 0;
      for (let c = 0; c < from; c++) sum += samples[i++]!;
      out[f] = Math.round(sum / from);
    }
    return out;
  }
  if (from === 1) {
    const out = new Int16Array(frames * to);
    for (let f = 0, i = 0; f < frames; f++) {
      const v = samples[f]!;
      for (let c = 0; c < to; c++) out[i++] = v;
    }
    return out;
  }
  return undefined;
}

/** True when `from` → `to` channels can be done by {@link remix}. */
export function canRemix(from: number, to: number): boolean {
  return from === to || to === 1 || from === 1;
}
