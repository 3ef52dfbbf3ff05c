/**
 * `startWorker()`: a process's share of the queue. It takes chunk jobs of one model, runs them on its own transport
 * (the engine pool off the main thread, or a cloud model with its own key), and stitches whole files whose chunks are
 * all done. BullMQ renews each job's lock while the engine works (the main thread stays free for it).
 */
import { availableParallelism } from 'node:os';
import type { Job, Worker } from 'bullmq';
import { EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { NO_RETRY, retryDelay } from '../core/retry.js';
import { shiftEvent, type TranscriptEvent } from '../core/types.js';
import { createTransport, type CreateTransportOptions } from '../transports/catalog.js';
import type { Transport } from '../transports/transport.js';
import { deleteAudio, getAudio } from './audio-store.js';
import { openQueueLink, type QueueConnection, type QueueLink, type QueueLinkOptions } from './connection.js';
import { BACKOFF_TYPE, queueFailure, queueForModel, STITCH_QUEUE, type ChunkJobData, type ChunkJobResult } from './jobs.js';

/** BullMQ's queue-wide rate limit: at most `max` jobs started per `duration` ms across every worker of the queue. */
export interface QueueLimiter {
  max: number;
  duration: number;
}

/** Options of {@link startWorker}. */
export interface StartWorkerOptions extends QueueLinkOptions {
  /** Redis URL or parts. */
  connection: QueueConnection;
  /** Model whose chunks this worker runs (default `local`). */
  model?: string;
  /** Queue name (default: the model's queue). */
  queue?: string;
  /** Jobs run at once (default: the cores for `local`, 4 for a cloud model). `local` gets an engine pool this size. */
  concurrency?: number;
  /** A ready transport for `model` instead of making one (the worker does not close it). */
  transport?: Transport;
  /** Options for `createTransport` (key, base URL, `env`); the worker gives cloud transports `retry: NO_RETRY` (the queue retries). */
  transportOptions?: CreateTransportOptions;
  /** Queue-wide rate limit (default `{ max: 20, duration: 1000 }` for cloud models, none for `local`); `false`: none. */
  limiter?: QueueLimiter | false;
  /** How long a job's lock lasts without renewal, ms (default 30000): a dead worker's jobs come back after it. */
  lockDurationMs?: number;
  /** How often stalled jobs (a dead worker's) are looked for, ms (default 30000). */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a dead worker before it fails (default 2). */
  maxStalledCount?: number;
  /** Also stitch submitted files (default true). */
  stitch?: boolean;
  /** Each job done or failed, for logs. */
  onJob?(report: { id: string; ok: boolean; ms: number; error?: EarshotError }): void;
}

/** A running worker. */
export interface WorkerHandle {
  readonly model: string;
  readonly queue: string;
  /** Jobs this worker completed. */
  readonly completed: number;
  /** Resolves when the worker stopped after `close()`; rejects with EARSHOT_QUEUE_UNAVAILABLE if Redis was lost. */
  readonly done: Promise<void>;
  /** Take no more jobs, finish the ones held, release everything. Safe to call twice. */
  close(): Promise<void>;
}

/** An attempt's error on its way through BullMQ: the message is `CODE: message`, the error itself rides along. */
class AttemptError extends Error {
  constructor(readonly earshot: EarshotError) {
    super(earshot.toLine());
    this.name = 'AttemptError';
  }
}

/**
 * Start a worker: chunk jobs of `model` from Redis, run on this process's transport, results back to Redis.
 *
 * Each job is one attempt on the transport; a retryable failure goes back to BullMQ for another attempt after the
 * policy's backoff (`retryDelay`), a 429 pauses the whole queue for its `Retry-After` (`worker.rateLimit`) and puts
 * the job back, and a failure that is final (not retryable, or the policy's sends are spent) fails the job at once
 * with its code. A chunk's audio key is deleted when the job completes or fails for good.
 *
 * @param options - see {@link StartWorkerOptions}.
 * @throws EARSHOT_QUEUE_UNAVAILABLE (Redis unreachable, packages missing), EARSHOT_UNKNOWN_MODEL,
 *   EARSHOT_MISSING_API_KEY, EARSHOT_INVALID_ARGUMENT.
 * @example
 * ```ts
 * const worker = await startWorker({ connection: 'redis://127.0.0.1:6379', model: 'local', concurrency: 2 });
 * process.once('SIGTERM', () => void worker.close());
 * await worker.done;
 * ```
 */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const model = options.model ?? 'local';
  const queueName = options.queue ?? queueForModel(model);
  const cloud = model !== 'local';
  const concurrency = options.concurrency ?? (cloud ? 4 : availableParallelism());
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  const limiter = options.limiter === undefined ? (cloud ? { max: 20, duration: 1000 } : undefined) : options.limiter || undefined;
  if (limiter && !(limiter.max >= 1 && limiter.duration > 0)) throw new InvalidArgumentError('limiter needs max ≥ 1 and duration > 0');
  if (options.lockDurationMs !== undefined && !(options.lockDurationMs >= 1000)) throw new InvalidArgumentError('lockDurationMs must be ≥ 1000');

  const link = await openQueueLink(options.connection, options);
  let transport = options.transport;
  const ownTransport = !transport;
  try {
    transport ??= createTransport(model, { ...options.transportOptions, retry: NO_RETRY, local: { size: concurrency, ...options.transportOptions?.local } });
  } catch (err) {
    await link.close();
    throw err;
  }
  if (!transport.transcribeClip) {
    await link.close();
    throw new InvalidArgumentError(`model ${model} cannot transcribe clips (realtime only); a queue worker needs a batch model`);
  }
  const clip = transport.transcribeClip.bind(transport);
  const { Worker, UnrecoverableError } = link.bullmq;
  const common = {
    connection: link.bullConnection,
    prefix: link.prefix,
    ...(options.lockDurationMs !== undefined ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs !== undefined ? { stalledInterval: options.stalledIntervalMs } : {}),
    maxStalledCount: options.maxStalledCount ?? 2,
  };

  let completed = 0;
  let worker: Worker<ChunkJobData, ChunkJobResult> | undefined;
  const processChunk = async (job: Job<ChunkJobData, ChunkJobResult>, _token?: string, signal?: AbortSignal): Promise<ChunkJobResult> => {
    const data = job.data;
    const started = performance.now();
    try {
      if (data.model !== model) throw new EarshotError('EARSHOT_INVALID_ARGUMENT', `job ${job.id} is for model ${data.model}, this worker runs ${model}`);
      const samples = await getAudio(link.redis, data.audioKey);
      const events = await clip({ samples, sampleRate: data.sampleRate, startMs: data.startMs, ...(data.options ? { options: data.options } : {}) }, signal ? { signal } : {});
      options.onJob?.({ id: job.id!, ok: true, ms: performance.now() - started });
      return { startMs: data.startMs, events };
    } catch (err) {
      const e = toEarshotError(err, 'EARSHOT_REQUEST_FAILED');
      // Every start of the job is a send, a stalled run that died included: never more than the policy allows.
      const final = !e.retryable || job.attemptsStarted >= data.retry.attempts;
      options.onJob?.({ id: job.id!, ok: false, ms: performance.now() - started, error: e });
      if (final) {
        await deleteAudio(link.redis, data.audioKey);
        throw new UnrecoverableError(e.toLine());
      }
      if (e.code === 'EARSHOT_THROTTLED' && limiter && worker) {
        // The service's limit is the account's: hold the whole queue, every worker, for the Retry-After.
        await worker.rateLimit(Math.min(data.retry.maxMs, e.retryAfterMs ?? data.retry.baseMs));
        throw Worker.RateLimitError();
      }
      throw new AttemptError(e);
    }
  };

  worker = link.adopt(
    new Worker<ChunkJobData, ChunkJobResult>(queueName, processChunk, {
      ...common,
      concurrency,
      ...(limiter ? { limiter } : {}),
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error, job?: { data: unknown }) => {
          const data = job?.data as ChunkJobData | undefined;
          if (type !== BACKOFF_TYPE || !data) return 0;
          return retryDelay(data.retry, attemptsMade, err instanceof AttemptError ? err.earshot : err) ?? 0;
        },
      },
    }),
  );
  worker.on('completed', (job) => {
    completed++;
    // A delete Redis refuses now is left to the key's TTL.
    void deleteAudio(link.redis, job.data.audioKey).catch(() => {});
  });

  const stitcher = options.stitch === false ? undefined : link.adopt(new Worker(STITCH_QUEUE, (job: Job) => stitch(link, job), { ...common, concurrency: 1 }));

  let closing: Promise<void> | undefined;
  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => {});
  const shutdown = (force: boolean): Promise<void> => {
    closing ??= (async () => {
      if (force) await Promise.all([worker!.close(true), stitcher?.close(true)]);
      else await link.closeAll([worker, stitcher]);
      if (ownTransport) await transport!.close?.();
      await link.close();
    })();
    return closing;
  };
  link.onLost((err) => {
    void shutdown(true).finally(() => settle.reject(err));
  });
  await Promise.all([worker.waitUntilReady(), stitcher?.waitUntilReady()]);

  return {
    model,
    queue: queueName,
    get completed() {
      return completed;
    },
    done,
    async close() {
      await shutdown(false);
      if (link.lostError) settle.reject(link.lostError);
      else settle.resolve();
    },
  };
}

