/**
 * `transcribeRealtime(transport)`: stream audio into a realtime cloud session (or any `openStream` transport) the way
 * a live service wants it, and survive what live services do.
 *
 * - **Pacing**: audio goes out at real time (`pace`, default on); the transport's `write()` waits while the socket's
 *   send buffer is above its high-water mark. Cold sources are held through their FlowControl while more than
 *   `highWaterMark` ms is queued; hot sources get a bounded queue (`maxQueuedMs`) and fail loudly past it.
 * - **Zero-loss reconnect**: the audio sent after the last final is kept. When the session fails with a retryable
 *   error (a dropped socket, throttling, a server error), a new session is opened and that audio replayed into it;
 *   the new session's times are mapped back onto the input's time line, and a final that ends before the last final
 *   already emitted is dropped, so nothing is lost, nothing is duplicated and times stay monotonic.
 * - **Session rotation**: before the transport's `maxDurationMs` (e.g. Omni realtime's 120 minutes), at the first
 *   pause (a final) in the last `rotateBeforeMs`, the session is replaced the same way.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { CapabilityError, EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { frameCount, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { assertCapabilities, type RecognitionOptions, type StreamSession, type Transport } from '../transports/transport.js';

/** Options of {@link transcribeRealtime}. */
export interface TranscribeRealtimeOptions {
  /** Recognition options (language, context, hotwords…), checked against the transport's capabilities at once. */
  options?: RecognitionOptions;
  /** Send audio no faster than real time (default true). `false` sends as fast as the socket takes it. */
  pace?: boolean;
  /** Audio queued (ms) above which a cold source is held (default 2000); it resumes below half of it. */
  highWaterMark?: number;
  /** Most audio (ms) a hot source may queue while the session is busy or reconnecting (default 60 000). */
  maxQueuedMs?: number;
  /** Reconnection after retryable failures: attempts in a row (default 5), first and longest delay (200 / 5000 ms). */
  reconnect?: {
    attempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    /**
     * Audio from before the last final (ms, default 0) replayed first into a new session so a stateful recogniser
     * (cepstral mean, speaker adaptation) warms up as in the lost session; what it re-recognises there is dropped.
     */
    warmupMs?: number;
  };
  /** Rotate sessions at a pause within this many ms of the transport's `maxDurationMs` (default: a tenth of it, ≤ 60 s). */
  rotateBeforeMs?: number;
  /** Audio kept for replay while no speech is pending (ms, default 5000). */
  quietReplayMs?: number;
  /** Most audio kept for replay even while speech is pending (ms, default 120 000): bounds memory if finals stop coming. */
  maxReplayMs?: number;
  /**
   * Keepalive: when the source has sent nothing for this many ms, 100 ms of silence goes to the session so the
   * service's no-audio timer (23 s on the inference protocol) does not end it. Default 10 000; 0 turns it off.
   */
  keepaliveMs?: number;
}

