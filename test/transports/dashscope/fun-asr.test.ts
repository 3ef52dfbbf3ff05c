import { closeSync, openSync, ftruncateSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarshotError } from '../../../src/core/errors.js';
import { httpStats } from '../../../src/emulator/http/index.js';
import { funAsr } from '../../../src/transports/dashscope/fun-asr.js';
import type { BatchProgress } from '../../../src/transports/dashscope/http.js';
import { makeSpeech, SENTENCES, wavHeader, CACHE_DIR } from '../../helpers/speech.js';
import { fakeRecognizer, KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

const fast = { pollMs: 10, maxPollMs: 40, retry: { baseMs: 10 }, queriesPerSecond: 1000 };
let h: Harness;
beforeEach(async () => {
  h = await startHarness({ recognizer: fakeRecognizer() });
});
afterEach(async () => {
  await h.close();
});

describe('funAsr polling within the account limit (§1.7: 20 task queries a second per account)', () => {
  it('four clips in flight share one budget: about 5 queries a second (never near 20), each clip still done', async () => {
    h.ctx.faults.resultDelayMs = 1500;
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url });
    const samples = new Int16Array(16000).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
    const results = await Promise.all([0, 1, 2, 3].map((k) => asr.transcribeClip({ samples, sampleRate: 16000, startMs: k * 1000 })));
    await asr.close();
    expect(results.map((r) => r.length)).toEqual([1, 1, 1, 1]);
    const at = httpStats(h.ctx).taskQueries;
    expect(at.length).toBeGreaterThanOrEqual(4);
    // Slots 200 ms apart: 5 a second, and one more at a window's edge when a query is late reaching the server.
    const busiest = Math.max(...at.map((t) => at.filter((u) => u >= t && u < t + 1000).length));
    expect(busiest).toBeLessThanOrEqual(6);
    expect(busiest).toBeLessThan(20);
  });

  it('§1.4 retries task queries answered 503 and 504 (as the SDK wait() does) and transcribes once', async () => {
    h.ctx.faults.taskQueryUnavailableFirst = 2;
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const samples = new Int16Array(16000).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
    const events = await asr.transcribeClip({ samples, sampleRate: 16000, startMs: 0 });
    await asr.close();
    expect(events).toHaveLength(1);
    expect(httpStats(h.ctx)).toMatchObject({ recognitions: 1, submits: 1 });
    expect(httpStats(h.ctx).taskQueries.length).toBeGreaterThanOrEqual(3);
  });
});

