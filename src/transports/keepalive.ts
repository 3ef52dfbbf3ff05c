/**
 * Keepalive for live sessions whose service ends a session that hears nothing for a while (the inference protocol's
 * 23 s no-audio timer): while the caller writes nothing, short silences go to the session. The silence is on the
 * session's time line only, so the events' times are mapped back onto the audio the caller wrote.
 */
import { asyncScheduler, type Subscription } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import { TimeMap } from '../core/time-map.js';
import type { StreamOptions, StreamSession } from './transport.js';

/** Default idle time before a keepalive, ms: well inside the inference protocol's 23 s no-audio timer. */
export const DEFAULT_KEEPALIVE_MS = 10_000;

/**
 * A transport's `keepaliveMs` option, checked when the transport is made.
 *
 * @param value - the option (undefined: {@link DEFAULT_KEEPALIVE_MS}).
 * @returns the idle time in ms (0: off).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when it is not a number ≥ 0.
 * @example
 * const keepaliveMs = keepaliveOption(options.keepaliveMs);
 */
export function keepaliveOption(value: number | undefined): number {
  const ms = value ?? DEFAULT_KEEPALIVE_MS;
  if (!(ms >= 0)) throw new InvalidArgumentError(`keepaliveMs must be >= 0, got ${ms}`);
  return ms;
}

/** Silence sent per keepalive, ms. */
const KEEPALIVE_SILENCE_MS = 100;

/**
 * Open a session through `open` with a keepalive: after `idleMs` without a write (or since the open), 100 ms of
 * silence is written, and again every `idleMs` while the caller stays silent. Event times (and word times) are mapped
 * so that the silence is not on them: they stay relative to the caller's first written sample. `idleMs` 0 opens the
 * session as it is.
 *
 * @param stream - the caller's stream options (`scheduler` is where the idle timer runs).
 * @param idleMs - idle time before a keepalive, ms (≥ 0; 0 turns keepalive off).
 * @param open - opens the protocol's session with the options given.
 * @returns the session, with the keepalive stopped by `end()`, `close()` or a failure.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a negative `idleMs`; whatever `open` throws.
 * @example
 * ```ts
 * openStream: (stream) => withKeepalive(stream, 10_000, (s) => startTask(socket, s, settings)),
 * ```
 */
export async function withKeepalive(stream: StreamOptions, idleMs: number, open: (stream: StreamOptions) => Promise<StreamSession>): Promise<StreamSession> {
  if (keepaliveOption(idleMs) === 0) return open(stream);
  const scheduler = stream.scheduler ?? asyncScheduler;
  const map = new TimeMap(stream.sampleRate);
  let timer: Subscription | undefined;
  let writing = 0;
  /** Frames the caller wrote: the time line its events are put back on. */
  let written = 0;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    timer?.unsubscribe();
    timer = undefined;
  };
  const inner = await open({
    ...stream,
    onEvent: (event) => stream.onEvent(map.mapEvent(event)),
    onError: (error) => {
      stop();
      stream.onError(error);
    },
  });
  const arm = (): void => {
    timer?.unsubscribe();
    timer = stopped || writing > 0 ? undefined : scheduler.schedule(idle, idleMs);
  };
  function idle(): void {
    timer = undefined;
    if (stopped || writing > 0) return;
    const silence = new Int16Array(Math.round((stream.sampleRate * KEEPALIVE_SILENCE_MS) / 1000));
    map.gap(silence.length);
    // A failed keepalive write is the session's failure, which onError reports.
    inner.write(silence).then(arm, () => {});
  }
  arm();
  return {
    async write(samples) {
      writing++;
      timer?.unsubscribe();
      timer = undefined;
      map.input(written, samples.length);
      written += samples.length;
      try {
        await inner.write(samples);
      } finally {
        writing--;
        arm();
      }
    },
    end() {
      stop();
      return inner.end();
    },
    close() {
      stop();
      inner.close();
    },
  };
}
