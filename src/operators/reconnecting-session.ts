/**
 * A live session that outlives the transport's sessions: one {@link StreamSession} over a realtime transport that
 * reconnects after retryable failures (under a {@link RetryPolicy}), replays the audio after the last final into the
 * new session, and rotates sessions before the transport's `maxDurationMs`. Its events are on the input's time line
 * (the offsets given to `write`), through a {@link SessionTimeline}.
 *
 * The replay keeps all audio the service has not reported on, however fast it was sent (no clock plays a part). When
 * it holds `maxReplayMs`, the session is ended on request — the service reports on all it heard, its last finals
 * come — and a new one takes the next audio, hearing again only speech that end may have cut.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { clockOf } from '../core/clock.js';
import { AbortError, EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { retryDelay, retryPolicy, sleep, type RetryPolicy } from '../core/retry.js';
import type { TranscriptEvent } from '../core/types.js';
import type { RecognitionOptions, StreamSession, Transport } from '../transports/transport.js';
import { SessionTimeline } from './session-timeline.js';

/** The reconnect policy of a realtime session: 6 attempts (5 reconnects) for the audio after each final, 200 ms doubling up to 5 s. */
export const DEFAULT_RECONNECT_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 6, baseMs: 200, maxMs: 5000 });

/** How a {@link ReconnectingSession} replays, reconnects and rotates. */
export interface ReconnectSettings {
  /** Recognition options passed to every session. */
  options?: RecognitionOptions;
  /**
   * Sessions the audio after each final may take (`attempts`, the first included; a final starts the count again),
   * and the backoff between them (full jitter; a server's `Retry-After` is honoured up to `maxMs`).
   * Default {@link DEFAULT_RECONNECT_POLICY}.
   */
  reconnect?: Partial<RetryPolicy>;
  /**
   * Audio from before the last final (ms, default 0) replayed first into a new session so a stateful recogniser
   * (cepstral mean, speaker adaptation) warms up as in the lost session; what it re-recognises there is dropped.
   */
  warmupMs?: number;
  /** Rotate sessions at a pause within this many ms of the transport's `maxDurationMs` (default: a tenth of it, ≤ 60 s). */
  rotateBeforeMs?: number;
  /**
   * @deprecated Ignored. Replay used to drop audio sent more than this long ago (wall time) while no speech was
   * pending, which lost speech a service had not reached yet (audio sent faster than real time); replay now keeps
   * all audio the service has not reported on, bounded by `maxReplayMs`.
   */
  quietReplayMs?: number;
  /**
   * Most audio (ms, default 120 000) the replay holds while the service has not reported on it (no final: a long
   * silence, or audio sent far ahead of the service): at the bound the session is ended on request, which makes the
   * service report on all it heard, and a new one goes on. Nothing is dropped; a final the end may have cut is not
   * emitted, its speech is heard again whole by the next session (unless it is longer than the whole replay).
   */
  maxReplayMs?: number;
  /** Where waits run and session age is measured (default the real clock); passed on to the transport's sessions. */
  scheduler?: SchedulerLike;
}

/** Where a {@link ReconnectingSession} reports. */
export interface ReconnectHandlers {
  /** Each event, on the input's time line, repeats removed. */
  onEvent(event: TranscriptEvent): void;
  /** Reconnecting stopped (not retryable, or the attempts are spent) after the session opened. */
  onError(error: EarshotError): void;
}

/** A session over a transport that survives its sessions' failures and caps. */
export interface ReconnectingSession extends StreamSession {
  /**
   * Send audio. `offset` is its first frame on the input's time line (default: right after the previous write), so
   * the events' times are input times. Resolves once it went to a live session (after a reconnect if one was needed).
   * @throws the error that stopped reconnecting.
   */
  write(samples: Int16Array, offset?: number): Promise<void>;
}

interface Resolved {
  options: RecognitionOptions;
  policy: RetryPolicy;
  warmupMs: number;
  maxReplayMs: number;
  rotateBeforeMs: number;
  maxSessionMs: number;
  scheduler: SchedulerLike;
}

/**
 * Check reconnect settings against a transport, when a pipeline is built.
 *
 * @returns the settings completed with their defaults.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad policy (or a key a RetryPolicy does not have,
 *   such as the former `baseDelayMs`), a negative `warmupMs`, a `maxReplayMs` that is not positive, or a rotation
 *   margin outside [0, maxDurationMs).
 * @example
 * const resolved = reconnectSettings(transport, { reconnect: { attempts: 10 } });
 */
