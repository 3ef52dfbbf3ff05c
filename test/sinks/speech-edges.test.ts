import { from, lastValueFrom, toArray, type OperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isSpeechEdge, type TranscriptEvent } from '../../src/core/types.js';
import { consoleFormat } from '../../src/sinks/console.js';
import { jsonlFormat, jsonlText } from '../../src/sinks/jsonl.js';
import { srtText } from '../../src/sinks/srt.js';
import { vttText } from '../../src/sinks/vtt.js';
import type { TextFormat } from '../../src/sinks/text-sink.js';

/** A realtime session's events: speech edges around partials and finals, as a server VAD reports them. */
const WITH_EDGES: TranscriptEvent[] = [
  { type: 'speech-start', text: '', startMs: 300, endMs: 300 },
  { type: 'partial', text: 'the weather', startMs: 300, endMs: 900 },
  { type: 'partial', text: 'the weather will be', startMs: 300, endMs: 1500 },
  { type: 'speech-end', text: '', startMs: 2100, endMs: 2100 },
  { type: 'final', text: 'the weather will be cold', startMs: 300, endMs: 2100, emotion: 'sad', language: 'en' },
  { type: 'speech-start', text: '', startMs: 2900, endMs: 2900 },
  { type: 'speech-end', text: '', startMs: 4700, endMs: 4700 },
  { type: 'final', text: 'please send the report', startMs: 2900, endMs: 4700, language: 'en' },
];
const WITHOUT = WITH_EDGES.filter((e) => !isSpeechEdge(e));

const render = (format: TextFormat, events: readonly TranscriptEvent[]): string => [format.header, ...events.flatMap((e) => format.event(e)), ...format.end()].join('');
const text = async (op: OperatorFunction<TranscriptEvent, string>, events: TranscriptEvent[]): Promise<string> => (await lastValueFrom(from(events).pipe(op, toArray()))).join('');

describe('speech edges in sinks', () => {
  it('leave SRT, WebVTT, JSONL (default) and console output unchanged', async () => {
    for (const op of [srtText(), vttText(), jsonlText(), jsonlText({ finalsOnly: true })]) {
      const out = await text(op, WITH_EDGES);
      expect(out).toBe(await text(op, WITHOUT));
      expect(out).not.toBe('');
    }
    expect(await text(srtText(), WITH_EDGES)).toContain('00:00:00,300 --> ');
    for (const tty of [true, false]) {
      const tty80 = render(consoleFormat({ tty, columns: 80 }), WITH_EDGES);
      expect(tty80).toBe(render(consoleFormat({ tty, columns: 80 }), WITHOUT));
      expect(tty80).toContain('please send the report\n');
    }
  });

  it('are written by the JSONL sink on request, as contract lines', () => {
    const lines = render(jsonlFormat({ speechEvents: true }), WITH_EDGES).trim().split('\n').map((l) => JSON.parse(l) as TranscriptEvent);
    expect(lines.map((e) => e.type)).toEqual(WITH_EDGES.map((e) => e.type));
    expect(lines[0]).toEqual({ type: 'speech-start', text: '', startMs: 300, endMs: 300 });
    expect(lines[3]).toEqual({ type: 'speech-end', text: '', startMs: 2100, endMs: 2100 });
    expect(render(jsonlFormat({ speechEvents: true, finalsOnly: true }), WITH_EDGES)).toBe(render(jsonlFormat({ finalsOnly: true }), WITHOUT));
  });
});