interface Live {
  stream: StreamSession;
  /** Pieces of the session's time line: session frame → input frame. */
  map: Array<{ session: number; input: number }>;
  frames: number;
  nextInput: number;
  openedAt: number;
  error?: EarshotError;
  /** Calls waiting on the session, rejected at once if it fails. */
  waiting: Set<(error: EarshotError) => void>;
  fail(error: EarshotError): void;
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

interface Pending {
  samples: Int16Array;
  offset: number;
  /** Wall time (performance.now()) it was sent at, for replay entries. */
  sentAt?: number;
}

const END = Symbol('end');
const WAKE = Symbol('wake');
const IDLE = Symbol('idle');

/**
 * Transcribe live audio with a realtime transport, with real-time pacing, zero-loss reconnect and session rotation.
 *
 * Events are on the input's time line (from each chunk's `offset`), partials and finals interleaved in one time
 * line; every event starts at or after the end of the last final. When the source completes, the session is ended
 * and the operator completes after its last final; when the source fails, the finals of audio already sent are
 * emitted first. Unsubscribing closes the session at once.
 *
 * @param transport - a transport with `openStream` (funAsrRealtime, qwenAsrRealtime, omniRealtime, local…).
 * @param settings - recognition options, pacing, water marks, reconnect attempts, rotation margin.
 * @returns an operator from mono {@link AudioChunk}s at the transport's sample rate to {@link TranscriptEvent}s.
 * @throws EARSHOT_CAPABILITY_MISSING when the transport cannot stream or lacks an option's capability (at once);
 *   EARSHOT_INVALID_ARGUMENT for bad settings (at once) or audio at another rate or channel count (in the stream);
 *   EARSHOT_LIMIT_EXCEEDED when a hot source outruns the queue; the transport's own coded error once a failure is
 *   not retryable or the attempts are spent (the last attempt's error is kept as `cause`).
 * @example
 * ```ts
 * fromMic()
 *   .pipe(transcribeRealtime(qwenAsrRealtime(), { options: { language: 'en' }, reconnect: { attempts: 10 } }))
 *   .subscribe((e) => console.log(e.type, e.text));
 * ```
 */
export function transcribeRealtime(transport: Transport, settings: TranscribeRealtimeOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  if (!transport || typeof transport.openStream !== 'function') throw new CapabilityError(transport?.model ?? '?', 'realtime streaming');
  const options = settings.options ?? {};
  assertCapabilities(transport, options);
  const pace = settings.pace ?? true;
  const highMs = settings.highWaterMark ?? 2000;
  const maxQueuedMs = settings.maxQueuedMs ?? 60_000;
  const attempts = settings.reconnect?.attempts ?? 5;
  const warmupMs = settings.reconnect?.warmupMs ?? 0;
  if (!(warmupMs >= 0)) throw new InvalidArgumentError(`reconnect.warmupMs must be >= 0, got ${warmupMs}`);
  const baseDelayMs = settings.reconnect?.baseDelayMs ?? 200;
  const maxDelayMs = settings.reconnect?.maxDelayMs ?? 5000;
  const quietMs = settings.quietReplayMs ?? 5000;
  const keepaliveMs = settings.keepaliveMs ?? 10_000;
  const maxReplayMs = settings.maxReplayMs ?? 120_000;
  if (!(keepaliveMs >= 0)) throw new InvalidArgumentError(`keepaliveMs must be >= 0, got ${keepaliveMs}`);
  const maxSessionMs = transport.capabilities.maxDurationMs;
  const rotateBeforeMs = settings.rotateBeforeMs ?? (Number.isFinite(maxSessionMs) ? Math.min(60_000, maxSessionMs / 10) : 0);
  if (!(highMs > 0) || !(maxQueuedMs > 0)) throw new InvalidArgumentError('highWaterMark and maxQueuedMs must be positive');
  if (!(Number.isInteger(attempts) && attempts >= 0)) throw new InvalidArgumentError(`reconnect.attempts must be a non-negative integer, got ${attempts}`);
  if (Number.isFinite(maxSessionMs) && !(rotateBeforeMs >= 0 && rotateBeforeMs < maxSessionMs)) {
    throw new InvalidArgumentError(`rotateBeforeMs must be in [0, ${maxSessionMs}), got ${rotateBeforeMs}`);
  }
  const rate = transport.sampleRate;
  const openStream = transport.openStream.bind(transport);

  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      const abort = new AbortController();
      const timers = new Set<NodeJS.Timeout>();
      const queue: Array<Pending | typeof END> = [];
      let queuedFrames = 0;
      /** The hold on a cold source while the queue is above the high-water mark. */
      let hold: (() => void) | undefined;
      let sourceError: unknown;
      /** Audio sent after the last final, on the input's time line: what a new session must hear again. */
      let replay: Pending[] = [];
      let current: Live | undefined;
      let lastFinalEndMs = -Infinity;
      /** A partial came since the last final: speech is in progress. */
      let pendingSpeech = false;
      /** A final came and no partial since: a pause, where a session can be rotated. */
      let atPause = false;
      let failures = 0;
      let done = false;
      let wake: (() => void) | undefined;
      let paceStart = 0;
      let pacedFrames = 0;

      const poke = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const delay = (ms: number) =>
        new Promise<void>((resolve) => {
          if (ms <= 0 || done) return resolve();
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, ms);
          timers.add(t);
        });

