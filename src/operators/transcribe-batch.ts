/**
 * `transcribeBatch(transport)`: send each audio segment as one request, several in flight, and emit the results
 * in audio order on the input's time line.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { clockOf, type PaceClock } from '../core/clock.js';
import { EarshotError, InvalidArgumentError, TransportError } from '../core/errors.js';
import { retryDelay, retryPolicy, type RetryPolicy } from '../core/retry.js';
import { frameToMs, shiftEvent, type AudioSegment, type TranscriptEvent } from '../core/types.js';
import { Backpressure, gateLimits, queueLimits, type GateLimits, type QueueLimits } from '../core/backpressure.js';
import { assertCapabilities, cancelCostOf, type ChunkJob, type ClipCallOptions, type RecognitionOptions, type Transport } from '../transports/transport.js';
import type { Provisional } from './near-realtime.js';

/** Options of {@link transcribeBatch}. Queue bounds use the shared vocabulary (README "Backpressure"). */
export interface TranscribeBatchOptions extends Pick<QueueLimits, 'highWaterMs' | 'lowWaterMs' | 'maxQueuedMs'> {
  /** Requests in flight at once (default 2). */
  concurrency?: number;
  /**
   * Retry policy of each segment's request (default `{ attempts: 3, baseMs: 500, maxMs: 8000 }`: full jitter, a
   * server's Retry-After honoured up to `maxMs`). This operator owns the segment, so the transport below makes one
   * attempt per call: a segment is sent at most `attempts` times.
   */
  retry?: Partial<RetryPolicy>;
  /** Recognition options for every request (checked against the transport's capabilities now). */
  options?: RecognitionOptions;
  /**
   * Audio (ms) of segments waiting for a request slot before the source's FlowControl is held (default 10 000; let
   * go at `lowWaterMs`, default half).
   */
  highWaterMs?: number;
  /** Most audio (ms) of segments waiting from a source without flow control (default 120 000): EARSHOT_LIMIT_EXCEEDED. */
  maxQueuedMs?: number;
  /** @deprecated Counts segments, not audio: use `highWaterMs`. Given alone (with `maxQueued`), bounds count segments as before. */
  highWater?: number;
  /** @deprecated Counts segments, not audio: use `maxQueuedMs`. */
  maxQueued?: number;
  /** Where retry timers run (default the real clock); a `VirtualTimeScheduler` makes tests deterministic. */
  scheduler?: SchedulerLike;
  /** The clock `pace()` anchored: finals then carry `latency.endOfSpeechMs`. */
  clock?: PaceClock;
  /**
   * Start a {@link Provisional} window's request before its pause is confirmed (it is cancelled if speech resumes).
   * Default: only where a cancelled request costs nothing — the transport's `cancelCost` is `'free'` (the embedded
   * engine) or `'until-started'` (an async task still PENDING); a `'billed'` transport's provisional windows wait
   * for their confirmation, as with `nearRealtime({ speculateMs: false })`.
   */
  speculate?: boolean;
  /** Called whenever a speculation count changes, with the running totals (the wasted-request counter). */
  onSpeculation?: (stats: Readonly<SpeculationStats>) => void;
}

/** What speculation on provisional windows did, in one {@link transcribeBatch} run. */
export interface SpeculationStats {
  /** Requests started before their window's pause was confirmed. */
  speculative: number;
  /** Of those, cancelled because speech resumed: wasted requests. */
  cancelled: number;
  /** Audio (ms) of the cancelled requests: wasted audio. */
  cancelledAudioMs: number;
  /** Cancelled requests billed all the same (all of them on a `'billed'` transport; those past PENDING on an async task). */
  billed: number;
  /** Audio (ms) of the billed cancelled requests. */
  billedAudioMs: number;
  /** Revoked windows whose request had not started: nothing was sent. */
  revokedUnsent: number;
}

type Segment = AudioSegment & { readonly provisional?: Provisional };

interface Job {
  readonly segment: Segment;
  readonly startMs: number;
  state: 'queued' | 'running' | 'backoff' | 'done' | 'revoked';
  confirmed: boolean;
  /** A request was started before the window was confirmed. */
  speculative?: boolean;
  /** Counted as billed (once). */
  billed?: boolean;
  attempt: number;
  events?: TranscriptEvent[];
  resolvedAt?: number;
  controller?: AbortController;
  timer?: Subscription;
  unlisten?: () => void;
}

