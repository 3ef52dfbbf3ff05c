/**
 * Whole files as jobs: `submit()` decodes a file, cuts it at pauses and queues the chunks as a BullMQ flow whose
 * parent (on the stitch queue) stitches them once all are done; `status()` and `result()` read it back by id.
 *
 * The parent waits for a "seal" child that is only released once every chunk is queued, so a file whose first
 * chunks finish before the last are cut is not stitched early. The submitter holds its source (FlowControl) while
 * more than `maxWaiting` of its chunks are queued and not done, so a 12-hour file never lands in Redis at once.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Job, Queue } from 'bullmq';
import type { Observable } from 'rxjs';
import { EarshotError, InputError, InvalidArgumentError } from '../core/errors.js';
import { retryPolicy, type RetryPolicy } from '../core/retry.js';
import { frameToMs, type AudioChunk, type AudioSegment } from '../core/types.js';
import { decode } from '../operators/decode.js';
import { vadChunk } from '../operators/vad-chunk.js';
import { fromFile } from '../sources/file.js';
import { fromReadable } from '../sources/readable.js';
import { modelInfo } from '../transports/catalog.js';
import { assertCapabilities, type RecognitionOptions } from '../transports/transport.js';
import { AUDIO_TTL_MS, audioKey, putAudio } from './audio-store.js';
import { openQueueLink, type QueueConnection, type QueueLink, type QueueLinkOptions } from './connection.js';
import { chunkJobId, chunkJobOptions, queueForModel, STITCH_QUEUE, type ChunkJobData } from './jobs.js';
import type { FileResult, StitchJobData } from './worker.js';

/** How long a seal waits for its submitter to finish queueing before it is released anyway: a week. */
const SEAL_DELAY_MS = 7 * 24 * 3600_000;

/** Options of {@link submit}. */
export interface SubmitOptions extends QueueLinkOptions {
  connection: QueueConnection;
  /** Model the workers run (default `local`). */
  model?: string;
  /** The file's id (default a random UUID); submitting again with the same id queues nothing twice. */
  id?: string;
  /** Attempts and backoff of each chunk, owned by the queue (default 3 attempts, 500 ms doubling to 8 s). */
  retry?: Partial<RetryPolicy>;
  /** Recognition options for every chunk (checked against the model now). */
  options?: RecognitionOptions;
  /** Longest chunk, ms (default 20000, or the model's limit if lower). */
  maxChunkMs?: number;
  /** Chunks of this file queued and not yet done before reading pauses (default 32). Bounds the audio in Redis. */
  maxWaiting?: number;
  /** Lifetime of a chunk's audio key if no worker takes it, ms (default a day). */
  audioTtlMs?: number;
}

/** What {@link submit} returns once every chunk is queued. */
export interface Submitted {
  id: string;
  model: string;
  chunks: number;
  /** Audio length, ms. */
  durationMs: number;
}

/**
 * Queue a whole file (a path, an http(s) URL, or decoded 16 kHz mono audio) for the workers of `model`.
 *
 * @param input - a file path, an `http://`/`https://` URL, or an Observable of 16 kHz mono audio chunks.
 * @param options - connection, model, id, retry policy, chunking and flow control.
 * @returns once every chunk is queued (not transcribed): the id to ask {@link status} and {@link result} with.
 * @throws EARSHOT_QUEUE_UNAVAILABLE, EARSHOT_UNKNOWN_MODEL, EARSHOT_CAPABILITY_MISSING, EARSHOT_INVALID_ARGUMENT,
 *   the decoder's codes (EARSHOT_FILE_NOT_FOUND, EARSHOT_DECODE_FAILED, …), EARSHOT_REQUEST_FAILED for a URL that
 *   cannot be fetched.
 * @example
 * ```ts
 * const { id } = await submit('meeting.m4a', { connection: 'redis://10.0.0.5:6379' });
 * // later, anywhere:
 * const done = await result(id, { connection: 'redis://10.0.0.5:6379' });
 * ```
 */
