/**
 * Redis failures are explicit: unreachable at start → EARSHOT_QUEUE_UNAVAILABLE within seconds (library and CLI);
 * stopped mid-run → the producer and the worker end with EARSHOT_QUEUE_UNAVAILABLE after the bounded reconnect
 * time, never a hang; restarted empty within that time → the producer queues its pending clips again and every clip
 * comes back once. A Redis that may evict keys is refused at connect.
 */
import { spawn } from 'node:child_process';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { EarshotError } from '../../src/core/errors.js';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { openQueueLink } from '../../src/queue/connection.js';
import { queued } from '../../src/transports/queued.js';
import { built, ROOT } from '../helpers/dist.js';
import { CLI, freePort, spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './helpers.js';

built('src/cli/main.js');

const KEY = 'sk-queue-test-000000';
const MODEL = 'qwen3.5-omni-flash';
const cleanup: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function segment(offsetMs: number, ms: number): AudioSegment {
  const samples = new Int16Array((ms * 16000) / 1000).map((_, i) => ((i * 7919) % 200) - 100);
  return { kind: 'audio', samples, sampleRate: 16000, channels: 1, offset: (offsetMs * 16000) / 1000, cut: 'pause' };
}

describe('queue failures', () => {
  it('Redis unreachable at start: EARSHOT_QUEUE_UNAVAILABLE within seconds, from the library and the CLI worker', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const transport = queued({ connection: url, model: 'local', connectTimeoutMs: 2000 });
    const t0 = performance.now();
    const err = (await transport.ready().catch((e: unknown) => e)) as EarshotError;
    expect(err.code).toBe('EARSHOT_QUEUE_UNAVAILABLE');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(performance.now() - t0).toBeLessThan(10_000);
    await expect(transport.transcribeClip({ samples: new Int16Array(160), sampleRate: 16000, startMs: 0 })).rejects.toMatchObject({ code: 'EARSHOT_QUEUE_UNAVAILABLE' });
    await transport.close();

    const t1 = performance.now();
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'worker', '--queue', url], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^EARSHOT_QUEUE_UNAVAILABLE: Redis at 127\.0\.0\.1:\d+ did not answer within 5000 ms/);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(performance.now() - t1).toBeLessThan(15_000);
  }, 30_000);

  it('a Redis that may evict keys is refused at connect', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    admin.disconnect();
    await expect(openQueueLink(redis.url)).rejects.toMatchObject({ code: 'EARSHOT_QUEUE_UNAVAILABLE', message: expect.stringContaining('maxmemory-policy allkeys-lru') });
  });

  it('Redis stopped mid-run: the producer and the worker end with EARSHOT_QUEUE_UNAVAILABLE after the bounded reconnect time', async () => {
    const redis: RedisServer = await startRedis();
    cleanup.push(() => redis.stop());
    // Slow replies, so chunks are in flight when Redis goes away.
    const emu: Emulator = await startEmulator({ script: [{ text: 'slow reply' }], apiKeys: [KEY], faults: { resultDelayMs: 1500 } });
    cleanup.push(() => emu.close());
    const w: WorkerProcess = await spawnWorker(['--queue', redis.url, '--model', MODEL, '--concurrency', '2', '--reconnect-timeout', '2s'], { DASHSCOPE_API_KEY: KEY, DASHSCOPE_BASE_URL: emu.url });
    cleanup.push(() => w.kill('SIGKILL'));
    const transport = queued({ connection: redis.url, model: MODEL, reconnectTimeoutMs: 2000 });
    cleanup.push(() => transport.close());
    const clips = Array.from({ length: 6 }, (_, i) => segment(i * 2000, 1000));
    const run = lastValueFrom(from(clips).pipe(transcribeBatch(transport, { concurrency: 6 }), toArray())).then(
      (events: TranscriptEvent[]) => ({ events }),
      (error: EarshotError) => ({ error }),
    );
    await w.waitFor(/done in/);
    const stoppedAt = performance.now();
    await redis.stop();
    const outcome = await run;
    expect('error' in outcome && outcome.error.code).toBe('EARSHOT_QUEUE_UNAVAILABLE');
    expect(performance.now() - stoppedAt).toBeLessThan(20_000);
    expect(await w.exited).toBe(1);
    expect(w.log).toMatch(/EARSHOT_QUEUE_UNAVAILABLE: Redis at 127\.0\.0\.1:\d+ was unreachable for more than 2000 ms/);
  }, 60_000);

  it('Redis restarted empty within the reconnect time: the producer queues its pending clips again, each result once', async () => {
    let redis: RedisServer = await startRedis();
    cleanup.push(() => redis.stop());
    const emu: Emulator = await startEmulator({ script: [{ text: 'a reply' }], apiKeys: [KEY], faults: { resultDelayMs: 1000 } });
    cleanup.push(() => emu.close());
    const w: WorkerProcess = await spawnWorker(['--queue', redis.url, '--model', MODEL, '--concurrency', '2', '--reconnect-timeout', '30s'], { DASHSCOPE_API_KEY: KEY, DASHSCOPE_BASE_URL: emu.url });
    cleanup.push(() => w.kill('SIGKILL'));
    const transport = queued({ connection: redis.url, model: MODEL, reconnectTimeoutMs: 30_000 });
    cleanup.push(() => transport.close());
    const clips = Array.from({ length: 6 }, (_, i) => segment(i * 2000, 1000));
    const run = lastValueFrom(from(clips).pipe(transcribeBatch(transport, { concurrency: 6 }), toArray()));
    await w.waitFor(/done in/);
    await redis.stop();
    redis = await startRedis(redis.port);
    const events = await run;
    expect(events.map((e) => e.startMs)).toEqual(clips.map((c) => (c.offset * 1000) / 16000));
    expect(events.every((e) => e.text === 'a reply')).toBe(true);
  }, 60_000);
});