/**
 * Transcribe each segment with one `transcribeClip` request: up to `concurrency` requests in flight, results
 * emitted in audio order whatever order they complete in, times shifted onto the input's time line.
 *
 * This operator owns each segment's request: retryable failures (`err.retryable`: 429, 5xx, timeouts, dropped
 * sockets, a crashed engine worker) are retried under `retry` (exponential backoff with full jitter, `retryAfterMs`
 * honoured up to `maxMs`), on `scheduler`; the final failure keeps the original error's class, code and fields
 * ({@link EarshotError.wrap}; an uncoded error becomes a {@link TransportError} EARSHOT_REQUEST_FAILED) with the last
 * attempt as `cause`, after the results ahead of it are emitted.
 * Queues are bounded: `concurrency` requests run, at most `2 × concurrency` results wait for order, and past
 * `highWaterMs` of waiting segments the source's FlowControl is held, so a cold 12-hour file read faster than the
 * transport works stays in constant memory; a source without flow control fails past `maxQueuedMs`.
 * Segments from `nearRealtime()` that are still {@link Provisional} are sent at once where `speculate` allows (by
 * default where a cancelled request costs nothing, see {@link TranscribeBatchOptions.speculate}), else once
 * confirmed; their results wait for the confirmation and are dropped (the request aborted) if the window is
 * revoked. `onSpeculation` counts the requests and audio so wasted.
 * A final event carries `latency.addedMs` (transport reply to emission, including any wait for an earlier
 * segment's reply or for a provisional window's confirmation) and, with a paced `clock`,
 * `latency.endOfSpeechMs` (end of the segment's speech, as live, to emission). A source error is passed on after
 * the segments already received are emitted. Unsubscribing aborts every request in flight.
 *
 * @param transport - a transport with `transcribeClip` (e.g. `local()`).
 * @param options - see {@link TranscribeBatchOptions}.
 * @throws EARSHOT_INVALID_ARGUMENT for a transport without `transcribeClip` or bad options, EARSHOT_CAPABILITY_MISSING
 *   for recognition options it lacks (now); at run time the request's error code, EARSHOT_UNSUPPORTED_FORMAT for
 *   audio the transport cannot take, EARSHOT_LIMIT_EXCEEDED as above.
 * @example
 * ```ts
 * fromFile('talk.wav').pipe(decode(), resample(16000), vadChunk(), transcribeBatch(local(), { concurrency: 2 }))
 *   .subscribe((e) => console.log(e.startMs, e.text));
 * ```
 */
