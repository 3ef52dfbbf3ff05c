import { from, VirtualTimeScheduler, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runVirtual } from '../../src/core/clock.js';
import { TransportError } from '../../src/core/errors.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { transcribeRealtime, type TranscribeRealtimeOptions } from '../../src/operators/transcribe-realtime.js';
import { openReconnectingSession, reconnectSettings } from '../../src/operators/reconnecting-session.js';
import { pcmChunks } from '../helpers/audio.js';
import { expectOneTimeline, expectSpeechEdges } from '../helpers/events.js';
import { scriptedTransport, utterances, type ScriptedTransportOptions } from '../helpers/scripted-transport.js';

afterEach(() => vi.restoreAllMocks());

/** Run `source` through transcribeRealtime on a scripted transport, on virtual time; events with their virtual times. */
async function run(pcm: Int16Array, script: Omit<ScriptedTransportOptions, 'scheduler'>, settings: TranscribeRealtimeOptions = {}) {
  const scheduler = new VirtualTimeScheduler();
  const scripted = scriptedTransport({ ...script, scheduler });
  const events: Array<TranscriptEvent & { at: number }> = [];
  let error: unknown;
  let completed = false;
  const source: Observable<AudioChunk> = from(pcmChunks(pcm));
  source.pipe(transcribeRealtime(scripted.transport, { ...settings, scheduler })).subscribe({
    next: (e) => events.push({ ...e, at: scheduler.now() }),
    error: (e: unknown) => (error = e),
    complete: () => (completed = true),
  });
  const end = await runVirtual(scheduler);
  return { ...scripted, events, error, completed, end, scheduler };
}

const strip = (events: Array<TranscriptEvent & { at: number }>) => events.map(({ at: _at, ...e }) => e);
const notPartial = (events: TranscriptEvent[]) => strip(events as Array<TranscriptEvent & { at: number }>).filter((e) => e.type !== 'partial');

