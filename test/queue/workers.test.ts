/**
 * The queue with the embedded engine: a real redis-server, real `earshot worker` processes. A recording through two
 * workers gives what one process gives; a worker SIGKILLed while it holds jobs loses nothing and duplicates nothing;
 * a worker sent SIGTERM finishes what it holds and takes nothing more.
 *
 * The recording is ~15 s of flite speech in 4 chunks rather than 3 minutes: the engine runs at about 2× real time
 * on this loaded 2-core machine, and each assertion here needs only several chunks in flight.
 */
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { fromFile } from '../../src/sources/file.js';
import { local } from '../../src/transports/local.js';
import { queued } from '../../src/transports/queued.js';
import { result, status } from '../../src/queue/submit.js';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, type SpeechFile } from '../helpers/speech.js';
import { CLI, comparable, spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './helpers.js';

built('src/cli/main.js');

let redis: RedisServer;
let client: Redis;
let speech: SpeechFile;
let segments: AudioSegment[];
let reference: TranscriptEvent[];
const workers: WorkerProcess[] = [];
const FAST_RECOVERY = ['--lock-duration', '2s', '--stalled-interval', '1s'];

const audio = () => fromFile(speech.path).pipe(decode({ sampleRate: 16000, channels: 1 }), vadChunk({ maxChunkMs: 20_000 }));

async function worker(args: string[]): Promise<WorkerProcess> {
  const w = await spawnWorker(['--queue', redis.url, ...args]);
  workers.push(w);
  return w;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 75_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${workers.map((w) => w.log).join('\n---\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  speech = makeSpeech({ sentences: SENTENCES.slice(0, 4), voices: ['slt', 'rms'], gapsMs: [700], leadMs: 300 });
  segments = await lastValueFrom(audio().pipe(toArray()));
  const engine = local({ size: 2 });
  try {
    reference = await lastValueFrom(audio().pipe(transcribeBatch(engine), toArray()));
  } finally {
    await engine.close();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  client?.disconnect();
  await redis?.stop();
});

describe('queue workers (local engine)', () => {
  it('two worker processes give the same text and event times as the in-process run, and free the audio', async () => {
    expect(segments.length).toBeGreaterThanOrEqual(4);
    // A 2 s lock, shorter than a chunk's decode here: only a lock renewed while the engine works keeps each job on
    // its first run (a lapsed one would be taken as stalled and started again).
    const [a, b] = await Promise.all([worker(['--concurrency', '1', ...FAST_RECOVERY]), worker(['--concurrency', '1', ...FAST_RECOVERY])]);
    const transport = queued({ connection: redis.url, model: 'local', inputId: 'two' });
    try {
      const events = await lastValueFrom(audio().pipe(transcribeBatch(transport, { concurrency: 8 }), toArray()));
      expect(comparable(events)).toEqual(comparable(reference));
    } finally {
      await transport.close();
    }
    const queue = new Queue('local', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'earshot' });
    try {
      const jobs = (await queue.getJobs(['completed'])).filter((j) => j.id?.startsWith('two.'));
      expect(jobs).toHaveLength(segments.length);
      for (const job of jobs) expect(job.attemptsStarted).toBe(1);
    } finally {
      await queue.close();
    }
    // Both took a share of the chunks.
    expect(a!.log.match(/done in/g)?.length ?? 0).toBeGreaterThan(0);
    expect(b!.log.match(/done in/g)?.length ?? 0).toBeGreaterThan(0);
    await until(async () => ((await client.keys('earshot:local:audio:*')).length === 0 ? true : undefined), 'audio keys deleted', 5000);
    await Promise.all([a!.kill(), b!.kill()]);
  }, 90_000);

  it('a worker SIGKILLed while it holds jobs: every chunk exactly once in the submitted file, same text', async () => {
    const queue = new Queue('local', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'earshot' });
    try {
      const doomed = await worker(['--concurrency', '2', ...FAST_RECOVERY]);
      const sub = await cli(['submit', speech.path, '--queue', redis.url, '--id', 'killed']);
      expect(sub).toMatchObject({ code: 0, stdout: 'killed\n' });
      await until(async () => ((await queue.getActiveCount()) >= 2 ? true : undefined), 'the worker to hold two jobs');
      expect(await doomed.kill('SIGKILL')).toBe('SIGKILL');
      const held = await queue.getActiveCount();
      expect(held).toBeGreaterThan(0);
      const rescuer = await worker(['--concurrency', '2', ...FAST_RECOVERY]);
      const pending = await cli(['result', 'killed', '--queue', redis.url]);
      expect(pending.code).toBe(1);
      expect(pending.stderr).toMatch(/^EARSHOT_RESULT_PENDING: /);
      await until(async () => ((await status('killed', { connection: redis.url })).state === 'done' ? true : undefined), 'the stitched result');
      const out = await cli(['result', 'killed', '--queue', redis.url]);
      expect(out.code).toBe(0);
      const file = await result('killed', { connection: redis.url });
      expect(file.failures).toEqual([]);
      expect(file.chunks).toBe(segments.length);
      expect(comparable(file.events)).toEqual(comparable(reference));
      expect(out.stdout.trim().split('\n')).toEqual(reference.map((e) => e.text));
      await rescuer.kill();
    } finally {
      await queue.close();
    }
  }, 90_000);

  it('SIGTERM: the worker finishes the job it holds, takes no more, and exits 0', async () => {
    const queue = new Queue('local', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'earshot' });
    const transport = queued({ connection: redis.url, model: 'local', inputId: 'term' });
    try {
      const w = await worker(['--concurrency', '1']);
      const three = segments.slice(0, 3);
      const settled: string[] = [];
      const replies = three.map((s, i) =>
        transport.transcribeClip({ samples: s.samples, sampleRate: 16000, startMs: (s.offset * 1000) / 16000 }).then((events) => {
          settled.push(String(i));
          return events;
        }),
      );
      await until(async () => ((await queue.getActiveCount()) === 1 ? true : undefined), 'the worker to take a job');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(w.log).toMatch(/stopping/);
      expect(w.log.match(/done in/g)).toHaveLength(1);
      expect(await queue.getActiveCount()).toBe(0);
      expect(await queue.getWaitingCount()).toBe(2);
      await until(async () => (settled.length === 1 ? true : undefined), 'the finished job to reach the producer', 5000);
      // Another worker takes the rest.
      await worker(['--concurrency', '1']);
      const results = await Promise.all(replies);
      expect(results.map((events) => events.map((e) => e.text).join(' '))).toEqual(
        three.map((s) => reference.filter((e) => e.startMs >= (s.offset * 1000) / 16000 && e.startMs < ((s.offset + s.samples.length) * 1000) / 16000).map((e) => e.text).join(' ')),
      );
    } finally {
      await transport.close();
      await queue.close();
    }
  }, 90_000);
});
