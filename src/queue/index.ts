/**
 * `earshot/queue`: scale-out over BullMQ on Redis. The `queued()` transport (clips on worker processes), workers
 * (`startWorker`), whole files as jobs (`submit`, `status`, `result`). Needs the optional packages `bullmq` and
 * `ioredis`; the rest of earshot works without them.
 *
 * @example
 * ```ts
 * import { queued, startWorker, submit, result } from 'earshot/queue';
 * ```
 */
export { queued, type QueuedOptions, type QueuedTransport } from '../transports/queued.js';
export { startWorker, type StartWorkerOptions, type WorkerHandle, type QueueLimiter, type FileResult, type ChunkFailure } from './worker.js';
export { submit, status, result, type SubmitOptions, type Submitted, type SubmitStatus, type LookupOptions } from './submit.js';
export { openQueueLink, redisOptions, type QueueConnection, type QueueConnectionOptions, type QueueLinkOptions, type QueueLink } from './connection.js';
export { queueForModel, chunkJobId } from './jobs.js';
