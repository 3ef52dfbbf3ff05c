/**
 * The stream face end to end on real things: ffmpeg decoding, the embedded engine, files on disk.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pipeline as pipelineCb, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lastValueFrom, map, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { resample } from '../../src/operators/resample.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { fromFile } from '../../src/sources/file.js';
import { fromReadable } from '../../src/sources/readable.js';
import { operatorToTransform } from '../../src/streams/operator-to-transform.js';
import { decodeStream, resampleStream, transcribeStream } from '../../src/streams/operator-streams.js';
import { srtStream } from '../../src/streams/sink-streams.js';
import { toAsyncIterable } from '../../src/streams/to-readable.js';
import { local, type LocalTransport } from '../../src/transports/local.js';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { tempDir, until } from '../sinks/helpers.js';
import { parseSrt } from '../sinks/parse-captions.js';

/** ffmpeg processes this test process started that are still alive. */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /ffmpeg/.test(l));
  } catch {
    return []; // ps exits 1 when there are no children
  }
}

/** Ten minutes of a 440 Hz tone, 16 kHz mono WAV (19.2 MB), made once. */
function longWav(): string {
  const dir = resolve(process.cwd(), '.tmp/streams');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'tone-600s.wav');
  if (!existsSync(path)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=600', '-ar', '16000', '-ac', '1', '-y', `${path}.tmp.wav`]);
    execFileSync('mv', [`${path}.tmp.wav`, path]);
  }
  return path;
}

function collect<T>(): Writable & { items: T[] } {
  const items: T[] = [];
  const w = new Writable({ objectMode: true, write: (c: T, _e, cb) => { items.push(c); cb(); } }) as Writable & { items: T[] };
  w.items = items;
  return w;
}

const finals = (events: TranscriptEvent[]): TranscriptEvent[] => events.filter((e) => e.type === 'final' && e.text.trim() !== '');

let engine: LocalTransport;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  engine = local({ size: 1, workerUrl: pathToFileURL(built('src/engine/worker.js')) });
  tmp = tempDir();
});
afterAll(async () => {
  await engine.close();
  tmp.cleanup();
});

describe('stream face on real audio', () => {
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt'], leadMs: 300, format: 'mp3' });

  it('pipeline(mp3 → decodeStream → resampleStream → transcribeStream → srtStream → file) writes a good SRT', async () => {
    const out = tmp.path('speech.srt');
    await pipeline(createReadStream(speech.path), decodeStream(), resampleStream(16000), transcribeStream(engine), srtStream(), createWriteStream(out));
    const cues = parseSrt(readFileSync(out, 'utf8'));
    expect(cues.length).toBeGreaterThan(2);
    expect(wer(speech.text, cues.map((c) => c.text.replace(/\n/g, ' ')).join(' '))).toBeLessThanOrEqual(0.25);
  });

  it('the same input gives the same transcript through both faces', async () => {
    // WAV decodes in-process, so both faces hand the engine the very same chunks (the engine's results depend on
    // how its input is chunked, which ffmpeg's pipe reads would make vary with machine load).
    const wav = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt'], leadMs: 300 });
    const viaStreams = collect<TranscriptEvent>();
    await pipeline(createReadStream(wav.path), decodeStream(), resampleStream(16000), transcribeStream(engine), viaStreams);
    const viaRx = await lastValueFrom(fromReadable(createReadStream(wav.path)).pipe(decode(), resample(16000), transcribe(engine), toArray()));
    const shape = (events: TranscriptEvent[]) => finals(events).map((e) => ({ text: e.text, startMs: e.startMs, endMs: e.endMs }));
    expect(shape(viaStreams.items).length).toBeGreaterThan(1);
    expect(shape(viaStreams.items)).toEqual(shape(viaRx));
    expect(wer(wav.text, finals(viaRx).map((e) => e.text).join(' '))).toBeLessThanOrEqual(0.25);
  });

  it('for await over the events works, and break tears everything down', async () => {
    const seen: TranscriptEvent[] = [];
    for await (const event of toAsyncIterable(fromFile(speech.path).pipe(decode(), resample(16000), transcribe(engine)))) {
      seen.push(event);
      if (event.type === 'final' && event.text.trim()) break;
    }
    expect(finals(seen)).toHaveLength(1);
    await until(() => ffmpegChildren().length === 0, 5000, 'ffmpeg gone');
    // The stream face: iterate the last stage of a pipeline and stop early.
    const stages = [createReadStream(speech.path), decodeStream(), resampleStream(16000), transcribeStream(engine)] as const;
    let ended: unknown = 'pending';
    const last = pipelineCb(stages[0], stages[1], stages[2], stages[3], (err) => (ended = err));
    const got: TranscriptEvent[] = [];
    for await (const event of last as AsyncIterable<TranscriptEvent>) {
      got.push(event);
      if (event.type === 'final' && event.text.trim()) break;
    }
    expect(finals(got)).toHaveLength(1);
    await until(() => ended !== 'pending', 5000, 'pipeline callback');
    // Node reports the early stop as an abort (Node 20) or a premature close.
    expect(['ABORT_ERR', 'ERR_STREAM_PREMATURE_CLOSE']).toContain((ended as { code?: string }).code);
    for (const s of stages) expect(s.destroyed).toBe(true);
    await until(() => ffmpegChildren().length === 0, 5000, 'ffmpeg gone');
  });
});