describe('transcribeRealtime on virtual time (scripted transport)', () => {
  it('paces at real time: 30 s of audio take 30 s of virtual time, finals as the speech ends', async () => {
    const pcm = utterances(20);
    const clean = await run(pcm, {});
    expect(clean.completed).toBe(true);
    expect(clean.end).toBeGreaterThanOrEqual(30_000);
    expect(clean.end).toBeLessThan(30_300);
    const finals = clean.events.filter((e) => e.type === 'final');
    expect(finals.map((e) => e.text)).toEqual(Array.from({ length: 20 }, (_, k) => `w${k + 1}`));
    // Each final leaves as soon as the 100 ms piece holding its end was sent (paced, plus the 50 ms open).
    finals.forEach((e, k) => {
      expect(e.startMs).toBe(k * 1500);
      expect(e.endMs).toBe(k * 1500 + 1000);
      expect(e.at - e.endMs).toBeGreaterThanOrEqual(0);
      expect(e.at - e.endMs).toBeLessThanOrEqual(200);
    });
    expectSpeechEdges(clean.events);
    expectOneTimeline(clean.events);
  });

  it('reconnects after drops with full-jitter backoff: the same finals and speech edges as the fault-free run, deterministic', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const pcm = utterances(20);
    const clean = await run(pcm, {});
    // Session 0 drops after 4.2 s of audio (mid-speech), session 1 after 5.7 s, session 2 after 3.1 s.
    const drops = [67_200, 91_200, 49_600];
    const script = { dropAfterFrames: (n: number) => drops[n] };
    const policy = { attempts: 3, baseMs: 400, maxMs: 1000 };
    const faulty = await run(pcm, script, { reconnect: policy });
    expect(faulty.completed).toBe(true);
    expect(faulty.sessions).toHaveLength(4);
    expect(notPartial(faulty.events)).toEqual(notPartial(clean.events));
    expectSpeechEdges(faulty.events);
    expectOneTimeline(faulty.events);
    // Each reconnect waited random·base (first failure after a final: attempt 1 → 200 ms), then the 50 ms open.
    for (let n = 1; n < 4; n++) expect(faulty.sessions[n]!.openedAt - faulty.sessions[n - 1]!.endedAt!).toBe(200 + 50);
    // Each new session heard the audio after the last final again, starting at a final's end (silence).
    for (let n = 1; n < 4; n++) expect(faulty.sessions[n]!.samples[0]).toBe(0);
    // Deterministic: the same events at the same virtual times.
    const again = await run(pcm, script, { reconnect: policy });
    expect(again.events).toEqual(faulty.events);
  });

  it('gives up after `attempts` sessions without a final, with the last error as cause; finals before are kept', async () => {
    // 3 s utterances; every session after the first drops 0.5 s into what it hears, so the second utterance never ends.
    const pcm = utterances(3, 3000, 500);
    const failed = await run(pcm, { dropAfterFrames: (n) => (n === 0 ? 16_000 * 4 : 8000) }, { reconnect: { attempts: 3, baseMs: 100, maxMs: 100 } });
    expect(failed.completed).toBe(false);
    expect(failed.error).toMatchObject({ code: 'EARSHOT_CONNECTION_LOST', retryable: false });
    // told again with EarshotError.wrap: the last error's class is kept
    expect(failed.error).toBeInstanceOf(TransportError);
    expect((failed.error as Error).message).toMatch(/gave up after 2 reconnect attempts/);
    expect((failed.error as Error).cause).toBeInstanceOf(TransportError);
    expect(failed.sessions).toHaveLength(3);
    expect(failed.events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['w1']);
    expect(failed.scheduler.actions).toHaveLength(0);
  });

  it("honours a server's Retry-After up to maxMs; a refusal that is not retryable fails at once", async () => {
    const throttled = new TransportError('EARSHOT_THROTTLED', 'slow down', { retryable: true, retryAfterMs: 3000 });
    const slow = await run(utterances(2), { openError: (n) => (n < 2 ? throttled : undefined) }, { reconnect: { attempts: 3, maxMs: 1000 } });
    expect(slow.completed).toBe(true);
    expect(slow.attempts).toEqual([0, 1050, 2100]);
    expect(slow.events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['w1', 'w2']);
    const auth = new TransportError('EARSHOT_AUTH_FAILED', 'bad key', { retryable: false });
    const refused = await run(utterances(2), { openError: () => auth }, { reconnect: { attempts: 5 } });
    expect(refused.error).toBe(auth);
    expect(refused.attempts).toHaveLength(1);
  });

  it('rotates sessions before maxDurationMs, at pauses, with the same finals and edges', async () => {
    const pcm = utterances(40); // 60 s
    const clean = await run(pcm, {});
    const rotated = await run(pcm, { maxDurationMs: 10_000 }, { rotateBeforeMs: 3000 });
    expect(rotated.completed).toBe(true);
    expect(notPartial(rotated.events)).toEqual(notPartial(clean.events));
    expectSpeechEdges(rotated.events);
    expect(rotated.sessions.length).toBeGreaterThanOrEqual(7);
    for (const [n, s] of rotated.sessions.entries()) {
      // Opened to closed within the cap (virtual wall time), and never more than the cap of audio.
      expect(s.endedAt! - s.openedAt).toBeLessThan(10_000);
      expect(s.samples.length).toBeLessThanOrEqual(16 * 10_000);
      // Rotated at a pause: a new session starts in silence, never inside an utterance.
      if (n > 0) expect(s.samples[0]).toBe(0);
    }
  });

  it('bounds the replay without dropping: at maxReplayMs the session is ended, and speech the end cut is heard again whole', async () => {
    // w1 (1 s), 4.5 s of silence, w2 (3 s), 0.5 s of silence. No final comes for 5 s after w1's: at 6 s the replay
    // (maxReplayMs 5 s) is full, half a second into w2. The session is ended; its final for w2, cut at 6 s, is not
    // let through, and the next session hears w2 from 0.5 s before it.
    const pcm = new Int16Array(16 * 9000);
    pcm.fill(1, 0, 16 * 1000);
    pcm.fill(2, 16 * 5500, 16 * 8500);
    const clean = await run(pcm, {});
    const bounded = await run(pcm, {}, { maxReplayMs: 5000 });
    expect(bounded.completed).toBe(true);
    expect(notPartial(bounded.events)).toEqual(notPartial(clean.events));
    expect(notPartial(bounded.events).filter((e) => e.type === 'final')).toEqual([
      { type: 'final', text: 'w1', startMs: 0, endMs: 1000 },
      { type: 'final', text: 'w2', startMs: 5500, endMs: 8500 },
    ]);
    expectSpeechEdges(bounded.events);
    expect(bounded.sessions).toHaveLength(2);
    expect(bounded.sessions[0]!.samples).toHaveLength(16 * 6000);
    // The second session heard from 5 s on: the lead-in, then all of w2.
    expect(bounded.sessions[1]!.samples).toHaveLength(16 * 4000);
    expect(bounded.sessions[1]!.samples.slice(0, 16 * 500).every((v) => v === 0)).toBe(true);
    expect(bounded.sessions[1]!.samples[16 * 500]).toBe(2);
  });

  it('unsubscribing closes the session and leaves no timer', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { transport, sessions } = scriptedTransport({ scheduler });
    const got: TranscriptEvent[] = [];
    const sub = from(pcmChunks(utterances(10))).pipe(transcribeRealtime(transport, { scheduler })).subscribe((e) => got.push(e));
    await runVirtual(scheduler, 3000);
    expect(got.some((e) => e.type === 'final')).toBe(true);
    sub.unsubscribe();
    expect(sessions[0]!.endedAt).toBe(3000);
    expect(scheduler.actions).toHaveLength(0);
  });
});

