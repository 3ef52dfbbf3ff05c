/**
 * The realtime transports against the emulator in engine mode (the embedded engine recognises the audio): WER
 * within 2 points of the engine used directly, partials before finals, monotonic times, and a dropped socket that
 * changes nothing in the final text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { local, type LocalTransport } from '../../../src/transports/local.js';
import { funAsrRealtime } from '../../../src/transports/dashscope/fun-asr-realtime.js';
import { qwenAsrRealtime } from '../../../src/transports/dashscope/qwen-asr-realtime.js';
import { omniRealtime } from '../../../src/transports/dashscope/omni-realtime.js';
import { transcribeRealtime } from '../../../src/operators/transcribe-realtime.js';
import type { AudioChunk } from '../../../src/core/types.js';
import type { Transport } from '../../../src/transports/transport.js';
import { SENTENCES, wer } from '../../helpers/speech.js';
import { speechPcm } from '../../emulator/ws/helpers.js';
import { pcmChunks } from '../../helpers/audio.js';
import { expectOneTimeline, expectSpeechEdges, finalText, transcripts } from '../../helpers/events.js';

const sentences = SENTENCES.slice(0, 4);
const reference = sentences.join(' ');
const pcm = speechPcm(sentences, { gapMs: 900, leadMs: 500, voice: 'slt' });
const chunks = (): Observable<AudioChunk> => from(pcmChunks(pcm));

let engine: LocalTransport;
let emu: Emulator;
let directWer = 0;
let directText = '';

beforeAll(async () => {
  engine = local({ size: 2 });
  const direct = await lastValueFrom(chunks().pipe(transcribeRealtime(engine, { pace: false }), toArray()));
  directText = finalText(direct);
  directWer = wer(reference, directText);
  emu = await startEmulator({ recognizer: engine, apiKeys: ['sk-engine-test-01'] });
}, 120_000);

afterAll(async () => {
  await emu?.close();
  await engine?.close();
});

const models: Array<[string, () => Transport]> = [
  // The pauses here (~1.3 s) are a sentence end to an 800 ms silence, not to fun-asr's default 1300 ms.
  ['fun-asr-realtime', () => funAsrRealtime({ apiKey: 'sk-engine-test-01', baseUrl: emu.url, maxSentenceSilence: 800 })],
  ['qwen3-asr-flash-realtime', () => qwenAsrRealtime({ apiKey: 'sk-engine-test-01', baseUrl: emu.url })],
  ['qwen3.5-omni-plus-realtime', () => omniRealtime('qwen3.5-omni-plus-realtime', { apiKey: 'sk-engine-test-01', baseUrl: emu.url })],
  ['qwen3.5-omni-flash-realtime', () => omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: 'sk-engine-test-01', baseUrl: emu.url })],
  ['qwen3-omni-flash-realtime', () => omniRealtime('qwen3-omni-flash-realtime', { apiKey: 'sk-engine-test-01', baseUrl: emu.url })],
];

describe('realtime models through the emulator, engine mode', () => {
  it('the engine used directly is the baseline', () => {
    expect(directWer).toBeLessThan(0.2);
  });

  for (const [model, make] of models) {
    it(`${model}: WER within 2 points of the engine used directly, partials before finals, monotonic times`, async () => {
      const events = await lastValueFrom(chunks().pipe(transcribeRealtime(make(), { pace: false }), toArray()));
      const score = wer(reference, finalText(events));
      expect(Math.abs(score - directWer)).toBeLessThanOrEqual(0.02);
      expect(events.filter((e) => e.type === 'final')).toHaveLength(sentences.length);
      // qwen3-omni-flash-realtime has no partial transcription event in its protocol (§8.3).
      if (model !== 'qwen3-omni-flash-realtime') expect(transcripts(events)[0]!.type).toBe('partial');
      // The realtime protocol's server VAD reports speech edges on the input's time line; the inference protocol has none.
      if (model === 'fun-asr-realtime') {
        expect(transcripts(events)).toHaveLength(events.length);
        // Interim sentences time every word they have so far, as the service's do (end_time null, words timed): a
        // partial spans its words, not just its first instant.
        for (const p of events.filter((e) => e.type === 'partial')) {
          expect(p.words?.map((w) => w.text).join(' ')).toBe(p.text);
          expect(p.endMs).toBeGreaterThanOrEqual(p.words!.at(-1)!.endMs);
          expect(p.endMs).toBeGreaterThan(p.startMs);
        }
      } else expectSpeechEdges(events);
      expectOneTimeline(events);
    }, 180_000);
  }

  it('fun-asr-realtime, the socket killed every 12 s of audio: final text identical to the fault-free run, nothing duplicated', async () => {
    const voices = speechPcm(SENTENCES.slice(4, 8), { gapMs: 900, leadMs: 500, voice: 'rms' });
    const source = () => from(pcmChunks(voices));
    // The emulator decodes each utterance with a stream of its own by default (`stateless`), as a cloud model would.
    const emulator = await startEmulator({ recognizer: engine });
    try {
      const t = () => funAsrRealtime({ apiKey: 'sk-any', baseUrl: emulator.url, maxSentenceSilence: 800 });
      const clean = await lastValueFrom(source().pipe(transcribeRealtime(t(), { pace: false }), toArray()));
      emulator.context.faults.dropAfterAudioMs = 12_000;
      let sessions = 0;
      const inner = t();
      const counting: Transport = { ...inner, openStream: (o) => (sessions++, inner.openStream!(o)) };
      const events = await lastValueFrom(source().pipe(transcribeRealtime(counting, { pace: false, reconnect: { attempts: 4, baseMs: 10 } }), toArray()));
      expect(sessions).toBeGreaterThanOrEqual(2);
      expect(finalText(events)).toBe(finalText(clean));
      expect(wer(SENTENCES.slice(4, 8).join(' '), finalText(clean))).toBeLessThan(0.2);
      expectOneTimeline(events);
    } finally {
      await emulator.close();
    }
  }, 180_000);
});