export function transcribeBatch(transport: Transport, options: TranscribeBatchOptions = {}): OperatorFunction<AudioSegment, TranscriptEvent> {
  if (!transport || typeof transport.transcribeClip !== 'function') {
    throw new InvalidArgumentError(`transport ${transport?.model ?? '?'} cannot transcribe clips; use transcribe() for streaming models`);
  }
  const recognition = options.options;
  assertCapabilities(transport, recognition);
  const { concurrency = 2, scheduler = asyncScheduler, clock } = options;
  const policy = retryPolicy(options.retry);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  const bounds = batchQueueLimits(options, concurrency, `transcribeBatch() for transport ${transport.model}`);
  const now = clock ? clock.now : clockOf(scheduler);
  const window = 2 * concurrency;
  const clip = transport.transcribeClip.bind(transport);
  const cancelCost = cancelCostOf(transport.capabilities);
  const speculate = options.speculate ?? cancelCost !== 'billed';
  const { onSpeculation } = options;

  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      const jobs: Job[] = [];
      let head = 0;
      let running = 0;
      const queue = new Backpressure(bounds.limits, `transcribeBatch() for transport ${transport.model}`, bounds.unit);
      let ended: 'complete' | { error: unknown } | undefined;
      let done = false;
      const stats: SpeculationStats = { speculative: 0, cancelled: 0, cancelledAudioMs: 0, billed: 0, billedAudioMs: 0, revokedUnsent: 0 };
      const report = (): void => onSpeculation?.({ ...stats });
      /** Count a revoked window's request as billed, once. */
      const bill = (job: Job): void => {
        if (job.billed || job.state !== 'revoked' || !job.speculative) return;
        job.billed = true;
        stats.billed++;
        stats.billedAudioMs += segmentMs(job.segment);
        report();
      };

      const stopAll = (): void => {
        for (let i = head; i < jobs.length; i++) {
          const job = jobs[i]!;
          job.controller?.abort();
          job.timer?.unsubscribe();
          job.unlisten?.();
        }
        queue.release();
        jobs.length = 0;
        head = 0;
      };

      const fail = (err: unknown): void => {
        if (done) return;
        done = true;
        stopAll();
        subscriber.error(err);
      };

      /** Emit every result at the head that is ready, in order; finish when all is done. */
      const flush = (): void => {
        while (!done && head < jobs.length) {
          const job = jobs[head]!;
          if (job.state === 'revoked') {
            jobs[head++] = undefined as never;
            continue;
          }
          if (job.state !== 'done' || !job.confirmed) break;
          jobs[head++] = undefined as never;
          job.unlisten?.();
          const t = now();
          const liveEnd = clock && job.segment.speechEndMs !== undefined ? clock.wallTimeAt(job.segment.speechEndMs) : undefined;
          for (const event of job.events!) {
            if (event.type !== 'final') {
              subscriber.next(event);
              continue;
            }
            const latency = { ...event.latency, addedMs: t - job.resolvedAt! };
            if (liveEnd !== undefined) latency.endOfSpeechMs = t - liveEnd;
            subscriber.next({ ...event, latency });
            if (done) return;
          }
        }
        if (head > 256 && head * 2 > jobs.length) {
          jobs.splice(0, head);
          head = 0;
        }
        if (!done && ended && head === jobs.length) {
          done = true;
          if (ended === 'complete') subscriber.complete();
          else subscriber.error(ended.error);
        }
      };

      const pump = (): void => {
        for (let i = head; i < jobs.length && running < concurrency && !done; i++) {
          if (i - head >= window) break;
          const job = jobs[i]!;
          if (job.state !== 'queued' || (!speculate && !job.confirmed)) continue;
          queue.remove(bounds.size(job.segment)); // at the low-water mark the source reads again
          running++;
          attempt(job);
        }
      };

      const attempt = (job: Job): void => {
        job.state = 'running';
        job.attempt++;
        const controller = new AbortController();
        job.controller = controller;
        if (!job.confirmed && !job.speculative) {
          job.speculative = true;
          stats.speculative++;
          report();
        }
        const request: ChunkJob = { samples: job.segment.samples, sampleRate: job.segment.sampleRate, startMs: job.startMs };
        if (recognition) request.options = recognition;
        const call: ClipCallOptions = { signal: controller.signal };
        if (cancelCost === 'until-started') call.onBilled = () => bill(job);
        let reply: Promise<TranscriptEvent[]>;
        try {
          reply = clip(request, call);
        } catch (err) {
          reply = Promise.reject(err);
        }
        reply.then(
          (events) => {
            if (done || controller.signal.aborted || job.state !== 'running') return;
            if (!Array.isArray(events)) {
              settleFailure(job, new EarshotError('EARSHOT_PROTOCOL_ERROR', `transport ${transport.model} returned no event list`));
              return;
            }
            job.resolvedAt = now();
            job.events = events.map((e) => shiftEvent(e, job.startMs));
            job.state = 'done';
            delete job.controller;
            running--;
            flush();
            pump();
          },
          (err: unknown) => {
            if (done || controller.signal.aborted || job.state !== 'running') return;
            settleFailure(job, err);
          },
        );
      };

      const settleFailure = (job: Job, err: unknown): void => {
        delete job.controller;
        const wait = retryDelay(policy, job.attempt, err);
        if (wait !== undefined) {
          job.state = 'backoff';
          job.timer = scheduler.schedule(() => {
            delete job.timer;
            if (!done && job.state === 'backoff') attempt(job);
          }, wait);
          return;
        }
        fail(finalError(err, job, transport.model));
      };

      /** At the end of the input no window can be revoked any more. */
      const confirmPending = (): void => {
        for (let i = head; i < jobs.length; i++) jobs[i]!.confirmed ||= jobs[i]!.state !== 'revoked';
      };

      const sub = source.subscribe({
        next: (segment: Segment) => {
          if (done) return;
          if (segment.channels !== 1 || segment.sampleRate !== transport.sampleRate) {
            fail(new EarshotError('EARSHOT_UNSUPPORTED_FORMAT', `transport ${transport.model} needs mono ${transport.sampleRate} Hz segments, got ${segment.channels} ch at ${segment.sampleRate} Hz: add resample(${transport.sampleRate}) before segmenting`));
            return;
          }
          if (segment.samples.length === 0) return;
          const p = segment.provisional;
          const job: Job = {
            segment,
            startMs: frameToMs(segment.offset, segment.sampleRate),
            state: 'queued',
            confirmed: !p || p.state === 'confirmed',
            attempt: 0,
          };
          if (p?.state === 'revoked') return;
          try {
            queue.add(bounds.size(segment), segment.flow);
          } catch (err) {
            fail(err);
            return;
          }
          jobs.push(job);
          if (p && !job.confirmed) {
            job.unlisten = p.onSettled((confirmed) => {
              delete job.unlisten;
              if (done) return;
              if (confirmed) {
                job.confirmed = true;
                flush();
                pump();
                return;
              }
              if (job.state === 'queued') queue.remove(bounds.size(job.segment));
              const sent = job.state === 'running' || job.state === 'backoff';
              if (sent) running--;
              job.state = 'revoked';
              if (sent) {
                stats.cancelled++;
                stats.cancelledAudioMs += segmentMs(job.segment);
              } else stats.revokedUnsent++;
              report();
              if (sent && cancelCost === 'billed') bill(job);
              job.controller?.abort();
              job.timer?.unsubscribe();
              flush();
              pump();
            });
          }
          pump();
        },
        error: (error: unknown) => {
          ended = { error };
          confirmPending();
          flush();
          pump(); // windows held for their confirmation start now
        },
        complete: () => {
          ended = 'complete';
          confirmPending();
          flush();
          pump();
        },
      });

      return () => {
        done = true;
        sub.unsubscribe();
        stopAll();
      };
    });
}

