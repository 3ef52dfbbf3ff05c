/**
 * Streaming sample-rate conversion of interleaved s16 audio with the Speex resampler (WASM).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { EngineError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { frameCount, frameToMs, type AudioChunk } from '../core/types.js';
import { BoundedQueue, queueLimits, type QueueLimits } from '../core/backpressure.js';
import { loadSpeex, speexLoaded, SpeexResampler } from '../media/speex.js';

/**
 * Options of {@link resample}. The queue bounds (shared vocabulary, README "Backpressure") apply only while the WASM
 * module loads on first use (~10 ms; `await loadSpeex()` first to make them moot).
 */
export interface ResampleOptions extends Pick<QueueLimits, 'maxQueuedMs' | 'overflow' | 'onDrop'> {
  /**
   * Speex quality 0–10 (default 4): 4 keeps > 85 dB of aliasing rejection for a tone past the new Nyquist
   * at about 1.3× the speed of quality 5 (which keeps > 120 dB).
   */
  quality?: number;
}

const MAX_RATE = 1_000_000;

/**
 * Convert audio chunks to `rate` Hz, streaming and stateful.
 *
 * Output frame `k` sits at input time `k / rate`: the filter delay is removed, the tail is flushed when the source
 * completes, and the total is exactly `ceil(inputFrames * rate / inputRate)` frames, so chunked output equals
 * one-shot output sample for sample. Offsets are rescaled to the new time line (`offset * rate / inputRate`,
 * exact whenever that is an integer). Any channel count is kept as is (interleaved). Chunks already at `rate` pass
 * through untouched. A jump in offsets, or a change of rate or channel count, flushes the state and starts anew.
 * `flow` is passed on. On a source error the audio already received is flushed before the error is forwarded unchanged (the same object).
 * Teardown frees the WASM state.
 *
 * Chunks that arrive while the WASM module loads wait in a bounded queue: a cold source is held meanwhile; a hot one
 * may queue `maxQueuedMs` (default 60 000) before `overflow` applies (`'error'`: EARSHOT_LIMIT_EXCEEDED; a drop policy
 * drops chunks, counted through `onDrop`, and the gap they leave restarts the conversion at the next chunk's offset).
 *
 * @param rate - the output sample rate in Hz (integer, 1..1000000).
 * @param options - `quality` (0–10, default 4) and the load-time queue bounds.
 * @returns an operator from AudioChunk to AudioChunk at `rate`.
 * @throws EARSHOT_INVALID_ARGUMENT (synchronously) for a bad rate, quality or bound; at run time
 *   EARSHOT_INVALID_ARGUMENT for a chunk with a bad sample rate or channel count, EARSHOT_LIMIT_EXCEEDED as above.
 * @example
 * ```ts
 * import { fromFile, decode, resample } from 'earshot';
 * fromFile('talk.wav').pipe(decode({ sampleRate: 48000 }), resample(16000)).subscribe((c) => console.log(c.offset));
 * ```
 */
