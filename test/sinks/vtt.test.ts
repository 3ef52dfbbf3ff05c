import { readFileSync } from 'node:fs';
import { concat, from, lastValueFrom, Subject, throwError, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { escapeVtt, formatVttCue, toVtt, VTT_HEADER, vttText } from '../../src/sinks/vtt.js';
import { final, isOpen, sentences, tempDir, until } from './helpers.js';
import { parseVtt } from './parse-captions.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

describe('toVtt', () => {
  it('escapes &, < and > so that --> never appears in cue text', () => {
    expect(escapeVtt('a --> b & <c>')).toBe('a --&gt; b &amp; &lt;c&gt;');
    const cue = formatVttCue({ startMs: 1000, endMs: 3500, lines: ['x --> y', 'R&D <b>'], speaker: 'Speaker <1>', script: 'latin' });
    expect(cue).toBe('00:00:01.000 --> 00:00:03.500\n<v Speaker &lt;1&gt;>x --&gt; y\nR&amp;D &lt;b&gt;\n\n');
    expect(cue.split('\n').slice(1).join('\n')).not.toContain('-->');
  });

  it('writes a header, dot milliseconds, voice spans for speakers, and text that parses back', async () => {
    const path = tmp.path('a.vtt');
    const events: TranscriptEvent[] = [
      final('salt & pepper <please>', 0, 1500, { speaker: 'Speaker 1' }),
      final('a --> b', 3000, 4000, { speaker: 'Speaker 2' }),
      final('no speaker here', 6000, 7000),
    ];
    await lastValueFrom(from(events).pipe(toVtt(path)));
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith(VTT_HEADER)).toBe(true);
    expect(text).toContain('00:00:00.000 --> 00:00:01.500\n<v Speaker 1>salt &amp; pepper &lt;please&gt;\n\n');
    expect(parseVtt(text)).toEqual([
      { startMs: 0, endMs: 1500, text: 'salt & pepper <please>', voice: 'Speaker 1' },
      { startMs: 3000, endMs: 4000, text: 'a --> b', voice: 'Speaker 2' },
      { startMs: 6000, endMs: 7000, text: 'no speaker here' },
    ]);
    const plain = (await lastValueFrom(from(events).pipe(vttText({ speakers: false }), toArray()))).join('');
    expect(plain).not.toContain('<v ');
    expect(parseVtt(plain).map((c) => c.text)).toEqual(events.map((e) => e.text));
  });

  it('channels: each channel at its own times though its finals come late, the file in start order (--channels separate)', async () => {
    // A stereo call transcribed channel by channel: the agent's finals arrive first, the caller's (heard first) after.
    const events = [
      final('and so my fellow americans', 290, 2160, { channel: 1, speaker: 'agent' }),
      final('ask not', 3290, 4310, { channel: 1, speaker: 'agent' }),
      final('the weather will be cold', 150, 1900, { channel: 0, speaker: 'caller' }),
      final('please send the report', 2500, 4000, { channel: 0, speaker: 'caller' }),
    ];
    const cues = (text: string): [number, string][] => parseVtt(text).map((c) => [c.startMs, c.text]);
    const laidOut = cues((await lastValueFrom(from(events).pipe(vttText({ channels: true }), toArray()))).join(''));
    expect(laidOut).toEqual([
      [150, 'the weather will be cold'],
      [290, 'and so my fellow americans'],
      [2500, 'please send the report'],
      [3290, 'ask not'],
    ]);
    // One track (the default) keeps cues apart by pushing the late ones after the others: seconds off here.
    expect(cues((await lastValueFrom(from(events).pipe(vttText(), toArray()))).join('')).map(([ms]) => ms)[2]).toBeGreaterThan(4000);
  });

  it('channels with holdMs (RTP participants, live): each speaker at its own times, written in start order as the audio moves on, not at the end', async () => {
    const input = new Subject<TranscriptEvent>();
    const written: string[] = [];
    const done = lastValueFrom(input.pipe(vttText({ channels: true, holdMs: 5000 }), toArray())).then((all) => all.join(''));
    const sub = input.pipe(vttText({ channels: true, holdMs: 5000 })).subscribe((t) => written.push(t));
    const send = (e: TranscriptEvent): number => (input.next(e), parseVtt(VTT_HEADER + written.join('').replace(VTT_HEADER, '')).length);
    // Two participants talking over each other; B's final comes after A's, though B started first.
    expect(send(final('the weather will be cold', 1200, 3400, { speaker: 'ssrc-0xa' }))).toBe(0);
    expect(send(final('and so my fellow americans', 150, 3900, { speaker: 'ssrc-0xb' }))).toBe(0);
    // 5 s of audio later both are out, at their own times and in start order, before the input ends.
    expect(send(final('ask not', 9100, 9800, { speaker: 'ssrc-0xb' }))).toBe(2);
    input.complete();
    sub.unsubscribe();
    expect(parseVtt(await done).map((c) => [c.startMs, c.text])).toEqual([
      [150, 'and so my fellow americans'],
      [1200, 'the weather will be cold'],
      [9100, 'ask not'],
    ]);
  });

  it('a speaker change starts a new cue', async () => {
    const path = tmp.path('speakers.vtt');
    await lastValueFrom(from([final('hi there', 0, 400, { speaker: 'Speaker 1' }), final('hello', 450, 800, { speaker: 'Speaker 2' })]).pipe(toVtt(path)));
    const cues = parseVtt(readFileSync(path, 'utf8'));
    expect(cues.map((c) => [c.voice, c.text])).toEqual([['Speaker 1', 'hi there'], ['Speaker 2', 'hello']]);
    expect(cues[1]!.startMs - cues[0]!.endMs).toBeGreaterThanOrEqual(80);
  });

  it('empty input writes a file holding only the header', async () => {
    const path = tmp.path('empty.vtt');
    await lastValueFrom(from([] as TranscriptEvent[]).pipe(toVtt(path)), { defaultValue: undefined });
    expect(readFileSync(path, 'utf8')).toBe('WEBVTT\n\n');
    expect(parseVtt(readFileSync(path, 'utf8'))).toEqual([]);
  });

  it('on an upstream error leaves a valid VTT, closed, and forwards the error', async () => {
    const path = tmp.path('failed.vtt');
    const boom = new EarshotError('EARSHOT_CONNECTION_LOST', 'socket dropped', { retryable: true });
    await expect(lastValueFrom(concat(from(sentences(['one two three', 'four five six'])), throwError(() => boom)).pipe(toVtt(path)))).rejects.toBe(boom);
    expect(isOpen(path)).toBe(false);
    expect(parseVtt(readFileSync(path, 'utf8')).map((c) => c.text)).toEqual(['one two three', 'four five six']);
  });

  it('early unsubscribe closes the file with a valid VTT', async () => {
    const path = tmp.path('unsub.vtt');
    const input = new Subject<TranscriptEvent>();
    const sub = input.pipe(toVtt(path)).subscribe();
    input.next(final('kept', 0, 500));
    await until(() => isOpen(path), 2000, 'file opened');
    sub.unsubscribe();
    await until(() => !isOpen(path), 5000, 'file closed');
    expect(parseVtt(readFileSync(path, 'utf8')).map((c) => c.text)).toEqual(['kept']);
  });
});
