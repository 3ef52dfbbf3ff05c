/**
 * Demand-based flow control for cold sources.
 *
 * RxJS has no backpressure, so a cold source (a file) attaches a {@link FlowControl} to every chunk it emits.
 * A slow stage downstream (a transport with a bounded queue) calls `hold()` and the source stops reading until
 * every hold is released. Operators that make new chunks from old ones pass the `flow` field on.
 * Hot sources (mic, RTP) emit no flow control: they cannot pause, so they bound their own buffers instead.
 */
export class FlowControl {
  #holds = 0;
  #waiters: Array<() => void> = [];

  /** Ask the source to pause; call the returned function once to let it go on. */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      if (this.#holds === 0) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) w();
      }
    };
  }

  /** True while at least one hold is active. */
  get paused(): boolean {
    return this.#holds > 0;
  }

  /** Resolves when no hold is active (at once if none is). Used by sources between reads. */
  ready(): Promise<void> {
    if (this.#holds === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * At most one hold on each source's {@link FlowControl} at a time: the latch a stage uses to pause its source while
 * it is full (a queue above its high-water mark, a Writable waiting for `drain`, a Readable nobody reads). Chunks of
 * concatenated sources carry one flow per source: a hold taken on an earlier source does not pause a later one, so
 * each flow seen while full is held, and `release()` lets every one go.
 *
 * @example
 * ```ts
 * const latch = new FlowLatch();
 * if (!stream.write(data)) {
 *   latch.hold(chunk.flow);
 *   stream.once('drain', () => latch.release());
 * }
 * ```
 */
export class FlowLatch {
  readonly #held = new Map<FlowControl, () => void>();

  /** True while the latch holds a flow. */
  get holding(): boolean {
    return this.#held.size > 0;
  }

  /** Hold `flow` unless it is held already (nothing happens without a flow: a hot source cannot pause). */
  hold(flow: FlowControl | undefined): void {
    if (flow && !this.#held.has(flow)) this.#held.set(flow, flow.hold());
  }

  /** Let every held flow go (nothing happens when none is held). */
  release(): void {
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const r of held) r();
  }
}