export async function submit(input: string | Observable<AudioChunk>, options: SubmitOptions): Promise<Submitted> {
  const model = options.model ?? 'local';
  const info = modelInfo(model);
  if (!info.capabilities.batch) throw new InvalidArgumentError(`model ${model} is realtime only; a queue carries clips of batch models`);
  assertCapabilities({ model, capabilities: info.capabilities }, options.options);
  const policy = retryPolicy(options.retry);
  const id = options.id ?? randomUUID();
  if (id.includes(':') || id.length === 0) throw new InvalidArgumentError(`a file id is a non-empty name without ":", got "${id}"`);
  const maxWaiting = options.maxWaiting ?? 32;
  if (!Number.isInteger(maxWaiting) || maxWaiting < 1) throw new InvalidArgumentError(`maxWaiting must be an integer ≥ 1, got ${maxWaiting}`);
  const maxChunkMs = Math.min(options.maxChunkMs ?? 20_000, info.capabilities.maxDurationMs);
  const audio = typeof input === 'string' ? await audioOf(input) : input;

  const link = await openQueueLink(options.connection, options);
  const queueName = queueForModel(model);
  const connection = { connection: link.bullConnection, prefix: link.prefix };
  const queue = link.adopt(new link.bullmq.Queue(queueName, connection));
  const stitchQueue = link.adopt(new link.bullmq.Queue(STITCH_QUEUE, connection));
  const events = link.adopt(new link.bullmq.QueueEvents(queueName, connection));
  const flows = link.adopt(new link.bullmq.FlowProducer(connection));
  try {
    await events.waitUntilReady();
    await flows.add({
      name: 'stitch',
      queueName: STITCH_QUEUE,
      data: { id, model } satisfies StitchJobData,
      opts: { jobId: id },
      children: [{ name: 'seal', queueName: STITCH_QUEUE, data: {}, opts: { jobId: chunkJobId(id, 'seal'), delay: SEAL_DELAY_MS } }],
    });

    // Flow control: chunks of this file queued and not yet finished.
    let outstanding = 0;
    let wake: (() => void) | undefined;
    const finished = (args: { jobId: string }): void => {
      if (!args.jobId.startsWith(`${id}.`)) return;
      outstanding--;
      if (outstanding <= maxWaiting) wake?.();
    };
    events.on('completed', finished);
    events.on('failed', finished);
    const parent = { id, queue: `${link.prefix}:${STITCH_QUEUE}` };
    const chunkOptions = { ...chunkJobOptions(policy), removeOnComplete: true, ignoreDependencyOnFailure: true };

    let chunks = 0;
    let durationMs = 0;
    const add = async (segment: AudioSegment): Promise<void> => {
      const index = chunks++;
      const jobId = chunkJobId(id, index);
      const key = audioKey(link.prefix, queueName, jobId);
      const startMs = frameToMs(segment.offset, segment.sampleRate);
      const data: ChunkJobData = { model, audioKey: key, sampleRate: segment.sampleRate, samples: segment.samples.length, startMs, index, retry: policy, ...(options.options ? { options: options.options } : {}) };
      outstanding++;
      try {
        await putAudio(link.redis, key, segment.samples, options.audioTtlMs ?? AUDIO_TTL_MS);
        await queue.add('chunk', data, { jobId, parent, ...chunkOptions });
      } catch (err) {
        throw link.failure(err);
      }
      while (outstanding > maxWaiting) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), lostOf(link)]);
        wake = undefined;
      }
    };

    await new Promise<void>((resolve, reject) => {
      let chain = Promise.resolve();
      let failed = false;
      const sub = audio.pipe(vadChunk({ maxChunkMs })).subscribe({
        next: (segment) => {
          durationMs = Math.max(durationMs, frameToMs(segment.offset + segment.samples.length, segment.sampleRate));
          if (segment.sampleRate !== 16000 || segment.channels !== 1) {
            fail(new EarshotError('EARSHOT_UNSUPPORTED_FORMAT', `submit() needs 16 kHz mono audio, got ${segment.channels} ch at ${segment.sampleRate} Hz`));
            return;
          }
          const release = segment.flow?.hold();
          chain = chain.then(() => add(segment)).finally(() => release?.());
          chain.catch(fail);
        },
        error: fail,
        complete: () => void chain.then(resolve, fail),
      });
      function fail(err: unknown): void {
        if (failed) return;
        failed = true;
        sub?.unsubscribe();
        reject(err);
      }
    });

    // Every chunk is queued: release the seal, so the parent stitches once the chunks are done.
    const seal = await stitchQueue.getJob(chunkJobId(id, 'seal'));
    if (seal && (await seal.isDelayed())) await seal.promote();
    return { id, model, chunks, durationMs };
  } catch (err) {
    throw link.failure(err);
  } finally {
    await link.closeAll([queue, stitchQueue, events, flows]);
    await link.close();
  }
}

/** Rejects when the link is lost (for waits that must not outlive Redis). */
function lostOf(link: QueueLink): Promise<never> {
  return new Promise<never>((_, reject) => link.onLost(reject));
}

