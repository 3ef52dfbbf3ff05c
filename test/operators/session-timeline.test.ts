import { describe, expect, it } from 'vitest';
import { SessionTimeline, type TimelinePiece } from '../../src/operators/session-timeline.js';
import type { TranscriptEvent } from '../../src/core/types.js';

const RATE = 1000; // 1 frame = 1 ms keeps the arithmetic readable
const piece = (offset: number, frames: number, value = offset): TimelinePiece => ({ samples: new Int16Array(frames).fill(value), offset });
const span = (pieces: TimelinePiece[]) => pieces.map((p) => [p.offset, p.samples.length]);
const final = (startMs: number, endMs: number, text = 'x'): TranscriptEvent => ({ type: 'final', text, startMs, endMs });
const partial = (startMs: number, endMs: number): TranscriptEvent => ({ type: 'partial', text: 'p', startMs, endMs });
const edge = (type: 'speech-start' | 'speech-end', at: number): TranscriptEvent => ({ type, text: '', startMs: at, endMs: at });

describe('SessionTimeline', () => {
  it('maps a session onto the input from the first offset, and keeps only the audio after the last final for replay', () => {
    const line = new SessionTimeline({ sampleRate: RATE });
    expect(line.newSession(false)).toEqual([]);
    for (let t = 0; t < 3000; t += 100) line.push(piece(5000 + t, 100));
    expect(line.sessionFrames).toBe(3000);
    expect(line.accept(partial(200, 900))).toEqual(partial(5200, 5900));
    expect(line.pendingSpeech).toBe(true);
    expect(line.accept(final(200, 1250))).toEqual(final(5200, 6250));
    expect(line.atPause).toBe(true);
    expect(line.lastFinalEndMs).toBe(6250);
    // Replay: from the final's end (cut inside a piece) to the newest audio.
    const replay = line.newSession(true);
    expect(span(replay)[0]).toEqual([6250, 50]);
    expect(replay.reduce((n, p) => n + p.samples.length, 0)).toBe(8000 - 6250);
    // The new session's time 0 is input 6250.
    expect(line.accept(final(100, 500))).toEqual(final(6350, 6750));
  });

  it('drops speech lying mostly before the last final and clamps the rest to it', () => {
    const line = new SessionTimeline({ sampleRate: RATE });
    line.newSession(false);
    line.push(piece(0, 4000));
    line.accept(final(0, 1000));
    line.newSession(true); // replay from 1000
    expect(line.accept(final(0, 300))).toEqual(final(1000, 1300)); // new speech after the final
    const second = new SessionTimeline({ sampleRate: RATE });
    second.newSession(false);
    second.push(piece(0, 4000));
    second.accept(final(0, 1000));
    expect(second.accept(final(600, 1300))).toBeUndefined(); // midpoint 950 ≤ 1000: mostly already emitted
    expect(second.accept({ ...final(800, 1600), words: [{ text: 'a', startMs: 800, endMs: 990 }, { text: 'b', startMs: 990, endMs: 1600 }] })).toEqual({
      ...final(1000, 1600),
      words: [{ text: 'b', startMs: 1000, endMs: 1600 }],
    });
  });

  it('keeps all audio sent unpaced that the service has not reported on, however long ago it was sent (issue 18)', () => {
    // The soak's loss: 60 s of audio pushed at once (no clock plays a part any more), no event yet, then the socket
    // drops. The old wall-clock trim kept only what was sent within 5 s; all of it must be replayed.
    const line = new SessionTimeline({ sampleRate: RATE });
    line.newSession(false);
    for (let t = 0; t < 60_000; t += 100) line.push(piece(t, 100));
    expect(line.replayMs).toBe(60_000);
    const replay = line.newSession(true);
    expect(replay.reduce((n, p) => n + p.samples.length, 0)).toBe(60_000);
    expect(replay[0]!.offset).toBe(0);
    // The replacement reports a final: only audio up to its end goes; the rest is still kept.
    expect(line.accept(final(1000, 2500))).toEqual(final(1000, 2500));
    expect(line.replayMs).toBe(57_500);
  });

  it('trims at finals only: partials and speech edges (whose times may be what was sent, not heard) keep it all', () => {
    const line = new SessionTimeline({ sampleRate: RATE });
    line.newSession(false);
    for (let t = 0; t < 10_000; t += 100) line.push(piece(t, 100));
    line.accept(edge('speech-start', 3000));
    line.accept(partial(3000, 10_000)); // qwen3-asr-flash-realtime: a partial ends at the audio sent so far
    line.accept(edge('speech-end', 4500));
    expect(line.replayMs).toBe(10_000);
    line.accept(final(3000, 4500));
    expect(line.replayMs).toBe(5500);
    line.accept(edge('speech-start', 6000));
    line.accept(edge('speech-end', 7000));
    expect(line.replayMs).toBe(5500);
    expect(span(line.newSession(true))[0]).toEqual([4500, 100]);
  });

  it('bounds the replay without dropping: full at maxReplayMs, push then refused (coded), an ended session releases it all', () => {
    const line = new SessionTimeline({ sampleRate: RATE, maxReplayMs: 3000, warmupMs: 500 });
    line.newSession(false);
    for (let t = 0; t < 3000; t += 100) {
      expect(line.replayFull).toBe(false);
      line.push(piece(t, 100));
    }
    expect(line.replayFull).toBe(true);
    expect(() => line.push(piece(3000, 100))).toThrow(expect.objectContaining({ code: 'EARSHOT_LIMIT_EXCEEDED' }));
    expect(line.replayMs).toBe(3000); // nothing dropped, the refused piece not taken
    // A final lets the audio up to its end go.
    line.accept(final(500, 1200));
    expect(line.replayFull).toBe(false);
    line.push(piece(3000, 100));
    // The session is ended on request: it reported on everything it heard. Only the warm-up is left for the next.
    line.endingSession();
    expect(line.sessionEnded()).toEqual([]);
    expect(line.replayMs).toBe(0);
    expect(span(line.newSession(true))).toEqual([
      [2600, 100],
      [2700, 100],
      [2800, 100],
      [2900, 100],
      [3000, 100],
    ]);
  });

  it('ends a session on request: holds its finals and speech ends, drops a final the end may have cut and keeps its audio', () => {
    const line = new SessionTimeline({ sampleRate: RATE, maxReplayMs: 20_000 });
    line.newSession(false);
    for (let t = 0; t < 20_000; t += 100) line.push(piece(t, 100));
    expect(line.replayFull).toBe(true);
    line.endingSession();
    // What the service sends as it ends (held): one whole utterance, and one it finalises at the end of the audio.
    const sent = [edge('speech-start', 2000), edge('speech-end', 4000), final(2000, 4000, 'a'), edge('speech-start', 16_000), partial(16_000, 19_000), edge('speech-end', 19_900), final(16_000, 19_900, 'cut')];
    for (const e of sent) expect(line.accept(e)).toBeUndefined();
    // Ended: the whole utterance goes out; the cut one does not, and its audio (with a lead-in) stays for the next.
    expect(line.sessionEnded()).toEqual(sent.slice(0, 3));
    expect(line.lastFinalEndMs).toBe(4000);
    expect(line.replayMs).toBe(4500);
    const replay = line.newSession(true);
    expect(replay[0]!.offset).toBe(15_500);
    // The next session hears it whole.
    expect(line.accept(edge('speech-start', 500))).toEqual(edge('speech-start', 16_000));
    line.push(piece(20_000, 2000));
    expect(line.accept(edge('speech-end', 5500))).toEqual(edge('speech-end', 21_000));
    expect(line.accept(final(500, 5500, 'whole'))).toEqual(final(16_000, 21_000, 'whole'));
    // Speech as long as the replay: the cut stands (nothing else could free it).
    const long = new SessionTimeline({ sampleRate: RATE, maxReplayMs: 5000 });
    long.newSession(false);
    for (let t = 0; t < 5000; t += 100) long.push(piece(t, 100));
    long.endingSession();
    long.accept(final(0, 5000, 'long'));
    expect(long.sessionEnded()).toEqual([final(0, 5000, 'long')]);
    expect(long.replayMs).toBe(0);
    // Speech begun and left without a final by the end (a service that drops it): kept the same way.
    const open = new SessionTimeline({ sampleRate: RATE, maxReplayMs: 10_000 });
    open.newSession(false);
    for (let t = 0; t < 10_000; t += 100) open.push(piece(t, 100));
    open.endingSession();
    for (const e of [edge('speech-start', 1000), edge('speech-end', 2000), final(1000, 2000, 'a'), edge('speech-start', 3000), partial(3000, 3500)]) open.accept(e);
    expect(open.sessionEnded()).toEqual([edge('speech-start', 1000), edge('speech-end', 2000), final(1000, 2000, 'a')]);
    expect(span(open.newSession(true))[0]).toEqual([2500, 100]);
    // A drop while ending: the held results are forgotten, the replay is whole for the next session.
    const dropped = new SessionTimeline({ sampleRate: RATE, maxReplayMs: 5000 });
    dropped.newSession(false);
    for (let t = 0; t < 5000; t += 100) dropped.push(piece(t, 100));
    dropped.endingSession();
    dropped.accept(final(100, 900, 'a'));
    expect(dropped.newSession(true).reduce((n, p) => n + p.samples.length, 0)).toBe(5000);
    expect(dropped.accept(final(100, 900, 'a'))).toEqual(final(100, 900, 'a'));
  });

  it('warms a replacement session with audio from before the last final (at most warmupMs), not a first session', () => {
    const line = new SessionTimeline({ sampleRate: RATE, warmupMs: 500 });
    expect(line.newSession(true)).toEqual([]);
    for (let t = 0; t < 2000; t += 100) line.push(piece(t, 100));
    line.accept(final(0, 1450));
    const pieces = line.newSession(true);
    expect(span(pieces)).toEqual([
      [1000, 100],
      [1100, 100],
      [1200, 100],
      [1300, 100],
      [1400, 50],
      [1450, 50],
      ...Array.from({ length: 5 }, (_, k) => [1500 + k * 100, 100]),
    ]);
    // The warm-up (450 ms, whole pieces within warmupMs) is on the new session's map: its time 0 is input 1000; its
    // re-recognition of the warm-up is dropped.
    expect(line.accept(final(0, 500))).toBeUndefined();
    expect(line.accept(final(600, 800))).toEqual(final(1600, 1800));
    expect(span(line.newSession(false))[0]).toEqual([1800, 100]);
  });

  it('lets each speech edge through once, alternating, across sessions that hear the speech again', () => {
    const line = new SessionTimeline({ sampleRate: RATE });
    line.newSession(false);
    line.push(piece(0, 6000));
    expect(line.accept(edge('speech-end', 100))).toBeUndefined(); // no speech started
    expect(line.accept(edge('speech-start', 200))).toEqual(edge('speech-start', 200));
    expect(line.accept(edge('speech-start', 250))).toBeUndefined(); // already in speech
    expect(line.accept(edge('speech-end', 1200))).toEqual(edge('speech-end', 1200));
    expect(line.accept(final(200, 1200))).toEqual(final(200, 1200));
    expect(line.accept(edge('speech-start', 2000))).toEqual(edge('speech-start', 2000));
    // The session drops mid-speech; the next one replays from 1200 and hears the same start again, then the end.
    line.newSession(true);
    expect(line.accept(edge('speech-start', 803))).toBeUndefined();
    expect(line.accept(edge('speech-end', 2300))).toEqual(edge('speech-end', 3500));
    // It drops again after the end but before the final: the next session's start and end are repeats.
    line.newSession(true);
    expect(line.accept(edge('speech-start', 801))).toBeUndefined();
    expect(line.accept(edge('speech-end', 2299))).toBeUndefined();
    expect(line.accept(final(800, 2300))).toEqual(final(2000, 3500));
    // Warm-up audio: an edge before the last final is never let through.
    expect(line.accept(edge('speech-start', 100))).toBeUndefined();
    expect(line.accept(edge('speech-start', 2400))).toEqual(edge('speech-start', 3600));
  });
});
