import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { qwenAsrRealtime } from '../../../src/transports/dashscope/qwen-asr-realtime.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { EarshotError } from '../../../src/core/errors.js';
import type { Transport } from '../../../src/transports/transport.js';
import { chunks, speechPcm, until } from '../../emulator/ws/helpers.js';
import { expectSpeechEdges, transcripts } from '../../helpers/events.js';

const KEY = 'sk-test-qwenasr-0002';
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});
const SENTENCES = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'];
const SCRIPT = [{ text: 'the weather will be cold', emotion: 'sad' }, { text: 'please send the report' }];

async function run(transport: Transport, pcm: Int16Array, extra: { language?: string; context?: string } = {}) {
  const events: TranscriptEvent[] = [];
  const errors: Error[] = [];
  const session = await transport.openStream!({ sampleRate: 16000, ...extra, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  for (const c of chunks(pcm)) await session.write(c);
  await session.end();
  return { events, errors };
}

describe('qwenAsrRealtime', () => {
  it('server VAD: partials then finals with emotion and language, times from speech_started/stopped', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: SCRIPT });
    const t = qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url, silenceDurationMs: 400 });
    expect(t.capabilities).toMatchObject({ emotion: true, context: true, hotwords: false, wordTimes: false });
    const { events, errors } = await run(t, speechPcm(SENTENCES, { gapMs: 800 }), { language: 'en', context: 'weather and reports' });
    expect(errors).toEqual([]);
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.map((e) => [e.text, e.emotion, e.language])).toEqual([
      ['the weather will be cold', 'sad', 'en'],
      ['please send the report', 'neutral', 'en'],
    ]);
    expect(events[0]!.type).toBe('speech-start');
    expect(transcripts(events)[0]!.type).toBe('partial');
    expectSpeechEdges(events);
    expect(finals[0]!.startMs).toBeGreaterThan(200);
    expect(finals[0]!.endMs).toBeGreaterThan(finals[0]!.startMs);
    expect(finals[1]!.startMs).toBeGreaterThan(finals[0]!.endMs);
    for (const e of events.filter((e) => e.type === 'partial')) expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
  });

  it('manual mode commits at pauses and at the end', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: SCRIPT });
    const t = qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url, turnDetection: 'manual', minCommitMs: 1000, pauseMs: 400 });
    const { events, errors } = await run(t, speechPcm(SENTENCES, { gapMs: 800 }));
    expect(errors).toEqual([]);
    const finals = events.filter((e) => e.type === 'final');
    expect(finals).toHaveLength(2);
    // No server VAD, no speech edges.
    expect(transcripts(events)).toHaveLength(events.length);
    expect(finals[0]!.endMs).toBeLessThanOrEqual(finals[1]!.startMs);
  });

  it('validates options and maps handshake failures', async () => {
    expect(() => qwenAsrRealtime({ apiKey: 'k', silenceDurationMs: 100 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    emu = await startEmulator({ apiKeys: [KEY], script: SCRIPT });
    const noop = { sampleRate: 16000, onEvent: () => {}, onError: () => {} };
    await expect(qwenAsrRealtime({ apiKey: 'sk-nope-0000000', baseUrl: emu.url }).openStream!(noop)).rejects.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    await expect(qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url, model: 'qwen3-asr-nope-realtime' }).openStream!(noop)).rejects.toMatchObject({ code: 'EARSHOT_UNKNOWN_MODEL' });
    await expect(qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url }).openStream!({ ...noop, hotwords: [{ text: 'x', weight: 4 }] })).rejects.toMatchObject({ code: 'EARSHOT_CAPABILITY_MISSING' });
    emu.context.faults.failAfterAudioMs = 300;
    const errors: EarshotError[] = [];
    const s = await qwenAsrRealtime({ apiKey: KEY, baseUrl: emu.url }).openStream!({ ...noop, onError: (e) => errors.push(e as EarshotError) });
    for (const c of chunks(new Int16Array(8000))) await s.write(c).catch(() => {});
    await until(() => errors.length > 0, 5000, 'failure');
    expect(errors[0]).toMatchObject({ code: 'EARSHOT_TASK_FAILED', retryable: true });
  });
});
