/** Small audio helpers shared by tests. */
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import type { Transport } from '../../src/transports/transport.js';
import type { FlowControl } from '../../src/core/flow.js';

/** Concatenate the samples of chunks in order (one allocation). */
export function joinSamples(chunks: readonly Pick<AudioChunk, 'samples'>[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c.samples, at);
    at += c.samples.length;
  }
  return out;
}

/** `pcm` (mono 16 kHz) as 100 ms audio chunks, the first at frame `base`, each carrying `flow` when given. */
export function pcmChunks(pcm: Int16Array, base = 0, flow?: FlowControl): AudioChunk[] {
  const out: AudioChunk[] = [];
  for (let i = 0; i < pcm.length; i += 1600) {
    out.push({ kind: 'audio', samples: pcm.subarray(i, Math.min(pcm.length, i + 1600)), sampleRate: 16000, channels: 1, offset: base + i, ...(flow ? { flow } : {}) });
  }
  return out;
}

/** Stream `samples` (16 kHz) through one live session of `transport` in writes of `chunk` frames; every event. */
export async function streamThrough(transport: Transport, samples: Int16Array, chunk = 1600): Promise<TranscriptEvent[]> {
  const events: TranscriptEvent[] = [];
  let failure: Error | undefined;
  const session = await transport.openStream!({ sampleRate: 16000, onEvent: (e) => events.push(e), onError: (e) => (failure = e) });
  for (let i = 0; i < samples.length; i += chunk) await session.write(samples.subarray(i, i + chunk));
  await session.end();
  if (failure) throw failure;
  return events;
}
