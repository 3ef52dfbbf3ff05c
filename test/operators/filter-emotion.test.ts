import { describe, expect, it } from 'vitest';
import { EMPTY, Subject, from, lastValueFrom, throwError, toArray } from 'rxjs';
import { filterEmotion } from '../../src/operators/filter-emotion.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { startEmulator } from '../../src/emulator/server.js';
import { qwenAsrRealtime } from '../../src/transports/dashscope/qwen-asr-realtime.js';
import { transcribeRealtime } from '../../src/operators/transcribe-realtime.js';
import { speechPcm } from '../emulator/ws/helpers.js';

const ev = (type: 'partial' | 'final', text: string, emotion?: string): TranscriptEvent => ({ type, text, startMs: 0, endMs: 1, ...(emotion ? { emotion } : {}) });
const EVENTS = [ev('partial', 'a', 'angry'), ev('final', 'a', 'angry'), ev('final', 'b', 'happy'), ev('final', 'c'), ev('partial', 'd', 'sad'), ev('final', 'd', 'sad')];

describe('filterEmotion', () => {
  it('keeps events with one of the emotions; unlabelled ones only on request', async () => {
    expect((await lastValueFrom(from(EVENTS).pipe(filterEmotion(['angry', 'sad']), toArray()))).map((e) => e.text)).toEqual(['a', 'a', 'd', 'd']);
    expect((await lastValueFrom(from(EVENTS).pipe(filterEmotion('happy', { keepUnlabelled: true }), toArray()))).map((e) => e.text)).toEqual(['b', 'c']);
    expect((await lastValueFrom(from(EVENTS).pipe(filterEmotion('happy', { finalsOnly: true }), toArray()))).map((e) => `${e.type}:${e.text}`)).toEqual(['partial:a', 'final:b', 'partial:d']);
    expect((await lastValueFrom(from(EVENTS).pipe(filterEmotion((e) => e !== undefined && e !== 'angry'), toArray()))).map((e) => e.text)).toEqual(['b', 'd', 'd']);
  });

  it('rejects an empty list or an unknown emotion at once', () => {
    expect(() => filterEmotion([])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => filterEmotion(['furious' as never])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('passes errors on, completes on empty input, stops on unsubscribe, reports a throwing predicate', async () => {
    await expect(lastValueFrom(EMPTY.pipe(filterEmotion('sad'), toArray()))).resolves.toEqual([]);
    await expect(lastValueFrom(throwError(() => new Error('up')).pipe(filterEmotion('sad')))).rejects.toThrow('up');
    const subject = new Subject<TranscriptEvent>();
    const got: TranscriptEvent[] = [];
    const sub = subject.pipe(filterEmotion('sad')).subscribe((e) => got.push(e));
    subject.next(ev('final', 'x', 'sad'));
    sub.unsubscribe();
    subject.next(ev('final', 'y', 'sad'));
    expect(got.map((e) => e.text)).toEqual(['x']);
    expect(subject.observed).toBe(false);
    const boom = filterEmotion(() => {
      throw new Error('predicate failed');
    });
    await expect(lastValueFrom(from(EVENTS).pipe(boom))).rejects.toThrow('predicate failed');
  });

  it('filters the emotions qwen3-asr-flash-realtime reports through the emulator', async () => {
    const emu = await startEmulator({ script: [{ text: 'i am so tired of this', emotion: 'angry' }, { text: 'thank you so much', emotion: 'happy' }] });
    try {
      const pcm = speechPcm(['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], { gapMs: 800 });
      const chunks = [];
      for (let i = 0; i < pcm.length; i += 1600) chunks.push({ kind: 'audio' as const, samples: pcm.subarray(i, i + 1600), sampleRate: 16000, channels: 1, offset: i });
      const t = qwenAsrRealtime({ apiKey: 'sk-any', baseUrl: emu.url, silenceDurationMs: 400 });
      const out = await lastValueFrom(from(chunks).pipe(transcribeRealtime(t, { pace: false }), filterEmotion('angry'), toArray()));
      expect(out.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['i am so tired of this']);
    } finally {
      await emu.close();
    }
  });
});
