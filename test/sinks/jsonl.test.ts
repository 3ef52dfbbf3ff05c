import { readFileSync } from 'node:fs';
import { concat, from, lastValueFrom, Subject, throwError, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { formatJsonlLine, jsonlText, parseJsonlLine, toJsonl } from '../../src/sinks/jsonl.js';
import { isOpen, tempDir, until } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

const EVENTS: TranscriptEvent[] = [
  { type: 'partial', text: 'hel', startMs: 0, endMs: 300.4 },
  {
    latency: { addedMs: 1.5, endOfSpeechMs: 250 },
    language: 'en',
    emotion: 'happy',
    speaker: 'Speaker 1',
    words: [{ endMs: 499.5, startMs: 0.2, text: 'hello' }],
    endMs: 499.6,
    startMs: 0.4,
    text: 'hello',
    type: 'final',
  },
];

describe('toJsonl', () => {
  it('writes the contract keys in order, integer ms, and nothing extra', () => {
    expect(formatJsonlLine(EVENTS[1]!)).toBe('{"type":"final","text":"hello","startMs":0,"endMs":500,"words":[{"text":"hello","startMs":0,"endMs":500}],"speaker":"Speaker 1","emotion":"happy","language":"en"}\n');
    expect(formatJsonlLine({ type: 'final', text: 'hi', startMs: 0, endMs: 400, speaker: 'agent', channel: 1 })).toBe('{"type":"final","text":"hi","startMs":0,"endMs":400,"speaker":"agent","channel":1}\n');
    expect(formatJsonlLine(EVENTS[1]!, { latency: true })).toMatch(/"language":"en","latency":\{"endOfSpeechMs":250,"addedMs":1.5\}\}\n$/);
    expect(formatJsonlLine({ type: 'final', text: 'a\u2028b\nc', startMs: 0, endMs: 1 }).split('\n')).toHaveLength(2);
  });

  it('writes partials and finals by default, finals only on request', async () => {
    const all = tmp.path('all.jsonl');
    const finals = tmp.path('finals.jsonl');
    const passed = await lastValueFrom(from(EVENTS).pipe(toJsonl(all), toJsonl(finals, { finalsOnly: true }), toArray()));
    expect(passed).toEqual(EVENTS);
    const lines = readFileSync(all, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(['partial', 'final']);
    expect(readFileSync(finals, 'utf8')).toBe(formatJsonlLine(EVENTS[1]!));
    expect((await lastValueFrom(from(EVENTS).pipe(jsonlText(), toArray()))).join('')).toBe(readFileSync(all, 'utf8'));
  });

  it('a failed run leaves whole lines, closed, and forwards the error', async () => {
    const path = tmp.path('failed.jsonl');
    const boom = new EarshotError('EARSHOT_TIMEOUT', 'too slow', { retryable: true });
    const many = Array.from({ length: 500 }, (_, i): TranscriptEvent => ({ type: 'final', text: `line ${i}`, startMs: i * 10, endMs: i * 10 + 9 }));
    await expect(lastValueFrom(concat(from(many), throwError(() => boom)).pipe(toJsonl(path)))).rejects.toBe(boom);
    expect(isOpen(path)).toBe(false);
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().split('\n').map((l) => JSON.parse(l).text)).toEqual(many.map((e) => e.text));
  });

  it('empty input writes an empty file; early unsubscribe closes the file', async () => {
    const empty = tmp.path('empty.jsonl');
    await lastValueFrom(from([] as TranscriptEvent[]).pipe(toJsonl(empty)), { defaultValue: undefined });
    expect(readFileSync(empty, 'utf8')).toBe('');
    const path = tmp.path('unsub.jsonl');
    const input = new Subject<TranscriptEvent>();
    const sub = input.pipe(toJsonl(path)).subscribe();
    input.next(EVENTS[0]!);
    await until(() => isOpen(path), 2000, 'file opened');
    sub.unsubscribe();
    await until(() => !isOpen(path), 5000, 'file closed');
    expect(readFileSync(path, 'utf8')).toBe(formatJsonlLine(EVENTS[0]!));
  });
});

describe('parseJsonlLine', () => {
  it('reads back what formatJsonlLine writes, latency included; takes channel, ignores unknown keys', () => {
    const event: TranscriptEvent = { ...EVENTS[1]!, startMs: 0, endMs: 500, words: [{ text: 'hello', startMs: 0, endMs: 500 }], latency: { endOfSpeechMs: 250, addedMs: 1.5 } };
    expect(parseJsonlLine(formatJsonlLine(event, { latency: true }).trim())).toEqual(event);
    expect(parseJsonlLine('{"type":"partial","text":"a","startMs":1,"endMs":2,"channel":1,"extra":true}')).toEqual({ type: 'partial', text: 'a', startMs: 1, endMs: 2, channel: 1 });
    expect(parseJsonlLine('{"type":"speech-end","text":"","startMs":5,"endMs":5}')).toEqual({ type: 'speech-end', text: '', startMs: 5, endMs: 5 });
  });

  it('refuses what is not an event with EARSHOT_CORRUPT_INPUT and where it was', () => {
    expect(() => parseJsonlLine('nope', 'a.jsonl:3')).toThrow(expect.objectContaining({ code: 'EARSHOT_CORRUPT_INPUT', message: 'a.jsonl:3: not JSON' }));
    for (const bad of ['[]', '{"type":"x","text":"","startMs":0,"endMs":1}', '{"type":"final","startMs":0,"endMs":1}', '{"type":"final","text":"","startMs":"0","endMs":1}', '{"type":"final","text":"","startMs":0,"endMs":1,"words":[{"text":"a"}]}']) {
      expect(() => parseJsonlLine(bad)).toThrow(expect.objectContaining({ code: 'EARSHOT_CORRUPT_INPUT' }));
    }
  });
});
