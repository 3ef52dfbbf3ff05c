/**
 * `splitChannels()`: one mono audio stream per input channel, so each side of a stereo call (or each microphone of a
 * multitrack recording) is transcribed on its own and overlapping speech stays apart.
 */
import { Observable, Subject, type OperatorFunction } from 'rxjs';
import type { AudioChunk } from '../core/types.js';

/** One channel of the input as its own mono stream. */
export interface ChannelTrack {
  /** 0-based channel index (0 = left of a stereo file). */
  readonly channel: number;
  /** The channel's audio: mono chunks on the input's time line (same offsets and rate). */
  readonly audio: Observable<AudioChunk>;
}

/**
 * Split interleaved audio into one mono stream per channel.
 *
 * The tracks are emitted when the first chunk tells the channel count; subscribe to each track's `audio` at once
 * (as `mergeMap` does): it is hot and does not replay. The tracks end, or fail, with the input.
 *
 * @returns An operator from audio chunks to {@link ChannelTrack}s.
 * @example
 * ```ts
 * import { map, mergeMap } from 'rxjs';
 * fromFile('call.wav').pipe(
 *   decode({ sampleRate: 16000, channels: 2 }),
 *   splitChannels(),
 *   mergeMap((t) => t.audio.pipe(transcribe(local()), map((e) => ({ ...e, channel: t.channel })))),
 * );
 * ```
 */
export function splitChannels(): OperatorFunction<AudioChunk, ChannelTrack> {
  return (source) =>
    new Observable<ChannelTrack>((subscriber) => {
      let sides: Subject<AudioChunk>[] | undefined;
      const sub = source.subscribe({
        next(chunk) {
          if (!sides) {
            sides = Array.from({ length: chunk.channels }, () => new Subject<AudioChunk>());
            sides.forEach((s, channel) => subscriber.next({ channel, audio: s.asObservable() }));
          }
          const frames = Math.floor(chunk.samples.length / chunk.channels);
          sides.forEach((side, channel) => {
            const samples = new Int16Array(frames);
            for (let f = 0; f < frames; f++) samples[f] = chunk.samples[f * chunk.channels + Math.min(channel, chunk.channels - 1)]!;
            side.next({ kind: 'audio', samples, sampleRate: chunk.sampleRate, channels: 1, offset: chunk.offset, ...(chunk.flow ? { flow: chunk.flow } : {}) });
          });
        },
        error(err: unknown) {
          sides?.forEach((s) => s.error(err));
          subscriber.error(err);
        },
        complete() {
          sides?.forEach((s) => s.complete());
          subscriber.complete();
        },
      });
      return () => sub.unsubscribe();
    });
}
