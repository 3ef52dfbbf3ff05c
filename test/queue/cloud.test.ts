/**
 * The queue with a cloud model behind the emulator: real redis-server, real `earshot worker` processes calling the
 * emulator over HTTP. Injected 429s pause the whole queue for their Retry-After, every chunk is still done, and no
 * chunk is sent more often than its retry policy allows; a chunk that fails for good is named in the file's result
 * and the others are kept.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { httpStats } from '../../src/emulator/http/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { result, status, submit } from '../../src/queue/submit.js';
import { queued } from '../../src/transports/queued.js';
import type { ChunkJob, Transport } from '../../src/transports/transport.js';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { CLI, spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './helpers.js';

built('src/cli/main.js');

const KEY = 'sk-queue-test-000000';
const MODEL = 'qwen3.5-omni-flash';
let redis: RedisServer;
let client: Redis;
let emu: Emulator;
const workers: WorkerProcess[] = [];

/** The engine behind the emulator: names each clip by its length, so every chunk's text is its own. */
const byLength: Transport = {
  model: 'by-length',
  sampleRate: 16000,
  capabilities: { realtime: false, batch: true, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: true, maxDurationMs: Infinity, languages: ['en'] },
  async transcribeClip(job: ChunkJob): Promise<TranscriptEvent[]> {
    const ms = Math.round((job.samples.length * 1000) / job.sampleRate);
    return [{ type: 'final', text: `clip of ${ms} ms`, startMs: 0, endMs: ms }];
  },
};

async function worker(args: string[]): Promise<WorkerProcess> {
  const w = await spawnWorker(['--queue', redis.url, '--model', MODEL, ...args], { DASHSCOPE_API_KEY: KEY, DASHSCOPE_BASE_URL: emu.url });
  workers.push(w);
  return w;
}

/** A segment of low noise (the recognizer above only looks at its length). */
function segment(offsetMs: number, ms: number): AudioSegment {
  const samples = new Int16Array((ms * 16000) / 1000).map((_, i) => ((i * 7919) % 200) - 100);
  return { kind: 'audio', samples, sampleRate: 16000, channels: 1, offset: (offsetMs * 16000) / 1000, cut: 'pause' };
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  emu = await startEmulator({ recognizer: byLength, apiKeys: [KEY] });
}, 30_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  client?.disconnect();
  await emu?.close();
  await redis?.stop();
});

