import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { Transport } from '../../../src/transports/transport.js';
import { funAsr } from '../../../src/transports/dashscope/fun-asr.js';
import { qwenAsrFiletrans } from '../../../src/transports/dashscope/qwen-asr-filetrans.js';
import { makeSpeech, SENTENCES } from '../../helpers/speech.js';
import { KEY, startHarness } from './harness.js';

/** A recogniser that hears one long utterance: two words, a 1.5 s pause, then 62 words without a pause over 24.8 s. */
function longUtterance(): Transport {
  const words = [
    { text: 'one', startMs: 0, endMs: 400 },
    { text: 'two', startMs: 400, endMs: 800 },
    { text: 'three', startMs: 2300, endMs: 2700 },
    ...Array.from({ length: 61 }, (_, i) => ({ text: `w${i}`, startMs: 2700 + i * 400, endMs: 3100 + i * 400 })),
  ];
  const event: TranscriptEvent = { type: 'final', text: words.map((w) => w.text).join(' '), startMs: 0, endMs: words.at(-1)!.endMs, words };
  return {
    model: 'fake',
    sampleRate: 16000,
    capabilities: { realtime: false, batch: true, wordTimes: true, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
    transcribeClip: async () => [event],
  };
}

describe('emulator: async results cut sentences as the service does (§2 max_sentence_silence, multi_threshold_mode_enabled)', () => {
  it('fun-asr and filetrans end a sentence at a 1.3 s pause and before it passes 20 s', async () => {
    const h = await startHarness({ recognizer: longUtterance() });
    try {
      const path = makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path;
      for (const transport of [funAsr({ apiKey: KEY, baseUrl: h.url, pollMs: 50 }), qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url, pollMs: 50 })]) {
        const events = await transport.transcribeFile(path);
        await transport.close();
        expect(events.map((e) => e.text.split(' ')[0]), transport.model).toEqual(['one', 'three', expect.stringMatching(/^w\d+$/)]);
        expect(events[0]).toMatchObject({ text: 'one two', startMs: 0, endMs: 800 });
        for (const e of events) expect(e.endMs - e.startMs).toBeLessThanOrEqual(20_000);
        expect(events.flatMap((e) => e.text.split(' ')).length).toBe(64);
      }
    } finally {
      await h.close();
    }
  });
});
