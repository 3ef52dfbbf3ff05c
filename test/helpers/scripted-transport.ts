/**
 * A scripted realtime transport for tests on virtual time: a recogniser that reads its "speech" from the sample
 * values (non-zero = speech, the value names the word), so a session that hears replayed audio recognises exactly
 * what the lost one would have, at the same input times. Failures, open delays and open errors are scripted.
 */
import type { SchedulerLike } from 'rxjs';
import { EarshotError, TransportError } from '../../src/core/errors.js';
import { sleep } from '../../src/core/retry.js';
import type { StreamSession, Transport } from '../../src/transports/transport.js';

/** What a scripted session did. */
export interface ScriptedSession {
  /** Virtual (scheduler) time it opened at. */
  openedAt: number;
  /** Every sample it was sent, in order. */
  samples: number[];
  /** Virtual time it failed or closed at. */
  endedAt?: number;
}

/** The script. */
export interface ScriptedTransportOptions {
  scheduler: SchedulerLike;
  /** Longest session (capabilities.maxDurationMs); default Infinity. */
  maxDurationMs?: number;
  /** Session `n` (0-based) fails once it has heard this many frames (undefined: never). */
  dropAfterFrames?: (session: number) => number | undefined;
  /** Open attempt `n` (0-based, every attempt) fails with this error (undefined: it opens). */
  openError?: (attempt: number) => EarshotError | undefined;
  /** Virtual ms an open takes (default 50). */
  openDelayMs?: number;
  /** A partial every this many ms of speech (default 200). */
  partialMs?: number;
}

/** A scripted transport and what happened on it. */
export interface Scripted {
  transport: Transport;
  sessions: ScriptedSession[];
  /** Virtual times of every open attempt. */
  attempts: number[];
}

const RATE = 16000;

/**
 * Make a scripted transport (16 kHz): speech edges, partials and finals named `w<value>` from runs of non-zero samples.
 *
 * @example
 * const { transport, sessions } = scriptedTransport({ scheduler, dropAfterFrames: (n) => (n === 0 ? 80_000 : undefined) });
 */
export function scriptedTransport(options: ScriptedTransportOptions): Scripted {
  const { scheduler, openDelayMs = 50, partialMs = 200 } = options;
  const sessions: ScriptedSession[] = [];
  const attempts: number[] = [];
  const ms = (frames: number): number => (frames * 1000) / RATE;
  const transport: Transport = {
    model: 'scripted',
    sampleRate: RATE,
    capabilities: { realtime: true, batch: false, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: options.maxDurationMs ?? Infinity, languages: ['en'] },
    async openStream(o) {
      const attempt = attempts.length;
      attempts.push(scheduler.now());
      await sleep(openDelayMs, o.signal, scheduler);
      const refused = options.openError?.(attempt);
      if (refused) throw refused;
      const index = sessions.length;
      const record: ScriptedSession = { openedAt: scheduler.now(), samples: [] };
      sessions.push(record);
      const dropAt = options.dropAfterFrames?.(index);
      let frames = 0;
      let speech: { start: number; value: number; lastPartial: number } | undefined;
      let failure: EarshotError | undefined;
      const hear = (sample: number): void => {
        if (sample !== 0 && !speech) {
          speech = { start: frames, value: sample, lastPartial: frames };
          o.onEvent({ type: 'speech-start', text: '', startMs: ms(frames), endMs: ms(frames) });
        } else if (sample === 0 && speech) {
          o.onEvent({ type: 'speech-end', text: '', startMs: ms(frames), endMs: ms(frames) });
          o.onEvent({ type: 'final', text: `w${speech.value}`, startMs: ms(speech.start), endMs: ms(frames) });
          speech = undefined;
        } else if (speech && ms(frames - speech.lastPartial) >= partialMs) {
          speech.lastPartial = frames;
          o.onEvent({ type: 'partial', text: `w${speech.value}…`, startMs: ms(speech.start), endMs: ms(frames) });
        }
        frames++;
      };
      const session: StreamSession = {
        async write(samples) {
          if (failure) throw failure;
          for (const s of samples) {
            record.samples.push(s);
            hear(s);
            if (dropAt !== undefined && frames >= dropAt) {
              failure = new TransportError('EARSHOT_CONNECTION_LOST', 'scripted drop', { retryable: true });
              record.endedAt = scheduler.now();
              const error = failure;
              queueMicrotask(() => o.onError(error));
              throw failure;
            }
          }
        },
        async end() {
          if (failure) throw failure;
          if (speech) hear(0);
          record.endedAt ??= scheduler.now();
        },
        close() {
          record.endedAt ??= scheduler.now();
        },
      };
      return session;
    },
  };
  return { transport, sessions, attempts };
}

/** Mono 16 kHz audio of utterances: `speechMs` of value `k + 1` then `gapMs` of zeros, `count` times. */
export function utterances(count: number, speechMs = 1000, gapMs = 500): Int16Array {
  const speech = (speechMs * RATE) / 1000;
  const gap = (gapMs * RATE) / 1000;
  const out = new Int16Array(count * (speech + gap));
  for (let k = 0; k < count; k++) out.fill(k + 1, k * (speech + gap), k * (speech + gap) + speech);
  return out;
}
