import OpusScript from 'opusscript';
import { describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../src/core/types.js';
import { ULAW_TABLE, linearToUlaw } from '../../src/rtp/codecs.js';
import { RtpDepacketizer, type DepacketizerOptions, type RtpStream } from '../../src/rtp/depacketizer.js';
import { buildRtp } from '../../src/rtp/packet.js';
import { joinContiguous, packetize, rng, testSignal } from './fixtures.js';

interface Harness {
  depack: RtpDepacketizer;
  streams: RtpStream[];
  chunks: Map<number, AudioChunk[]>;
  completed: Set<number>;
  clock: { now: number };
}

function harness(options: DepacketizerOptions = {}): Harness {
  const clock = { now: 0 };
  const streams: RtpStream[] = [];
  const chunks = new Map<number, AudioChunk[]>();
  const completed = new Set<number>();
  const depack = new RtpDepacketizer({ now: () => clock.now, ...options }, {
    onStream(s) {
      streams.push(s);
      const list: AudioChunk[] = [];
      chunks.set(s.ssrc, list);
      s.audio$.subscribe({ next: (c) => list.push(c), complete: () => completed.add(s.ssrc) });
    },
  });
  return { depack, streams, chunks, completed, clock };
}

/** What a perfect receiver would hear: the G.711 round trip of the signal. */
function ulawRoundTrip(pcm: Int16Array): Int16Array {
  return Int16Array.from(pcm, (s) => ULAW_TABLE[linearToUlaw(s)]!);
}

describe('RtpDepacketizer', () => {
  it('decodes one PCMU source in order with offsets from its first packet', () => {
    const h = harness();
    const pcm = testSignal(8000);
    for (const p of packetize(pcm)) h.depack.push(p);
    h.depack.close();
    expect(h.streams.map((s) => [s.ssrc, s.codec, s.sampleRate, s.payloadType])).toEqual([[0x1234, 'pcmu', 8000, 0]]);
    const out = joinContiguous(h.chunks.get(0x1234)!);
    expect(out).toEqual(ulawRoundTrip(pcm));
    expect(h.completed.has(0x1234)).toBe(true);
    expect(h.depack.stats()).toMatchObject({ datagrams: 50, received: 50, decoded: 50, lost: 0, duplicates: 0, streams: 1, activeStreams: 0 });
  });

  it('fills a lost packet with silence of its length, so later audio keeps its time', () => {
    const h = harness();
    const pcm = testSignal(8000);
    packetize(pcm).forEach((p, i) => i !== 10 && h.depack.push(p));
    h.depack.close();
    const out = joinContiguous(h.chunks.get(0x1234)!);
    expect(out.length).toBe(8000);
    const expected = ulawRoundTrip(pcm);
    expected.fill(0, 1600, 1760);
    expect(out).toEqual(expected);
    expect(h.depack.stats()).toMatchObject({ lost: 1, concealedMs: 20 });
  });

  it("conceals a lost packet with a fading repeat of the last one when conceal is 'repeat'", () => {
    const h = harness({ conceal: 'repeat' });
    const pcm = testSignal(8000);
    packetize(pcm).forEach((p, i) => i !== 10 && h.depack.push(p));
    h.depack.close();
    const out = joinContiguous(h.chunks.get(0x1234)!);
    const expected = ulawRoundTrip(pcm);
    expect(out.length).toBe(8000);
    expect(out.subarray(0, 1600)).toEqual(expected.subarray(0, 1600));
    expect(out.subarray(1760)).toEqual(expected.subarray(1760));
    const filled = out.subarray(1600, 1760);
    expect(filled[0]).toBe(Math.round(expected[1440]! * (1 - 1 / 161)));
    expect(Math.abs(filled[159]!)).toBeLessThanOrEqual(Math.abs(expected[1599]!) / 100 + 1);
    expect(h.depack.stats()).toMatchObject({ lost: 1, concealedMs: 20 });
  });

  it('keeps audio time true under reordering, duplication and loss at known rates', () => {
    const h = harness({ windowMs: 100 });
    const pcm = testSignal(8000 * 10);
    const packets = packetize(pcm);
    const rand = rng(7);
    const lost = new Set<number>();
    // 5 % lost, 5 % duplicated, 10 % delayed by 1–3 packets (within the window)
    const order: Array<{ at: number; i: number }> = [];
    packets.forEach((_, i) => {
      const r = i < 2 ? 1 : rand(); // the stream's time line starts at its first packet: let the first two through
      if (r < 0.05) return void lost.add(i);
      const delay = r < 0.15 ? 1 + Math.floor(rand() * 3) : 0;
      order.push({ at: i + delay + 0.5 * (delay > 0 ? 1 : 0), i });
      if (rand() < 0.05) order.push({ at: i + 2.25, i });
    });
    order.sort((a, b) => a.at - b.at);
    for (const { at, i } of order) {
      h.clock.now = at * 20;
      h.depack.push(packets[i]!);
      h.depack.poll();
    }
    h.depack.close();
    const out = joinContiguous(h.chunks.get(0x1234)!);
    // packets lost at the very end are not known to be lost: the stream just ends sooner
    let last = packets.length - 1;
    while (lost.has(last)) last--;
    expect(out.length).toBe((last + 1) * 160);
    const expected = ulawRoundTrip(pcm);
    for (const i of lost) expected.fill(0, i * 160, i * 160 + 160);
    expect(out).toEqual(expected.subarray(0, out.length));
    const st = h.depack.stats();
    expect(lost.size).toBeGreaterThan(15);
    expect(st.lost).toBe([...lost].filter((i) => i < last).length);
    expect(st.late).toBe(0);
    expect(st.duplicates).toBeGreaterThan(10);
    expect(st.decoded).toBe(packets.length - lost.size);
  });

  it('fills a timestamp gap without a sequence gap (DTX / silence suppression) and counts no loss', () => {
    const h = harness();
    const pcm = testSignal(1600);
    const a = packetize(pcm.subarray(0, 800));
    const b = packetize(pcm.subarray(800), { seq0: 1005, ts0: 5000 + 800 + 8000 }); // one second later
    for (const p of [...a, ...b]) h.depack.push(p);
    h.depack.close();
    const chunks = h.chunks.get(0x1234)!;
    const out = joinContiguous(chunks);
    expect(out.length).toBe(1600 + 8000);
    expect(out.subarray(800, 8800).every((v) => v === 0)).toBe(true);
    expect(h.depack.stats()).toMatchObject({ lost: 0, concealedMs: 1000 });
  });

  it('handles sequence and timestamp wraparound mid-stream', () => {
    const h = harness();
    const pcm = testSignal(8000);
    for (const p of packetize(pcm, { seq0: 65520, ts0: 0xffffffff - 160 * 20 + 1 })) h.depack.push(p);
    h.depack.close();
    expect(joinContiguous(h.chunks.get(0x1234)!)).toEqual(ulawRoundTrip(pcm));
  });

  it('opens one stream per SSRC and completes an old one after the idle timeout', () => {
    const h = harness({ idleTimeoutMs: 1000 });
    const pcm = testSignal(1600);
    const a = packetize(pcm, { ssrc: 1 });
    const b = packetize(pcm, { ssrc: 2, codec: 'pcma', seq0: 9, ts0: 77 });
    a.forEach((p, i) => {
      h.depack.push(p);
      h.depack.push(b[i]!);
    });
    expect(h.streams.map((s) => [s.ssrc, s.codec])).toEqual([[1, 'pcmu'], [2, 'pcma']]);
    // SSRC 1 stops; SSRC 3 takes over (a new participant or a restarted sender)
    h.clock.now = 500;
    for (const p of packetize(pcm, { ssrc: 3 })) h.depack.push(p);
    h.clock.now = 1200;
    h.depack.poll();
    expect([...h.completed].sort()).toEqual([1, 2]);
    expect(h.depack.stats().activeStreams).toBe(1);
    expect(joinContiguous(h.chunks.get(3)!).length).toBe(1600);
    h.depack.close();
    expect(h.completed.has(3)).toBe(true);
  });

  it('counts RTCP, ends a stream on RTCP BYE, counts malformed and unknown payload types', () => {
    const h = harness();
    for (const p of packetize(testSignal(800), { ssrc: 5 })) h.depack.push(p);
    h.depack.push(Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 5]));
    h.depack.push(Buffer.from([0x81, 203, 0, 1, 0, 0, 0, 5]));
    h.depack.push(Buffer.from('not rtp at all'));
    h.depack.push(buildRtp({ payloadType: 34, sequence: 1, timestamp: 1, ssrc: 6, payload: new Uint8Array(10) }));
    expect(h.completed.has(5)).toBe(true);
    expect(h.depack.stats()).toMatchObject({ rtcp: 2, malformed: 1, unsupported: 1, activeStreams: 0, streams: 1 });
  });

  it('skips comfort-noise and DTMF packets inside a stream without counting them as loss', () => {
    const h = harness();
    const pkts = packetize(testSignal(1600));
    pkts[3] = buildRtp({ payloadType: 13, sequence: 1003, timestamp: 5000 + 480, ssrc: 0x1234, payload: Uint8Array.of(40) });
    for (const p of pkts) h.depack.push(p);
    h.depack.close();
    expect(joinContiguous(h.chunks.get(0x1234)!).length).toBe(1600);
    expect(h.depack.stats()).toMatchObject({ lost: 0, unsupported: 1, concealedMs: 20 });
  });

  it('needs two packets in sequence before opening a stream (probation), unless disabled', () => {
    const h = harness();
    h.depack.push(buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 9, payload: new Uint8Array(160) }));
    h.depack.push(buildRtp({ payloadType: 0, sequence: 50, timestamp: 1, ssrc: 9, payload: new Uint8Array(160) }));
    expect(h.streams).toHaveLength(0);
    expect(h.depack.stats().probationDropped).toBe(1);
    const h2 = harness({ probation: false });
    h2.depack.push(buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 9, payload: new Uint8Array(160) }));
    expect(h2.streams).toHaveLength(1);
  });

  it('bounds the number of streams and counts what it drops', () => {
    const h = harness({ maxStreams: 3, probation: false });
    for (let ssrc = 0; ssrc < 10; ssrc++) h.depack.push(buildRtp({ payloadType: 0, sequence: 1, timestamp: 1, ssrc, payload: new Uint8Array(160) }));
    expect(h.streams).toHaveLength(3);
    expect(h.depack.stats()).toMatchObject({ droppedOverflow: 7, activeStreams: 3 });
  });

  it('keeps a bounded backlog for a late first subscriber', () => {
    const streams: RtpStream[] = [];
    const depack = new RtpDepacketizer({ preSubscribeMs: 100 }, { onStream: (s) => streams.push(s) });
    for (const p of packetize(testSignal(8000))) depack.push(p);
    const got: AudioChunk[] = [];
    streams[0]!.audio$.subscribe((c) => got.push(c));
    expect(got.map((c) => c.offset)).toEqual([7200, 7360, 7520, 7680, 7840]);
    expect(streams[0]!.stats().droppedOverflow).toBe(45);
    depack.close();
  });

  it('decodes Opus on a dynamic payload type to 16 kHz with offsets from RTP time', () => {
    const enc = new OpusScript(48000, 1, OpusScript.Application.AUDIO);
    const h = harness({ payloads: { 111: 'opus/48000/2' }, opusSampleRate: 16000 });
    const frame = new Int16Array(960);
    for (let k = 0; k < 50; k++) {
      for (let i = 0; i < 960; i++) frame[i] = Math.round(5000 * Math.sin(((k * 960 + i) * 2 * Math.PI * 440) / 48000));
      if (k === 20) continue; // lost
      const payload = enc.encode(Buffer.from(frame.buffer), 960);
      h.depack.push(buildRtp({ payloadType: 111, sequence: 40000 + k, timestamp: 123 + k * 960, ssrc: 77, payload }));
    }
    enc.delete();
    h.depack.close();
    const s = h.streams[0]!;
    expect([s.codec, s.sampleRate]).toEqual(['opus', 16000]);
    const out = joinContiguous(h.chunks.get(77)!);
    expect(out.length).toBe(50 * 320);
    expect(out.subarray(20 * 320, 21 * 320).every((v) => v === 0)).toBe(true);
    expect(h.depack.stats()).toMatchObject({ decoded: 49, lost: 1, decodeErrors: 0 });
  });

  it('decodes L16 at a configured rate', () => {
    const h = harness({ payloads: { 96: 'L16/16000/1' } });
    const pcm = testSignal(16000, 16000);
    for (const p of packetize(pcm, { codec: 'l16', frames: 320 })) h.depack.push(p);
    h.depack.close();
    expect(h.streams[0]!.sampleRate).toBe(16000);
    expect(joinContiguous(h.chunks.get(0x1234)!)).toEqual(pcm);
  });

  it('treats a huge timestamp jump as a discontinuity instead of emitting hours of silence', () => {
    const h = harness({ maxGapMs: 1000 });
    const pcm = testSignal(1600);
    const a = packetize(pcm.subarray(0, 800));
    const b = packetize(pcm.subarray(800), { seq0: 1005, ts0: 5000 + 800 + 0x7fff0000 });
    for (const p of [...a, ...b]) h.depack.push(p);
    h.depack.close();
    expect(joinContiguous(h.chunks.get(0x1234)!).length).toBe(1600);
    expect(h.depack.stats().discontinuities).toBe(1);
  });

  it('rejects bad settings when built', () => {
    const bad: DepacketizerOptions[] = [{ conceal: 'noise' as 'silence' }, { payloads: { 97: 'speex' } }, { windowMs: 0 }, { maxStreams: -1 }, { opusSampleRate: 8000 as 16000 }];
    for (const o of bad) expect(() => new RtpDepacketizer(o, { onStream() {} })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
