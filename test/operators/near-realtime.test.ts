import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, EMPTY, from, lastValueFrom, Observable, Subject, throwError, toArray, VirtualTimeScheduler } from 'rxjs';
import { PaceClock, runVirtual } from '../../src/core/clock.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { loadVad } from '../../src/media/vad.js';
import { fixedChunk } from '../../src/operators/fixed-chunk.js';
import { nearRealtime, type WindowSegment } from '../../src/operators/near-realtime.js';
import { pace } from '../../src/operators/pace.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { fromPcm } from '../../src/sources/pcm.js';
import { local } from '../../src/transports/local.js';
import { makeSpeech, SENTENCES, synthRaw, wer } from '../helpers/speech.js';
import { readWav } from './segment-helpers.js';
import { manualTransport, toChunks } from './segment-helpers.js';

/** One sentence of flite speech with its own leading and trailing silence cut off. */
function trimmed(text: string): Int16Array {
  const raw = synthRaw(text, 'slt');
  const s = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const first = s.findIndex((v) => Math.abs(v) > 300);
  const last = s.findLastIndex((v) => Math.abs(v) > 300);
  return s.slice(first, last + 1);
}

/** Sentences joined with exact silences (ms) between them; returns audio and each sentence's span in ms. */
function speech(sentences: readonly string[], gapsMs: readonly number[], leadMs = 300) {
  const parts: Int16Array[] = [new Int16Array(leadMs * 16)];
  const spans: Array<{ startMs: number; endMs: number }> = [];
  let at = leadMs * 16;
  sentences.forEach((text, i) => {
    const pcm = trimmed(text);
    spans.push({ startMs: at / 16, endMs: (at + pcm.length) / 16 });
    parts.push(pcm, new Int16Array(gapsMs[i % gapsMs.length]! * 16));
    at += pcm.length + gapsMs[i % gapsMs.length]! * 16;
  });
  const out = new Int16Array(at);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { pcm: out, spans };
}

const run = (pcm: Int16Array, options = {}) => lastValueFrom(from(toChunks(pcm, 320)).pipe(nearRealtime(options), toArray()));
const endMs = (s: WindowSegment) => ((s.offset + s.samples.length) * 1000) / s.sampleRate;

