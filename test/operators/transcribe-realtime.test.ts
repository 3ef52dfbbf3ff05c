import { afterEach, describe, expect, it } from 'vitest';
import { Observable, firstValueFrom, lastValueFrom, toArray, from, concat, throwError, type OperatorFunction } from 'rxjs';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';
import { funAsrRealtime } from '../../src/transports/dashscope/fun-asr-realtime.js';
import { qwenAsrRealtime } from '../../src/transports/dashscope/qwen-asr-realtime.js';
import { omniRealtime } from '../../src/transports/dashscope/omni-realtime.js';
import { transcribeRealtime } from '../../src/operators/transcribe-realtime.js';
import { FlowControl } from '../../src/core/flow.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import type { Transport } from '../../src/transports/transport.js';
import { EarshotError } from '../../src/core/errors.js';
import { speechPcm, until } from '../emulator/ws/helpers.js';
import { pcmChunks } from '../helpers/audio.js';
import { expectOneTimeline, expectSpeechEdges, transcripts } from '../helpers/events.js';
import { concatSamples, isSpeechEdge } from '../../src/core/types.js';
import { srtText } from '../../src/sinks/srt.js';
import { vttText } from '../../src/sinks/vtt.js';
import { jsonlText } from '../../src/sinks/jsonl.js';

const KEY = 'sk-test-realtime-op-01';
const emulators: Emulator[] = [];
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});
async function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const e = await startEmulator({ apiKeys: [KEY], script: SCRIPT, ...options });
  emulators.push(e);
  return e;
}

const SENTENCES = [
  'the weather will be cold and windy tomorrow morning',
  'please send the report to my office before noon',
  'we need to buy some milk and bread on the way home',
  'the train to the city leaves every hour',
];
const SCRIPT = [{ text: 'the weather will be cold' }, { text: 'please send the report' }, { text: 'we need to buy some milk' }, { text: 'the train leaves every hour' }];

/** 100 ms chunks as a synchronous cold source, the first at frame `base`. */
const source = (pcm: Int16Array, base = 0, flow?: FlowControl): Observable<AudioChunk> => from(pcmChunks(pcm, base, flow));

const finals = (events: TranscriptEvent[]) => events.filter((e) => e.type === 'final').map((e) => e.text);

