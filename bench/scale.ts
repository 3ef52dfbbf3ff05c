/**
 * Scale-out benchmark (BullMQ on a real redis-server on loopback):
 *
 * - the same clips through 1 and 2 `earshot worker` processes (one engine thread each), beside the in-process
 *   pool of 1 and 2 in the same run (the scaling this shared machine allows at that moment); same text required;
 * - the queue's own cost per chunk: a 5-second clip through `queued()` to an in-process worker whose transport
 *   answers at once, against calling that transport directly (median and p95 of sequential calls);
 * - Redis memory while a long file is submitted and stitched (`submit()` + a worker whose transport answers in
 *   ~20 ms): peak `used_memory` above the empty server for a 10-minute and a 1-hour file, and the audio bound
 *   (`maxWaiting` × the largest chunk).
 *
 * Run: `npm run bench -- scale`. `EARSHOT_BENCH_QUICK=1` skips the 1-hour file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import type { TranscriptEvent } from '../src/core/types.js';
import { decode } from '../src/operators/decode.js';
import { transcribeBatch } from '../src/operators/transcribe-batch.js';
import { vadChunk } from '../src/operators/vad-chunk.js';
import { result, status, submit } from '../src/queue/submit.js';
import { startWorker } from '../src/queue/worker.js';
import { fromFile } from '../src/sources/file.js';
import { local } from '../src/transports/local.js';
import { queued } from '../src/transports/queued.js';
import type { ChunkJob, Transport } from '../src/transports/transport.js';
import { makeSpeech, SENTENCES, type SpeechFile } from '../test/helpers/speech.js';
import { spawnWorker, startRedis, type RedisServer } from '../test/queue/helpers.js';

type Row = Record<string, string | number>;
const text = (events: TranscriptEvent[]): string => events.map((e) => e.text).join(' ');
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const segmentsOf = (path: string) => fromFile(path).pipe(decode({ sampleRate: 16000, channels: 1 }), vadChunk({ maxChunkMs: 20_000 }));

/** A transport that answers at once (or after `delayMs`) with one short sentence: the queue's cost alone. */
function instant(delayMs = 0): Transport {
  return {
    model: 'local',
    sampleRate: 16000,
    capabilities: { realtime: false, batch: true, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
    async transcribeClip(job: ChunkJob): Promise<TranscriptEvent[]> {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const ms = (job.samples.length * 1000) / job.sampleRate;
      return [{ type: 'final', text: 'the meeting has been moved to next tuesday', startMs: 0, endMs: ms }];
    },
  };
}

async function workersVsOne(redis: RedisServer): Promise<Row[]> {
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 10), voices: ['slt', 'rms'], gapsMs: [700], leadMs: 300 });
  const audioS = +(speech.durationMs / 1000).toFixed(1);
  const rows: Row[] = [];
  let reference = '';
  for (const size of [1, 2]) {
    const engine = local({ size });
    try {
      await engine.transcribeClip({ samples: new Int16Array(16000), sampleRate: 16000, startMs: 0 });
      const t = performance.now();
      const events = await lastValueFrom(segmentsOf(speech.path).pipe(transcribeBatch(engine, { concurrency: 8 }), toArray()));
      const wall = (performance.now() - t) / 1000;
      reference ||= text(events);
      rows.push({ what: `in-process pool of ${size}`, audio_s: audioS, wall_s: +wall.toFixed(2), x_realtime: +(audioS / wall).toFixed(2), same_text: text(events) === reference ? 'yes' : 'NO' });
    } finally {
      await engine.close();
    }
  }
  for (const n of [1, 2]) {
    const workers = await Promise.all(Array.from({ length: n }, () => spawnWorker(['--queue', redis.url, '--concurrency', '1', '-q'])));
    const transport = queued({ connection: redis.url, model: 'local' });
    try {
      // Warm-up: one clip per worker, so each has loaded its model before the clock starts.
      await Promise.all(workers.map((_, i) => transport.transcribeClip({ samples: new Int16Array(16000).fill(i), sampleRate: 16000, startMs: i })));
      const t = performance.now();
      const events = await lastValueFrom(segmentsOf(speech.path).pipe(transcribeBatch(transport, { concurrency: 8 }), toArray()));
      const wall = (performance.now() - t) / 1000;
      rows.push({ what: `queue, ${n} worker process${n > 1 ? 'es' : ''}`, audio_s: audioS, wall_s: +wall.toFixed(2), x_realtime: +(audioS / wall).toFixed(2), same_text: text(events) === reference ? 'yes' : 'NO' });
    } finally {
      await transport.close();
      await Promise.all(workers.map((w) => w.kill()));
    }
  }
  const wall = (what: string): number => Number(rows.find((r) => r.what === what)!.wall_s);
  rows.push({ what: 'speed-up 2 workers / 1 (goal ≥ 1.8)', wall_s: +(wall('queue, 1 worker process') / wall('queue, 2 worker processes')).toFixed(2) });
  rows.push({ what: 'speed-up pool 2 / 1 in-process (machine now)', wall_s: +(wall('in-process pool of 1') / wall('in-process pool of 2')).toFixed(2) });
  return rows;
}