/** A segment's duration in ms. */
function segmentMs(segment: AudioSegment): number {
  return frameToMs(segment.samples.length / segment.channels, segment.sampleRate);
}

/** The error a segment fails with once its attempts are spent: the last attempt's, told with where and how often. */
function finalError(err: unknown, job: Job, model: string): EarshotError {
  const what = err instanceof Error ? err.message : String(err);
  const tries = job.attempt === 1 ? '1 attempt' : `${job.attempt} attempts`;
  const message = `${model}: request for audio at ${Math.round(job.startMs)} ms failed after ${tries}: ${what}`;
  const details = { attempts: job.attempt, startMs: job.startMs };
  if (err instanceof EarshotError) return EarshotError.wrap(err, message, { retryable: false, details });
  return new TransportError('EARSHOT_REQUEST_FAILED', message, { cause: err, details });
}

/**
 * The bounds of the queue of segments waiting for a request slot: in ms of audio, or in segments when only the
 * deprecated `highWater` / `maxQueued` are given (they keep their old meaning and defaults).
 */
function batchQueueLimits(options: TranscribeBatchOptions, concurrency: number, what: string): { limits: GateLimits; unit: string; size: (s: AudioSegment) => number } {
  const legacy = options.highWater !== undefined || options.maxQueued !== undefined;
  const current = options.highWaterMs !== undefined || options.lowWaterMs !== undefined || options.maxQueuedMs !== undefined;
  if (legacy && current) throw new InvalidArgumentError(`${what}: give highWaterMs/lowWaterMs/maxQueuedMs or the deprecated highWater/maxQueued, not both`);
  if (!legacy) {
    return { limits: queueLimits(options, { highWaterMs: 10_000, maxQueuedMs: 120_000 }, what), unit: 'ms of audio', size: segmentMs };
  }
  const highWater = options.highWater ?? concurrency;
  return { limits: gateLimits({ highWater, lowWater: highWater, maxQueued: options.maxQueued ?? 32, overflow: 'error' }, what, ''), unit: 'segments', size: () => 1 };
}