describe('openReconnectingSession', () => {
  it('presents one StreamSession: input offsets in, events on the input time line, reconnects inside', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { transport, sessions } = scriptedTransport({ scheduler, dropAfterFrames: (n) => (n === 0 ? 24_000 : undefined) });
    const events: TranscriptEvent[] = [];
    const errors: Error[] = [];
    const opening = openReconnectingSession(transport, reconnectSettings(transport, { scheduler, reconnect: { baseMs: 0, maxMs: 0 } }), { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
    await runVirtual(scheduler);
    const session = await opening;
    const pcm = utterances(2);
    const base = 16_000 * 60; // the input starts a minute in
    const writing = (async () => {
      for (const c of pcmChunks(pcm, base)) await session.write(c.samples, c.offset);
      await session.end();
    })();
    await runVirtual(scheduler);
    await writing;
    expect(errors).toEqual([]);
    expect(sessions).toHaveLength(2);
    expect(events.filter((e) => e.type !== 'partial')).toEqual([
      { type: 'speech-start', text: '', startMs: 60_000, endMs: 60_000 },
      { type: 'speech-end', text: '', startMs: 61_000, endMs: 61_000 },
      { type: 'final', text: 'w1', startMs: 60_000, endMs: 61_000 },
      { type: 'speech-start', text: '', startMs: 61_500, endMs: 61_500 },
      { type: 'speech-end', text: '', startMs: 62_500, endMs: 62_500 },
      { type: 'final', text: 'w2', startMs: 61_500, endMs: 62_500 },
    ]);
    expect(() => reconnectSettings(transport, { reconnect: { attempts: 0 } })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => reconnectSettings(transport, { warmupMs: -1 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    // The former shape ({ baseDelayMs, maxDelayMs, warmupMs } under reconnect) is refused, not silently ignored.
    expect(() => reconnectSettings(transport, { reconnect: { baseDelayMs: 10 } as never })).toThrow(/not baseDelayMs/);
  });
});
