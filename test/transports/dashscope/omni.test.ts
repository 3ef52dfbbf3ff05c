import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { EarshotError } from '../../../src/core/errors.js';
import { httpStats } from '../../../src/emulator/http/index.js';
import { transcribeBatch } from '../../../src/operators/transcribe-batch.js';
import { compatModeOffered, cutAtPauses, omni, splitEmotionTag } from '../../../src/transports/dashscope/omni.js';
import { makeSpeech, SENTENCES } from '../../helpers/speech.js';
import { fakeRecognizer, KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function pcmOf(path: string): Int16Array {
  const b = readFileSync(path);
  return new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
}

describe('omni', () => {
  for (const model of ['qwen3.5-omni-plus', 'qwen3.5-omni-flash', 'qwen3-omni-flash'] as const) {
    it(`${model}: sends a data-URI WAV with the context in the system prompt and joins the streamed reply`, async () => {
      const recognizer = fakeRecognizer('the train leaves every hour');
      h = await startHarness({ recognizer });
      const speech = makeSpeech({ sentences: SENTENCES.slice(3, 4), voices: ['slt'] });
      const asr = omni(model, { apiKey: KEY, baseUrl: h.url, context: 'railway timetable' });
      const events = await asr.transcribeFile(speech.path);
      await asr.close();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'final', text: 'the train leaves every hour', startMs: 0 });
      expect(events[0]!.endMs).toBeCloseTo(speech.durationMs, -1);
      expect(recognizer.jobs[0]?.options?.context).toContain('Context (use it to spell names and domain terms correctly): railway timetable');
    });
  }

  it('§7 Omni emotion the way an LLM gives it: the instruction asks for an [emotion: X] tag, the tag comes off the transcript into event.emotion', async () => {
    h = await startHarness({ script: [{ text: 'how dare you say that', emotion: 'angry' }] });
    const asr = omni('qwen3.5-omni-flash', { apiKey: KEY, baseUrl: h.url });
    expect(asr.capabilities.emotion).toBe(true);
    const events = await asr.transcribeClip({ samples: pcmOf(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path), sampleRate: 16000, startMs: 0 });
    await asr.close();
    expect(events).toEqual([expect.objectContaining({ text: 'how dare you say that', emotion: 'angry' })]);
    expect(splitEmotionTag('fine, thanks.\n[Emotion: HAPPY]')).toEqual({ text: 'fine, thanks.', emotion: 'happy' });
    expect(splitEmotionTag('no tag here')).toEqual({ text: 'no tag here' });
    expect(splitEmotionTag('odd [emotion: bored]')).toEqual({ text: 'odd' });
  });

  it('§6.2 / §1.1 qwen3-asr-flash over the native API (the only one in the US region): native SSE deltas, annotations, context', async () => {
    expect(compatModeOffered('https://ws1.us-east-1.maas.aliyuncs.com/api/v1')).toBe(false);
    expect(compatModeOffered('https://dashscope-us.aliyuncs.com/api/v1')).toBe(false);
    expect(compatModeOffered('https://dashscope-intl.aliyuncs.com/api/v1')).toBe(true);
    expect(compatModeOffered('https://ws1.cn-beijing.maas.aliyuncs.com/api/v1')).toBe(true);
    h = await startHarness({ script: [{ text: 'what a lovely day it is', emotion: 'happy', language: 'en' }] });
    const paths: string[] = [];
    h.server.prependListener('request', (req: { url?: string; headers: Record<string, unknown> }) => paths.push(`${req.url} sse=${String(req.headers['x-dashscope-sse'])}`));
    const asr = omni('qwen3-asr-flash', { apiKey: KEY, baseUrl: h.url, api: 'native', context: 'weather', language: 'en' });
    const events = await asr.transcribeClip({ samples: pcmOf(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path), sampleRate: 16000, startMs: 0 });
    await asr.close();
    expect(events).toEqual([expect.objectContaining({ text: 'what a lovely day it is', emotion: 'happy', language: 'en' })]);
    expect(paths).toEqual(['/api/v1/services/aigc/multimodal-generation/generation sse=enable']);
  });

  it('qwen3-asr-flash: emotion and language from annotations, context as the system message', async () => {
    h = await startHarness({ script: [{ text: 'what a lovely day', emotion: 'happy', language: 'en' }] });
    const asr = omni('qwen3-asr-flash', { apiKey: KEY, baseUrl: h.url, context: 'weather' });
    const events = await asr.transcribeClip({ samples: pcmOf(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path), sampleRate: 16000, startMs: 0 });
    await asr.close();
    expect(events[0]).toMatchObject({ text: 'what a lovely day', emotion: 'happy', language: 'en' });
  });

  it('splits audio longer than one request at pauses and stitches the pieces back in time, each sent once', async () => {
    const recognizer = fakeRecognizer('piece');
    h = await startHarness({ recognizer });
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 5), voices: ['rms'], gapsMs: [700], leadMs: 200 });
    const samples = pcmOf(speech.path);
    const cuts = cutAtPauses(samples, 16000, 6000);
    // every cut falls in a gap between sentences, never inside one
    for (const c of cuts.slice(1, -1)) {
      const ms = (c * 1000) / 16000;
      expect(speech.segments.some((s) => ms > s.startMs + 20 && ms < s.endMs - 20)).toBe(false);
    }
    const asr = omni('qwen3.5-omni-flash', { apiKey: KEY, baseUrl: h.url, maxRequestMs: 6000 });
    const fractions: number[] = [];
    const events = await asr.transcribeFile(speech.path, { onProgress: (p) => p.fraction !== undefined && fractions.push(p.fraction) });
    const clipEvents = await asr.transcribeClip({ samples, sampleRate: 16000, startMs: 0 });
    await asr.close();
    expect(events.length).toBe(cuts.length - 1);
    expect(events.map((e) => Math.round(e.startMs))).toEqual(cuts.slice(0, -1).map((c) => Math.round((c * 1000) / 16000)));
    expect(clipEvents.map((e) => e.startMs)).toEqual(events.map((e) => e.startMs));
    for (let i = 1; i < events.length; i++) expect(events[i]!.startMs).toBeCloseTo(events[i - 1]!.endMs, 0);
    expect(httpStats(h.ctx).recognitions).toBe(2 * events.length);
    expect(fractions.at(-1)).toBe(1);
  });

  it('makes one request per clip (its owner retries it) and retries the pieces of a file itself, transcribing each once', async () => {
    h = await startHarness({ recognizer: fakeRecognizer('ok'), faults: { throttleFirst: 1, serverErrorFirst: 1 } });
    const asr = omni('qwen3-omni-flash', { apiKey: KEY, baseUrl: h.url, retry: { baseMs: 10, maxMs: 20 } });
    const samples = new Int16Array(16000).fill(500);
    await expect(asr.transcribeClip({ samples, sampleRate: 16000, startMs: 0 })).rejects.toMatchObject({ code: 'EARSHOT_THROTTLED', retryable: true, retryAfterMs: 1000 });
    expect(httpStats(h.ctx).requests).toBe(1);
    // transcribeBatch owns the clip: it retries the 500 (Retry-After capped at its maxMs), and the clip is transcribed once
    const segment = { kind: 'audio' as const, samples, sampleRate: 16000, channels: 1, offset: 0, cut: 'pause' as const };
    const events = await lastValueFrom(from([segment]).pipe(transcribeBatch(asr, { retry: { attempts: 3, baseMs: 10, maxMs: 20 } }), toArray()));
    expect(events.map((e) => e.text)).toEqual(['ok']);
    expect(httpStats(h.ctx)).toMatchObject({ requests: 3, recognitions: 1 });
    // a file is the transport's own unit: its pieces are retried under `retry`
    h.ctx.faults.throttleFirst = 2;
    h.ctx.faults.serverErrorFirst = 2;
    const file = await asr.transcribeFile(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path);
    await asr.close();
    expect(file.map((e) => e.text)).toEqual(['ok']);
    expect(httpStats(h.ctx)).toMatchObject({ requests: 6, recognitions: 2 });
  });

  it('maps a bad key to EARSHOT_AUTH_FAILED and refuses hotwords and diarization before any request', async () => {
    h = await startHarness({ recognizer: fakeRecognizer() });
    const bad = omni('qwen3-omni-flash', { apiKey: 'sk-not-this-one-0000', baseUrl: h.url });
    const err = (await bad.transcribeClip({ samples: new Int16Array(1600).fill(900), sampleRate: 16000, startMs: 0 }).catch((e: unknown) => e)) as EarshotError;
    await bad.close();
    expect(err.code).toBe('EARSHOT_AUTH_FAILED');
    expect(err.message).not.toContain('sk-not-this-one-0000');
    expect(() => omni('qwen3.5-omni-plus', { apiKey: KEY, baseUrl: h!.url, hotwords: [{ text: 'x', weight: 4 }] })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => omni('qwen3.5-omni-plus', { apiKey: KEY, baseUrl: h!.url, diarize: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => omni('qwen-audio-x', { apiKey: KEY })).toThrowError(expect.objectContaining({ code: 'EARSHOT_UNKNOWN_MODEL' }) as Error);
  });

  it('sends nothing for silence and stops on abort', async () => {
    h = await startHarness({ recognizer: fakeRecognizer(), faults: { resultDelayMs: 3000 } });
    const asr = omni('qwen3-omni-flash', { apiKey: KEY, baseUrl: h.url });
    expect(await asr.transcribeClip({ samples: new Int16Array(16000), sampleRate: 16000, startMs: 0 })).toEqual([]);
    expect(httpStats(h.ctx).requests).toBe(0);
    const controller = new AbortController();
    const pending = asr.transcribeClip({ samples: new Int16Array(16000).fill(700), sampleRate: 16000, startMs: 0 }, { signal: controller.signal });
    setImmediate(() => controller.abort());
    await expect(pending).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await asr.close();
  });

  it('is served to the official openai client (stream and non-stream)', async () => {
    h = await startHarness({ script: [{ text: 'hello from the emulator', emotion: 'neutral', language: 'en' }] });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${h.url}/compatible-mode/v1`, maxRetries: 0 });
    const wav = readFileSync(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path).toString('base64');
    const stream = await client.chat.completions.create({
      model: 'qwen3-omni-flash',
      messages: [
        { role: 'system', content: 'Transcribe verbatim.' },
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:;base64,${wav}`, format: 'wav' } }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      modalities: ['text'],
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.trim()).toBe('hello from the emulator');
    expect(usage).toMatchObject({ prompt_tokens_details: { audio_tokens: expect.any(Number) as number } });
    const plain = await client.chat.completions.create({
      model: 'qwen3-asr-flash',
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:audio/wav;base64,${wav}`, format: 'wav' } }] }],
    });
    expect(plain.choices[0]?.message.content).toBe('hello from the emulator');
    const refused = await client.chat.completions.create({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    const unauthorized = await new OpenAI({ apiKey: 'sk-nope-nope-nope', baseURL: `${h.url}/compatible-mode/v1`, maxRetries: 0 }).chat.completions.create({ model: 'qwen3-asr-flash', messages: [] }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
