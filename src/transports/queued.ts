/**
 * `queued()`: a {@link Transport} whose clips run on worker processes (any machine) through a BullMQ queue on Redis.
 * Every clip pipeline scales by swapping the transport: `vadChunk()` + `transcribeBatch(queued(...))`, or
 * `nearRealtime()` likewise.
 */
import { randomUUID } from 'node:crypto';
import type { QueueEvents, Queue } from 'bullmq';
import { AbortError, EarshotError, InvalidArgumentError } from '../core/errors.js';
import { retryPolicy, type RetryPolicy } from '../core/retry.js';
import type { TranscriptEvent } from '../core/types.js';
import { audioKey, deleteAudio, putAudio, AUDIO_TTL_MS } from '../queue/audio-store.js';
import { openQueueLink, type QueueConnection, type QueueLink, type QueueLinkOptions } from '../queue/connection.js';
import { chunkJobId, chunkJobOptions, queueFailure, queueForModel, type ChunkJobData, type ChunkJobResult } from '../queue/jobs.js';
import { modelInfo } from './catalog.js';
import { assertCapabilities, cancelCostOf, type Capabilities, type ChunkJob, type ClipCallOptions, type RecognitionOptions, type Transport } from './transport.js';

/** Options of {@link queued}. */
export interface QueuedOptions extends QueueLinkOptions {
  /** Redis URL (`redis://HOST:PORT`) or parts. */
  connection: QueueConnection;
  /** The model the workers run (`local`, or a batch cloud model such as `qwen3.5-omni-flash`). */
  model: string;
  /** Queue name (default: the model's queue, the one `earshot worker --model` serves). */
  queue?: string;
  /** Id of this input, the first half of each job id (default a random UUID). Reuse it to resume an input. */
  inputId?: string;
  /** Attempts and backoff of each clip, owned by the queue (default 3 attempts, 500 ms doubling to 8 s). */
  retry?: Partial<RetryPolicy>;
  /** Lifetime of a clip's audio key if no worker takes it, ms (default a day). */
  audioTtlMs?: number;
  /** Recognition options for every clip (checked against the model now). */
  options?: RecognitionOptions;
}

/** The queued transport: clips only, plus a way to check the queue is reachable before sending. */
export interface QueuedTransport extends Transport {
  /** Resolves once Redis is connected and checked; rejects with EARSHOT_QUEUE_UNAVAILABLE. */
  ready(): Promise<void>;
  transcribeClip(job: ChunkJob, options?: ClipCallOptions): Promise<TranscriptEvent[]>;
  close(): Promise<void>;
}

interface Parts {
  link: QueueLink;
  queue: Queue;
  events: QueueEvents;
}

/**
 * A transport that puts each clip on the model's BullMQ queue and resolves with that job's events.
 *
 * The clip's samples go to a binary Redis key (not the job's JSON); its job id is `inputId` + the clip's position and
 * length, so the same clip queued twice is one job and a clip re-run after a worker crash has one result. The queue
 * owns the clip's attempts (see `src/queue/jobs.ts`): a failure that reaches the caller is final and not retryable,
 * so `transcribeBatch` does not retry it again. Redis unreachable at start, or lost for longer than
 * `reconnectTimeoutMs` while clips wait, fails them with EARSHOT_QUEUE_UNAVAILABLE.
 *
 * A clip abandoned through its `signal` is removed from the queue if no worker has taken it: that costs nothing, so
 * the transport's `cancelCost` is `'until-started'` (`'free'` when the model's own is, e.g. `local`), and a clip a
 * worker had already started on a billed model is reported through `onBilled` (see {@link ClipCallOptions}).
 *
 * @param options - connection, model, queue, input id, retry policy, timeouts.
 * @throws EARSHOT_UNKNOWN_MODEL, EARSHOT_CAPABILITY_MISSING, EARSHOT_INVALID_ARGUMENT (a realtime-only model) now;
 *   from `transcribeClip`: EARSHOT_QUEUE_UNAVAILABLE, the worker's code for a failed clip, EARSHOT_ABORTED.
 * @example
 * ```ts
 * const transport = queued({ connection: 'redis://10.0.0.5:6379', model: 'local' });
 * fromFile('talk.wav').pipe(decode({ sampleRate: 16000, channels: 1 }), vadChunk(), transcribeBatch(transport, { concurrency: 16 }))
 *   .subscribe({ next: (e) => console.log(e.text), complete: () => void transport.close() });
 * ```
 */