export function resample(rate: number, options: ResampleOptions = {}): OperatorFunction<AudioChunk, AudioChunk> {
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE) throw new InvalidArgumentError(`resample: rate must be an integer in 1..${MAX_RATE}`, { details: { rate } });
  const quality = options.quality ?? 4;
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) throw new InvalidArgumentError('resample: quality must be an integer in 0..10', { details: { quality } });
  // A cold source is held as soon as anything waits (high and low water 0): nothing is read ahead of the load.
  const limits = queueLimits({ ...options, highWaterMs: 0 }, { highWaterMs: 0, maxQueuedMs: 60_000 }, 'resample()');

  return (source) =>
    new Observable<AudioChunk>((subscriber) => {
      let state: SpeexResampler | undefined;
      let outBase = 0; // output offset of the first frame of the current run
      let nextIn = 0; // input offset expected next in the current run
      let lastFlow: AudioChunk['flow'];
      let ready = speexLoaded();
      let closed = false;
      // Chunks that arrived before the WASM module was loaded (the flow of cold sources is held meanwhile), and how
      // the source ended if it did meanwhile.
      const pending = new BoundedQueue<AudioChunk>(limits, 'resample() while its WASM module loads');
      let ended: { err: unknown } | 'complete' | undefined;

      const endRun = (): void => {
        if (!state) return;
        const tail = state.flush();
        const chunk = emitChunk(tail, state.channels);
        state.destroy();
        state = undefined;
        if (chunk) subscriber.next(chunk);
      };
      let emitted = 0; // frames emitted in the current run
      const emitChunk = (samples: Int16Array, channels: number): AudioChunk | undefined => {
        if (samples.length === 0) return undefined;
        const chunk: AudioChunk = { kind: 'audio', samples, sampleRate: rate, channels, offset: outBase + emitted, ...(lastFlow ? { flow: lastFlow } : {}) };
        emitted += samples.length / channels;
        return chunk;
      };

      const handle = (chunk: AudioChunk): void => {
        const { sampleRate, channels } = chunk;
        if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > MAX_RATE || !Number.isInteger(channels) || channels < 1 || chunk.samples.length % channels !== 0) {
          throw new InvalidArgumentError('resample: chunk has a bad sample rate or channel count', { details: { sampleRate, channels } });
        }
        lastFlow = chunk.flow;
        if (sampleRate === rate) {
          endRun();
          subscriber.next(chunk);
          return;
        }
        const frames = chunk.samples.length / channels;
        if (frames === 0) return;
        if (state && (state.inRate !== sampleRate || state.channels !== channels || chunk.offset !== nextIn)) endRun();
        if (!state) {
          state = new SpeexResampler(channels, sampleRate, rate, quality);
          outBase = Math.round((chunk.offset * rate) / sampleRate);
          emitted = 0;
        }
        nextIn = chunk.offset + frames;
        const out = emitChunk(state.process(chunk.samples), channels);
        if (out) subscriber.next(out);
      };
      /** End with an error: its own (coded), or the source's passed on as it is (`upstream`), after flushing. */
      const fail = (err: unknown, upstream = false): void => {
        try {
          endRun();
        } catch {
          // the original error is what matters
        }
        subscriber.error(upstream ? err : toEarshotError(err, 'EARSHOT_DECODE_FAILED'));
      };
      const drain = (): void => {
        try {
          while (!closed && pending.length > 0) handle(pending.shift()!);
          pending.clear();
          if (closed || !ended) return;
          if (ended === 'complete') {
            endRun();
            subscriber.complete();
          } else fail(ended.err, true);
        } catch (err) {
          fail(err);
        }
      };

      if (!ready) {
        loadSpeex().then(
          () => {
            ready = true;
            drain();
          },
          (err: unknown) => {
            if (!closed) subscriber.error(new EngineError('EARSHOT_ENGINE_UNAVAILABLE', 'cannot load the WASM resampler', { cause: err }));
          },
        );
      }

      const sub = source.subscribe({
        next: (chunk) => {
          if (!ready) {
            try {
              // A chunk with a bad layout counts nothing here; handle() rejects it once the module is loaded.
              const ms = chunk.channels >= 1 && chunk.sampleRate >= 1 ? frameToMs(frameCount(chunk), chunk.sampleRate) : 0;
              pending.push(chunk, ms, chunk.flow);
            } catch (err) {
              fail(err);
            }
            return;
          }
          try {
            handle(chunk);
          } catch (err) {
            fail(err);
          }
        },
        error: (err: unknown) => {
          if (!ready) ended = { err };
          else fail(err, true);
        },
        complete: () => {
          if (!ready) {
            ended = 'complete';
            return;
          }
          try {
            endRun();
            subscriber.complete();
          } catch (err) {
            fail(err);
          }
        },
      });

      return () => {
        closed = true;
        sub.unsubscribe();
        pending.clear();
        state?.destroy();
        state = undefined;
      };
    });
}
