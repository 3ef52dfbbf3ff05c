import { readFileSync, statSync } from 'node:fs';
import { concat, from, lastValueFrom, of, Subject, throwError, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { buildCues } from '../../src/sinks/captions.js';
import { toJsonl } from '../../src/sinks/jsonl.js';
import { formatSrtCue, formatTimestamp, srtText, toSrt } from '../../src/sinks/srt.js';
import { final, isOpen, sentences, tempDir, until } from './helpers.js';
import { parseSrt } from './parse-captions.js';

const TEXTS = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon', 'we need to buy some milk and bread on the way home'];

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

describe('toSrt', () => {
  it('formats cues with comma milliseconds and numbers them', () => {
    expect(formatSrtCue({ startMs: 1000, endMs: 3500, lines: ['hello', 'world'], script: 'latin' }, 1)).toBe('1\n00:00:01,000 --> 00:00:03,500\nhello\nworld\n\n');
    expect(formatTimestamp(3_723_456.4, ',')).toBe('01:02:03,456');
    expect(formatTimestamp(360_000_000, '.')).toBe('100:00:00.000');
    expect(formatSrtCue({ startMs: 0, endMs: 900, lines: ['a --> b'], script: 'latin' }, 2)).not.toContain('-->\nb');
    // A cue's speaker (diarization or a channel name) prefixes its first line; SRT has no voice tag.
    expect(formatSrtCue({ startMs: 0, endMs: 900, lines: ['hi there', 'you'], speaker: 'agent', script: 'latin' }, 3)).toBe('3\n00:00:00,000 --> 00:00:00,900\nagent: hi there\nyou\n\n');
    expect(formatSrtCue({ startMs: 0, endMs: 900, lines: ['hi'], speaker: 'agent', script: 'latin' }, 3, false)).toBe('3\n00:00:00,000 --> 00:00:00,900\nhi\n\n');
    expect(formatSrtCue({ startMs: 0, endMs: 900, lines: ['a ---> b'], script: 'latin' }, 2).split('\n')[2]).toBe('a -> b');
  });

  it('writes the cues of the finals, passes every event on, and ignores partials', async () => {
    const events: TranscriptEvent[] = [{ type: 'partial', text: 'the wea', startMs: 300, endMs: 800 }, ...sentences(TEXTS)];
    const path = tmp.path('a.srt');
    const passed = await lastValueFrom(from(events).pipe(toSrt(path), toArray()));
    expect(passed).toEqual(events);
    const cues = parseSrt(readFileSync(path, 'utf8'));
    const expected = buildCues(events);
    expect(cues).toEqual(expected.map((c) => ({ startMs: c.startMs, endMs: c.endMs, text: c.lines.join('\n') })));
    expect(cues.map((c) => c.text.replace(/\n/g, ' ')).join(' ')).toBe(TEXTS.join(' '));
  });

  it('ends a pipeline of several sinks only after every file is closed', async () => {
    const srt = tmp.path('a.srt');
    const jsonl = tmp.path('a.jsonl');
    await lastValueFrom(from(sentences(TEXTS)).pipe(toSrt(srt), toJsonl(jsonl)));
    expect(isOpen(srt)).toBe(false);
    expect(isOpen(jsonl)).toBe(false);
    expect(parseSrt(readFileSync(srt, 'utf8')).length).toBeGreaterThan(2);
    expect(readFileSync(jsonl, 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('on an upstream error leaves a valid SRT of the cues it had, closes it, then forwards the same error', async () => {
    const path = tmp.path('failed.srt');
    const boom = new EarshotError('EARSHOT_DECODE_FAILED', 'decoder died');
    const events = sentences(TEXTS).slice(0, 2);
    const run = lastValueFrom(concat(from(events), throwError(() => boom)).pipe(toSrt(path)));
    await expect(run).rejects.toBe(boom);
    expect(isOpen(path)).toBe(false);
    const cues = parseSrt(readFileSync(path, 'utf8'));
    expect(cues.map((c) => c.text.replace(/\n/g, ' ')).join(' ')).toBe(TEXTS.slice(0, 2).join(' '));
  });

  it('writes each cue as soon as it is settled (a crash keeps complete cues)', async () => {
    const path = tmp.path('live.srt');
    const input = new Subject<TranscriptEvent>();
    const done = lastValueFrom(input.pipe(toSrt(path)), { defaultValue: undefined });
    for (const e of sentences(TEXTS)) input.next(e);
    // The first two sentences are settled (a pause follows each); the last may still grow.
    await until(() => { try { return parseSrt(readFileSync(path, 'utf8')).length >= 2; } catch { return false; } }, 5000, 'settled cues on disk');
    input.complete();
    await done;
  });

  it('empty input writes a valid empty file', async () => {
    const path = tmp.path('empty.srt');
    await lastValueFrom(from([] as TranscriptEvent[]).pipe(toSrt(path)), { defaultValue: undefined });
    expect(statSync(path).size).toBe(0);
    expect(parseSrt(readFileSync(path, 'utf8'))).toEqual([]);
  });

  it('early unsubscribe closes the file, keeping the complete cues', async () => {
    const path = tmp.path('unsub.srt');
    const input = new Subject<TranscriptEvent>();
    const sub = input.pipe(toSrt(path)).subscribe();
    for (const e of sentences(TEXTS)) input.next(e);
    await until(() => isOpen(path), 2000, 'file opened');
    sub.unsubscribe();
    expect(input.observed).toBe(false);
    await until(() => !isOpen(path), 5000, 'file closed');
    expect(parseSrt(readFileSync(path, 'utf8')).length).toBeGreaterThan(2);
  });

  it('fails with EARSHOT_SINK_FAILED when the file cannot be written, and rejects bad targets when built', async () => {
    const run = lastValueFrom(of(final('hello', 0, 500)).pipe(toSrt(tmp.path('no/such/dir/a.srt'))));
    await expect(run).rejects.toMatchObject({ code: 'EARSHOT_SINK_FAILED', name: 'SinkError' });
    expect(() => toSrt('')).toThrow(EarshotError);
    expect(() => toSrt({} as never)).toThrow(/path or a Writable/);
    expect(() => toSrt('x.srt', { maxCharsPerSecond: 0 })).toThrow(/maxCharsPerSecond/);
  });

  it('srtText() gives the same text as the file sink', async () => {
    const path = tmp.path('b.srt');
    const events = sentences(TEXTS);
    await lastValueFrom(from(events).pipe(toSrt(path)));
    const text = (await lastValueFrom(from(events).pipe(srtText(), toArray()))).join('');
    expect(text).toBe(readFileSync(path, 'utf8'));
  });
});
