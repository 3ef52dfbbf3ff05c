import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from, lastValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { toJsonl } from '../../src/sinks/jsonl.js';
import { toSrt } from '../../src/sinks/srt.js';
import { toVtt } from '../../src/sinks/vtt.js';
import { jsonlStream, jsonlWritable, srtStream, srtWritable, vttStream, vttWritable } from '../../src/streams/sink-streams.js';
import { isOpen, sentences, SlowWritable, tempDir, until } from '../sinks/helpers.js';
import { parseSrt, parseVtt } from '../sinks/parse-captions.js';

const EVENTS: TranscriptEvent[] = [
  { type: 'partial', text: 'the weather', startMs: 300, endMs: 800 },
  ...sentences(['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], 'Speaker 1'),
];

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

/** A Readable of events that fails with `err` after them. */
function failingEvents(events: TranscriptEvent[], err: Error): Readable {
  let i = 0;
  return new Readable({
    objectMode: true,
    read() {
      if (i < events.length) this.push(events[i++]);
      else this.destroy(err);
    },
  });
}

describe('text streams: srtStream, vttStream, jsonlStream', () => {
  it('write the same bytes as the RxJS sinks', async () => {
    for (const [name, stream, sink] of [
      ['a.srt', srtStream, toSrt],
      ['a.vtt', vttStream, toVtt],
      ['a.jsonl', jsonlStream, toJsonl],
    ] as const) {
      const viaStream = tmp.path(`stream-${name}`);
      const viaRx = tmp.path(`rx-${name}`);
      await pipeline(Readable.from(EVENTS), stream(), createWriteStream(viaStream));
      await lastValueFrom(from(EVENTS).pipe(sink(viaRx)));
      expect(readFileSync(viaStream, 'utf8'), name).toBe(readFileSync(viaRx, 'utf8'));
      expect(readFileSync(viaStream, 'utf8').length).toBeGreaterThan(name.endsWith('vtt') ? 8 : 0);
    }
  });

  it('empty input: an empty SRT, a VTT holding its header', async () => {
    const srt = tmp.path('e.srt');
    const vtt = tmp.path('e.vtt');
    await pipeline(Readable.from([]), srtStream(), createWriteStream(srt));
    await pipeline(Readable.from([]), vttStream(), createWriteStream(vtt));
    expect(readFileSync(srt, 'utf8')).toBe('');
    expect(readFileSync(vtt, 'utf8')).toBe('WEBVTT\n\n');
  });

  it('respect a slow Writable at the end of the pipeline', async () => {
    const out = new SlowWritable(32);
    const many = Array.from({ length: 300 }, (_, i): TranscriptEvent => ({ type: 'final', text: `event ${i}`, startMs: i * 2000, endMs: i * 2000 + 900 }));
    await pipeline(Readable.from(many), jsonlStream(), out);
    expect(out.writesWhileFull).toBe(0);
    expect(out.text.trim().split('\n')).toHaveLength(300);
  });
});

describe('file Writables: srtWritable, vttWritable, jsonlWritable', () => {
  it("finish only after the file is closed, and the file is valid", async () => {
    const srt = tmp.path('w.srt');
    const vtt = tmp.path('w.vtt');
    const jsonl = tmp.path('w.jsonl');
    await pipeline(Readable.from(EVENTS), srtWritable(srt));
    await pipeline(Readable.from(EVENTS), vttWritable(vtt));
    await pipeline(Readable.from(EVENTS), jsonlWritable(jsonl, { finalsOnly: true }));
    for (const p of [srt, vtt, jsonl]) expect(isOpen(p)).toBe(false);
    expect(parseSrt(readFileSync(srt, 'utf8')).length).toBeGreaterThan(1);
    expect(parseVtt(readFileSync(vtt, 'utf8'))[0]!.voice).toBe('Speaker 1');
    expect(readFileSync(jsonl, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('an error upstream reaches the pipeline callback, and the file left is valid and closed', async () => {
    const srt = tmp.path('f.srt');
    const boom = new EarshotError('EARSHOT_ENGINE_FAILED', 'engine died');
    await expect(pipeline(failingEvents(EVENTS, boom), srtWritable(srt))).rejects.toBe(boom);
    // pipeline destroys the Writable; the sink's teardown still closes the file with its complete cues.
    await until(() => !isOpen(srt), 5000, 'file closed');
    // Whatever reached the sink before the error is there as whole cues (events still buffered are dropped).
    // SRT has no voice tag: each cue starts with its speaker.
    const cues = parseSrt(readFileSync(srt, 'utf8'));
    for (const c of cues) expect(c.text.startsWith('Speaker 1: ')).toBe(true);
    const written = cues.map((c) => c.text.replace(/^Speaker 1: /, '').replace(/\n/g, ' ')).join(' ');
    expect(EVENTS.slice(1).map((e) => e.text).join(' ').startsWith(written)).toBe(true);
  });

  it('a file that cannot be written destroys the Writable with EARSHOT_SINK_FAILED', async () => {
    await expect(pipeline(Readable.from(EVENTS), srtWritable(tmp.path('missing/dir/x.srt')))).rejects.toMatchObject({ code: 'EARSHOT_SINK_FAILED' });
  });
});

describe('file Writables and a slow output', () => {
  it('a slow output pauses the writer (drain honoured through the FlowControl)', async () => {
    const out = new SlowWritable(64);
    const many = Array.from({ length: 200 }, (_, i): TranscriptEvent => ({ type: 'final', text: `event ${i}`, startMs: i * 2000, endMs: i * 2000 + 900 }));
    const writable = jsonlWritable(out);
    let sawFull = false;
    const write = writable.write.bind(writable) as (chunk: unknown) => boolean;
    writable.write = ((chunk: unknown) => {
      const ok = write(chunk);
      if (!ok) sawFull = true;
      return ok;
    }) as typeof writable.write;
    await pipeline(Readable.from(many), writable);
    expect(out.writesWhileFull).toBe(0);
    expect(sawFull).toBe(true);
    expect(out.text.trim().split('\n')).toHaveLength(200);
  });
});