describe('funAsr', () => {
  it('uploads a local file, polls the task and maps sentences and words, reporting progress', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['slt'] });
    const progress: BatchProgress[] = [];
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast, onProgress: (p) => progress.push(p) });
    const events = await asr.transcribeFile(speech.path);
    await asr.close();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'final', text: 'hello world from the emulator', startMs: 0 });
    expect(events[0]!.endMs).toBeCloseTo(speech.durationMs, -2);
    expect(events[0]!.words).toHaveLength(5);
    expect(events[0]!.speaker).toBeUndefined();
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['checking', 'uploading', 'submitted', 'running', 'downloading', 'done']));
    expect(httpStats(h.ctx)).toMatchObject({ recognitions: 1, submits: 1 });
  });

  it('passes a URL through without uploading', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['rms'] });
    const files = createServer((_req, res) => res.writeHead(200, { 'content-type': 'audio/wav' }).end(readFileSync(speech.path)));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const progress: string[] = [];
    const events = await asr.transcribeFile(`http://127.0.0.1:${(files.address() as AddressInfo).port}/a.wav`, { onProgress: (p) => progress.push(p.phase) });
    await asr.close();
    files.close();
    expect(events[0]?.text).toBe('hello world from the emulator');
    expect(progress).not.toContain('uploading');
  });

  it('never sends diarization_enabled with several channels (§3: mono only): a stereo file goes as one mono task per channel', async () => {
    const left = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['rms'] });
    const right = makeSpeech({ sentences: SENTENCES.slice(1, 2), voices: ['slt'], leadMs: 1000 });
    mkdirSync(CACHE_DIR, { recursive: true });
    const stereo = join(CACHE_DIR, 'fun-asr-diarize-stereo.wav');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', left.path, '-i', right.path, '-filter_complex', '[0:a][1:a]amerge=inputs=2[a]', '-map', '[a]', '-ac', '2', stereo]);
    // A pass-through proxy in front of the emulator keeps the parameters of every task submitted.
    const submitted: Record<string, unknown>[] = [];
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.method === 'POST' && req.url === '/api/v1/services/audio/asr/transcription') submitted.push((JSON.parse(body.toString()) as { parameters: Record<string, unknown> }).parameters);
        const upstream = request(new URL(req.url!, h.url), { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode!, r.headers);
          r.pipe(res);
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const baseUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const asr = funAsr({ apiKey: KEY, baseUrl, ...fast, diarize: true });
      const events = await asr.transcribeFile(stereo);
      expect(submitted).toHaveLength(2);
      for (const p of submitted) expect(p).toMatchObject({ channel_id: [0], diarization_enabled: true });
      expect(new Set(events.map((e) => e.channel))).toEqual(new Set([0, 1]));
      expect(events.every((e) => e.speaker !== undefined)).toBe(true);
      await asr.close();
      // (Without diarization one task asks for both channels: test/cli/channels.test.ts.)
    } finally {
      proxy.close();
    }
  });

  it('transcribes a clip (near-realtime windows) with times relative to the clip', async () => {
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const samples = new Int16Array(16000 * 2).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
    const events = await asr.transcribeClip({ samples, sampleRate: 16000, startMs: 42_000 });
    await asr.close();
    expect(events[0]).toMatchObject({ startMs: 0, endMs: 2000 });
  });

  it('retries 429 (Retry-After) and 500, and transcribes exactly once', async () => {
    h.ctx.faults.throttleFirst = 1;
    h.ctx.faults.serverErrorFirst = 2;
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const events = await asr.transcribeFile(speech.path);
    await asr.close();
    expect(events).toHaveLength(1);
    expect(httpStats(h.ctx)).toMatchObject({ recognitions: 1, submits: 1 });
  });

  it('ends with EARSHOT_THROTTLED once retries are spent, carrying retryAfterMs', async () => {
    h.ctx.faults.throttleFirst = 100;
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast, retry: { attempts: 2, baseMs: 10 } });
    const err = await asr.transcribeFile('http://127.0.0.1:9/x.wav').catch((e: unknown) => e);
    await asr.close();
    expect(err).toBeInstanceOf(EarshotError);
    expect((err as EarshotError).code).toBe('EARSHOT_THROTTLED');
    expect((err as EarshotError).retryAfterMs).toBe(1000);
    expect(httpStats(h.ctx).recognitions).toBe(0);
  });

  it('reports a FAILED task as EARSHOT_TASK_FAILED with the provider code', async () => {
    h.ctx.faults.failTasks = true;
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const err = (await asr.transcribeFile('http://127.0.0.1:9/x.wav').catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    expect(err.code).toBe('EARSHOT_TASK_FAILED');
    expect(err.providerCode).toBe('InternalError.Algo');
  });

  it('reports an unreachable file as EARSHOT_TASK_FAILED InvalidFile.DownloadFailed', async () => {
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const err = (await asr.transcribeFile('http://127.0.0.1:9/missing.wav').catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    expect(err.code).toBe('EARSHOT_TASK_FAILED');
    expect(err.providerCode).toBe('InvalidFile.DownloadFailed');
  });

  it('reports an expired result URL as EARSHOT_RESULT_EXPIRED', async () => {
    h.ctx.faults.resultTtlMs = 1;
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, pollMs: 5, maxPollMs: 5 });
    const err = (await asr.transcribeFile(speech.path).catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    expect(['EARSHOT_RESULT_EXPIRED']).toContain(err.code);
  });

  it('refuses files over 2 GB or 12 h before any request', async () => {
    mkdirSync(CACHE_DIR, { recursive: true });
    const big = join(CACHE_DIR, 'sparse-3g.bin');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    const long = join(CACHE_DIR, 'claims-13h.wav');
    const dataBytes = 13 * 3600 * 16000 * 2;
    writeFileSync(long, wavHeader(dataBytes, 16000));
    const fd2 = openSync(long, 'r+');
    ftruncateSync(fd2, 44 + dataBytes); // sparse: 13 h of silence that takes no disk
    closeSync(fd2);
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const e1 = (await asr.transcribeFile(big).catch((e: unknown) => e)) as EarshotError;
    const e2 = (await asr.transcribeFile(long).catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    expect(e1.code).toBe('EARSHOT_LIMIT_EXCEEDED');
    expect(e2.code).toBe('EARSHOT_LIMIT_EXCEEDED');
    expect(httpStats(h.ctx).requests).toBe(0);
  });

  it('maps a bad key to EARSHOT_AUTH_FAILED without leaking it', async () => {
    const asr = funAsr({ apiKey: 'sk-wrong-secret-999', baseUrl: h.url, ...fast });
    const err = (await asr.transcribeFile('http://127.0.0.1:9/x.wav').catch((e: unknown) => e)) as EarshotError;
    await asr.close();
    expect(err.code).toBe('EARSHOT_AUTH_FAILED');
    expect(JSON.stringify({ m: err.message, s: err.stack })).not.toContain('sk-wrong-secret-999');
  });

  it('needs a key, and refuses prompt context before any request', () => {
    expect(() => funAsr({ env: {}, baseUrl: h.url })).toThrowError(expect.objectContaining({ code: 'EARSHOT_MISSING_API_KEY' }) as Error);
    expect(() => funAsr({ apiKey: KEY, baseUrl: h.url, context: 'medical' })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => funAsr({ apiKey: KEY, baseUrl: h.url, diarize: true, speakers: 1 })).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
    expect(httpStats(h.ctx).requests).toBe(0);
  });

  it('stops on abort with EARSHOT_ABORTED; a task already RUNNING cannot be cancelled and is reported billed', async () => {
    h.ctx.faults.resultDelayMs = 2000;
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    expect(asr.capabilities.cancelCost).toBe('until-started');
    const controller = new AbortController();
    let billed = 0;
    const pending = asr.transcribeFile(speech.path, {
      signal: controller.signal,
      onBilled: () => billed++,
      onProgress: (p) => p.phase === 'running' && p.status === 'RUNNING' && controller.abort(),
    });
    await expect(pending).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    expect(billed).toBe(1);
    await asr.close();
  });

  it('cancels its task when aborted while the task is still PENDING, so it never runs', async () => {
    h.ctx.faults.resultDelayMs = 600;
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast });
    const { stateOf } = await import('../../../src/emulator/http/state.js');
    const busy = [asr.transcribeFile(speech.path), asr.transcribeFile(speech.path)]; // the emulator runs two tasks at once
    for (const deadline = Date.now() + 10_000; stateOf(h.ctx).queue.running < 2; ) {
      if (Date.now() > deadline) throw new Error('the two tasks did not start');
      await new Promise((r) => setTimeout(r, 5));
    }
    const controller = new AbortController();
    let taskId = '';
    let billed = 0;
    const third = asr.transcribeFile(speech.path, {
      signal: controller.signal,
      onBilled: () => billed++,
      onProgress: (p) => {
        if (p.status === 'PENDING' && p.phase === 'running') {
          taskId = p.taskId!;
          controller.abort();
        }
      },
    });
    await expect(third).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await Promise.all(busy);
    await asr.close();
    expect(stateOf(h.ctx).tasks.get(taskId)?.status).toBe('CANCELED');
    expect(billed).toBe(0); // cancelled while PENDING: free
    expect(httpStats(h.ctx)).toMatchObject({ submits: 3, recognitions: 2 });
  });

  it('resumes the same task when a clip is retried after a transient failure (nothing transcribed twice)', async () => {
    const { stateOf } = await import('../../../src/emulator/http/state.js');
    let failNextPoll = true;
    const asr = funAsr({
      apiKey: KEY,
      baseUrl: h.url,
      pollMs: 10,
      retry: { attempts: 1 },
      // Right after the submit, make the next request (the first poll) fail with a 500.
      onProgress: (p) => {
        if (p.phase === 'submitted' && failNextPoll) {
          failNextPoll = false;
          h.ctx.faults.serverErrorFirst = stateOf(h.ctx).faults.failed + 1;
        }
      },
    });
    const job = { samples: new Int16Array(16000).map((_, i) => Math.round(6000 * Math.sin(i / 7))), sampleRate: 16000, startMs: 3000 };
    await expect(asr.transcribeClip(job)).rejects.toMatchObject({ code: 'EARSHOT_SERVER_ERROR', retryable: true });
    // what transcribeBatch does with a retryable error: the same clip again
    const retried = await asr.transcribeClip(job);
    await asr.close();
    expect(retried[0]?.text).toBe('hello world from the emulator');
    expect(httpStats(h.ctx)).toMatchObject({ submits: 1, recognitions: 1 });

    // and through the operator itself
    const { from, lastValueFrom, toArray } = await import('rxjs');
    const { transcribeBatch } = await import('../../../src/operators/transcribe-batch.js');
    let armed = true;
    const piped = funAsr({ apiKey: KEY, baseUrl: h.url, pollMs: 10, retry: { attempts: 1 }, onProgress: (p) => {
      if (p.phase === 'submitted' && armed) {
        armed = false;
        h.ctx.faults.serverErrorFirst = stateOf(h.ctx).faults.failed + 1;
      }
    } });
    const segment = { kind: 'audio' as const, samples: job.samples.map((v) => v >> 1), sampleRate: 16000, channels: 1, offset: 16000 * 7, cut: 'pause' as const };
    const events = await lastValueFrom(from([segment]).pipe(transcribeBatch(piped, { retry: { attempts: 3, baseMs: 10 } }), toArray()));
    await piped.close();
    expect(events).toHaveLength(1);
    expect(events[0]!.startMs).toBe(7000);
    expect(httpStats(h.ctx)).toMatchObject({ submits: 2, recognitions: 2 });
    // a different clip is a new task
    const other = funAsr({ apiKey: KEY, baseUrl: h.url, pollMs: 10 });
    await other.transcribeClip({ ...job, samples: job.samples.map((v) => -v) });
    await other.close();
    expect(httpStats(h.ctx).submits).toBe(3);
  });

  it('creates a vocabulary for hotwords once and reuses it on the next run', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'] });
    const hotwords = [{ text: 'emulator', weight: 5 }, { text: 'Model Studio', weight: 4 }];
    for (let i = 0; i < 2; i++) {
      const asr = funAsr({ apiKey: KEY, baseUrl: h.url, ...fast, hotwords });
      await asr.transcribeFile(speech.path);
      await asr.close();
    }
    const { stateOf } = await import('../../../src/emulator/http/state.js');
    expect(stateOf(h.ctx).vocabularies.size).toBe(1);
    const recognizer = h.ctx.recognizer as ReturnType<typeof fakeRecognizer>;
    expect(recognizer.jobs[1]?.options?.hotwords).toEqual(hotwords);
  });
});