export function queued(options: QueuedOptions): QueuedTransport {
  const { model } = options;
  const info = modelInfo(model);
  if (!info.capabilities.batch) throw new InvalidArgumentError(`model ${model} is realtime only; a queue carries clips of batch models`);
  // A job removed while it waits costs nothing; once a worker took it, what the model's own cancel costs.
  const modelCancelCost = cancelCostOf(info.capabilities);
  const cancelCost = modelCancelCost === 'free' ? 'free' : 'until-started';
  const capabilities: Capabilities = Object.freeze({ ...info.capabilities, realtime: false, offline: false, cancelCost });
  assertCapabilities({ model, capabilities }, options.options);
  const policy = retryPolicy(options.retry);
  const queueName = options.queue ?? queueForModel(model);
  const inputId = options.inputId ?? randomUUID();
  if (inputId.includes(':')) throw new InvalidArgumentError(`an input id cannot contain ":", got "${inputId}"`);
  const ttlMs = options.audioTtlMs ?? AUDIO_TTL_MS;

  let closed = false;
  /** Clips queued and not settled, kept so that a Redis that comes back empty (a restart) gets them again. */
  const pending = new Map<string, { data: ChunkJobData; samples: Int16Array }>();
  const requeue = async (queue: Queue, link: QueueLink): Promise<void> => {
    for (const [jobId, clip] of pending) {
      try {
        if ((await queue.getJobState(jobId)) !== 'unknown') continue;
        await putAudio(link.redis, clip.data.audioKey, clip.samples, ttlMs);
        await queue.add('chunk', clip.data, { jobId, ...chunkJobOptions(policy) });
      } catch {
        return; // Down again: the next recovery tries again, and a loss that lasts is the link's coded error.
      }
    }
  };
  const parts: Promise<Parts> = (async () => {
    const link = await openQueueLink(options.connection, options);
    const connection = { connection: link.bullConnection, prefix: link.prefix };
    const queue = link.adopt(new link.bullmq.Queue(queueName, connection));
    const events = link.adopt(new link.bullmq.QueueEvents(queueName, connection));
    // One listener per clip in flight (bounded by the caller's concurrency, not by these emitters).
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    // Redis lost for good: stop BullMQ's loops at once (waiting clips fail with the link's error).
    link.onLost(() => void link.closeAll([queue, events]));
    link.onRecovered(() => void requeue(queue, link));
    return { link, queue, events };
  })();
  parts.catch(() => {});

  /** Settle with the first of: the job's outcome, the link lost, the caller's abort. */
  const outcome = (p: Parts, wait: Promise<ChunkJobResult>, signal: AbortSignal | undefined): Promise<ChunkJobResult> =>
    new Promise<ChunkJobResult>((resolve, reject) => {
      const unlisten = p.link.onLost(reject);
      const onAbort = (): void => reject(new AbortError(signal?.reason));
      if (signal?.aborted) onAbort(); // abandoned while it was being queued
      signal?.addEventListener('abort', onAbort, { once: true });
      wait.then(resolve, reject).finally(() => {
        unlisten();
        signal?.removeEventListener('abort', onAbort);
      });
    });

  /**
   * Remove an abandoned job. True when a worker had started on it (it is running, or ran: BullMQ keeps a running
   * job locked, so `remove` refuses it) or when that cannot be told (Redis gone): then the model may bill it.
   */
  const withdraw = async (p: Parts, jobId: string): Promise<boolean> => {
    try {
      const job = await p.queue.getJob(jobId);
      const removed = await p.queue.remove(jobId);
      return removed === 0 || job?.processedOn !== undefined;
    } catch {
      return true;
    }
  };

  const transport: QueuedTransport = {
    model,
    capabilities,
    sampleRate: 16000,

    async ready() {
      await parts;
    },

    async transcribeClip(job, callOptions = {}) {
      const { signal, onBilled } = callOptions;
      if (closed) throw new InvalidArgumentError('this queued transport is closed');
      assertCapabilities(transport, job.options);
      if (signal?.aborted) throw new AbortError(signal.reason);
      if (job.samples.length === 0) return [];
      const p = await parts;
      if (p.link.lostError) throw p.link.lostError;
      const start = Math.round((job.startMs * job.sampleRate) / 1000);
      const jobId = chunkJobId(inputId, `${start}+${job.samples.length}`);
      const key = audioKey(p.link.prefix, queueName, jobId);
      const recognition = job.options ?? options.options;
      const data: ChunkJobData = { model, audioKey: key, sampleRate: job.sampleRate, samples: job.samples.length, startMs: job.startMs, retry: policy, ...(recognition ? { options: recognition } : {}) };
      let wait: Promise<ChunkJobResult>;
      pending.set(jobId, { data, samples: job.samples });
      try {
        await putAudio(p.link.redis, key, job.samples, ttlMs);
        const added = await p.queue.add('chunk', data, { jobId, ...chunkJobOptions(policy) });
        wait = added.waitUntilFinished(p.events) as Promise<ChunkJobResult>;
      } catch (err) {
        pending.delete(jobId);
        throw p.link.failure(err);
      }
      try {
        const result = await outcome(p, wait, signal);
        return result.events;
      } catch (err) {
        wait.catch(() => {});
        if (err instanceof EarshotError) {
          if (err instanceof AbortError) {
            // Nobody wants it any more: drop it if no worker took it yet (a job already running cannot be removed,
            // and its audio key is deleted when it completes; the TTL covers the rest).
            const started = await withdraw(p, jobId);
            await deleteAudio(p.link.redis, key).catch(() => {});
            if (started && cancelCost !== 'free') onBilled?.();
          }
          throw err;
        }
        throw queueFailure(err instanceof Error ? err.message : String(err), jobId, policy.attempts);
      } finally {
        pending.delete(jobId);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      const p = await parts.catch(() => undefined);
      if (!p) return;
      await p.link.closeAll([p.queue, p.events]);
      await p.link.close();
    },
  };
  return transport;
}