/** One chunk that failed for good, as a file's result reports it. */
export interface ChunkFailure {
  /** Chunk number within the file. */
  chunk: number;
  /** Where the chunk starts on the file's time line, ms. */
  startMs: number;
  code: string;
  message: string;
}

/** The stitched result of a submitted file. */
export interface FileResult {
  id: string;
  model: string;
  /** Chunks the file was cut into. */
  chunks: number;
  /** Events of every chunk that succeeded, in audio order, on the file's time line. */
  events: TranscriptEvent[];
  /** Chunks that failed after their retries (the others are kept). */
  failures: ChunkFailure[];
}

/** The data of a stitch (parent) job. */
export interface StitchJobData {
  id: string;
  model: string;
}

/** A stitch job: gather its children's results in chunk order; a seal (the "all chunks queued" marker) returns null. */
async function stitch(link: QueueLink, job: Job): Promise<FileResult | null> {
  if (job.name === 'seal') return null;
  const { id, model } = job.data as StitchJobData;
  const [values, failed] = await Promise.all([job.getChildrenValues<ChunkJobResult | null>(), job.getIgnoredChildrenFailures()]);
  const indexOf = (key: string): number => Number(key.slice(key.lastIndexOf('.') + 1));
  const done = Object.entries(values)
    .filter((entry): entry is [string, ChunkJobResult] => entry[1] !== null && !entry[0].endsWith('.seal'))
    .map(([key, value]) => ({ index: indexOf(key), ...value }))
    .sort((a, b) => a.index - b.index);
  const failures: ChunkFailure[] = [];
  for (const [key, reason] of Object.entries(failed)) {
    const data = await link.redis.hget(key, 'data');
    const startMs = data ? (JSON.parse(data) as ChunkJobData).startMs : NaN;
    const e = queueFailure(reason, key, 0);
    failures.push({ chunk: indexOf(key), startMs, code: e.code, message: e.message });
  }
  failures.sort((a, b) => a.chunk - b.chunk);
  return { id, model, chunks: done.length + failures.length, events: done.flatMap((c) => c.events.map((e) => shiftEvent(e, c.startMs))), failures };
}