export function reconnectSettings(transport: Pick<Transport, 'capabilities'>, settings: ReconnectSettings = {}): Readonly<Resolved> {
  const unknown = Object.keys(settings.reconnect ?? {}).filter((k) => !['attempts', 'baseMs', 'maxMs'].includes(k));
  if (unknown.length > 0) throw new InvalidArgumentError(`reconnect takes attempts, baseMs and maxMs (a RetryPolicy), not ${unknown.join(', ')}`);
  const policy = retryPolicy(settings.reconnect, DEFAULT_RECONNECT_POLICY);
  const warmupMs = settings.warmupMs ?? 0;
  if (!(warmupMs >= 0)) throw new InvalidArgumentError(`warmupMs must be >= 0, got ${warmupMs}`);
  const maxReplayMs = settings.maxReplayMs ?? 120_000;
  if (!(maxReplayMs > 0)) throw new InvalidArgumentError(`maxReplayMs must be > 0, got ${maxReplayMs}`);
  const maxSessionMs = transport.capabilities.maxDurationMs;
  const rotateBeforeMs = settings.rotateBeforeMs ?? (Number.isFinite(maxSessionMs) ? Math.min(60_000, maxSessionMs / 10) : 0);
  if (Number.isFinite(maxSessionMs) && !(rotateBeforeMs >= 0 && rotateBeforeMs < maxSessionMs)) {
    throw new InvalidArgumentError(`rotateBeforeMs must be in [0, ${maxSessionMs}), got ${rotateBeforeMs}`);
  }
  return {
    options: settings.options ?? {},
    policy,
    warmupMs,
    maxReplayMs,
    rotateBeforeMs,
    maxSessionMs,
    scheduler: settings.scheduler ?? asyncScheduler,
  };
}

/**
 * Open a {@link ReconnectingSession} on `transport`: resolves once the first session is open (retrying retryable
 * failures under the policy).
 *
 * @param transport - a transport with `openStream`.
 * @param settings - from {@link reconnectSettings}.
 * @param handlers - events and the final failure.
 * @throws the first session's error once it is not retryable or the attempts are spent (the last attempt's error is
 *   the `cause`, the message says how many reconnects were made).
 * @example
 * ```ts
 * const session = await openReconnectingSession(transport, reconnectSettings(transport), { onEvent: console.log, onError: console.error });
 * await session.write(samples, 0);
 * await session.end();
 * ```
 */
export async function openReconnectingSession(transport: Transport, settings: Readonly<Resolved>, handlers: ReconnectHandlers): Promise<ReconnectingSession> {
  const session = new Reconnecting(transport, settings, handlers);
  await session.start();
  return session;
}

interface Live {
  stream: StreamSession;
  openedAt: number;
  error?: EarshotError;
  /** Calls waiting on the session, rejected at once if it fails. */
  waiting: Set<(error: EarshotError) => void>;
}

/**
 * `promise`, or the session's failure if that comes first. (A race against one long-lived failure promise would
 * leave a reaction on it for every write until the session ends.)
 */
function guarded<T>(live: Live, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (live.error) {
      promise.catch(() => {});
      return reject(live.error);
    }
    live.waiting.add(reject);
    promise.then(
      (value) => {
        live.waiting.delete(reject);
        resolve(value);
      },
      (error: unknown) => {
        live.waiting.delete(reject);
        reject(error);
      },
    );
  });
}

class Reconnecting implements ReconnectingSession {
  readonly #transport: Transport;
  readonly #s: Readonly<Resolved>;
  readonly #handlers: ReconnectHandlers;
  readonly #timeline: SessionTimeline;
  readonly #clock: () => number;
  readonly #abort = new AbortController();
  readonly #rate: number;
  #live: Live | undefined;
  #connecting: Promise<void> | undefined;
  /** Failed attempts since the last final. */
  #failures = 0;
  #error: EarshotError | undefined;
  #started = false;
  #closed = false;
  #next = 0;

  constructor(transport: Transport, settings: Readonly<Resolved>, handlers: ReconnectHandlers) {
    this.#transport = transport;
    this.#s = settings;
    this.#handlers = handlers;
    this.#rate = transport.sampleRate;
    this.#clock = clockOf(settings.scheduler);
    this.#timeline = new SessionTimeline({ sampleRate: this.#rate, warmupMs: settings.warmupMs, maxReplayMs: settings.maxReplayMs });
  }

  async start(): Promise<void> {
    this.#startConnect(undefined);
    await this.#settled();
    this.#started = true;
  }

  async write(samples: Int16Array, offset = this.#next): Promise<void> {
    await this.#settled();
    while (this.#timeline.replayFull) {
      await this.#renew();
      await this.#settled();
    }
    this.#next = offset + samples.length;
    this.#timeline.push({ samples, offset });
    const live = this.#live!;
    try {
      await guarded(live, live.stream.write(samples));
    } catch (err) {
      // The piece is in the replay buffer: the new session hears it.
      this.#fail(live, err);
      await this.#settled();
    }
    if (this.#shouldRotate()) {
      this.#startConnect(undefined);
      await this.#settled();
    }
  }

