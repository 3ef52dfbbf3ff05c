/**
 * A source of PCM already in memory (a TTS result, a decoded buffer, test speech), cold and paced by demand.
 */
import { Observable } from 'rxjs';
import { FlowControl } from '../core/flow.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AudioChunk } from '../core/types.js';

/** Settings of {@link fromPcm}. */
export interface FromPcmOptions {
  /** Sample rate of `samples`, Hz. */
  sampleRate: number;
  /** Interleaved channels in `samples` (default 1). */
  channels?: number;
  /** Audio per chunk, ms (default 100). */
  chunkMs?: number;
  /** Frame of the first sample on the input's time line (default 0). */
  offset?: number;
}

/**
 * Emit `samples` as audio chunks of `chunkMs`, views of the array (no copy), each carrying a {@link FlowControl}:
 * while a stage downstream holds it, no further chunk is emitted, so a slow transport paces the source as it paces
 * a file. Unsubscribing stops it at once.
 *
 * @param samples - interleaved signed 16-bit PCM.
 * @param options - its sample rate and layout, the chunk length and the time line's start.
 * @returns a cold Observable of audio chunks.
 * @throws EARSHOT_INVALID_ARGUMENT (synchronously) for a bad rate, channel count or chunk length, or a sample count
 *   that is not a whole number of frames.
 * @example
 * ```ts
 * import { fromPcm, transcribe, local } from 'earshot';
 * fromPcm(pcm16k, { sampleRate: 16000 }).pipe(transcribe(local())).subscribe((e) => console.log(e.text));
 * ```
 */
export function fromPcm(samples: Int16Array, options: FromPcmOptions): Observable<AudioChunk> {
  const { sampleRate, channels = 1, chunkMs = 100, offset = 0 } = options;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new InvalidArgumentError(`sampleRate must be a positive integer, got ${sampleRate}`);
  if (!Number.isInteger(channels) || channels <= 0) throw new InvalidArgumentError(`channels must be a positive integer, got ${channels}`);
  if (!(chunkMs > 0)) throw new InvalidArgumentError(`chunkMs must be positive, got ${chunkMs}`);
  if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset must be a frame index, got ${offset}`);
  if (samples.length % channels !== 0) throw new InvalidArgumentError(`${samples.length} samples are not a whole number of ${channels}-channel frames`);
  const frames = Math.max(1, Math.round((sampleRate * chunkMs) / 1000));
  return new Observable<AudioChunk>((subscriber) => {
    const flow = new FlowControl();
    let stopped = false;
    void (async () => {
      for (let frame = 0; frame * channels < samples.length; frame += frames) {
        await flow.ready();
        if (stopped) return;
        const end = Math.min(samples.length, (frame + frames) * channels);
        subscriber.next({ kind: 'audio', samples: samples.subarray(frame * channels, end), sampleRate, channels, offset: offset + frame, flow });
      }
      if (!stopped) subscriber.complete();
    })();
    return () => {
      stopped = true;
    };
  });
}
