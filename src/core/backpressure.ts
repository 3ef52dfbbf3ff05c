/**
 * Backpressure written once: how much may wait in a stage's queue, when a cold source is paused, and what happens
 * to a hot source that outruns the stage.
 *
 * Every queue in earshot speaks the same vocabulary ({@link QueueLimits}): `highWater<Unit>` (hold the cold
 * source's {@link FlowControl} above it), `lowWater<Unit>` (let it go at or below it), `maxQueued<Unit>` (the hard
 * bound for chunks without flow control) and `overflow` (what happens past that bound). The unit is in the name:
 * `Ms` of audio for audio queues, `Bytes` for byte buffers.
 */
import { EarshotError, InvalidArgumentError } from './errors.js';
import { FlowLatch, type FlowControl } from './flow.js';

/**
 * What a bounded queue does when a hot source (chunks without flow control) would push it past its bound:
 * `'error'` fails the pipeline with EARSHOT_LIMIT_EXCEEDED (nothing is lost silently), `'drop-oldest'` drops the
 * oldest queued items to make room, `'drop-newest'` drops the item that does not fit. Drops are counted.
 */
export type OverflowPolicy = 'error' | 'drop-oldest' | 'drop-newest';

/** The overflow policies, for validation and help texts. */
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['error', 'drop-oldest', 'drop-newest'];

/** What was dropped by an overflow policy: this time and in total. */
export interface DropInfo {
  /** Size (in the queue's unit, ms of audio for audio queues) dropped this time. */
  size: number;
  /** Items dropped this time. */
  items: number;
  /** Size dropped since the queue was made. */
  totalSize: number;
  /** Items dropped since the queue was made. */
  totalItems: number;
}

/**
 * The one vocabulary of queue bounds for audio, in ms of audio time. Operators take the subset that applies.
 * See the README's "Backpressure" table.
 */
export interface QueueLimits {
  /** Audio (ms) waiting before a cold source's FlowControl is held. */
  highWaterMs?: number;
  /** Audio (ms) at or below which the hold is let go (default: half of `highWaterMs`). */
  lowWaterMs?: number;
  /** Most audio (ms) that may wait from a source without flow control (a hot source); past it `overflow` applies. */
  maxQueuedMs?: number;
  /** What happens past `maxQueuedMs` (default `'error'`: EARSHOT_LIMIT_EXCEEDED). */
  overflow?: OverflowPolicy;
  /** Called after every drop of the overflow policy, with the running totals (the dropped counter). */
  onDrop?: (drop: DropInfo) => void;
}

/** Bounds of a {@link Backpressure} gate, in any one unit. */
export interface GateLimits {
  /** Hold the cold source's flow while more than this waits. */
  highWater: number;
  /** Let the hold go once at most this waits (≤ `highWater`). */
  lowWater: number;
  /** Hard bound for what arrives without flow control. */
  maxQueued: number;
  /** What happens past `maxQueued`. */
  overflow: OverflowPolicy;
  /** The dropped counter's listener. */
  onDrop?: (drop: DropInfo) => void;
}

/**
 * Resolve and check {@link QueueLimits} against a stage's defaults (unit: ms).
 *
 * @param limits - what the user gave.
 * @param defaults - the stage's defaults (`lowWaterMs` is always half the high-water mark unless given).
 * @param what - the stage's name, for messages (`pace()`).
 * @returns limits for a {@link Backpressure} gate or {@link BoundedQueue}.
 * @throws EARSHOT_INVALID_ARGUMENT for a negative or non-numeric bound, `lowWaterMs > highWaterMs`,
 *   `maxQueuedMs ≤ 0` or an unknown overflow policy.
 * @example
 * ```ts
 * const limits = queueLimits(options, { highWaterMs: 1000, maxQueuedMs: 300_000 }, 'pace()');
 * ```
 */
export function queueLimits(limits: QueueLimits, defaults: { highWaterMs: number; maxQueuedMs: number }, what: string): GateLimits {
  const highWater = limits.highWaterMs ?? defaults.highWaterMs;
  const lowWater = limits.lowWaterMs ?? highWater / 2;
  const maxQueued = limits.maxQueuedMs ?? defaults.maxQueuedMs;
  return gateLimits({ highWater, lowWater, maxQueued, overflow: limits.overflow ?? 'error', ...(limits.onDrop ? { onDrop: limits.onDrop } : {}) }, what, 'Ms');
}

