/** Shared by the near-realtime tests: read test WAVs, cut them into chunks, and fake batch transports. */
import { readFileSync } from 'node:fs';
import type { SchedulerLike } from 'rxjs';
import { AbortError } from '../../src/core/errors.js';
import type { FlowControl } from '../../src/core/flow.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import type { Capabilities, ChunkJob, Transport } from '../../src/transports/transport.js';

/** Samples of a 16-bit mono WAV with a 44-byte header (what test/helpers/speech.ts writes). */
export function readWav(path: string): Int16Array {
  const buf = readFileSync(path);
  return new Int16Array(buf.buffer.slice(buf.byteOffset + 44, buf.byteOffset + buf.length));
}

/** Cut samples into chunks of `size` frames starting at `offset`. */
export function toChunks(samples: Int16Array, size: number, options: { offset?: number; rate?: number; flow?: FlowControl } = {}): AudioChunk[] {
  const out: AudioChunk[] = [];
  const offset = options.offset ?? 0;
  for (let i = 0; i < samples.length; i += size) {
    out.push({ kind: 'audio', samples: samples.subarray(i, i + size), sampleRate: options.rate ?? 16000, channels: 1, offset: offset + i, ...(options.flow ? { flow: options.flow } : {}) });
  }
  return out;
}

export const BATCH_CAPS: Capabilities = {
  realtime: false,
  batch: true,
  wordTimes: false,
  emotion: false,
  diarization: false,
  hotwords: false,
  context: false,
  maxDurationMs: Infinity,
  languages: ['en'],
};

export interface FakeCall {
  job: ChunkJob;
  signal: AbortSignal;
  resolve(events?: TranscriptEvent[]): void;
  reject(err: unknown): void;
}

/** A transport whose replies the test settles by hand (or by `auto`, on a scheduler after `delayMs(job)`). */
export function manualTransport(auto?: { scheduler: SchedulerLike; delayMs(job: ChunkJob, attempt: number): number; fail?(job: ChunkJob, attempt: number): unknown }): Transport & { calls: FakeCall[]; open(): number } {
  const calls: FakeCall[] = [];
  const attempts = new Map<number, number>();
  return {
    model: 'fake-batch',
    capabilities: BATCH_CAPS,
    sampleRate: 16000,
    calls,
    open: () => calls.filter((c) => !c.signal.aborted && !(c as { settled?: boolean }).settled).length,
    transcribeClip(job, options) {
      return new Promise<TranscriptEvent[]>((resolve, reject) => {
        const ms = (job.samples.length * 1000) / job.sampleRate;
        const call: FakeCall & { settled?: boolean } = {
          job,
          signal: options!.signal!,
          resolve: (events = [{ type: 'final', text: `clip@${job.startMs}`, startMs: 0, endMs: ms }]) => {
            call.settled = true;
            resolve(events);
          },
          reject: (err) => {
            call.settled = true;
            reject(err);
          },
        };
        calls.push(call);
        options?.signal?.addEventListener('abort', () => reject(new AbortError('aborted')));
        if (auto) {
          const n = (attempts.get(job.startMs) ?? 0) + 1;
          attempts.set(job.startMs, n);
          auto.scheduler.schedule(() => {
            const err = auto.fail?.(job, n);
            if (err) call.reject(err);
            else call.resolve();
          }, auto.delayMs(job, n));
        }
      });
    },
  };
}
