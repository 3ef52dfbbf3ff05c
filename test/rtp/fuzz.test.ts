import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import OpusScript from 'opusscript';
import { describe, expect, it } from 'vitest';
import { RtpDepacketizer } from '../../src/rtp/depacketizer.js';
import { buildRtp } from '../../src/rtp/packet.js';
import { mutateRtp } from '../../bench/fuzz/mutate.js';
import { packetize, rng, testSignal } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('RtpDepacketizer under 100,000 random and mutated packets', () => {
  it('raises nothing, keeps its streams bounded and its heap flat', () => {
    const rand = rng(2024);
    const clock = { now: 0 };
    let frames = 0;
    let streamsSeen = 0;
    const depack = new RtpDepacketizer(
      { now: () => clock.now, payloads: { 96: 'L16/16000/1', 111: 'opus/48000/2', 97: 'L16/44100/2' }, maxStreams: 16, idleTimeoutMs: 2000 },
      {
        onStream(s) {
          streamsSeen++;
          s.audio$.subscribe((c) => (frames += c.samples.length));
        },
      },
    );
    // Seeds: real packets of three codecs to mutate.
    const enc = new OpusScript(48000, 1, OpusScript.Application.AUDIO);
    const tone = new Int16Array(960).map((_, i) => Math.round(4000 * Math.sin(i / 5)));
    const opus = Array.from({ length: 20 }, (_, k) => buildRtp({ payloadType: 111, sequence: k, timestamp: k * 960, ssrc: 111, payload: enc.encode(Buffer.from(tone.buffer), 960) }));
    enc.delete();
    const seeds = [...packetize(testSignal(3200), { ssrc: 1 }), ...packetize(testSignal(3200), { ssrc: 2, codec: 'l16', payloadType: 96 }), ...opus];

    const total = 100_000;
    let heapMid = 0;
    const before = heapAfterGc();
    for (let n = 0; n < total; n++) {
      clock.now += rand() * 2;
      const pkt = mutateRtp(seeds, rand, n);
      depack.push(pkt);
      if (n % 50 === 0) depack.poll();
      if (n === total / 2) heapMid = heapAfterGc();
    }
    depack.poll();
    const after = heapAfterGc();
    const stats = depack.stats();
    depack.close();

    expect(stats.datagrams).toBe(total);
    expect(stats.activeStreams).toBeLessThanOrEqual(16);
    expect(stats.malformed).toBeGreaterThan(1000);
    expect(stats.decoded).toBeGreaterThan(100);
    expect(streamsSeen).toBeGreaterThan(2);
    expect(frames).toBeGreaterThan(0);
    // Flat: the second half of the run adds (next to) nothing to what the first half settled at.
    expect(after - heapMid).toBeLessThan(8 * 1024 * 1024);
    expect(after - before).toBeLessThan(24 * 1024 * 1024);
    console.log(`fuzz: ${JSON.stringify(stats)} heap before ${(before / 1e6).toFixed(1)} MB, mid ${(heapMid / 1e6).toFixed(1)} MB, after ${(after / 1e6).toFixed(1)} MB`);
  });
});
