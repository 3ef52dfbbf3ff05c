import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapabilityError, EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { local, type LocalTransport } from '../../src/transports/local.js';
import { streamThrough } from '../helpers/audio.js';
import { makeSpeech, SENTENCES, wer, type SpeechFile } from '../helpers/speech.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** The samples of a mono 16 kHz WAV made by makeSpeech. */
function pcm(file: SpeechFile): Int16Array {
  const b = readFileSync(file.path);
  return new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
}

/** Stream `samples` through a live session in 100 ms writes; resolve with every event. */
const stream = (engine: LocalTransport, samples: Int16Array) => streamThrough(engine, samples);

/**
 * Where the voice really starts and stops inside each sentence: flite pads ~200 ms of silence around it, so the
 * truth is the first and last 10 ms frame within 40 dB of the sentence's loudest frame.
 */
function voiced(samples: Int16Array, file: SpeechFile): Array<{ startMs: number; endMs: number }> {
  return file.segments.map((seg) => {
    const a = Math.round(seg.startMs * 16);
    const b = Math.round(seg.endMs * 16);
    const rms: number[] = [];
    for (let j = a; j + 160 <= b; j += 160) {
      let e = 0;
      for (let k = j; k < j + 160; k++) e += samples[k]! * samples[k]!;
      rms.push(Math.sqrt(e / 160));
    }
    const threshold = Math.max(...rms) / 100;
    const on = rms.findIndex((v) => v > threshold);
    let off = rms.length - 1;
    while (off > 0 && rms[off]! <= threshold) off--;
    return { startMs: a / 16 + on * 10, endMs: a / 16 + off * 10 + 10 };
  });
}

let engine: LocalTransport;
const ten = () => makeSpeech({ sentences: SENTENCES.slice(0, 10), voices: ['slt', 'rms'], leadMs: 500, gapsMs: [900] });
let tenEvents: Promise<TranscriptEvent[]> | undefined;
/** The ten sentences streamed once, shared by the tests that score them. */
const streamTen = () => (tenEvents ??= stream(engine, pcm(ten())));

beforeAll(() => {
  engine = local({ size: 2 });
});

afterAll(async () => {
  await engine.close();
});