      const toInputMs = (live: Live, sessionMs: number): number => {
        const f = (sessionMs * rate) / 1000;
        let piece = live.map[0];
        for (const p of live.map) {
          if (p.session <= f) piece = p;
          else break;
        }
        return piece ? ((piece.input + (f - piece.session)) * 1000) / rate : sessionMs;
      };

      const onEvent = (live: Live, event: TranscriptEvent) => {
        if (live !== current || done) return;
        const floor = lastFinalEndMs;
        const endRaw = toInputMs(live, event.endMs);
        const startRaw = toInputMs(live, event.startMs);
        // Speech that lies mostly before the last final was already emitted (replayed or warm-up audio).
        if (endRaw <= floor || (startRaw + endRaw) / 2 <= floor) return;
        const startMs = Math.max(startRaw, floor);
        const endMs = Math.max(endRaw, startMs);
        const out: TranscriptEvent = { ...event, startMs, endMs };
        if (event.words) {
          out.words = [];
          for (const w of event.words) {
            const wEnd = toInputMs(live, w.endMs);
            if (wEnd <= floor) continue;
            const wStart = Math.max(toInputMs(live, w.startMs), startMs);
            out.words.push({ text: w.text, startMs: wStart, endMs: Math.max(wEnd, wStart) });
          }
        }
        if (event.type === 'final') {
          lastFinalEndMs = endMs;
          pendingSpeech = false;
          atPause = true;
          failures = 0;
          trimReplay((endMs * rate) / 1000);
        } else {
          pendingSpeech = true;
          atPause = false;
        }
        subscriber.next(out);
      };

      const trimReplay = (toFrame: number) => {
        let i = 0;
        while (i < replay.length && replay[i]!.offset + replay[i]!.samples.length <= toFrame) i++;
        if (warmupMs > 0) for (let k = 0; k < i; k++) keepWarm(replay[k]!);
        if (i > 0) replay = replay.slice(i);
        const first = replay[0];
        if (first && first.offset < toFrame) {
          const cut = Math.floor(toFrame - first.offset);
          if (warmupMs > 0) keepWarm({ samples: first.samples.subarray(0, cut), offset: first.offset });
          replay[0] = { ...first, samples: first.samples.subarray(cut), offset: first.offset + cut };
        }
      };

      /** Audio before the last final kept for warming a new session up (at most `warmupMs`). */
      let warm: Pending[] = [];
      const keepWarm = (piece: Pending) => {
        warm.push(piece);
        const end = piece.offset + piece.samples.length;
        let i = 0;
        while (i < warm.length && end - warm[i]!.offset > (warmupMs * rate) / 1000) i++;
        if (i > 0) warm = warm.slice(i);
      };

      /**
       * With no speech pending, audio that was sent more than `quietMs` ago (wall time, so the service has had time
       * to report speech in it) and lies more than `quietMs` before the newest audio is silence: stop keeping it.
       */
      const trimQuiet = (now: number) => {
        const last = replay[replay.length - 1];
        if (!last) return;
        let to = last.offset + last.samples.length - (quietMs * rate) / 1000;
        for (const piece of replay) {
          if ((piece.sentAt ?? 0) > now - quietMs) {
            to = Math.min(to, piece.offset);
            break;
          }
        }
        if (to > (lastFinalEndMs * rate) / 1000) trimReplay(to);
      };

