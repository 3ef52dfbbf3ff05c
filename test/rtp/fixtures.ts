/** Helpers for RTP tests: deterministic test signals and packetizers. */
import { buildRtp } from '../../src/rtp/packet.js';
import { linearToAlaw, linearToUlaw } from '../../src/rtp/codecs.js';

export { rng } from '../helpers/random.js';

/** A ramp-modulated tone that never repeats within a few seconds, so misplaced audio is detectable. */
export function testSignal(frames: number, rate = 8000): Int16Array {
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * (200 + (i % rate) / 20) * i) / rate)) + 1;
  return out;
}

export interface PacketizeOptions {
  ssrc?: number;
  seq0?: number;
  ts0?: number;
  payloadType?: number;
  /** Frames per packet. */
  frames?: number;
  codec?: 'pcmu' | 'pcma' | 'l16';
}

/** One RTP packet per `frames` samples, G.711 or L16 big-endian. */
export function packetize(samples: Int16Array, o: PacketizeOptions = {}): Buffer[] {
  const frames = o.frames ?? 160;
  const codec = o.codec ?? 'pcmu';
  const pt = o.payloadType ?? (codec === 'pcma' ? 8 : codec === 'pcmu' ? 0 : 96);
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < samples.length; i += frames, k++) {
    const part = samples.subarray(i, Math.min(samples.length, i + frames));
    let payload: Uint8Array;
    if (codec === 'l16') {
      const b = Buffer.alloc(part.length * 2);
      for (let j = 0; j < part.length; j++) b.writeInt16BE(part[j]!, j * 2);
      payload = b;
    } else {
      payload = Uint8Array.from(part, codec === 'pcmu' ? linearToUlaw : linearToAlaw);
    }
    out.push(buildRtp({ payloadType: pt, sequence: ((o.seq0 ?? 1000) + k) & 0xffff, timestamp: ((o.ts0 ?? 5000) + i) >>> 0, ssrc: o.ssrc ?? 0x1234, payload, marker: k === 0 }));
  }
  return out;
}

/** Concatenate chunks after checking they are contiguous from offset 0; returns the samples. */
export function joinContiguous(chunks: ReadonlyArray<{ samples: Int16Array; offset: number }>): Int16Array {
  let total = 0;
  for (const c of chunks) {
    if (c.offset !== total) throw new Error(`chunk at ${c.offset}, expected ${total}`);
    total += c.samples.length;
  }
  const out = new Int16Array(total);
  for (const c of chunks) out.set(c.samples, c.offset);
  return out;
}