describe('nearRealtime', () => {
  beforeAll(() => loadVad());

  it('closes windows at pauses once they hold minWindowMs, and at long pauses whatever their length', async () => {
    // Phrases of ~1 s with pauses of 350 ms (short) and 900 ms (the speaker stopped).
    const phrases = ['good morning', 'thank you very much', 'see you soon', 'open the door', 'call me later', 'the red car', 'what time is it'];
    const { pcm, spans } = speech(phrases, [350, 350, 900]);
    const wins = await run(pcm, { speculateMs: false });
    for (const w of wins) expect(endMs(w) - (w.offset * 1000) / 16000).toBeLessThanOrEqual(5000);
    // Every window closes in a pause between sentences (or at the end), never in the middle of one.
    for (const w of wins) {
      const e = endMs(w);
      const inside = spans.some((s) => e > s.startMs + 20 && e < s.endMs - 20);
      expect(inside, `window ends at ${e}`).toBe(false);
      expect(w.provisional).toBeUndefined();
    }
    // Short phrases were joined across the 350 ms pauses, not across the 900 ms ones.
    expect(wins.length).toBeLessThan(spans.length);
    const pauses900 = spans.filter((_, i) => i % 3 === 2 && i + 1 < spans.length).map((s) => s.endMs);
    for (const p of pauses900) expect(wins.some((w) => endMs(w) > p && endMs(w) < p + 900)).toBe(true);
  });

  it('sends a window as soon as silence starts, and confirms it when the pause lasts', async () => {
    const { pcm, spans } = speech(SENTENCES.slice(0, 2), [1000]);
    const wins = await run(pcm);
    expect(wins).toHaveLength(2);
    for (const [i, w] of wins.entries()) {
      expect(w.provisional?.state).toBe('confirmed');
      // speechEndMs within a frame or two of the true end; the window closed ~60 ms after it.
      expect(Math.abs(w.speechEndMs! - spans[i]!.endMs)).toBeLessThan(50);
      expect(endMs(w) - spans[i]!.endMs).toBeLessThan(120);
    }
  });

  it('revokes a speculative window when speech resumes, then emits a longer one from the same start', async () => {
    // A 150 ms pause: long enough to speculate (60 ms), too short to close (250 ms).
    const { pcm } = speech(SENTENCES.slice(0, 2), [150, 1000]);
    const wins = await run(pcm, { windowMs: 8000 });
    const revoked = wins.filter((w) => w.provisional?.state === 'revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.provisional!.signal.aborted).toBe(true);
    const next = wins[wins.indexOf(revoked[0]!) + 1]!;
    expect(next.offset).toBe(revoked[0]!.offset);
    expect(next.samples.length).toBeGreaterThan(revoked[0]!.samples.length + 16 * 2000);
    expect(next.provisional?.state ?? 'confirmed').toBe('confirmed');
  });

  it('completes with nothing on empty input; passes errors on after the open window', async () => {
    await expect(lastValueFrom(EMPTY.pipe(nearRealtime(), toArray()))).resolves.toEqual([]);
    const { pcm } = speech(SENTENCES.slice(0, 1), [0]);
    const seen: WindowSegment[] = [];
    const err = new Error('mic unplugged');
    const got = await new Promise((resolve) => concat(from(toChunks(pcm.subarray(0, 16 * 1500), 320)), throwError(() => err)).pipe(nearRealtime()).subscribe({ next: (w) => seen.push(w), error: resolve }));
    expect(got).toBe(err);
    expect(seen.map((w) => w.cut)).toEqual(['end']);
  });

  it('stops on early unsubscribe', () => {
    const { pcm } = speech(SENTENCES.slice(0, 3), [800]);
    const source = new Subject<AudioChunk>();
    const seen: WindowSegment[] = [];
    const sub = source.pipe(nearRealtime({ speculateMs: false })).subscribe((w) => {
      seen.push(w);
      sub.unsubscribe();
    });
    for (const c of toChunks(pcm, 320)) if (source.observed) source.next(c);
    expect(seen).toHaveLength(1);
    expect(source.observed).toBe(false);
  });

  it('rejects impossible options when built', () => {
    expect(() => nearRealtime({ speculateMs: 400, minSilenceMs: 300 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => nearRealtime({ windowMs: 50 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    // A short window is named as the window it is (not as vadChunk's maxChunkMs), with the shortest one allowed.
    expect(() => nearRealtime({ windowMs: 500 })).toThrow('a near-realtime window must be at least 800 ms long, got 500 ms');
    expect(() => nearRealtime({ windowMs: 800 })).not.toThrow();
  });

  it('replays deterministically on a virtual clock: paced input, windows, a slow transport, ordered finals with latency', async () => {
    const { pcm, spans } = speech(SENTENCES.slice(0, 6), [400, 1200, 700]);
    const go = async (policy: 'vad' | 'fixed') => {
      const scheduler = new VirtualTimeScheduler();
      const clock = new PaceClock(scheduler);
      // A transport taking 100 ms + 20 % of the clip's duration.
      const t = manualTransport({ scheduler, delayMs: (job) => 100 + (job.samples.length / 16) * 0.2 });
      const events: Array<TranscriptEvent & { at: number }> = [];
      const cut = policy === 'vad' ? nearRealtime({ scheduler }) : fixedChunk({ chunkMs: 5000, scheduler });
      const done = new Observable<AudioChunk>((sub) => {
        for (const c of toChunks(pcm, 320)) sub.next(c);
        sub.complete();
      })
        .pipe(pace({ scheduler, clock }), cut, transcribeBatch(t, { scheduler, clock }))
        .subscribe((e) => events.push({ ...e, at: scheduler.now() }));
      await runVirtual(scheduler);
      expect(done.closed).toBe(true);
      // End-of-speech latency per sentence: from its end (as live) to the final covering it.
      return spans.map((s) => events.find((e) => e.endMs >= s.endMs - 1)!.at - clock.wallTimeAt(s.endMs)!);
    };
    const vad = await go('vad');
    const again = await go('vad');
    const fixed = await go('fixed');
    expect(again).toEqual(vad);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(Math.max(...vad)).toBeLessThan(1500);
    expect(mean(vad)).toBeLessThan(mean(fixed));
  });
});

/** A cold source over `pcm` that waits on its FlowControl between 100 ms reads, like a file. */
const cold = (pcm: Int16Array): Observable<AudioChunk> => fromPcm(pcm, { sampleRate: 16000 });

describe('nearRealtime with the embedded engine', () => {
  const engine = local({ size: 2 });
  afterAll(() => engine.close());
  beforeAll(() => loadVad());

  it('keeps the WER within 1.05 × whole-file mode on a minute of speech with varied pauses (fixed 5 s cuts beside it)', { timeout: 600_000 }, async () => {
    // The recording of bench/near-realtime.ts: 24 sentences, three voices, pauses of 150 ms to 3 s (+ flite's own).
    const speech = makeSpeech({
      sentences: [...SENTENCES, ...SENTENCES.slice().reverse()],
      voices: ['slt', 'rms', 'awb'],
      gapsMs: [250, 900, 150, 1800, 450, 600, 3000, 350],
      leadMs: 500,
    });
    expect(speech.durationMs).toBeGreaterThan(60_000);
    const pcm = readWav(speech.path);
    const finals = (events: TranscriptEvent[]) => events.filter((e) => e.type === 'final');
    // Whole-file mode as `earshot transcribe --mode batch` runs it with the embedded engine: VAD segments of the file.
    const whole = finals(await lastValueFrom(cold(pcm).pipe(vadChunk({ maxChunkMs: 20_000 }), transcribeBatch(engine), toArray())));
    const nr = finals(await lastValueFrom(cold(pcm).pipe(nearRealtime(), transcribeBatch(engine), toArray())));
    const fixed = finals(await lastValueFrom(cold(pcm).pipe(fixedChunk({ chunkMs: 5000 }), transcribeBatch(engine), toArray())));
    const score = (events: TranscriptEvent[]) => wer(speech.text, events.map((e) => e.text).join(' '));
    const w = { whole: score(whole), nearRealtime: score(nr), fixed5s: score(fixed) };
    console.log(`WER on ${Math.round(speech.durationMs / 1000)} s: whole file (batch mode) ${w.whole}, near-realtime ${w.nearRealtime}, fixed 5 s ${w.fixed5s}`);
    expect(w.nearRealtime).toBeLessThanOrEqual(w.whole * 1.05 + 1e-9);
    // In audio order, on the input's time line.
    for (let i = 1; i < nr.length; i++) expect(nr[i]!.startMs).toBeGreaterThanOrEqual(nr[i - 1]!.endMs - 1);
    expect(nr.at(-1)!.endMs).toBeLessThanOrEqual(speech.durationMs);
    expect(Number.isFinite(w.fixed5s)).toBe(true);
  });

  it('leaves no request running after an early unsubscribe', { timeout: 120_000 }, async () => {
    const pcm = readWav(makeSpeech({ sentences: SENTENCES.slice(0, 6), gapsMs: [400, 900] }).path);
    const calls: Array<{ signal: AbortSignal; done: Promise<unknown> }> = [];
    const counted = {
      ...engine,
      transcribeClip: (job: Parameters<typeof engine.transcribeClip>[0], o?: { signal?: AbortSignal }) => {
        const p = engine.transcribeClip(job, o);
        calls.push({ signal: o!.signal!, done: p.then(() => 'resolved', (e: { code?: string }) => e.code) });
        return p;
      },
    };
    const first = await new Promise<TranscriptEvent>((resolve) => {
      const sub = cold(pcm)
        .pipe(nearRealtime(), transcribeBatch(counted, { concurrency: 2 }))
        .subscribe((e) => {
          sub.unsubscribe();
          resolve(e);
        });
    });
    expect(first.type).toBe('final');
    const outcomes = await Promise.all(calls.map((c) => c.done));
    // Every request either had finished or was aborted (and the engine let go of it).
    calls.forEach((c, i) => expect(outcomes[i] === 'resolved' || (c.signal.aborted && outcomes[i] === 'EARSHOT_ABORTED')).toBe(true));
    expect(calls.length).toBeLessThan(6);
  });
});