/** A path or URL as decoded 16 kHz mono audio. */
async function audioOf(input: string): Promise<Observable<AudioChunk>> {
  if (!/^https?:\/\//i.test(input)) return fromFile(input).pipe(decode({ sampleRate: 16000, channels: 1 }));
  let res: Response;
  try {
    res = await fetch(input);
  } catch (err) {
    throw new EarshotError('EARSHOT_REQUEST_FAILED', `cannot fetch ${new URL(input).origin}: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok || !res.body) throw new InputError('EARSHOT_FILE_NOT_FOUND', `fetching the input gave HTTP ${res.status}`, { statusCode: res.status });
  return fromReadable(Readable.fromWeb(res.body as never)).pipe(decode({ sampleRate: 16000, channels: 1 }));
}

/** Progress of a submitted file. */
export interface SubmitStatus {
  id: string;
  /** `queueing`: chunks still being cut; `transcribing`; `stitching`; `done`; `failed` (the stitch itself failed). */
  state: 'queueing' | 'transcribing' | 'stitching' | 'done' | 'failed';
  /** Chunks done (successfully or not), and still to do. */
  done: number;
  pending: number;
  /** Chunks that failed after their retries. */
  failed: number;
}

/** Options of {@link status} and {@link result}. */
export interface LookupOptions extends QueueLinkOptions {
  connection: QueueConnection;
}

async function withParent<T>(id: string, options: LookupOptions, fn: (job: Job, queue: Queue) => Promise<T>): Promise<T> {
  const link = await openQueueLink(options.connection, options);
  const queue = link.adopt(new link.bullmq.Queue(STITCH_QUEUE, { connection: link.bullConnection, prefix: link.prefix }));
  try {
    const job = await queue.getJob(id);
    if (!job) throw new InvalidArgumentError(`no submitted file with id ${id} on this queue (wrong id, or its result expired)`, { details: { id } });
    return await fn(job, queue);
  } catch (err) {
    throw link.failure(err);
  } finally {
    await link.closeAll([queue]);
    await link.close();
  }
}

/**
 * Progress of a submitted file.
 *
 * @throws EARSHOT_INVALID_ARGUMENT for an unknown id; EARSHOT_QUEUE_UNAVAILABLE.
 * @example
 * const s = await status(id, { connection: 'redis://10.0.0.5:6379' }); // { state: 'transcribing', done: 12, pending: 30, failed: 0 }
 */
export async function status(id: string, options: LookupOptions): Promise<SubmitStatus> {
  return withParent(id, options, async (job, queue) => {
    const [state, counts, seal] = await Promise.all([job.getState(), job.getDependenciesCount(), queue.getJob(chunkJobId(id, 'seal'))]);
    // The seal is one of the dependencies but not a chunk: processed once completed, unprocessed before.
    const sealState = seal ? await seal.getState() : 'completed';
    const sealed = sealState !== 'delayed';
    const sealProcessed = sealState === 'completed' ? 1 : 0;
    const failed = counts.ignored ?? 0;
    const done = Math.max(0, (counts.processed ?? 0) - sealProcessed) + failed;
    const pending = Math.max(0, (counts.unprocessed ?? 0) - (1 - sealProcessed));
    const s: SubmitStatus['state'] = state === 'completed' ? 'done' : state === 'failed' ? 'failed' : state === 'waiting-children' ? (sealed ? 'transcribing' : 'queueing') : 'stitching';
    return { id, state: s, done, pending, failed };
  });
}

/**
 * The stitched result of a submitted file: events of every chunk in audio order on the file's time line, and the
 * chunks that failed after their retries (named, with their code), the others kept.
 *
 * @throws EARSHOT_RESULT_PENDING while the file is not done (not an error of the file: ask again later);
 *   EARSHOT_TASK_FAILED when stitching failed; EARSHOT_INVALID_ARGUMENT for an unknown id; EARSHOT_QUEUE_UNAVAILABLE.
 * @example
 * const { events, failures } = await result(id, { connection: 'redis://10.0.0.5:6379' });
 */
export async function result(id: string, options: LookupOptions): Promise<FileResult> {
  return withParent(id, options, async (job) => {
    const state = await job.getState();
    if (state === 'completed') return job.returnvalue as FileResult;
    if (state === 'failed') throw new EarshotError('EARSHOT_TASK_FAILED', `stitching file ${id} failed: ${job.failedReason}`, { details: { id } });
    throw new EarshotError('EARSHOT_RESULT_PENDING', `file ${id} is not done yet (${state})`, { retryable: true, details: { id, state } });
  });
}