describe('transcribeRealtime', () => {
  it('puts partials and finals on the input time line (chunk offsets), monotonic', async () => {
    const emu = await emulator();
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    const pcm = speechPcm(SENTENCES.slice(0, 2), { gapMs: 800 });
    const events = await lastValueFrom(source(pcm, 16000 * 5).pipe(transcribeRealtime(t, { pace: false }), toArray()));
    expect(finals(events)).toEqual(SCRIPT.slice(0, 2).map((s) => s.text));
    expect(events[0]!.type).toBe('partial');
    expect(events.find((e) => e.type === 'final')!.startMs).toBeGreaterThan(5000);
    expectOneTimeline(events);
  });

  it('survives a socket killed every 6 s of audio: same text as the fault-free run, nothing duplicated, times monotonic', async () => {
    const pcm = speechPcm(SENTENCES, { gapMs: 800 });
    const clean = await emulator();
    const reference = await lastValueFrom(source(pcm).pipe(transcribeRealtime(qwenAsrRealtime({ apiKey: KEY, baseUrl: clean.url, silenceDurationMs: 400 }), { pace: false }), toArray()));
    const faulty = await emulator({ faults: { dropAfterAudioMs: 6000 } });
    const inner = qwenAsrRealtime({ apiKey: KEY, baseUrl: faulty.url, silenceDurationMs: 400 });
    let opened = 0;
    const counting: Transport = { ...inner, openStream: (o) => (opened++, inner.openStream!(o)) };
    const events = await lastValueFrom(source(pcm).pipe(transcribeRealtime(counting, { pace: false, reconnect: { attempts: 4, baseMs: 10 } }), toArray()));
    expect(opened).toBeGreaterThanOrEqual(3);
    expect(finals(reference)).toEqual(SCRIPT.map((s) => s.text));
    expect(finals(events)).toEqual(finals(reference));
    expectOneTimeline(events);
    const refFinals = reference.filter((e) => e.type === 'final');
    events.filter((e) => e.type === 'final').forEach((e, i) => {
      expect(Math.abs(e.startMs - refFinals[i]!.startMs)).toBeLessThanOrEqual(60);
      expect(Math.abs(e.endMs - refFinals[i]!.endMs)).toBeLessThanOrEqual(60);
    });
    // The service's speech edges reach the pipeline on the input time line, once each, framing the finals, through
    // the reconnects too; captions and the default JSONL are the same with or without them.
    expectSpeechEdges(reference);
    expectSpeechEdges(events);
    const edges = (list: TranscriptEvent[]) => list.filter(isSpeechEdge);
    expect(edges(events).map((e) => e.type)).toEqual(edges(reference).map((e) => e.type));
    edges(events).forEach((e, i) => expect(Math.abs(e.startMs - edges(reference)[i]!.startMs)).toBeLessThanOrEqual(60));
    const render = async (list: TranscriptEvent[], op: OperatorFunction<TranscriptEvent, string>) => (await lastValueFrom(from(list).pipe(op, toArray()))).join('');
    for (const op of [srtText(), vttText(), jsonlText()]) expect(await render(events, op)).toBe(await render(transcripts(events), op));
    expect(await render(events, srtText())).toMatch(/^1\n00:00:0/);
  });

  it('sent unpaced far ahead of a lagging server, killed mid-stream: the same finals, none lost or repeated (issue 18)', async () => {
    // Two sentences, 7 s of silence, two more. The server answers late, so the audio is sent far ahead of its
    // finals; every other session is cut after 5 s of audio. The replay must keep every piece past the last final however
    // long ago it was sent (`quietReplayMs: 100` trimmed it by wall time, and what followed a cut was lost); at
    // `maxReplayMs` (6 s: in the silence, or where the client is 6 s ahead) the session is ended on request and a
    // new one goes on, hearing again only speech the end may have cut. One scripted answer for every utterance (as in
    // the soak): a final the client drops as cut still moves the emulator's script, a real service's text would not.
    const pcm = concatSamples([speechPcm(SENTENCES.slice(0, 2), { gapMs: 800 }), new Int16Array(16000 * 7), speechPcm(SENTENCES.slice(2), { gapMs: 800 })]);
    const script = [{ text: 'hello world' }];
    const clean = await emulator({ script });
    const reference = await lastValueFrom(source(pcm).pipe(transcribeRealtime(qwenAsrRealtime({ apiKey: KEY, baseUrl: clean.url, silenceDurationMs: 400 }), { pace: false }), toArray()));
    const faulty = await emulator({ script, faults: { resultDelayMs: 40 } });
    const inner = qwenAsrRealtime({ apiKey: KEY, baseUrl: faulty.url, silenceDurationMs: 400 });
    let opened = 0;
    let ended = 0;
    const counting: Transport = {
      ...inner,
      openStream: async (o) => {
        faulty.context.faults.dropAfterAudioMs = opened++ % 2 === 0 ? 5000 : undefined;
        const session = await inner.openStream!(o);
        return { write: (samples) => session.write(samples), end: async () => {
          await session.end();
          ended++;
        }, close: () => session.close() };
      },
    };
    const settings = { pace: false, quietReplayMs: 100, maxReplayMs: 6000, reconnect: { attempts: 4, baseMs: 10 } };
    const events = await lastValueFrom(source(pcm).pipe(transcribeRealtime(counting, settings), toArray()));
    const spans = (list: TranscriptEvent[]) => list.filter((e) => e.type === 'final').map((e) => [e.text, e.startMs, e.endMs] as const);
    expect(spans(reference)).toHaveLength(4);
    expect(spans(events)).toHaveLength(4);
    spans(events).forEach(([text, start, end], i) => {
      const [refText, refStart, refEnd] = spans(reference)[i]!;
      expect(text).toBe(refText);
      expect(Math.abs(start - refStart)).toBeLessThanOrEqual(60);
      expect(Math.abs(end - refEnd)).toBeLessThanOrEqual(60);
    });
    expect(opened - ended).toBeGreaterThanOrEqual(2); // sessions cut
    expect(ended).toBeGreaterThanOrEqual(2); // ended (and done) on request at least once, and at the end of the input
    expectOneTimeline(events);
    expectSpeechEdges(events);
  });

  it('rotates sessions before a session cap, at a pause, with the same guarantees (real-time pacing)', async () => {
    const pcm = speechPcm(SENTENCES.slice(0, 3), { gapMs: 900 });
    const emu = await emulator({ faults: { sessionCapMs: 4000 } });
    let opened = 0;
    const omni = omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url, silenceDurationMs: 400, maxDurationMs: 4000 });
    const counting: Transport = { ...omni, openStream: (o) => (opened++, omni.openStream!(o)) };
    const events = await lastValueFrom(source(pcm).pipe(transcribeRealtime(counting, { rotateBeforeMs: 2500, reconnect: { attempts: 3 } }), toArray()));
    expect(finals(events)).toEqual(SCRIPT.slice(0, 3).map((s) => s.text));
    expect(opened).toBeGreaterThanOrEqual(2);
    expectOneTimeline(events);
  }, 30_000);

  it('recovers from throttling; fails with coded errors for a wrong key, an unknown model and task-failed without retries', async () => {
    const pcm = speechPcm(SENTENCES.slice(0, 1), { gapMs: 800 });
    const throttled = await emulator({ faults: { throttleFirst: 2 } });
    const ok = await lastValueFrom(source(pcm).pipe(transcribeRealtime(funAsrRealtime({ apiKey: KEY, baseUrl: throttled.url, maxSentenceSilence: 400 }), { pace: false, reconnect: { baseMs: 5 } }), toArray()));
    expect(finals(ok)).toEqual([SCRIPT[0]!.text]);
    const emu = await emulator();
    const run = (t: Transport, attempts = 3) => lastValueFrom(source(pcm).pipe(transcribeRealtime(t, { pace: false, reconnect: { attempts, baseMs: 5 } }))).catch((e: unknown) => e);
    await expect(run(funAsrRealtime({ apiKey: 'sk-wrong-key-000', baseUrl: emu.url }))).resolves.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    await expect(run(qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url, model: 'qwen3-asr-unknown' }))).resolves.toMatchObject({ code: 'EARSHOT_UNKNOWN_MODEL' });
    const failing = await emulator({ faults: { failAfterAudioMs: 500 } });
    await expect(run(funAsrRealtime({ apiKey: KEY, baseUrl: failing.url }), 1)).resolves.toMatchObject({ code: 'EARSHOT_TASK_FAILED' });
    const spent = (await run(funAsrRealtime({ apiKey: KEY, baseUrl: failing.url }), 3)) as Error & { code: string; cause: unknown };
    expect(spent.code).toBe('EARSHOT_TASK_FAILED');
    expect(spent.message).toMatch(/gave up after 2 reconnect attempts/);
    expect(spent.cause).toBeInstanceOf(Error);
  });

  it('completes on empty input, flushes finals before a source error, rejects other rates', async () => {
    const emu = await emulator();
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    await expect(lastValueFrom(from([] as AudioChunk[]).pipe(transcribeRealtime(t), toArray()))).resolves.toEqual([]);
    // An upstream error is the source's to describe: it arrives as it was raised (the same object, coded or not),
    // after the finals of the audio already sent, paced or not.
    const cases: Array<[Error, boolean]> = [
      [new Error('disk gone'), false],
      [new Error('disk gone'), true],
      [new EarshotError('EARSHOT_DECODE_FAILED', 'broken input'), false],
    ];
    for (const [boom, pace] of cases) {
      {
        const withFinals: TranscriptEvent[] = [];
        const err = await new Promise<unknown>((resolve) =>
          concat(source(speechPcm(SENTENCES.slice(1, 2), { gapMs: 200 })), throwError(() => boom))
            .pipe(transcribeRealtime(t, { pace }))
            .subscribe({ next: (e) => withFinals.push(e), error: resolve }),
        );
        expect(err).toBe(boom);
        expect(finals(withFinals)).toHaveLength(1);
      }
    }
    const immediate = new Error('no such device');
    await expect(lastValueFrom(throwError(() => immediate).pipe(transcribeRealtime(t)))).rejects.toBe(immediate);
    const wrongRate: AudioChunk = { kind: 'audio', samples: new Int16Array(800), sampleRate: 8000, channels: 1, offset: 0 };
    await expect(lastValueFrom(from([wrongRate]).pipe(transcribeRealtime(t)))).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    expect(() => transcribeRealtime(t, { options: { diarize: true } })).toThrow(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }));
    expect(() => transcribeRealtime({ ...t, openStream: undefined } as Transport)).toThrow(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }));
  });

  it('keeps an idle session alive with silence while the source stalls (inference no-audio timer)', async () => {
    const emu = await emulator({ timers: { noAudioMs: 400 } });
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400, keepaliveMs: 150 });
    const a = speechPcm(SENTENCES.slice(0, 1), { gapMs: 600 });
    const b = speechPcm(SENTENCES.slice(1, 2), { gapMs: 600 });
    const stalled = new Observable<AudioChunk>((sub) => {
      let offset = 0;
      const emit = (pcm: Int16Array) => {
        for (let i = 0; i < pcm.length; i += 1600) {
          sub.next({ kind: 'audio', samples: pcm.subarray(i, i + 1600), sampleRate: 16000, channels: 1, offset });
          offset += Math.min(1600, pcm.length - i);
        }
      };
      emit(a);
      const timer = setTimeout(() => {
        emit(b);
        sub.complete();
      }, 1200);
      return () => clearTimeout(timer);
    });
    const events = await lastValueFrom(stalled.pipe(transcribeRealtime(t, { pace: false, reconnect: { attempts: 1 } }), toArray()));
    expect(finals(events)).toEqual(SCRIPT.slice(0, 2).map((s) => s.text));
    const second = events.filter((e) => e.type === 'final')[1]!;
    expect(second.startMs).toBeGreaterThanOrEqual((a.length / 16000) * 1000);
    expect(second.startMs).toBeLessThan(((a.length + b.length) / 16000) * 1000);
    expectOneTimeline(events);
  });

  it('warms a new session up with audio from before the last final and drops what it re-recognises', async () => {
    // A fake recogniser: one final per second of audio, named after the sample values (the block number on the input).
    const received: number[][] = [];
    let sessions = 0;
    const blocks: Transport = {
      model: 'blocks',
      sampleRate: 16000,
      capabilities: { realtime: true, batch: false, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
      openStream: async (o) => {
        const id = sessions++;
        const got: number[] = [];
        received.push(got);
        let frames = 0;
        return {
          write: async (samples) => {
            for (let i = 0; i < samples.length; i += 1600) got.push(samples[i]!);
            const before = frames;
            frames += samples.length;
            if (Math.floor(frames / 16000) > Math.floor(before / 16000)) {
              const k = Math.floor(frames / 16000) - 1;
              o.onEvent({ type: 'final', text: `b${samples[samples.length - 1]}`, startMs: k * 1000, endMs: (k + 1) * 1000 });
            }
            if (id === 0 && frames >= 16000 * 5 + 8000) o.onError(new EarshotError('EARSHOT_CONNECTION_LOST', 'dropped', { retryable: true }));
          },
          end: async () => {},
          close: () => {},
        };
      },
    };
    const pcm = new Int16Array(16000 * 8);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.floor(i / 16000);
    const events = await lastValueFrom(source(pcm).pipe(transcribeRealtime(blocks, { pace: false, warmupMs: 2000, reconnect: { baseMs: 1 } }), toArray()));
    expect(finals(events)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7']);
    expect(sessions).toBe(2);
    // The second session heard blocks 3 and 4 (warm-up) before the replay from block 5 on.
    expect(received[1]!.slice(0, 30)).toEqual([...Array(10).fill(3), ...Array(10).fill(4), ...Array(10).fill(5)]);
    expectOneTimeline(events);
  });

  it('closes the session on early unsubscribe and holds a cold source above the high-water mark', async () => {
    const emu = await emulator();
    const inner = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    let closed = 0;
    const t: Transport = {
      ...inner,
      openStream: async (o) => {
        const s = await inner.openStream!(o);
        return { write: (x) => s.write(x), end: () => s.end(), close: () => (closed++, s.close()) };
      },
    };
    const flow = new FlowControl();
    let sawPause = false;
    const pcm = speechPcm(SENTENCES, { gapMs: 800 });
    const first = firstValueFrom(
      new Observable<AudioChunk>((sub) => {
        let i = 0;
        let stopped = false;
        const pump = async () => {
          for (; i < pcm.length && !stopped; i += 1600) {
            if (flow.paused) sawPause = true;
            await flow.ready();
            sub.next({ kind: 'audio', samples: pcm.subarray(i, i + 1600), sampleRate: 16000, channels: 1, offset: i, flow });
          }
        };
        void pump();
        return () => (stopped = true);
      }).pipe(transcribeRealtime(t, { highWaterMs: 500 })),
    );
    const event = await first;
    expect(event.type).toBe('partial');
    await until(() => closed === 1, 5000, 'session closed');
    expect(sawPause).toBe(true);
    expect(flow.paused).toBe(false);
  });

  it('bounds its queue with the core helper: a cold source is held past highWaterMs (or the deprecated highWaterMark), a hot one fails past maxQueuedMs', async () => {
    const emu = await emulator();
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    const pcm = speechPcm(SENTENCES.slice(0, 1), { gapMs: 200 });
    /** 100 ms chunks emitted at once until the operator holds the flow (the session is still opening: nothing drains). */
    const heldAfter = (settings: Parameters<typeof transcribeRealtime>[1]): number => {
      const flow = new FlowControl();
      let sent = 0;
      const sub = new Observable<AudioChunk>((s) => {
        for (const chunk of pcmChunks(pcm, 0, flow)) {
          if (flow.paused) break;
          s.next(chunk);
          sent++;
        }
      })
        .pipe(transcribeRealtime(t, { pace: false, ...settings }))
        .subscribe({ error: () => undefined });
      const held = flow.paused;
      sub.unsubscribe();
      expect(held).toBe(true);
      expect(flow.paused).toBe(false);
      return sent;
    };
    expect(heldAfter({ highWaterMs: 500 })).toBe(6);
    expect(heldAfter({ highWaterMark: 300 })).toBe(4);
    expect(heldAfter({ highWaterMs: 500, highWaterMark: 300 })).toBe(6);
    expect(heldAfter({})).toBe(21);
    const hot = await lastValueFrom(source(pcm).pipe(transcribeRealtime(t, { pace: false, maxQueuedMs: 500 }))).catch((e: unknown) => e);
    expect(hot).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('transcribeRealtime(): more than 500 ms') });
    expect(() => transcribeRealtime(t, { highWaterMs: 100, lowWaterMs: 200 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => transcribeRealtime(t, { maxQueuedMs: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