  async end(): Promise<void> {
    for (;;) {
      await this.#settled();
      const live = this.#live!;
      try {
        await guarded(live, live.stream.end());
        return;
      } catch (err) {
        this.#fail(live, err);
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#live?.stream.close();
    this.#live = undefined;
  }

  /**
   * The replay holds `maxReplayMs` the service has not reported on: end the session on request (it reports on all it
   * heard), emit its last results but a final the end may have cut, and open the next session.
   */
  async #renew(): Promise<void> {
    const live = this.#live!;
    this.#timeline.endingSession();
    try {
      await guarded(live, live.stream.end());
    } catch (err) {
      this.#fail(live, err); // the replay is untouched: the next session hears it all
      return;
    }
    if (live !== this.#live || this.#closed || this.#error) return;
    for (const event of this.#timeline.sessionEnded()) this.#handlers.onEvent(event);
    this.#failures = 0;
    this.#startConnect(undefined);
  }

  /** Wait out a reconnect in progress; throws the error that stopped reconnecting, or AbortError once closed. */
  async #settled(): Promise<void> {
    while (this.#connecting) await this.#connecting;
    if (this.#error) throw this.#error;
    if (this.#closed) throw new AbortError('the session was closed');
  }

  #startConnect(cause: EarshotError | undefined): void {
    const connecting = this.#connect(cause).finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#connecting = connecting;
  }

  /** A session failed: if it is the current one, replace it. */
  #fail(live: Live, err: unknown): void {
    if (live.error) return;
    const error = toEarshotError(err, 'EARSHOT_CONNECTION_LOST');
    live.error = error;
    const waiting = [...live.waiting];
    live.waiting.clear();
    for (const reject of waiting) reject(error);
    if (live === this.#live && !this.#connecting && !this.#closed && !this.#error) this.#startConnect(error);
  }

  #onEvent(live: Live, event: TranscriptEvent): void {
    if (live !== this.#live || this.#closed || this.#error) return;
    const out = this.#timeline.accept(event);
    if (!out) return;
    if (out.type === 'final') this.#failures = 0;
    this.#handlers.onEvent(out);
  }

  /** Open a session (retrying retryable failures under the policy) and replay the audio after the last final into it. */
  async #connect(cause: EarshotError | undefined): Promise<void> {
    let lastError = cause;
    for (;;) {
      if (this.#closed) return;
      if (lastError) {
        this.#failures++;
        const wait = retryDelay(this.#s.policy, this.#failures, lastError);
        if (wait === undefined) return this.#giveUp(lastError);
        try {
          await sleep(wait, this.#abort.signal, this.#s.scheduler);
        } catch {
          return; // closed
        }
      }
      const live: Live = { stream: undefined as unknown as StreamSession, openedAt: this.#clock(), waiting: new Set() };
      try {
        live.stream = await this.#transport.openStream!({
          ...this.#s.options,
          sampleRate: this.#rate,
          signal: this.#abort.signal,
          scheduler: this.#s.scheduler,
          onEvent: (e) => this.#onEvent(live, e),
          onError: (err) => this.#fail(live, err),
        });
      } catch (err) {
        lastError = toEarshotError(err, 'EARSHOT_CONNECTION_LOST');
        continue;
      }
      if (this.#closed) return live.stream.close();
      const old = this.#live;
      this.#live = live;
      old?.stream.close();
      try {
        for (const piece of this.#timeline.newSession(old !== undefined)) await guarded(live, live.stream.write(piece.samples));
        return;
      } catch (err) {
        lastError = live.error ?? toEarshotError(err, 'EARSHOT_CONNECTION_LOST');
        live.error ??= lastError;
      }
    }
  }

  #giveUp(error: EarshotError): void {
    this.#error = finalError(error, this.#failures - 1);
    this.#live?.stream.close();
    if (this.#started) this.#handlers.onError(this.#error);
  }

  #shouldRotate(): boolean {
    const { maxSessionMs, rotateBeforeMs } = this.#s;
    const live = this.#live;
    if (!Number.isFinite(maxSessionMs) || !live) return false;
    const age = Math.max(this.#clock() - live.openedAt, (this.#timeline.sessionFrames * 1000) / this.#rate);
    if (age >= maxSessionMs - rotateBeforeMs / 4) return true;
    return age >= maxSessionMs - rotateBeforeMs && this.#timeline.atPause && !this.#timeline.pendingSpeech;
  }
}

/** The error to surface once reconnecting stops: the last attempt's error (class, code, fields), with the reconnect count. */
function finalError(error: EarshotError, reconnects: number): EarshotError {
  if (reconnects <= 0) return error;
  return EarshotError.wrap(error, `${error.message} (gave up after ${reconnects} reconnect attempt${reconnects === 1 ? '' : 's'})`, { retryable: false });
}