/**
 * Check gate limits in any unit.
 *
 * @param limits - the bounds.
 * @param what - the stage's name, for messages.
 * @param unit - the unit suffix of the option names (`'Ms'`, `'Bytes'`), for messages.
 * @returns the same limits.
 * @throws EARSHOT_INVALID_ARGUMENT as {@link queueLimits}.
 * @example
 * ```ts
 * gateLimits({ highWater: 16_384, lowWater: 0, maxQueued: 1 << 20, overflow: 'error' }, 'toJsonl()', 'Bytes');
 * ```
 */
export function gateLimits(limits: GateLimits, what: string, unit: string): GateLimits {
  const { highWater, lowWater, maxQueued, overflow } = limits;
  if (!(highWater >= 0) || !(lowWater >= 0) || !Number.isFinite(highWater)) {
    throw new InvalidArgumentError(`${what}: highWater${unit} and lowWater${unit} must be numbers ≥ 0`, { details: { highWater, lowWater } });
  }
  if (lowWater > highWater) throw new InvalidArgumentError(`${what}: lowWater${unit} (${lowWater}) must not exceed highWater${unit} (${highWater})`);
  if (!(maxQueued > 0)) throw new InvalidArgumentError(`${what}: maxQueued${unit} must be positive`, { details: { maxQueued } });
  if (!OVERFLOW_POLICIES.includes(overflow)) {
    throw new InvalidArgumentError(`${what}: overflow must be one of ${OVERFLOW_POLICIES.join(', ')}`, { details: { overflow } });
  }
  if (limits.onDrop !== undefined && typeof limits.onDrop !== 'function') throw new InvalidArgumentError(`${what}: onDrop must be a function`);
  return limits;
}

/**
 * The accounting half of backpressure, for stages whose queue is not a plain FIFO (a promise chain, a job list):
 * the stage says what arrives (`add`) and what leaves (`remove`); the gate holds the cold source's
 * {@link FlowControl} while more than `highWater` waits and lets it go at `lowWater`, and applies `maxQueued` to what
 * arrives without flow control.
 *
 * @example
 * ```ts
 * const gate = new Backpressure({ highWater: 0, lowWater: 0, maxQueued: 60_000, overflow: 'error' }, 'transcribe()');
 * gate.add(chunkMs, chunk.flow); // … once written:
 * gate.remove(chunkMs);
 * ```
 */
export class Backpressure {
  readonly #limits: GateLimits;
  readonly #what: string;
  readonly #unit: string;
  #queued = 0;
  readonly #latch = new FlowLatch();
  #droppedSize = 0;
  #droppedItems = 0;

  /**
   * @param limits - the bounds (see {@link gateLimits}; checked there, not here).
   * @param what - the stage's name, for the EARSHOT_LIMIT_EXCEEDED message.
   * @param unit - how the unit reads in messages (default `'ms of audio'`).
   */
  constructor(limits: GateLimits, what: string, unit = 'ms of audio') {
    this.#limits = limits;
    this.#what = what;
    this.#unit = unit;
  }

  /** What waits now, in the gate's unit. */
  get queued(): number {
    return this.#queued;
  }

  /** True while the gate holds a source's flow. */
  get holding(): boolean {
    return this.#latch.holding;
  }

