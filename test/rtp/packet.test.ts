import { describe, expect, it } from 'vitest';
import { buildRtp, parseRtp, type RtpPacket } from '../../src/rtp/packet.js';

function rtp(buf: Uint8Array): RtpPacket {
  const r = parseRtp(buf);
  if (r.kind !== 'rtp') throw new Error(`expected RTP, got ${r.kind}`);
  return r.packet;
}

describe('parseRtp', () => {
  it('reads the fixed header fields', () => {
    const p = rtp(buildRtp({ payloadType: 0, sequence: 65535, timestamp: 0xffffffff, ssrc: 0xdeadbeef, payload: Uint8Array.of(1, 2, 3), marker: true }));
    expect(p).toMatchObject({ version: 2, padding: false, extension: false, marker: true, payloadType: 0, sequence: 65535, timestamp: 0xffffffff, ssrc: 0xdeadbeef });
    expect([...p.payload]).toEqual([1, 2, 3]);
    expect(p.csrcs).toEqual([]);
  });

  it('skips the CSRC list, the header extension and the padding', () => {
    const buf = buildRtp({
      payloadType: 111, sequence: 7, timestamp: 960, ssrc: 1, payload: Uint8Array.of(9, 8, 7, 6, 5),
      csrcs: [10, 0xffffffff], extension: { profile: 0xbede, data: Uint8Array.of(0x10, 0xaa, 0, 0, 0x21, 1, 2, 0) }, padding: 3,
    });
    const p = rtp(buf);
    expect(p.csrcs).toEqual([10, 0xffffffff]);
    expect(p.extension).toBe(true);
    expect(p.extensionProfile).toBe(0xbede);
    expect(p.padding).toBe(true);
    expect([...p.payload]).toEqual([9, 8, 7, 6, 5]);
  });

  it('returns a view on the datagram, not a copy', () => {
    const buf = buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1, payload: Uint8Array.of(1) });
    expect(rtp(buf).payload.buffer).toBe(buf.buffer);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.of(0x80)],
    ['version 1', Buffer.from([0x40, 0, ...new Array(10).fill(0)])],
    ['version 0 (STUN)', Buffer.from([0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0])],
    ['11-byte header', Buffer.from([0x80, 0, ...new Array(9).fill(0)])],
    ['CSRC count past the end', Buffer.from([0x8f, 0, ...new Array(14).fill(0)])],
    ['extension header past the end', Buffer.from([0x90, 0, ...new Array(10).fill(0), 0xbe])],
    ['extension length past the end', Buffer.from([0x90, 0, ...new Array(10).fill(0), 0xbe, 0xde, 0, 9])],
    ['zero padding count', Buffer.from([0xa0, 0, ...new Array(10).fill(0), 1, 0])],
    ['padding longer than the payload', Buffer.from([0xa0, 0, ...new Array(10).fill(0), 1, 2, 40])],
  ])('classifies %s as malformed', (_name, buf) => {
    expect(parseRtp(buf).kind).toBe('malformed');
  });

  it('accepts an empty payload (a keep-alive)', () => {
    expect(rtp(buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1, payload: new Uint8Array(0) })).payload.length).toBe(0);
  });

  it('recognises RTCP on the same port and reads the SSRCs of a BYE in a compound packet', () => {
    // RR with no report blocks (8 bytes) + BYE with two SSRCs (12 bytes)
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 5]);
    const bye = Buffer.from([0x82, 203, 0, 2, 0, 0, 0, 7, 0xff, 0, 0, 1]);
    const r = parseRtp(Buffer.concat([rr, bye]));
    expect(r).toEqual({ kind: 'rtcp', bye: [7, 0xff000001] });
    expect(parseRtp(Buffer.from([0x80, 200, 0, 6, ...new Array(24).fill(0)]))).toEqual({ kind: 'rtcp', bye: [] });
  });

  it('treats truncated RTCP as RTCP without a BYE (ignored, never fatal)', () => {
    expect(parseRtp(Buffer.from([0x81, 203, 0, 9, 0, 0, 0, 7]))).toEqual({ kind: 'rtcp', bye: [] });
  });
});
