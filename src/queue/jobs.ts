/**
 * What travels on the queue: the small JSON of a chunk job (audio by reference), its deterministic id, the BullMQ
 * options a {@link RetryPolicy} maps onto, and errors carried across processes as `EARSHOT_CODE: message`.
 *
 * Who retries (THE RULE of `core/retry.ts`): the queue owns a queued chunk. Its `RetryPolicy` becomes BullMQ
 * `attempts` with a custom backoff that calls `retryDelay`; a 429 pauses the whole queue for its `Retry-After`
 * instead. The worker's own transport makes one attempt per job (no retries inside), and the producer reports an
 * exhausted failure as not retryable, so `transcribeBatch` above does not retry it again: a chunk is sent at most
 * `attempts` times end to end. A worker killed mid-job is recovered by BullMQ's stalled-job check, which re-runs
 * the job without spending an attempt (the run that died counts as a send, though: see `sendsOf`).
 */
import type { JobsOptions } from 'bullmq';
import { EarshotError, type ErrorCode } from '../core/errors.js';
import type { RetryPolicy } from '../core/retry.js';
import type { TranscriptEvent } from '../core/types.js';
import type { RecognitionOptions } from '../transports/transport.js';

/** The name of BullMQ's custom backoff that earshot registers on its workers. */
export const BACKOFF_TYPE = 'earshot';

/** The queue that stitches whole files (parents of chunk jobs) and takes their seals. */
export const STITCH_QUEUE = 'stitch';

/** The data of a chunk job: everything but the audio, which is at `audioKey`. */
export interface ChunkJobData {
  /** Model the chunk is for (the queue's model; a worker refuses another). */
  model: string;
  audioKey: string;
  sampleRate: number;
  /** Samples at `audioKey`. */
  samples: number;
  /** Position of the chunk on its input's time line, ms. */
  startMs: number;
  /** Chunk number within a submitted file. */
  index?: number;
  options?: RecognitionOptions;
  retry: RetryPolicy;
}

/** What a chunk job returns: its events, times relative to the chunk's first sample. */
export interface ChunkJobResult {
  startMs: number;
  events: TranscriptEvent[];
}

/**
 * The chunk's queue name for a model: one queue per model, so a cloud model's rate limit is shared by every worker
 * that serves it. (BullMQ queue names cannot contain `:`.)
 *
 * @example
 * queueForModel('qwen3.5-omni-flash'); // 'qwen3.5-omni-flash'
 */
export function queueForModel(model: string): string {
  return model.replace(/:/g, '_');
}

/**
 * A deterministic job id: the input's id and the chunk's place in it, so a chunk queued twice (a producer re-run)
 * is one job, and a chunk run twice (a worker crash) has one result.
 *
 * @example
 * chunkJobId('talk', 3); // 'talk.3'
 */
export function chunkJobId(inputId: string, chunk: number | string): string {
  return `${inputId}.${chunk}`;
}

/**
 * BullMQ options of a chunk job under `policy`. Completed jobs are kept a while (results are read from them) and
 * then removed, so Redis holds a bounded number of them.
 *
 * @example
 * await queue.add('chunk', data, { jobId, ...chunkJobOptions(retryPolicy()) });
 */
export function chunkJobOptions(policy: RetryPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 24 * 3600, count: 10_000 },
  };
}

const LINE = /^(EARSHOT_[A-Z_]+): ([\s\S]*)$/;

/**
 * An error received from the queue (a job's `failedReason`) as a coded, non-retryable error: the queue already
 * spent the attempts, so nothing above retries it.
 *
 * @example
 * queueFailure('EARSHOT_THROTTLED: slow down', 'talk.3', 3).code; // 'EARSHOT_THROTTLED'
 */
export function queueFailure(reason: string | undefined, jobId: string, attempts: number): EarshotError {
  const m = LINE.exec(reason ?? '');
  const code = (m?.[1] as ErrorCode | undefined) ?? 'EARSHOT_WORKER_CRASHED';
  const message = m?.[2] ?? `queued job ${jobId} failed: ${reason ?? 'no reason given'}`;
  return new EarshotError(code, message, { retryable: false, details: { jobId, attempts } });
}