  /** The dropped counter: size and items dropped by the overflow policy so far. */
  get drops(): { size: number; items: number } {
    return { size: this.#droppedSize, items: this.#droppedItems };
  }

  /**
   * Would `size` more from a source without flow control go past `maxQueued`? Cold arrivals (with `flow`) are
   * never over: their source is held instead.
   */
  wouldOverflow(size: number, flow: FlowControl | undefined): boolean {
    return !flow && this.#queued + size > this.#limits.maxQueued;
  }

  /**
   * Count `size` as waiting. Above `highWater` the arrival's flow is held (one hold at a time). An arrival
   * without flow control that goes past `maxQueued` is refused under `overflow: 'error'` (EARSHOT_LIMIT_EXCEEDED is
   * thrown and nothing is counted); under the drop policies the caller has made room or dropped it first.
   *
   * @throws EARSHOT_LIMIT_EXCEEDED as above.
   */
  add(size: number, flow: FlowControl | undefined): void {
    if (this.#limits.overflow === 'error' && this.wouldOverflow(size, flow)) throw this.limitError();
    this.#queued += size;
    if (this.#queued > this.#limits.highWater) this.#latch.hold(flow);
  }

  /** Count `size` as gone; at or below `lowWater` the hold is let go. */
  remove(size: number): void {
    this.#queued = Math.max(0, this.#queued - size);
    if (this.#queued <= this.#limits.lowWater) this.#latch.release();
  }

  /** Count a drop of the overflow policy (not waiting any more) and tell `onDrop`. */
  countDrop(size: number, items = 1): void {
    this.#droppedSize += size;
    this.#droppedItems += items;
    this.#limits.onDrop?.({ size, items, totalSize: this.#droppedSize, totalItems: this.#droppedItems });
  }

  /** Let the source go now, whatever waits (teardown, the end of a loading phase). */
  release(): void {
    this.#latch.release();
  }

  /** The error of `overflow: 'error'`. */
  limitError(): EarshotError {
    const max = this.#limits.maxQueued;
    return new EarshotError('EARSHOT_LIMIT_EXCEEDED', `${this.#what}: more than ${max} ${this.#unit} queued from a source without flow control`, {
      details: { maxQueued: max, queued: this.#queued },
    });
  }
}

/**
 * A FIFO bounded by {@link Backpressure}: items with a size (ms of audio), a hold on the cold source's flow above the
 * high-water mark and its release at the low one, and the overflow policy with its dropped counter for hot sources.
 *
 * @example
 * ```ts
 * const queue = new BoundedQueue<AudioChunk>(queueLimits(options, { highWaterMs: 1000, maxQueuedMs: 60_000 }, 'x()'), 'x()');
 * queue.push(chunk, frameToMs(frameCount(chunk), chunk.sampleRate), chunk.flow); // may throw EARSHOT_LIMIT_EXCEEDED
 * const next = queue.shift();
 * ```
 */
export class BoundedQueue<T> {
  readonly #gate: Backpressure;
  readonly #overflow: OverflowPolicy;
  #items: Array<{ item: T; size: number } | undefined> = [];
  #head = 0;

  /**
   * @param limits - checked bounds ({@link queueLimits}).
   * @param what - the stage's name, for messages.
   * @param unit - how the unit reads in messages (default `'ms of audio'`).
   */
  constructor(limits: GateLimits, what: string, unit?: string) {
    this.#gate = new Backpressure(limits, what, unit);
    this.#overflow = limits.overflow;
  }

  /** Items waiting. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Size waiting (ms of audio for audio queues). */
  get queued(): number {
    return this.#gate.queued;
  }

  /** True while the queue holds a source's flow. */
  get holding(): boolean {
    return this.#gate.holding;
  }

  /** The dropped counter: size and items dropped by the overflow policy so far. */
  get drops(): { size: number; items: number } {
    return this.#gate.drops;
  }

  /**
   * Queue `item` of `size`. With `flow`, the source is held above the high-water mark. Without it, past
   * `maxQueued`: `'error'` throws, `'drop-oldest'` drops from the front until it fits, `'drop-newest'` drops `item`.
   *
   * @returns false if `item` itself was dropped.
   * @throws EARSHOT_LIMIT_EXCEEDED under `overflow: 'error'`.
   */
  push(item: T, size: number, flow?: FlowControl): boolean {
    if (this.#overflow !== 'error' && this.#gate.wouldOverflow(size, flow)) {
      if (this.#overflow === 'drop-newest') {
        this.#gate.countDrop(size);
        return false;
      }
      let size0 = 0;
      let items = 0;
      while (this.length > 0 && this.#gate.wouldOverflow(size, flow)) {
        const s = this.#take()!.size;
        size0 += s;
        items++;
      }
      if (items > 0) this.#gate.countDrop(size0, items);
    }
    this.#gate.add(size, flow);
    this.#items.push({ item, size });
    return true;
  }

  /** The oldest item, removed (undefined when empty); the hold is let go once at or below the low-water mark. */
  shift(): T | undefined {
    return this.#take()?.item;
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.#items[this.#head]?.item;
  }

  /** Empty the queue and let the source go (teardown). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#gate.remove(this.#gate.queued);
    this.#gate.release();
  }

  #take(): { item: T; size: number } | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    this.#gate.remove(entry.size);
    return entry;
  }
}