describe('stream face: backpressure and failure', () => {
  it('a slow consumer holds memory bounded: the file is read only as fast as it is consumed', async () => {
    const path = longWav();
    const file = createReadStream(path);
    let frames = 0;
    let gate: (() => void) | undefined;
    let stalled = true;
    const consumer = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(chunk: AudioChunk, _e, cb) {
        frames += chunk.samples.length;
        if (stalled) gate = () => cb();
        else cb();
      },
    });
    const rss0 = process.memoryUsage().rss;
    const done = pipeline(file, decodeStream({ decoder: 'ffmpeg' }), resampleStream(8000), consumer);
    await until(() => gate !== undefined, 10_000, 'first chunk');
    // Watch for a while: reading must stop far short of the 19.2 MB file.
    let maxRead = 0;
    const deadline = Date.now() + 500;
    while (Date.now() < deadline) {
      maxRead = Math.max(maxRead, file.bytesRead);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(maxRead).toBeLessThan(4 * 1024 * 1024);
    const rssStalled = process.memoryUsage().rss - rss0;
    stalled = false;
    gate!();
    await done;
    expect(frames).toBe(600 * 8000);
    expect(file.bytesRead).toBeGreaterThan(19_000_000);
    console.log(`slow consumer: read at most ${maxRead} of ${file.bytesRead} bytes while stalled; rss +${(rssStalled / 1e6).toFixed(1)} MB`);
  });

  it('an error mid-pipeline reaches the callback with the coded error and closes every stage (no ffmpeg left)', async () => {
    const boom = new EarshotError('EARSHOT_ENGINE_FAILED', 'stage five failed');
    let n = 0;
    const file = createReadStream(longWav());
    const stages = [decodeStream({ decoder: 'ffmpeg' }), resampleStream(8000), operatorToTransform(map((c: AudioChunk) => { if (++n === 5) throw boom; return c; }))] as const;
    const sink = collect<AudioChunk>();
    await expect(pipeline(file, stages[0], stages[1], stages[2], sink)).rejects.toBe(boom);
    for (const s of [file, ...stages, sink]) expect(s.destroyed).toBe(true);
    await until(() => ffmpegChildren().length === 0, 5000, 'ffmpeg killed');
  });

  it('undecodable bytes fail the pipeline with a decode code', async () => {
    const junk = tmp.path('junk.bin');
    writeFileSync(junk, Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919) & 0xff)));
    const err = await pipeline(createReadStream(junk), decodeStream(), collect<AudioChunk>()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EarshotError);
    expect((err as EarshotError).code).toMatch(/^EARSHOT_(DECODE_FAILED|UNSUPPORTED_FORMAT|CORRUPT_INPUT|EMPTY_INPUT)$/);
    await until(() => ffmpegChildren().length === 0, 5000, 'ffmpeg gone');
  });

  it('empty input through decodeStream fails with EARSHOT_EMPTY_INPUT', async () => {
    const err = await pipeline(Readable.from([]), decodeStream(), collect<AudioChunk>()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EARSHOT_EMPTY_INPUT' });
  });
});