describe('queue workers (cloud model behind the emulator)', () => {
  it('429s pause the whole queue for Retry-After; every chunk is done; no chunk is sent more often than the policy allows', async () => {
    emu.context.faults.throttleFirst = 2;
    const before = httpStats(emu.context).requests;
    await Promise.all([worker(['--concurrency', '2']), worker(['--concurrency', '2'])]);
    const clips = Array.from({ length: 8 }, (_, i) => segment(i * 3000, 1000 + 100 * i));
    const transport = queued({ connection: redis.url, model: MODEL, inputId: 'rl', retry: { attempts: 3, baseMs: 100, maxMs: 4000 } });
    let events: TranscriptEvent[];
    try {
      events = await lastValueFrom(from(clips).pipe(transcribeBatch(transport, { concurrency: 8 }), toArray()));
    } finally {
      await transport.close();
    }
    expect(events.map((e) => e.text)).toEqual(clips.map((c) => `clip of ${(c.samples.length * 1000) / 16000} ms`));
    expect(events.map((e) => e.startMs)).toEqual(clips.map((c) => (c.offset * 1000) / 16000));
    // Eight chunks answered, plus the two throttled requests: nothing else was sent.
    expect(httpStats(emu.context).requests - before).toBe(8 + 2);

    const queue = new Queue(MODEL, { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'earshot' });
    try {
      const jobs = await queue.getJobs(['completed']);
      const ours = jobs.filter((j) => j.id?.startsWith('rl.'));
      expect(ours).toHaveLength(8);
      for (const job of ours) expect(job.attemptsStarted).toBeLessThanOrEqual(3);
      expect(ours.reduce((n, j) => n + j.attemptsStarted, 0)).toBe(8 + 2);
    } finally {
      await queue.close();
    }

    // The queue's event stream (Redis server times): after a throttled job went back to wait, no job of any worker
    // became active before the Retry-After (1 s) was over.
    const stream = (await client.xrange(`earshot:${MODEL}:events`, '-', '+')) as Array<[string, string[]]>;
    const entries = stream.map(([id, fields]) => ({ ms: Number(id.split('-')[0]), ...Object.fromEntries(fields.flatMap((f, i) => (i % 2 ? [] : [[f, fields[i + 1]]]))) })) as Array<{ ms: number; event: string; prev?: string; jobId: string }>;
    const limited = entries.find((e) => e.event === 'waiting' && e.prev === 'active');
    expect(limited, JSON.stringify(entries.slice(0, 40))).toBeDefined();
    const nextActive = entries.find((e) => e.event === 'active' && e.ms >= limited!.ms && entries.indexOf(e) > entries.indexOf(limited!));
    expect(nextActive!.ms - limited!.ms).toBeGreaterThanOrEqual(900);
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  }, 60_000);

  it('a chunk that fails after its retries is named in the file result; the other chunks are kept', async () => {
    emu.context.faults.throttleFirst = 0;
    emu.context.faults.serverErrorFirst = 1;
    await worker(['--concurrency', '1']);
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt'], gapsMs: [700], leadMs: 300 });
    const submitted = await submit(speech.path, { connection: redis.url, model: MODEL, id: 'partial', retry: { attempts: 1 } });
    expect(submitted.chunks).toBe(3);
    for (let i = 0; (await status('partial', { connection: redis.url })).state !== 'done'; i++) {
      expect(i).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 100));
    }
    const file = await result('partial', { connection: redis.url });
    expect(file.chunks).toBe(3);
    expect(file.failures).toEqual([{ chunk: 0, startMs: expect.any(Number), code: 'EARSHOT_SERVER_ERROR', message: expect.any(String) }]);
    expect(file.events).toHaveLength(2);
    expect(file.events.every((e) => e.startMs > file.failures[0]!.startMs)).toBe(true);
    expect(await client.keys('earshot:*:audio:*')).toEqual([]);
  }, 60_000);
});

describe('submit() flow control', () => {
  it('holds its source while maxWaiting chunks wait, so the audio in Redis stays bounded; goes on once a worker takes them', async () => {
    emu.context.faults.serverErrorFirst = 0;
    await Promise.all(workers.splice(0).map((w) => w.kill()));
    const speech = makeSpeech({ sentences: SENTENCES.slice(3, 7), voices: ['rms'], gapsMs: [700], leadMs: 300 });
    let submitted = false;
    const run = submit(speech.path, { connection: redis.url, model: MODEL, id: 'held', maxWaiting: 1 }).then((s) => {
      submitted = true;
      return s;
    });
    const audioKeys = async (): Promise<number> => (await client.keys(`earshot:${MODEL}:audio:held.*`)).length;
    while ((await audioKeys()) < 2) await new Promise((r) => setTimeout(r, 50));
    // No worker: the third chunk must not be queued however long we wait (a bounded look, 1 s).
    await new Promise((r) => setTimeout(r, 1000));
    expect(await audioKeys()).toBe(2);
    expect(submitted).toBe(false);
    await worker(['--concurrency', '1']);
    expect((await run).chunks).toBe(4);
    while ((await status('held', { connection: redis.url })).state !== 'done') await new Promise((r) => setTimeout(r, 100));
    const file = await result('held', { connection: redis.url });
    expect(file.events.map((e) => e.text)).toHaveLength(4);
    expect(await audioKeys()).toBe(0);
  }, 60_000);
});

describe('earshot transcribe --queue', () => {
  for (const mode of ['batch', 'near-realtime'] as const) {
    it(`${mode} mode: the chunks run on the workers, the text comes back in order`, async () => {
      emu.context.faults.serverErrorFirst = 0;
      emu.context.faults.throttleFirst = 0;
      if (workers.length === 0) await worker(['--concurrency', '2']);
      const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt'], gapsMs: [700], leadMs: 300 });
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'transcribe', speech.path, '--queue', redis.url, '--model', MODEL, '--mode', mode, '-q'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const lines = out.stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(line).toMatch(/^clip of \d+ ms$/);
    }, 60_000);
  }
});