      const newLive = (): Live => {
        const live: Live = {
          stream: undefined as unknown as StreamSession,
          map: [],
          frames: 0,
          nextInput: -1,
          openedAt: performance.now(),
          waiting: new Set(),
          fail(error) {
            if (live.error) return;
            live.error = error;
            const waiting = [...live.waiting];
            live.waiting.clear();
            for (const reject of waiting) reject(error);
            if (live === current) poke();
          },
        };
        return live;
      };

      /** Open a session (retrying retryable failures) and replay the audio after the last final into it. */
      const connect = async (previous: EarshotError | undefined): Promise<void> => {
        let lastError = previous;
        for (;;) {
          if (done) return;
          if (lastError) {
            if (!lastError.retryable || failures >= attempts) throw finalError(lastError, failures);
            failures++;
            await delay(lastError.retryAfterMs ?? Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - 1)));
            if (done) return;
          }
          const live = newLive();
          try {
            live.stream = await openStream({
              ...options,
              sampleRate: rate,
              signal: abort.signal,
              onEvent: (e) => onEvent(live, e),
              onError: (err) => live.fail(toEarshotError(err, 'EARSHOT_CONNECTION_LOST')),
            });
          } catch (err) {
            lastError = toEarshotError(err, 'EARSHOT_CONNECTION_LOST');
            continue;
          }
          if (done) {
            live.stream.close();
            return;
          }
          const old = current;
          current = live;
          old?.stream.close();
          try {
            const start = replay[0]?.offset;
            if (warmupMs > 0 && old) for (const piece of warm) if (start === undefined || piece.offset < start) await send(live, piece);
            for (const piece of replay) await send(live, piece);
            return;
          } catch (err) {
            lastError = live.error ?? toEarshotError(err, 'EARSHOT_CONNECTION_LOST');
          }
        }
      };

      /** Write to a session; rejects with the session's failure. */
      const send = async (live: Live, piece: Pending): Promise<void> => {
        if (live.error) throw live.error;
        if (piece.offset !== live.nextInput) live.map.push({ session: live.frames, input: piece.offset });
        live.frames += piece.samples.length;
        live.nextInput = piece.offset + piece.samples.length;
        await guarded(live, live.stream.write(piece.samples));
      };

      /** The next queued chunk or END; WAKE when the session failed meanwhile; IDLE after `keepaliveMs` of nothing. */
      const next = async (): Promise<Pending | typeof END | typeof WAKE | typeof IDLE> => {
        for (;;) {
          if (done || current?.error) return WAKE;
          const item = queue.shift();
          if (item !== undefined) {
            if (item !== END) {
              queuedFrames -= item.samples.length;
              if (hold && (queuedFrames * 1000) / rate <= highMs / 2) {
                hold();
                hold = undefined;
              }
            }
            return item;
          }
          let idle = false;
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (keepaliveMs > 0) {
              const t = setTimeout(() => {
                timers.delete(t);
                idle = true;
                poke();
              }, keepaliveMs);
              timers.add(t);
              const clear = resolve;
              wake = () => {
                clearTimeout(t);
                timers.delete(t);
                clear();
              };
            }
          });
          if (idle && queue.length === 0) return IDLE;
        }
      };

      /** 100 ms of silence to keep an idle session alive; it is on the session's time line only. */
      const keepalive = async (live: Live): Promise<void> => {
        const silence = new Int16Array(rate / 10);
        live.frames += silence.length;
        live.nextInput = -1;
        await guarded(live, live.stream.write(silence));
      };

      const shouldRotate = (live: Live): boolean => {
        if (!Number.isFinite(maxSessionMs)) return false;
        const age = Math.max(performance.now() - live.openedAt, (live.frames * 1000) / rate);
        if (age >= maxSessionMs - rotateBeforeMs / 4) return true;
        return age >= maxSessionMs - rotateBeforeMs && atPause && !pendingSpeech;
      };

      const run = async (): Promise<void> => {
        await connect(undefined);
        let ending = false;
        for (;;) {
          if (done) return;
          const live = current!;
          if (live.error) {
            await connect(live.error);
            continue;
          }
          if (ending) {
            try {
              await guarded(live, live.stream.end());
            } catch (err) {
              live.fail(toEarshotError(err, 'EARSHOT_CONNECTION_LOST'));
              continue;
            }
            return;
          }
          const item = await next();
          if (item === WAKE) continue;
          if (item === IDLE) {
            try {
              await keepalive(live);
            } catch (err) {
              live.fail(toEarshotError(err, 'EARSHOT_CONNECTION_LOST'));
            }
            continue;
          }
          if (item === END) {
            ending = true;
            continue;
          }
          if (pace) {
            if (paceStart === 0) paceStart = performance.now();
            const dueMs = (pacedFrames * 1000) / rate - (performance.now() - paceStart);
            if (dueMs > 1) await delay(dueMs);
            if (done) return;
          }
          pacedFrames += item.samples.length;
          const now = performance.now();
          replay.push({ samples: item.samples, offset: item.offset, sentAt: now });
          if (!pendingSpeech) trimQuiet(now);
          else if (item.offset - replay[0]!.offset > (maxReplayMs * rate) / 1000) trimReplay(item.offset + item.samples.length - (maxReplayMs * rate) / 1000);
          try {
            await send(live, item);
          } catch (err) {
            live.fail(toEarshotError(err, 'EARSHOT_CONNECTION_LOST'));
            continue;
          }
          if (shouldRotate(live)) {
            atPause = false;
            await connect(undefined);
          }
        }
      };

      const cleanup = () => {
        done = true;
        abort.abort();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        hold?.();
        hold = undefined;
        current?.stream?.close();
        current = undefined;
        poke();
      };

      const stop = (err: unknown) => {
        if (done) return;
        cleanup();
        subscriber.error(toEarshotError(err, 'EARSHOT_CONNECTION_LOST'));
      };

      const subscription = source.subscribe({
        next(chunk) {
          if (done) return;
          if (chunk.channels !== 1 || chunk.sampleRate !== rate) {
            stop(new InvalidArgumentError(`transcribeRealtime needs mono ${rate} Hz audio for ${transport.model}, got ${chunk.channels} ch at ${chunk.sampleRate} Hz (resample first)`));
            return;
          }
          if (frameCount(chunk) === 0) return;
          queue.push({ samples: chunk.samples, offset: chunk.offset });
          queuedFrames += chunk.samples.length;
          const queuedMs = (queuedFrames * 1000) / rate;
          if (chunk.flow) {
            if (queuedMs > highMs && !hold) hold = chunk.flow.hold();
          } else if (queuedMs > maxQueuedMs) {
            stop(new EarshotError('EARSHOT_LIMIT_EXCEEDED', `more than ${maxQueuedMs} ms of live audio queued for ${transport.model}; the session cannot keep up`));
            return;
          }
          poke();
        },
        error(err) {
          sourceError = err;
          queue.push(END);
          poke();
        },
        complete() {
          queue.push(END);
          poke();
        },
      });

      run().then(
        () => {
          if (done) return;
          cleanup();
          if (sourceError !== undefined) subscriber.error(toEarshotError(sourceError, 'EARSHOT_DECODE_FAILED'));
          else subscriber.complete();
        },
        (err: unknown) => stop(err),
      );

      return () => {
        subscription.unsubscribe();
        if (!done) cleanup();
      };
    });
}

/** The error to surface once reconnecting stops: the last attempt's error, with the attempt count. */
function finalError(error: EarshotError, failures: number): EarshotError {
  if (failures === 0) return error;
  return new EarshotError(error.code, `${error.message} (gave up after ${failures} reconnect attempt${failures === 1 ? '' : 's'})`, {
    cause: error,
    retryable: false,
    ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}),
    ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
  });
}
