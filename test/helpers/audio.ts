/** Small audio helpers shared by tests. */
import type { AudioChunk } from '../../src/core/types.js';

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
