import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterBufferOptions, type ReleasedPacket } from '../../src/rtp/jitter-buffer.js';

function make(options: JitterBufferOptions = {}): { jb: JitterBuffer; out: ReleasedPacket[]; push: (seq: number, now?: number, ts?: number) => string } {
  const out: ReleasedPacket[] = [];
  const jb = new JitterBuffer({ clockRate: 8000, windowMs: 80, ...options }, (p) => out.push(p));
  const push = (seq: number, now = 0, ts?: number): string =>
    jb.push({ sequence: seq & 0xffff, timestamp: (ts ?? seq * 160) >>> 0, payloadType: 0, marker: false, payload: new Uint8Array(0) }, now);
  return { jb, out, push };
}

describe('JitterBuffer', () => {
  it('releases in-order packets at once', () => {
    const { out, push, jb } = make();
    for (let s = 10; s < 15; s++) expect(push(s)).toBe('buffered');
    expect(out.map((p) => p.sequence)).toEqual([10, 11, 12, 13, 14]);
    expect(out.every((p) => p.lostBefore === 0)).toBe(true);
    expect(jb.size).toBe(0);
  });

  it('puts reordered packets back in order within the window', () => {
    const { out, push } = make();
    for (const s of [1, 3, 2, 5, 4, 6]) push(s);
    expect(out.map((p) => p.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.every((p) => p.lostBefore === 0)).toBe(true);
  });

  it('drops duplicates, held or already played', () => {
    const { out, push, jb } = make();
    push(1);
    push(3);
    expect(push(3)).toBe('duplicate');
    expect(push(1)).toBe('duplicate');
    push(2);
    expect(out.map((p) => p.sequence)).toEqual([1, 2, 3]);
    expect(jb.stats.duplicates).toBe(2);
  });

  it('declares a hole lost once the newest packet is more than the window past the last played, and counts its late arrival', () => {
    const { out, push, jb } = make();
    push(1);
    for (const s of [3, 4, 5]) push(s); // newest is 80 ms past packet 1: not yet
    expect(out.map((p) => p.sequence)).toEqual([1]);
    push(6); // 100 ms > 80 ms
    expect(out.map((p) => p.sequence)).toEqual([1, 3, 4, 5, 6]);
    expect(out[1]!.lostBefore).toBe(1);
    expect(push(2)).toBe('late');
    expect(jb.stats).toMatchObject({ lost: 1, late: 1, duplicates: 0 });
  });

  it('declares a hole lost after the window of wall time (poll)', () => {
    const { out, push, jb } = make();
    push(1, 0);
    push(3, 10);
    expect(jb.deadline).toBe(90);
    jb.poll(89);
    expect(out).toHaveLength(1);
    jb.poll(90);
    expect(out.map((p) => [p.sequence, p.lostBefore])).toEqual([[1, 0], [3, 1]]);
    expect(jb.deadline).toBeUndefined();
  });

  it('extends sequence numbers and timestamps across their wraparound', () => {
    const { out, push } = make();
    const ts0 = 0xffffffff - 160 * 3 + 1;
    for (let i = 0; i < 8; i++) push(65533 + i, 0, ts0 + i * 160);
    const ext = out.map((p) => p.extendedSequence);
    expect(ext.every((e, i) => i === 0 || e === ext[i - 1]! + 1)).toBe(true);
    const ts = out.map((p) => p.extendedTimestamp);
    expect(ts.every((t, i) => i === 0 || t === ts[i - 1]! + 160)).toBe(true);
    expect(out.map((p) => p.sequence)).toEqual([65533, 65534, 65535, 0, 1, 2, 3, 4]);
  });

  it('reorders across the sequence wrap', () => {
    const { out, push } = make();
    for (const s of [65534, 0, 65535, 1]) push(s);
    expect(out.map((p) => p.sequence)).toEqual([65534, 65535, 0, 1]);
  });

  it('ignores a lone far jump (stray) but resynchronises when the next packet confirms it', () => {
    const { out, push, jb } = make();
    push(100);
    push(101);
    expect(push(30000)).toBe('stray');
    push(102);
    expect(push(40000)).toBe('stray');
    expect(push(40001)).toBe('buffered');
    push(40002);
    expect(out.map((p) => [p.sequence, p.resync])).toEqual([[100, false], [101, false], [102, false], [40001, true], [40002, false]]);
    expect(jb.stats).toMatchObject({ stray: 2, resyncs: 1 });
  });

  it('never holds more than its capacity, even with a hole that never fills', () => {
    const { out, push, jb } = make({ capacity: 16, windowMs: 1e9 });
    push(0);
    let max = 0;
    for (let s = 2; s < 5000; s++) {
      push(s, 0, 0); // same timestamp: the audio window never passes; only the capacity forces release
      max = Math.max(max, jb.size);
    }
    expect(max).toBeLessThanOrEqual(16);
    expect(out.length).toBeGreaterThan(4900);
    jb.flush();
    expect(jb.size).toBe(0);
    expect(jb.stats.lost).toBe(1);
  });

  it('flush releases everything held, counting the holes as lost', () => {
    const { out, push, jb } = make({ windowMs: 1e9 });
    for (const s of [1, 4, 6]) push(s, 0, 0);
    jb.flush();
    expect(out.map((p) => [p.sequence, p.lostBefore])).toEqual([[1, 0], [4, 2], [6, 1]]);
  });
});