async function costPerChunk(redis: RedisServer): Promise<Row[]> {
  const direct = instant();
  const worker = await startWorker({ connection: redis.url, model: 'local', queue: 'bench-cost', transport: direct, concurrency: 4, stitch: false });
  const transport = queued({ connection: redis.url, model: 'local', queue: 'bench-cost' });
  const samples = new Int16Array(5 * 16000).map((_, i) => ((i * 7919) % 2000) - 1000);
  const N = 300;
  const timeIt = async (fn: (i: number) => Promise<unknown>): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      await fn(i);
      out.push(performance.now() - t);
    }
    return out;
  };
  try {
    await transport.ready();
    const job = (i: number): ChunkJob => ({ samples, sampleRate: 16000, startMs: i * 5000 });
    await timeIt((i) => transport.transcribeClip(job(i + 1_000_000))); // warm-up
    const inProcess = await timeIt((i) => direct.transcribeClip!(job(i)));
    const viaQueue = await timeIt((i) => transport.transcribeClip(job(i)));
    const t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => transport.transcribeClip(job(i + 2_000_000))));
    const parallelS = (performance.now() - t) / 1000;
    return [
      { what: 'in-process call (5 s clip)', median_ms: +pct(inProcess, 0.5).toFixed(3), p95_ms: +pct(inProcess, 0.95).toFixed(3) },
      { what: 'through the queue (5 s clip)', median_ms: +pct(viaQueue, 0.5).toFixed(2), p95_ms: +pct(viaQueue, 0.95).toFixed(2) },
      { what: 'queue cost per chunk (goal ≤ 5 ms median)', median_ms: +(pct(viaQueue, 0.5) - pct(inProcess, 0.5)).toFixed(2) },
      { what: `throughput, ${N} chunks in flight, 1 worker ×4`, median_ms: +((parallelS * 1000) / N).toFixed(2), p95_ms: '-', chunks_per_s: +(N / parallelS).toFixed(0) },
    ];
  } finally {
    await transport.close();
    await worker.close();
  }
}

/** A long file: the 12-sentence recording looped to `minutes`, cached under .tmp/speech. */
function longFile(base: SpeechFile, minutes: number): string {
  const path = base.path.replace(/\.wav$/, `.loop${minutes}m.wav`);
  if (!existsSync(path)) {
    const loops = Math.ceil((minutes * 60_000) / base.durationMs);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-stream_loop', String(loops - 1), '-i', base.path, '-t', String(minutes * 60), '-c', 'copy', '-y', `${path}.tmp.wav`]);
    renameSync(`${path}.tmp.wav`, path);
  }
  return path;
}

async function redisMemory(): Promise<Row[]> {
  const base = makeSpeech({ sentences: SENTENCES, voices: ['slt', 'rms'], gapsMs: [700], leadMs: 300 });
  const rows: Row[] = [];
  const lengths = process.env.EARSHOT_BENCH_QUICK ? [10] : [10, 60];
  for (const minutes of lengths) {
    const redis = await startRedis();
    const client = new Redis(redis.url);
    const worker = await startWorker({ connection: redis.url, model: 'local', transport: instant(20), concurrency: 4 });
    try {
      const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      const empty = await used();
      let peak = empty;
      const sampler = setInterval(() => void used().then((m) => (peak = Math.max(peak, m))), 50);
      const t = performance.now();
      const maxWaiting = 32;
      const submitted = await submit(longFile(base, minutes), { connection: redis.url, id: `long${minutes}`, maxWaiting });
      while ((await status(submitted.id, { connection: redis.url })).state !== 'done') await new Promise((r) => setTimeout(r, 200));
      const file = await result(submitted.id, { connection: redis.url });
      const wall = (performance.now() - t) / 1000;
      clearInterval(sampler);
      const after = await used();
      rows.push({
        file_min: minutes,
        chunks: file.chunks,
        events: file.events.length,
        wall_s: +wall.toFixed(1),
        peak_above_empty_MB: +((peak - empty) / 1e6).toFixed(2),
        audio_bound_MB: +((maxWaiting * 20 * 32_000) / 1e6).toFixed(2),
        left_after_MB: +((after - empty) / 1e6).toFixed(2),
        result_json_MB: +(JSON.stringify(file).length / 1e6).toFixed(2),
      });
    } finally {
      await worker.close();
      client.disconnect();
      await redis.stop();
    }
  }
  return rows;
}

/** `npm run bench -- scale`. */
export async function benchScale(): Promise<Row[]> {
  const redis = await startRedis();
  try {
    const load = `load ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
    const engine = await workersVsOne(redis);
    const cost = await costPerChunk(redis);
    const memory = await redisMemory();
    return [{ what: load }, ...engine, ...cost, ...memory.map((r) => ({ what: `Redis memory, ${r.file_min}-min file`, ...r }))];
  } finally {
    await redis.stop();
  }
}
