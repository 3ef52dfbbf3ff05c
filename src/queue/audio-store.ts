/**
 * Audio out of JSON: BullMQ keeps job data as JSON, where PCM would become an array of numbers (~5× larger). A chunk's
 * samples go into a binary Redis key of their own, with a TTL, referenced from the (small) job data, and are deleted
 * once the job is done. The TTL is only the backstop for a producer or worker that died.
 */
import type { Redis as RedisClient } from 'ioredis';
import { EarshotError } from '../core/errors.js';

/** Default lifetime of an audio key: a day, longer than any queue wait worth keeping audio for. */
export const AUDIO_TTL_MS = 24 * 3600_000;

/**
 * The key holding a job's audio: next to the queue's own keys (same prefix, so the same Redis Cluster slot when the
 * prefix is hash-tagged).
 *
 * @example
 * audioKey('earshot', 'local', 'talk.3'); // 'earshot:local:audio:talk.3'
 */
export function audioKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:audio:${jobId}`;
}

/**
 * Store mono s16le samples under `key` (little-endian bytes, one copy) for `ttlMs`.
 *
 * @example
 * await putAudio(link.redis, key, samples);
 */
export async function putAudio(redis: RedisClient, key: string, samples: Int16Array, ttlMs: number = AUDIO_TTL_MS): Promise<void> {
  await redis.set(key, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), 'PX', Math.max(1, Math.round(ttlMs)));
}

/**
 * Read the samples stored under `key`.
 *
 * @throws EARSHOT_RESULT_EXPIRED (not retryable) when the key is gone: its TTL ran out or the job was already done.
 * @example
 * const samples = await getAudio(link.redis, key);
 */
export async function getAudio(redis: RedisClient, key: string): Promise<Int16Array> {
  const bytes = await redis.getBuffer(key);
  if (!bytes) throw new EarshotError('EARSHOT_RESULT_EXPIRED', `the audio of queued job ${key} is gone (its TTL ran out before a worker took it)`, { details: { key } });
  // Copy into an aligned buffer: a Buffer from the socket may start at an odd offset.
  const samples = new Int16Array(bytes.length >> 1);
  new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.byteLength));
  return samples;
}

/**
 * Delete the audio of a finished job.
 *
 * @example
 * await deleteAudio(link.redis, key);
 */
export async function deleteAudio(redis: RedisClient, key: string): Promise<void> {
  await redis.del(key);
}