describe('local()', () => {
  it('describes the embedded engine and rejects what it cannot do when asked', async () => {
    expect(engine.model).toBe('local');
    expect(engine.sampleRate).toBe(16000);
    expect(engine.capabilities).toMatchObject({ realtime: true, batch: true, wordTimes: true, emotion: false, diarization: false, hotwords: false, context: false, languages: ['en'] });
    const samples = new Int16Array(1600);
    await expect(engine.transcribeClip({ samples, sampleRate: 16000, startMs: 0, options: { hotwords: [{ text: 'x', weight: 2 }] } })).rejects.toBeInstanceOf(CapabilityError);
    await expect(engine.openStream({ sampleRate: 16000, context: 'a prompt', onEvent: () => undefined, onError: () => undefined })).rejects.toBeInstanceOf(CapabilityError);
    await expect(engine.transcribeClip({ samples, sampleRate: 8000, startMs: 0 })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    expect(() => local({ size: 0 })).toThrow(EarshotError);
    expect(() => local({ maxInFlightMs: 0 })).toThrow(EarshotError);
  });

  it('transcribes ten sentences in two voices live with WER ≤ 12 %, partials first and word times', async () => {
    const file = ten();
    const events = await streamTen();
    const finals = events.filter((e) => e.type === 'final');
    const hyp = finals.map((e) => e.text).join(' ');
    const score = wer(file.text, hyp);
    expect(score).toBeLessThanOrEqual(0.12);
    expect(events.filter((e) => e.type === 'partial').length).toBeGreaterThan(finals.length);
    for (const f of finals) {
      expect(f.text.trim()).not.toBe('');
      expect(f.words?.length).toBeGreaterThan(0);
      expect(f.words!.map((w) => w.text).join(' ')).toBe(f.text);
      expect(f.words![0]!.startMs).toBe(f.startMs);
      expect(f.words!.at(-1)!.endMs).toBe(f.endMs);
    }
    // Times never go back.
    const starts = finals.map((f) => f.startMs);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });

  it('puts word times within 100 ms of where each sentence’s voice starts and ends', async () => {
    const file = ten();
    const samples = pcm(file);
    const finals = (await streamTen()).filter((e) => e.type === 'final');
    const truth = voiced(samples, file);
    // One final per sentence (gaps of 900 ms end each utterance).
    expect(finals).toHaveLength(truth.length);
    const errors = finals.flatMap((f, i) => [Math.abs(f.startMs - truth[i]!.startMs), Math.abs(f.endMs - truth[i]!.endMs)]);
    expect(Math.max(...errors)).toBeLessThanOrEqual(100);
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThanOrEqual(50);
  });

  it('gets the first sentence right after a 3 s silent lead-in, even on a quiet recording', async () => {
    const file = makeSpeech({ sentences: [SENTENCES[1]!, SENTENCES[7]!], voices: ['rms'], leadMs: 3000, gapsMs: [900] });
    const loud = pcm(file);
    // −30 dB: far from the model's initial cepstral mean, where the warm-up flaw shows.
    const quiet = loud.map((v) => Math.round(v * 0.03));
    for (const samples of [loud, quiet]) {
      const finals = (await stream(engine, samples)).filter((e) => e.type === 'final');
      expect(finals[0]?.text).toBe(SENTENCES[1]);
      expect(finals.every((f) => f.text.trim() !== '')).toBe(true);
    }
  });

  it('transcribes clips (times from the clip start) and spreads them over the pool', async () => {
    const file = ten();
    const samples = pcm(file);
    const jobs = file.segments.map((seg, i) => {
      const a = i === 0 ? 0 : Math.round(((file.segments[i - 1]!.endMs + seg.startMs) / 2) * 16);
      const b = Math.round(((seg.endMs + (file.segments[i + 1]?.startMs ?? file.durationMs)) / 2) * 16);
      return { samples: samples.subarray(a, b), sampleRate: 16000, startMs: a / 16 };
    });
    const results = await Promise.all(jobs.map((j) => engine.transcribeClip(j)));
    const hyp = results.map((r) => r.map((e) => e.text).join(' ')).join(' ');
    expect(wer(file.text, hyp)).toBeLessThanOrEqual(0.12);
    results.forEach((r, i) => {
      expect(r).toHaveLength(1);
      expect(r[0]!.startMs).toBeLessThan(jobs[i]!.samples.length / 16);
      expect(r[0]!.startMs).toBeGreaterThanOrEqual(0);
    });
    expect(engine.pool.threads).toBe(2);
  });

  it('gives nothing for silence or no audio: no empty finals', async () => {
    expect(await engine.transcribeClip({ samples: new Int16Array(0), sampleRate: 16000, startMs: 0 })).toEqual([]);
    expect(await engine.transcribeClip({ samples: new Int16Array(32000), sampleRate: 16000, startMs: 0 })).toEqual([]);
    expect(await stream(engine, new Int16Array(48000))).toEqual([]);
    expect(await stream(engine, new Int16Array(0))).toEqual([]);
  });

  it('closes a session early, and through its signal, without events after close', async () => {
    const file = ten();
    const samples = pcm(file);
    const ac = new AbortController();
    const events: TranscriptEvent[] = [];
    const session = await engine.openStream({ sampleRate: 16000, signal: ac.signal, onEvent: (e) => events.push(e), onError: (e) => { throw e; } });
    await session.write(samples.subarray(0, 16000 * 2));
    ac.abort();
    const seen = events.length;
    await session.write(samples.subarray(16000 * 2, 16000 * 4));
    await session.end();
    expect(events.length).toBe(seen);
    // The worker is free for the next session.
    const again = (await stream(engine, samples.subarray(0, Math.round(file.segments[1]!.endMs * 16) + 8000))).filter((e) => e.type === 'final');
    expect(again.map((e) => e.text).join(' ').split(' ').length).toBeGreaterThan(12);
  });

  it('keeps the main thread responsive while the engine works (event-loop delay p99 < 50 ms)', async () => {
    const file = makeSpeech({ sentences: SENTENCES.slice(0, 4), voices: ['slt', 'rms'], leadMs: 500, gapsMs: [900] });
    const samples = pcm(file);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await Promise.all([stream(engine, samples), engine.transcribeClip({ samples, sampleRate: 16000, startMs: 0 })]);
    h.disable();
    expect(h.count).toBeGreaterThan(10);
    expect(h.percentile(99) / 1e6).toBeLessThan(50);
  });

  it('runs from compiled JavaScript, and idle workers let the process exit without close()', async () => {
    const out = join(ROOT, '.tmp/engine-dist');
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = [tsc, 'src/transports/local.ts', 'src/engine/worker.ts', '--outDir', out, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node'];
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
    expect(existsSync(join(out, 'src/engine/worker.js'))).toBe(true);
    const file = makeSpeech({ sentences: [SENTENCES[1]!], voices: ['rms'], leadMs: 200, gapsMs: [300] });
    const script = join(out, 'run.mjs');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { local } from './src/transports/local.js';
const b = readFileSync(${JSON.stringify(file.path)});
const samples = new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
const engine = local({ size: 1 });
const events = await engine.transcribeClip({ samples, sampleRate: 16000, startMs: 0 });
console.log(JSON.stringify(events.map((e) => e.text)));
// No close(): the idle worker must not keep this process alive.
`,
    );
    const stdout = await new Promise<string>((res, rej) =>
      execFile(process.execPath, [script], { cwd: ROOT, timeout: 30_000 }, (err, so) => (err ? rej(err) : res(so))),
    );
    expect(JSON.parse(stdout)).toEqual([SENTENCES[1]]);
  });

  it('close() terminates every worker and is safe twice', async () => {
    const e2 = local({ size: 2 });
    await e2.pool.warmUp();
    expect(e2.pool.threads).toBe(2);
    await e2.close();
    expect(e2.pool.threads).toBe(0);
    await e2.close();
    await expect(e2.transcribeClip({ samples: new Int16Array(1600), sampleRate: 16000, startMs: 0 })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
  });
});
