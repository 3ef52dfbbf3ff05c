/**
 * Time for live pipelines: the wall clock (or a virtual one in tests) and the mapping from audio time to the wall
 * time at which that audio was live, which latency figures are measured against.
 */
import { asyncScheduler, type SchedulerLike, type VirtualTimeScheduler } from 'rxjs';
import { InvalidArgumentError } from './errors.js';

/** Milliseconds now on `scheduler`: `performance.now()` for the real (async) scheduler, virtual time otherwise. */
export function clockOf(scheduler: SchedulerLike = asyncScheduler): () => number {
  return scheduler === asyncScheduler ? () => performance.now() : () => scheduler.now();
}

/**
 * The shared record of when audio was live, written by `pace()` and read by operators that report latency.
 *
 * `pace({ clock })` anchors it when it releases the first chunk; from then on audio time `t` (ms on the input's
 * time line) was live at wall time `anchor + (t - t0) / speed` — the moment a speaker would have said it, which is
 * what end-of-speech latency is measured from. Share one instance between `pace()` and `transcribeBatch()`.
 *
 * @example
 * ```ts
 * const clock = new PaceClock();
 * fromFile('talk.wav').pipe(decode(), resample(16000), pace({ clock }), nearRealtime(), transcribeBatch(local(), { clock }));
 * ```
 */
export class PaceClock {
  /** Ms now on this clock's time base. */
  readonly now: () => number;
  #wall0: number | undefined;
  #audio0 = 0;
  #speed = 1;

  /** @param scheduler - time base: the real clock (default) or a virtual-time scheduler. */
  constructor(scheduler: SchedulerLike = asyncScheduler) {
    this.now = clockOf(scheduler);
  }

  /** True once `pace()` has anchored the clock. */
  get anchored(): boolean {
    return this.#wall0 !== undefined;
  }

  /** Anchor: audio time `audioMs` is live at clock time `wallMs`, and audio runs at `speed`. Called by `pace()`. */
  anchor(wallMs: number, audioMs: number, speed = 1): void {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new InvalidArgumentError(`speed must be a positive number, got ${speed}`);
    this.#wall0 = wallMs;
    this.#audio0 = audioMs;
    this.#speed = speed;
  }

  /** Clock time at which audio time `audioMs` was (or will be) live; undefined before anchoring. */
  wallTimeAt(audioMs: number): number | undefined {
    if (this.#wall0 === undefined) return undefined;
    return this.#wall0 + (audioMs - this.#audio0) / this.#speed;
  }
}

/** Resolves after every pending promise callback has run (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Run a pipeline on virtual time: execute the scheduler's actions in time order, letting promise callbacks
 * (transport replies) run between them, until nothing is scheduled or virtual time would pass `untilMs`.
 * Deterministic: the same pipeline gives the same events at the same virtual times.
 *
 * @param scheduler - a `VirtualTimeScheduler` passed to the pipeline's operators.
 * @param untilMs - stop before actions due later than this and set the clock to it (default: run until idle).
 * @returns the virtual time reached.
 * @example
 * ```ts
 * const scheduler = new VirtualTimeScheduler();
 * source.pipe(pace({ scheduler }), transcribeBatch(fake, { scheduler })).subscribe(...);
 * await runVirtual(scheduler);
 * ```
 */
export async function runVirtual(scheduler: VirtualTimeScheduler, untilMs = Infinity): Promise<number> {
  for (;;) {
    await settle();
    const next = scheduler.actions[0];
    if (!next) {
      await settle();
      if (scheduler.actions.length === 0) break;
      continue;
    }
    if (next.delay > untilMs) break;
    scheduler.maxFrames = next.delay;
    scheduler.flush();
  }
  if (Number.isFinite(untilMs) && scheduler.frame < untilMs) scheduler.frame = untilMs;
  return scheduler.frame;
}
