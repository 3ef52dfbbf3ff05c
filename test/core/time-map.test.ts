import { describe, expect, it } from 'vitest';
import { TimeMap } from '../../src/core/time-map.js';

describe('TimeMap', () => {
  it('maps session time onto input time across runs, gaps and a jump in the input', () => {
    const map = new TimeMap(16000);
    expect(map.toInputMs(250)).toBe(250); // nothing written: the identity
    map.input(80_000, 16_000); // 1 s from input 5 s
    map.input(96_000, 8000); // contiguous: merged
    map.gap(1600); // 100 ms of keepalive silence
    map.input(104_000, 16_000); // the input goes on after the silence
    map.input(200_000, 1600); // a jump on the input (a replay starting elsewhere)
    expect(map.frames).toBe(16_000 + 8000 + 1600 + 16_000 + 1600);
    expect(map.toInputMs(0)).toBe(5000);
    expect(map.toInputMs(1400)).toBe(6400);
    expect(map.toInputMs(1550)).toBe(6500); // inside the silence: the end of the input before it
    expect(map.toInputMs(1600)).toBe(6500);
    expect(map.toInputMs(2000)).toBe(6900);
    expect(map.toInputMs(2600)).toBe(12_500);
    expect(map.toInputMs(2800)).toBe(12_700); // past the end: runs on from the last piece
    expect(map.toInputMs(-10)).toBe(5000);
  });

  it('clamps times in trailing silence and maps events with their words', () => {
    const map = new TimeMap(8000);
    map.input(0, 8000);
    map.gap(800);
    expect(map.toInputMs(1090)).toBe(1000);
    const event = map.mapEvent({ type: 'final', text: 'a b', startMs: 500, endMs: 1050, words: [{ text: 'a', startMs: 500, endMs: 700 }, { text: 'b', startMs: 800, endMs: 1050 }] });
    expect(event).toEqual({ type: 'final', text: 'a b', startMs: 500, endMs: 1000, words: [{ text: 'a', startMs: 500, endMs: 700 }, { text: 'b', startMs: 800, endMs: 1000 }] });
  });
});
