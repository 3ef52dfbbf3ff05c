/**
 * The batch transports against the emulator running the real embedded engine: WER within 2 points of the engine on
 * its own, two voices told apart by diarization, and Omni flash serving near-realtime 5-second windows through the
 * same operators as the embedded engine.
 */
import { readFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../../src/core/types.js';
import { httpStats } from '../../../src/emulator/http/index.js';
import { decode } from '../../../src/operators/decode.js';
import { nearRealtime } from '../../../src/operators/near-realtime.js';
import { transcribeBatch } from '../../../src/operators/transcribe-batch.js';
import { fromFile } from '../../../src/sources/file.js';
import { funAsr } from '../../../src/transports/dashscope/fun-asr.js';
import { omni } from '../../../src/transports/dashscope/omni.js';
import { qwenAsrFiletrans } from '../../../src/transports/dashscope/qwen-asr-filetrans.js';
import { local, type LocalTransport } from '../../../src/transports/local.js';
import { makeSpeech, SENTENCES, wer } from '../../helpers/speech.js';
import { KEY, startHarness, type Harness } from './harness.js';

let h: Harness;
let engine: LocalTransport;
const speech = makeSpeech({ sentences: SENTENCES.slice(0, 4), voices: ['rms', 'slt'], gapsMs: [700], leadMs: 300 });
const text = (events: TranscriptEvent[]): string => events.map((e) => e.text).join(' ');
let baseline = 0;

beforeAll(async () => {
  engine = local({ size: 2 });
  h = await startHarness({ recognizer: engine });
  const b = readFileSync(speech.path);
  const pcm = new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
  baseline = wer(speech.text, text(await engine.transcribeClip({ samples: pcm, sampleRate: 16000, startMs: 0 })));
}, 240_000);
afterAll(async () => {
  await h.close();
  await engine.close();
});

describe('batch models through the emulator and the embedded engine', () => {
  const conn = (): { apiKey: string; baseUrl: string; pollMs: number } => ({ apiKey: KEY, baseUrl: h.url, pollMs: 50 });
  const models: [string, () => { transcribeFile(p: string): Promise<TranscriptEvent[]>; close(): Promise<void> }][] = [
    ['fun-asr', () => funAsr(conn())],
    ['qwen3-asr-flash-filetrans', () => qwenAsrFiletrans(conn())],
    ['qwen3.5-omni-plus', () => omni('qwen3.5-omni-plus', conn())],
    ['qwen3.5-omni-flash', () => omni('qwen3.5-omni-flash', conn())],
    ['qwen3-omni-flash', () => omni('qwen3-omni-flash', conn())],
    ['qwen3-asr-flash', () => omni('qwen3-asr-flash', conn())],
  ];
  for (const [model, make] of models) {
    it(`${model}: WER within 2 points of the engine`, async () => {
      const asr = make();
      const events = await asr.transcribeFile(speech.path);
      await asr.close();
      const score = wer(speech.text, text(events));
      console.log(`[batch] ${model}: WER ${(score * 100).toFixed(1)} % (engine ${(baseline * 100).toFixed(1)} %)`);
      expect(baseline).toBeLessThan(0.2);
      expect(Math.abs(score - baseline)).toBeLessThanOrEqual(0.02);
    }, 240_000);
  }

  it('fun-asr diarization: two voices get two speakers, with at least 90 % of words on the right one', async () => {
    for (const speakers of [undefined, 2]) {
      const asr = funAsr({ ...conn(), diarize: true, ...(speakers ? { speakers } : {}) });
      const events = await asr.transcribeFile(speech.path);
      await asr.close();
      expect(new Set(events.map((e) => e.speaker))).toEqual(new Set(['Speaker 1', 'Speaker 2']));
      // Each word counts for the voice of the sentence it falls in; speaker labels map to voices by majority.
      const pairs: [string, string][] = [];
      for (const e of events) {
        for (const w of e.words ?? []) {
          const mid = (w.startMs + w.endMs) / 2;
          const seg = speech.segments.find((s) => mid >= s.startMs - 100 && mid <= s.endMs + 100);
          if (seg) pairs.push([e.speaker!, seg.voice]);
        }
      }
      const counts = new Map<string, number>();
      for (const [s, v] of pairs) counts.set(`${s}|${v}`, (counts.get(`${s}|${v}`) ?? 0) + 1);
      const direct = (counts.get('Speaker 1|rms') ?? 0) + (counts.get('Speaker 2|slt') ?? 0);
      const crossed = (counts.get('Speaker 1|slt') ?? 0) + (counts.get('Speaker 2|rms') ?? 0);
      const accuracy = Math.max(direct, crossed) / pairs.length;
      console.log(`[batch] diarization (speakers ${speakers ?? 'auto'}): ${(accuracy * 100).toFixed(1)} % of ${pairs.length} words on the right speaker`);
      expect(pairs.length).toBeGreaterThan(30);
      expect(accuracy).toBeGreaterThanOrEqual(0.9);
    }
  }, 240_000);

  it('near-realtime: qwen3.5-omni-flash on 5-second windows through the same operators as the embedded engine', async () => {
    const run = (transport: Parameters<typeof transcribeBatch>[0]): Promise<TranscriptEvent[]> =>
      lastValueFrom(fromFile(speech.path).pipe(decode({ sampleRate: 16000, channels: 1 }), nearRealtime({ windowMs: 5000 }), transcribeBatch(transport, { concurrency: 2 }), toArray()));
    const before = httpStats(h.ctx).recognitions;
    const cloud = omni('qwen3.5-omni-flash', { apiKey: KEY, baseUrl: h.url });
    const viaCloud = await run(cloud);
    await cloud.close();
    const windows = httpStats(h.ctx).recognitions - before;
    const viaEngine = await run(engine);
    const cloudWer = wer(speech.text, text(viaCloud));
    const engineWer = wer(speech.text, text(viaEngine));
    console.log(`[batch] near-realtime 5 s windows: omni flash WER ${(cloudWer * 100).toFixed(1)} %, engine ${(engineWer * 100).toFixed(1)} %, ${windows} requests`);
    expect(windows).toBeGreaterThanOrEqual(2);
    expect(Math.abs(cloudWer - engineWer)).toBeLessThanOrEqual(0.02);
    for (let i = 1; i < viaCloud.length; i++) expect(viaCloud[i]!.startMs).toBeGreaterThanOrEqual(viaCloud[i - 1]!.startMs);
  }, 240_000);
});
