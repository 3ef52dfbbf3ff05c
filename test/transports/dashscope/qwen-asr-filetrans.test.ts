import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EarshotError } from '../../../src/core/errors.js';
import { httpStats } from '../../../src/emulator/http/index.js';
import { qwenAsrFiletrans } from '../../../src/transports/dashscope/qwen-asr-filetrans.js';
import { makeSpeech, SENTENCES } from '../../helpers/speech.js';
import { fakeRecognizer, KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

const fast = { pollMs: 10, maxPollMs: 40, retry: { baseMs: 10 }, queriesPerSecond: 1000 };
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('qwenAsrFiletrans', () => {
  it('transcribes an uploaded file with emotion, language and word times', async () => {
    h = await startHarness({ script: [{ text: 'I am so glad you came', emotion: 'happy', language: 'en' }] });
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const asr = qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url, ...fast });
    const events = await asr.transcribeFile(speech.path);
    await asr.close();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'final', text: 'I am so glad you came', emotion: 'happy', language: 'en', startMs: 0 });
    expect(events[0]!.words?.map((w) => w.text)).toEqual(['I', 'am', 'so', 'glad', 'you', 'came']);
  });

  it('sends the language and prompt context (corpus.text) to the model', async () => {
    const recognizer = fakeRecognizer('metformin lowers blood sugar');
    h = await startHarness({ recognizer });
    const speech = makeSpeech({ sentences: SENTENCES.slice(1, 2), voices: ['rms'] });
    const asr = qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url, ...fast, language: 'en', context: 'diabetes clinic: metformin' });
    const events = await asr.transcribeFile(speech.path);
    await asr.close();
    expect(events[0]).toMatchObject({ text: 'metformin lowers blood sugar', language: 'en', emotion: 'neutral' });
    expect(recognizer.jobs[0]?.options).toMatchObject({ language: 'en', context: 'diabetes clinic: metformin' });
  });

  it('turns a FAILED task (file 404) into EARSHOT_TASK_FAILED with the task-level code', async () => {
    h = await startHarness({ recognizer: fakeRecognizer() });
    const files = createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const asr = qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url, ...fast });
    const err = (await asr.transcribeFile(`http://127.0.0.1:${(files.address() as AddressInfo).port}/gone.mp3`).catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    files.close();
    expect(err.code).toBe('EARSHOT_TASK_FAILED');
    expect(err.providerCode).toBe('FILE_404_NOT_FOUND');
    expect(httpStats(h.ctx).recognitions).toBe(0);
  });

  it('refuses diarization and hotwords before any request', async () => {
    h = await startHarness({ recognizer: fakeRecognizer() });
    expect(() => qwenAsrFiletrans({ apiKey: KEY, baseUrl: h!.url, diarize: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    const asr = qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url });
    await expect(asr.transcribeFile('http://x/y.wav', { hotwords: [{ text: 'x', weight: 3 }] })).rejects.toMatchObject({ code: 'EARSHOT_CAPABILITY_MISSING' });
    await asr.close();
    expect(httpStats(h.ctx).requests).toBe(0);
  });

  it('transcribes a clip through transcribeClip', async () => {
    h = await startHarness({ script: [{ text: 'one clip', emotion: 'neutral' }] });
    const asr = qwenAsrFiletrans({ apiKey: KEY, baseUrl: h.url, ...fast });
    const events = await asr.transcribeClip({ samples: new Int16Array(8000).fill(1000), sampleRate: 16000, startMs: 5000 });
    await asr.close();
    expect(events[0]).toMatchObject({ text: 'one clip', startMs: 0, endMs: 500 });
  });
});
