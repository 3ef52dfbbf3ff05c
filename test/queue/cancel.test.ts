/**
 * What cancelling a queued clip costs, against a real redis-server: a job removed while it waits was never run
 * (`cancelCost: 'until-started'`, nothing billed), a job a worker already holds runs on and is reported billed.
 */
import { Redis } from 'ioredis';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { Provisional, type WindowSegment } from '../../src/operators/near-realtime.js';
import { transcribeBatch, type SpeculationStats } from '../../src/operators/transcribe-batch.js';
import { startWorker } from '../../src/queue/worker.js';
import { queued } from '../../src/transports/queued.js';
import type { ChunkJob, Transport } from '../../src/transports/transport.js';
import { startRedis, type RedisServer } from './helpers.js';

/** A batch cloud model whose cancelled requests are billed (`cancelCost` defaults to `'billed'`). */
const BILLED = 'qwen3.5-omni-flash';
const samples = new Int16Array(16000).map((_, i) => (i * 7919) % 2000);

let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** Poll until `probe` gives a value (the queue's state changes on its own clock). */
async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Keys of one queue that hold a job's audio. */
const audioKeys = (queue: string): Promise<string[]> => client.keys(`earshot:${queue}:audio:*`);

describe('queued(): the cost of a cancelled clip', () => {
  it("declares 'until-started' for a billed or until-started model and 'free' for the embedded engine", async () => {
    const transports = ['local', BILLED, 'fun-asr'].map((model) => queued({ connection: redis.url, model, queue: `caps-${model}` }));
    try {
      expect(transports.map((t) => t.capabilities.cancelCost)).toEqual(['free', 'until-started', 'until-started']);
    } finally {
      await Promise.all(transports.map((t) => t.close()));
    }
  });

  it('a clip abandoned while it waits is removed with its audio and not billed', async () => {
    const transport = queued({ connection: redis.url, model: BILLED, queue: 'waiting', inputId: 'w' });
    try {
      await transport.ready();
      const controller = new AbortController();
      let billed = 0;
      const reply = transport.transcribeClip({ samples, sampleRate: 16000, startMs: 0 }, { signal: controller.signal, onBilled: () => billed++ });
      const jobId = 'w.0+16000';
      await until(async () => ((await client.exists(`earshot:waiting:${jobId}`)) ? true : undefined), 'the job to be queued');
      expect(await audioKeys('waiting')).toHaveLength(1);
      controller.abort();
      await expect(reply).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
      expect(billed).toBe(0);
      expect(await client.exists(`earshot:waiting:${jobId}`)).toBe(0);
      expect(await audioKeys('waiting')).toEqual([]);
    } finally {
      await transport.close();
    }
  });

  it('a clip a worker already holds is reported billed; the worker finishes it', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const model: Transport = {
      model: BILLED,
      sampleRate: 16000,
      capabilities: { realtime: false, batch: true, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
      async transcribeClip(job: ChunkJob): Promise<TranscriptEvent[]> {
        started();
        await released;
        return [{ type: 'final', text: 'hello', startMs: 0, endMs: (job.samples.length * 1000) / job.sampleRate }];
      },
    };
    const worker = await startWorker({ connection: redis.url, model: BILLED, queue: 'held', transport: model, concurrency: 1, stitch: false, limiter: false });
    const transport = queued({ connection: redis.url, model: BILLED, queue: 'held', inputId: 'h' });
    try {
      const controller = new AbortController();
      let billed = 0;
      const reply = transport.transcribeClip({ samples, sampleRate: 16000, startMs: 0 }, { signal: controller.signal, onBilled: () => billed++ });
      await running;
      controller.abort();
      await expect(reply).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
      expect(billed).toBe(1);
      release();
      await until(async () => (worker.completed === 1 ? true : undefined), 'the worker to finish the held job');
    } finally {
      release();
      await transport.close();
      await worker.close();
    }
  });

  it('transcribeBatch speculates on it by default and counts a window revoked while queued as wasted, not billed', async () => {
    const transport = queued({ connection: redis.url, model: BILLED, queue: 'speculative', inputId: 's' });
    const windows = new Subject<AudioSegment>();
    let stats: SpeculationStats | undefined;
    const events: TranscriptEvent[] = [];
    try {
      await transport.ready();
      const done = new Promise<void>((resolve, reject) =>
        windows.pipe(transcribeBatch(transport, { onSpeculation: (s) => (stats = s) })).subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
      );
      const provisional = new Provisional();
      const window: WindowSegment = { kind: 'audio', samples, sampleRate: 16000, channels: 1, offset: 0, cut: 'pause', provisional };
      windows.next(window);
      await until(async () => ((await client.exists('earshot:speculative:s.0+16000')) ? true : undefined), 'the speculative request to be queued');
      provisional.settle(false);
      windows.complete();
      await done;
      expect(stats).toMatchObject({ speculative: 1, cancelled: 1, cancelledAudioMs: 1000, billed: 0, billedAudioMs: 0 });
      expect(events).toEqual([]);
      await until(async () => ((await client.exists('earshot:speculative:s.0+16000')) ? undefined : true), 'the revoked job to be removed');
    } finally {
      await transport.close();
    }
  });
});
