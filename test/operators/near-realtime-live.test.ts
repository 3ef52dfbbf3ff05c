/**
 * nearRealtimeLive(): windows fed to live sessions as they are spoken. A recording transport checks the bookkeeping
 * (every window's audio decoded once, in order: a speculative cut followed by speech goes on in a new session from
 * the held point; a window cut mid-speech becomes a clip; sessions are primed with earlier windows); the real
 * engine checks the words.
 */
import { concat, EMPTY, from, lastValueFrom, Subject, tap, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/core/errors.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { loadVad } from '../../src/media/vad.js';
import { nearRealtime, type WindowSegment } from '../../src/operators/near-realtime.js';
import { decodesWindowsLive, nearRealtimeLive, transcribeNearRealtime } from '../../src/operators/near-realtime-live.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { local } from '../../src/transports/local.js';
import { withCapabilities, type StreamOptions, type Transport } from '../../src/transports/transport.js';
import { joinPcm, makeSpeech, SENTENCES, synthRaw, wer } from '../helpers/speech.js';
import { readWav, toChunks } from './segment-helpers.js';

const FEATURES = { wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'], offline: true, liveClips: true } as const;

/** One sentence of flite speech without its own leading and trailing silence. */
function trimmed(text: string): Int16Array {
  const raw = synthRaw(text, 'slt');
  const s = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  return s.slice(s.findIndex((v) => Math.abs(v) > 300), s.findLastIndex((v) => Math.abs(v) > 300) + 1);
}

/** Sentences joined with exact silences (ms) after each, after `leadMs` of silence. */
function speech(sentences: readonly string[], gapsMs: readonly number[], leadMs = 300): Int16Array {
  const parts: Int16Array[] = [new Int16Array(leadMs * 16)];
  sentences.forEach((text, i) => parts.push(trimmed(text), new Int16Array(gapsMs[i % gapsMs.length]! * 16)));
  return joinPcm(parts);
}

interface Recorded {
  prime: number;
  written: number;
  ended: boolean;
  closed: boolean;
}

/**
 * A transport that hears nothing: each session, at its end, gives one final spanning the audio written to it; each
 * clip one spanning the clip. Mapped back onto the input's time line, the finals show which audio each decoded.
 */
function recorder(options: { failSession?: number } = {}) {
  const sessions: Recorded[] = [];
  const clips: Array<{ startMs: number; ms: number }> = [];
  const span = (ms: number, text: string): TranscriptEvent => ({ type: 'final', text, startMs: 0, endMs: ms });
  const transport = withCapabilities(FEATURES, {
    model: 'recorder',
    sampleRate: 16000,
    async transcribeClip(job) {
      clips.push({ startMs: job.startMs, ms: job.samples.length / 16 });
      return [span(job.samples.length / 16, 'clip')];
    },
    async openStream(o: StreamOptions) {
      const rec: Recorded = { prime: o.prime?.length ?? 0, written: 0, ended: false, closed: false };
      const index = sessions.push(rec) - 1;
      return {
        async write(samples: Int16Array) {
          rec.written += samples.length;
          if (index === options.failSession && rec.written > 16 * 500) o.onError(new EngineError('EARSHOT_WORKER_CRASHED', 'engine worker crashed', { retryable: true }));
        },
        async end() {
          rec.ended = true;
          o.onEvent({ type: 'partial', text: 'ignored', startMs: 0, endMs: rec.written / 16 });
          if (rec.written > 0) o.onEvent(span(rec.written / 16, 'session'));
        },
        close() {
          rec.closed = true;
        },
      };
    },
  } satisfies Omit<Transport, 'capabilities'>);
  return { transport, sessions, clips };
}

/** Run `pcm` through nearRealtimeLive; the finals and the windows it cut. */
async function live(transport: Transport, pcm: Int16Array, options = {}) {
  const windows: WindowSegment[] = [];
  const events = await lastValueFrom(from(toChunks(pcm, 320)).pipe(nearRealtimeLive(transport, { ...options, windows: tap((w) => windows.push(w)) }), toArray()));
  return { events, windows: windows.filter((w) => w.provisional?.state !== 'revoked'), all: windows };
}

/** The finals tile the kept windows exactly: in order, each window's audio decoded once, nothing between them. */
function expectTiled(events: TranscriptEvent[], windows: WindowSegment[]): void {
  const ms = (samples: number) => samples / 16;
  let w = 0;
  let at = ms(windows[0]!.offset);
  for (const e of events) {
    expect(e.type).toBe('final');
    expect(e.startMs).toBeCloseTo(at, 6);
    at = e.endMs;
    const end = ms(windows[w]!.offset + windows[w]!.samples.length);
    if (Math.abs(at - end) < 1e-6 && ++w < windows.length) at = ms(windows[w]!.offset);
  }
  expect(w).toBe(windows.length);
}

describe('nearRealtimeLive', () => {
  beforeAll(() => loadVad());

  it('decodes each window in one primed session, ended at the first silence, finals in audio order', async () => {
    const pcm = speech(SENTENCES.slice(0, 3), [1000]);
    const { transport, sessions, clips } = recorder();
    const { events, windows } = await live(transport, pcm);
    expect(windows).toHaveLength(3);
    expect(windows.every((w) => w.provisional?.state === 'confirmed')).toBe(true);
    expect(clips).toEqual([]);
    expect(sessions).toHaveLength(3);
    expect(sessions.every((s) => s.ended)).toBe(true);
    // Each session took exactly its window; the first had nothing before it, the others the windows before theirs.
    expect(sessions.map((s) => s.written)).toEqual(windows.map((w) => w.samples.length));
    expect(sessions.map((s) => s.prime)).toEqual([0, windows[0]!.samples.length, windows[0]!.samples.length + windows[1]!.samples.length]);
    expectTiled(events, windows);
  });

  it('goes on in a new session from the held point when speech resumes after a speculative cut: nothing lost, nothing twice', async () => {
    // A 150 ms pause: long enough to speculate (60 ms), too short to close a window (250 ms).
    const pcm = speech(SENTENCES.slice(0, 2), [150, 1000]);
    const { transport, sessions } = recorder();
    const { events, windows, all } = await live(transport, pcm, { windowMs: 8000 });
    const revoked = all.filter((w) => w.provisional?.state === 'revoked');
    expect(revoked).toHaveLength(1);
    expect(windows).toHaveLength(1);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]!.written).toBe(revoked[0]!.samples.length);
    expect(sessions[0]!.written + sessions[1]!.written).toBe(windows[0]!.samples.length);
    // The continuation is primed with the window so far.
    expect(sessions[1]!.prime).toBe(revoked[0]!.samples.length);
    expectTiled(events, windows);
  });

  it('decodes a window cut in the middle of speech as a clip, and the rest of the speech live', async () => {
    const pcm = speech([SENTENCES[9]!, SENTENCES[2]!], [0, 1000]);
    const { transport, sessions, clips } = recorder();
    const { events, windows } = await live(transport, pcm, { windowMs: 2000 });
    expect(windows.some((w) => w.cut === 'max-length')).toBe(true);
    expect(clips.length).toBeGreaterThan(0);
    expect(sessions.filter((s) => s.closed && !s.ended)).toHaveLength(clips.length);
    expectTiled(events, windows);
  });

  it('completes on empty input; passes a source error on after the open window; fails with a session error', async () => {
    const { transport } = recorder();
    await expect(lastValueFrom(EMPTY.pipe(nearRealtimeLive(transport), toArray()))).resolves.toEqual([]);

    const pcm = speech(SENTENCES.slice(0, 1), [0]);
    const err = new Error('mic unplugged');
    const seen: TranscriptEvent[] = [];
    const got = await new Promise((resolve) => concat(from(toChunks(pcm.subarray(0, 16 * 1500), 320)), throwError(() => err)).pipe(nearRealtimeLive(transport)).subscribe({ next: (e) => seen.push(e), error: resolve }));
    expect(got).toBe(err);
    expect(seen).toHaveLength(1);

    const failing = recorder({ failSession: 0 });
    await expect(live(failing.transport, speech(SENTENCES.slice(0, 2), [1000]))).rejects.toMatchObject({ code: 'EARSHOT_WORKER_CRASHED' });
    expect(failing.sessions.every((s) => s.closed || s.ended)).toBe(true);
  });

  it('closes its sessions on early unsubscribe', async () => {
    const pcm = speech(SENTENCES.slice(0, 2), [1000]);
    const { transport, sessions } = recorder();
    const source = new Subject<AudioChunk>();
    const sub = source.pipe(nearRealtimeLive(transport)).subscribe();
    for (const c of toChunks(pcm.subarray(0, 16 * 1500), 320)) source.next(c);
    await new Promise((r) => setImmediate(r));
    expect(sessions).toHaveLength(1);
    sub.unsubscribe();
    await new Promise((r) => setImmediate(r));
    expect(sessions[0]!.closed).toBe(true);
    expect(source.observed).toBe(false);
  });

  it('is picked by capability: transcribeNearRealtime() sends whole windows to a transport whose sessions do not decode like clips, and with { live: false }', async () => {
    const pcm = speech(SENTENCES.slice(0, 2), [1000]);
    const liveOne = recorder();
    const batchOnly = recorder();
    const plain = { ...batchOnly.transport, capabilities: { ...batchOnly.transport.capabilities, liveClips: false } };
    expect(decodesWindowsLive(liveOne.transport)).toBe(true);
    expect(decodesWindowsLive(plain)).toBe(false);
    expect(() => nearRealtimeLive(plain)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    await lastValueFrom(from(toChunks(pcm, 320)).pipe(transcribeNearRealtime(liveOne.transport), toArray()));
    await lastValueFrom(from(toChunks(pcm, 320)).pipe(transcribeNearRealtime(plain), toArray()));
    expect([liveOne.sessions.length, liveOne.clips.length]).toEqual([2, 0]);
    expect([batchOnly.sessions.length, batchOnly.clips.length]).toEqual([0, 2]);
    await lastValueFrom(from(toChunks(pcm, 320)).pipe(transcribeNearRealtime(liveOne.transport, { live: false }), toArray()));
    expect([liveOne.sessions.length, liveOne.clips.length]).toEqual([2, 2]);
  });
});

describe('nearRealtimeLive with the embedded engine', () => {
  const engine = local({ size: 1 });
  afterAll(() => engine.close());

  it('decodes a session primed with a clip as the clip is decoded (liveClips): same words, same times', { timeout: 120_000 }, async () => {
    const pcm = speech([SENTENCES[1]!, SENTENCES[5]!], [300], 300);
    const clip = await engine.transcribeClip({ samples: pcm, sampleRate: 16000, startMs: 0 });
    const finals: TranscriptEvent[] = [];
    const session = await engine.openStream({ sampleRate: 16000, prime: pcm, onEvent: (e) => e.type === 'final' && finals.push(e), onError: (err) => finals.push({ type: 'final', text: String(err), startMs: 0, endMs: 0 }) });
    for (let i = 0; i < pcm.length; i += 1600) await session.write(pcm.subarray(i, i + 1600));
    await session.end();
    expect(clip.length).toBeGreaterThan(0);
    expect(finals).toEqual(clip);
  });

  it('goes on after a window cut in the middle of speech: the session closed mid-utterance leaves its decoder usable (one slot)', { timeout: 120_000 }, async () => {
    // The one decoder goes from the closed session to the window's clip and the next primed session.
    const pcm = speech([SENTENCES[9]!, SENTENCES[2]!], [0, 1000]);
    const { events, windows } = await live(engine, pcm, { windowMs: 2000 });
    expect(windows.some((w) => w.cut === 'max-length')).toBe(true);
    expect(wer(`${SENTENCES[9]} ${SENTENCES[2]}`, events.map((e) => e.text).join(' '))).toBeLessThan(0.35);
  });

  it('gives the words whole windows give', { timeout: 120_000 }, async () => {
    const recording = makeSpeech({ sentences: SENTENCES.slice(0, 4), voices: ['slt', 'rms'], gapsMs: [800, 200, 1200], leadMs: 400 });
    const pcm = readWav(recording.path);
    const text = (events: TranscriptEvent[]) => events.map((e) => e.text).join(' ');
    const whole = text(await lastValueFrom(from(toChunks(pcm, 1600)).pipe(nearRealtime(), transcribeBatch(engine), toArray())));
    const { events } = await live(engine, pcm);
    expect(events.every((e, i) => i === 0 || e.startMs >= events[i - 1]!.endMs)).toBe(true);
    expect(wer(recording.text, whole)).toBeLessThan(0.1);
    expect(Math.abs(wer(recording.text, text(events)) - wer(recording.text, whole))).toBeLessThanOrEqual(0.05);
  });
});
