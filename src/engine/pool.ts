/**
 * A pool of engine worker threads, each with its own pocketsphinx decoder; by default they share one dictionary and
 * language model (loaded by the first worker, `shareModel`). The main thread only moves audio and
 * events: clip audio is copied once into a `SharedArrayBuffer` (a retry needs no second copy), stream audio is
 * transferred.
 *
 * Scheduling: a clip goes to a ready worker with no clip in flight and the fewest live sessions (least-busy);
 * otherwise it waits in a FIFO queue. A live session is pinned to the worker with the least load when it opens.
 * A worker that crashes or stops answering (`jobTimeoutMs`) is terminated and replaced; its clip fails with a
 * retryable `EARSHOT_WORKER_CRASHED` and its live sessions fail with that code. The pool is a lower layer: by default
 * it makes one attempt of a clip and the owner of the clip (`transcribeBatch`) retries it, so retries never
 * multiply; a caller that owns clips itself may give the pool a `retry` policy. A clip's events arrive in one
 * message, so an attempt that died delivered nothing and no audio is transcribed twice.
 *
 * Workers start on demand and are `unref()`ed while idle (once loaded), so an idle pool never keeps a process
 * alive.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AbortError, EarshotError, EngineError, InvalidArgumentError } from '../core/errors.js';
import { NO_RETRY, retryDelay, retryPolicy, type RetryPolicy } from '../core/retry.js';
import type { TranscriptEvent } from '../core/types.js';
import type { DecoderConfig } from './pocketsphinx.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './protocol.js';
import { releaseSharedModelCell, sharedModelCell } from './shared-cell.js';
import { ENGINE_SAMPLE_RATE, type StreamRecognizerOptions } from './recognizer.js';

/**
 * One shared-model cell per decoder configuration for the whole process: the shared parts are never freed, so pools
 * made one after another (a server's, a test's) reuse what the first loaded instead of loading it again each time.
 */
const CELLS = new Map<string, SharedArrayBuffer>();
function cellFor(decoder: DecoderConfig): SharedArrayBuffer {
  const key = JSON.stringify(decoder);
  let cell = CELLS.get(key);
  if (!cell) CELLS.set(key, (cell = sharedModelCell()));
  return cell;
}

/**
 * V8 limits of a worker thread. Its JavaScript only moves messages and events, so a young generation of 2 MB
 * (instead of growing to V8's default of up to 16 MB semi-spaces) is plenty; this keeps ~1 MB per worker off the RSS.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2 };

/** How long a closing pool waits for a worker to end itself before terminating it (ms). */
const SHUTDOWN_GRACE_MS = 10_000;

/** Settings of an {@link EnginePool}. */
export interface EnginePoolOptions {
  /** Number of worker threads. Default `os.availableParallelism()`. */
  size?: number;
  /** Model and decoder settings for every worker. */
  decoder?: DecoderConfig;
  /**
   * Workers share the dictionary and the language model's n-grams (loaded once by the first worker) and load only the
   * acoustic model and their own search structures: each worker after the first costs ~33 MB of model instead of
   * ~90 MB, with the same results (see `sharedModelCell`; the shared dictionary holds only the words the language
   * model knows). Default true.
   */
  shareModel?: boolean;
  /**
   * A worker that has work and sends nothing for this long is considered hung and replaced (ms). A clip gets
   * its own duration on top. Default 30000.
   */
  jobTimeoutMs?: number;
  /**
   * Niceness added to each worker thread (Linux), so the main thread, which paces audio and delivers events, keeps
   * its latency while the workers use every core. 0 leaves the default priority. Default 10.
   */
  niceness?: number;
  /**
   * How a clip whose worker crashed or hung is retried on a fresh worker (default `{ attempts: 1 }`: not at all;
   * the clip fails with a retryable `EARSHOT_WORKER_CRASHED` for its owner, e.g. `transcribeBatch`, to retry).
   */
  retry?: Partial<RetryPolicy>;
  /** Worker entry to run instead of the built-in one (custom engines, fault injection in tests). */
  workerUrl?: URL;
  /** Passed to a custom worker entry as `workerData.extra`. */
  workerExtra?: unknown;
}

/** Callbacks of a live session. */
export interface PoolSessionHandlers {
  onEvent(event: TranscriptEvent): void;
  onError(error: EarshotError): void;
}

/** A live session pinned to one worker. */
export interface PoolSession {
  /** Send audio; the array's buffer is copied once and transferred. Returns the samples not yet acknowledged. */
  write(samples: Int16Array): number;
  /** Resolves when unacknowledged audio is at most `samples` (or the session is over). */
  drained(samples: number): Promise<void>;
  /** No more audio; resolves after the last final event was delivered. */
  end(): Promise<void>;
  /** Abandon the session. */
  close(): void;
}

interface ClipJob {
  id: number;
  samples: Int16Array;
  attempts: number;
  resolve(events: TranscriptEvent[]): void;
  reject(err: EarshotError): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  lastError?: EarshotError;
}

interface SessionState {
  id: number;
  slot: Slot;
  handlers: PoolSessionHandlers;
  unacked: number;
  done: boolean;
  drainWaiters: Array<{ below: number; resolve(): void }>;
  endWaiter?: { resolve(): void; reject(err: EarshotError): void };
}

interface Slot {
  worker: Worker;
  ready: boolean;
  rss: number;
  clip?: ClipJob;
  sessions: Map<number, SessionState>;
  timer?: NodeJS.Timeout;
  dead: boolean;
}

/** The worker entry next to this module: `worker.js` in dist/, `worker.ts` when run from sources (tests). */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here);
}

/**
 * How to start a worker entry: a `.js` file directly; a `.ts` file (running from sources under vitest or tsx)
 * through tsx's `tsImport`, because Node 20 does not apply `--import tsx` hooks inside worker threads.
 */
function workerScript(url: URL): { script: string | URL; eval: boolean } {
  if (!url.pathname.endsWith('.ts')) return { script: url, eval: false };
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { script: `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(import.meta.url)}));`, eval: true };
}

function fromWire(error: WireError, fallback: 'EARSHOT_ENGINE_FAILED' | 'EARSHOT_ENGINE_UNAVAILABLE' = 'EARSHOT_ENGINE_FAILED'): EarshotError {
  if (error.code === 'EARSHOT_INVALID_ARGUMENT') return new InvalidArgumentError(error.message);
  return new EngineError(error.code === 'EARSHOT_ENGINE_UNAVAILABLE' ? error.code : fallback, error.message);
}

/**
 * Worker threads running the embedded engine.
 *
 * @throws {InvalidArgumentError} `EARSHOT_INVALID_ARGUMENT` for a bad `size` or timeout.
 * @example
 * ```ts
 * const pool = new EnginePool({ size: 2 });
 * const events = await pool.transcribe(samples); // 16 kHz mono Int16Array
 * await pool.close();
 * ```
 */
export class EnginePool {
  readonly size: number;
  readonly #decoder: DecoderConfig;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  /** Clips waiting to be retried after a crash. */
  readonly #waiting = new Map<ClipJob, NodeJS.Timeout>();
  readonly #worker: { script: string | URL; eval: boolean };
  readonly #extra: unknown;
  readonly #niceness: number;
  readonly #slots: Array<Slot | undefined>;
  readonly #queue: ClipJob[] = [];
  #nextId = 1;
  #closed = false;
  #fatal: EarshotError | undefined;
  /** Workers in a row that died before loading their model. */
  #startFailures = 0;
  /** Workers replaced after a crash or hang (for tests and monitoring). */
  replaced = 0;

  constructor(options: EnginePoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`pool size must be a positive integer, got ${size}`);
    const timeout = options.jobTimeoutMs ?? 30_000;
    if (!(timeout > 0)) throw new InvalidArgumentError(`jobTimeoutMs must be positive, got ${timeout}`);
    const retry = retryPolicy(options.retry, NO_RETRY);
    this.size = size;
    const decoder = options.decoder ?? {};
    this.#decoder = options.shareModel === false || decoder.shared ? decoder : { ...decoder, shared: cellFor(decoder) };
    this.#timeoutMs = timeout;
    this.#retry = retry;
    this.#worker = workerScript(options.workerUrl ?? defaultWorkerUrl());
    this.#extra = options.workerExtra;
    const niceness = options.niceness ?? 10;
    if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new InvalidArgumentError(`niceness must be an integer 0..19, got ${niceness}`);
    this.#niceness = niceness;
    this.#slots = new Array<Slot | undefined>(size).fill(undefined);
  }

  /** Live worker threads (started on demand). */
  get threads(): number {
    return this.#slots.filter((s) => s && !s.dead).length;
  }

  /** Resident memory each worker reported when its model was loaded (bytes, whole process at that moment). */
  get workerRss(): number[] {
    return this.#slots.flatMap((s) => (s && s.ready ? [s.rss] : []));
  }

  /** Start every worker now and wait until each has loaded its model (otherwise they start on demand). */
  async warmUp(): Promise<void> {
    this.#assertOpen();
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < this.size; i++) {
      const slot = this.#slots[i] ?? this.#spawn(i);
      if (slot.ready) continue;
      waits.push(
        new Promise<void>((resolve, reject) => {
          const done = (): void => {
            slot.worker.off('message', onMessage);
            slot.worker.off('exit', onExit);
          };
          const onMessage = (msg: FromWorker): void => {
            if (msg.type === 'ready') {
              done();
              resolve();
            } else if (msg.type === 'fatal') {
              done();
              reject(fromWire(msg.error, 'EARSHOT_ENGINE_UNAVAILABLE'));
            }
          };
          const onExit = (): void => {
            done();
            reject(new EngineError('EARSHOT_WORKER_CRASHED', 'engine worker exited while loading'));
          };
          slot.worker.on('message', onMessage);
          slot.worker.once('exit', onExit);
        }),
      );
    }
    await Promise.all(waits);
  }

  /**
   * Transcribe one clip (16 kHz mono) on the least-busy worker.
   *
   * @throws {EngineError} `EARSHOT_WORKER_CRASHED` (retryable) after the last attempt died, `EARSHOT_ENGINE_UNAVAILABLE`
   *   when the engine cannot load, `EARSHOT_ENGINE_FAILED` when pocketsphinx fails.
   * @throws {AbortError} `EARSHOT_ABORTED` when `signal` aborts or the pool is closed first.
   */
  transcribe(samples: Int16Array, options: { signal?: AbortSignal } = {}): Promise<TranscriptEvent[]> {
    if (this.#closed) return Promise.reject(new AbortError(new Error('engine pool closed')));
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (options.signal?.aborted) return Promise.reject(new AbortError(options.signal.reason));
    // One copy into shared memory: every attempt reads it without another copy.
    let shared = samples;
    if (!(samples.buffer instanceof SharedArrayBuffer)) {
      shared = new Int16Array(new SharedArrayBuffer(samples.byteLength));
      shared.set(samples);
    }
    return new Promise<TranscriptEvent[]>((resolve, reject) => {
      const job: ClipJob = { id: this.#nextId++, samples: shared, attempts: 0, resolve, reject };
      if (options.signal) {
        const signal = options.signal;
        job.signal = signal;
        job.onAbort = () => this.#abortJob(job, new AbortError(signal.reason));
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /**
   * Open a live session on the worker with the least load.
   *
   * @throws {EngineError} `EARSHOT_ENGINE_UNAVAILABLE` when the engine could not load before.
   * @throws {AbortError} `EARSHOT_ABORTED` when the pool is closed.
   */
  openSession(options: StreamRecognizerOptions, handlers: PoolSessionHandlers): PoolSession {
    this.#assertOpen();
    if (this.#fatal) throw this.#fatal;
    const slot = this.#pickForSession();
    const state: SessionState = { id: this.#nextId++, slot, handlers, unacked: 0, done: false, drainWaiters: [] };
    slot.sessions.set(state.id, state);
    this.#refresh(slot);
    this.#post(slot, { type: 'open', session: state.id, options });
    return {
      write: (samples) => {
        if (state.done) return state.unacked;
        if (samples.length === 0) return state.unacked;
        const copy = samples.slice();
        state.unacked += copy.length;
        this.#post(state.slot, { type: 'audio', session: state.id, samples: copy }, [copy.buffer]);
        this.#arm(state.slot);
        return state.unacked;
      },
      drained: (below) => {
        if (state.done || state.unacked <= below) return Promise.resolve();
        return new Promise<void>((resolve) => state.drainWaiters.push({ below, resolve }));
      },
      end: () => {
        if (state.done) return Promise.resolve();
        if (state.endWaiter) return new Promise<void>((resolve, reject) => {
          const prev = state.endWaiter!;
          state.endWaiter = { resolve: () => { prev.resolve(); resolve(); }, reject: (e) => { prev.reject(e); reject(e); } };
        });
        return new Promise<void>((resolve, reject) => {
          state.endWaiter = { resolve, reject };
          this.#post(state.slot, { type: 'end', session: state.id });
          this.#arm(state.slot);
        });
      },
      close: () => {
        if (state.done) return;
        this.#finishSession(state);
        if (!state.slot.dead) this.#post(state.slot, { type: 'close', session: state.id });
      },
    };
  }

  /** Terminate every worker; pending clips and session ends reject with `EARSHOT_ABORTED`. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new AbortError(new Error('engine pool closed'));
    for (const job of this.#queue.splice(0)) this.#settle(job, err);
    for (const job of [...this.#waiting.keys()]) this.#settle(job, err);
    const exits: Array<Promise<void>> = [];
    for (let i = 0; i < this.#slots.length; i++) {
      const slot = this.#slots[i];
      if (!slot) continue;
      this.#slots[i] = undefined;
      slot.dead = true;
      if (slot.timer) clearTimeout(slot.timer);
      if (slot.clip) this.#settle(slot.clip, err);
      for (const s of slot.sessions.values()) {
        this.#finishSession(s);
        s.endWaiter?.reject(err);
      }
      exits.push(this.#shutdown(slot.worker));
    }
    await Promise.all(exits);
  }

  /**
   * End a worker from inside: it frees its decoders and exits once its current native call (a model load, a decode)
   * has returned. `terminate()` from outside during such a call aborts the whole process (koffi cannot throw into
   * a terminating thread), so it is only the fallback for a worker that has not exited after {@link SHUTDOWN_GRACE_MS}.
   */
  #shutdown(worker: Worker): Promise<void> {
    if (worker.threadId < 0) return Promise.resolve(); // already exited
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate().then(() => resolve(), () => resolve()), SHUTDOWN_GRACE_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
      } catch {
        // already gone: 'exit' follows
      }
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new AbortError(new Error('engine pool closed'));
  }

  #spawn(index: number): Slot {
    const init: WorkerInit = { earshotEngine: true, decoder: this.#decoder, niceness: this.#niceness, ...(this.#extra === undefined ? {} : { extra: this.#extra }) };
    const worker = new Worker(this.#worker.script, { workerData: init, eval: this.#worker.eval, resourceLimits: WORKER_LIMITS });
    const slot: Slot = { worker, ready: false, rss: 0, sessions: new Map(), dead: false };
    this.#slots[index] = slot;
    // A worker that dies while loading the shared model parts hands the loading on to the next one.
    const { threadId } = worker;
    const shared = this.#decoder.shared;
    if (shared) worker.once('exit', () => releaseSharedModelCell(shared, threadId));
    // Referenced while it loads (someone is waiting for it); unref()ed once idle.
    worker.on('message', (msg: FromWorker) => this.#onMessage(slot, msg));
    worker.on('error', (err) => this.#onDeath(slot, err));
    worker.on('exit', (code) => this.#onDeath(slot, new Error(`engine worker exited with code ${code}`)));
    return slot;
  }

  /** Least load among live workers; start another while there is room and every live one is busy. */
  #pickForSession(): Slot {
    let best: Slot | undefined;
    let bestLoad = Infinity;
    let free = -1;
    for (let i = 0; i < this.#slots.length; i++) {
      const s = this.#slots[i];
      if (!s) {
        if (free < 0) free = i;
        continue;
      }
      const load = s.sessions.size + (s.clip ? 1 : 0);
      if (load < bestLoad) {
        best = s;
        bestLoad = load;
      }
    }
    if (best && (bestLoad === 0 || free < 0)) return best;
    return this.#spawn(free < 0 ? 0 : free);
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let best: Slot | undefined;
      let starting = 0;
      for (let i = 0; i < this.#slots.length; i++) {
        const s = this.#slots[i];
        if (!s) continue;
        if (!s.ready) {
          starting++;
          continue;
        }
        if (s.clip) continue;
        if (!best || s.sessions.size < best.sessions.size) best = s;
      }
      if (!best) {
        // Start workers for the waiting clips, if there is room.
        let need = this.#queue.length - starting;
        for (let i = 0; i < this.#slots.length && need > 0; i++) {
          if (!this.#slots[i]) {
            this.#spawn(i);
            need--;
          }
        }
        return;
      }
      const job = this.#queue.shift()!;
      job.attempts++;
      best.clip = job;
      this.#refresh(best);
      this.#post(best, { type: 'clip', job: job.id, samples: job.samples });
      this.#arm(best);
    }
  }

  #post(slot: Slot, msg: ToWorker, transfer?: ArrayBuffer[]): void {
    if (slot.dead) return;
    slot.worker.postMessage(msg, transfer);
  }

  /** (Re)start the hang watchdog while the worker has work. */
  #arm(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    const busy = slot.clip !== undefined || [...slot.sessions.values()].some((s) => s.unacked > 0 || s.endWaiter);
    // A worker still loading its model is not hung (a load that fails says so); the watchdog starts at 'ready'.
    if (!busy || slot.dead || !slot.ready) return;
    const clipMs = slot.clip ? (slot.clip.samples.length * 1000) / ENGINE_SAMPLE_RATE : 0;
    slot.timer = setTimeout(() => {
      slot.worker.terminate().catch(() => undefined);
      this.#onDeath(slot, new Error(`engine worker sent nothing for ${this.#timeoutMs + clipMs} ms`), true);
    }, this.#timeoutMs + clipMs);
    slot.timer.unref();
  }

  /** ref() a worker that has work, unref() an idle one. */
  #refresh(slot: Slot): void {
    if (slot.dead) return;
    if (slot.clip || slot.sessions.size > 0) slot.worker.ref();
    else slot.worker.unref();
  }

  #onMessage(slot: Slot, msg: FromWorker): void {
    if (slot.dead) return;
    switch (msg.type) {
      case 'ready':
        slot.ready = true;
        slot.rss = msg.rss;
        this.#startFailures = 0;
        this.#pump();
        this.#refresh(slot);
        this.#arm(slot);
        break;
      case 'fatal': {
        const err = fromWire(msg.error, 'EARSHOT_ENGINE_UNAVAILABLE');
        this.#fatal = err;
        for (const job of this.#queue.splice(0)) this.#settle(job, err);
        this.#retire(slot, err, false);
        slot.worker.terminate().catch(() => undefined);
        break;
      }
      case 'clip-done':
      case 'clip-failed': {
        const job = slot.clip;
        if (!job || job.id !== msg.job) break;
        slot.clip = undefined;
        if (msg.type === 'clip-done') this.#settle(job, undefined, msg.events);
        else this.#settle(job, fromWire(msg.error));
        this.#refresh(slot);
        this.#pump();
        break;
      }
      case 'event':
        slot.sessions.get(msg.session)?.handlers.onEvent(msg.event);
        break;
      case 'ack': {
        const s = slot.sessions.get(msg.session);
        if (!s) break;
        s.unacked -= msg.samples;
        s.drainWaiters = s.drainWaiters.filter((w) => (s.unacked <= w.below ? (w.resolve(), false) : true));
        break;
      }
      case 'ended': {
        const s = slot.sessions.get(msg.session);
        if (!s) break;
        const waiter = s.endWaiter;
        this.#finishSession(s);
        waiter?.resolve();
        break;
      }
      case 'session-failed': {
        const s = slot.sessions.get(msg.session);
        if (!s) break;
        const err = fromWire(msg.error);
        const waiter = s.endWaiter;
        this.#finishSession(s);
        s.handlers.onError(err);
        waiter?.reject(err);
        break;
      }
    }
    this.#arm(slot);
  }

  #finishSession(s: SessionState): void {
    if (s.done) return;
    s.done = true;
    s.slot.sessions.delete(s.id);
    for (const w of s.drainWaiters) w.resolve();
    s.drainWaiters = [];
    s.endWaiter = undefined;
    this.#refresh(s.slot);
  }

  /** A worker died (crash, exit, hang): retry its clip elsewhere, fail its sessions, free its slot. */
  #onDeath(slot: Slot, cause: unknown, hung = false): void {
    if (slot.dead) return;
    if (!slot.ready && ++this.#startFailures >= 2) {
      // The entry itself cannot start (missing file, broken install): stop respawning.
      const err = new EngineError('EARSHOT_ENGINE_UNAVAILABLE', `engine worker cannot start: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      this.#fatal = err;
      for (const job of this.#queue.splice(0)) this.#settle(job, err);
      this.#retire(slot, err, false);
      return;
    }
    const err = new EngineError('EARSHOT_WORKER_CRASHED', hung ? 'engine worker hung and was replaced' : 'engine worker crashed and was replaced', { cause, retryable: true });
    this.replaced++;
    this.#retire(slot, err, true);
  }

  #retire(slot: Slot, err: EarshotError, retry: boolean): void {
    slot.dead = true;
    if (slot.timer) clearTimeout(slot.timer);
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots[index] = undefined;
    const job = slot.clip;
    slot.clip = undefined;
    if (job) {
      job.lastError = err;
      const wait = retry && !this.#closed ? retryDelay(this.#retry, job.attempts, err) : undefined;
      if (wait === undefined) this.#settle(job, err);
      else {
        const timer = setTimeout(() => {
          this.#waiting.delete(job);
          this.#queue.unshift(job);
          this.#pump();
        }, wait);
        this.#waiting.set(job, timer);
      }
    }
    for (const s of [...slot.sessions.values()]) {
      const waiter = s.endWaiter;
      this.#finishSession(s);
      s.handlers.onError(err);
      waiter?.reject(err);
    }
    this.#pump();
  }

  #abortJob(job: ClipJob, err: EarshotError): void {
    const i = this.#queue.indexOf(job);
    if (i >= 0) this.#queue.splice(i, 1);
    // A job already on a worker finishes there; its result is dropped.
    this.#settle(job, err);
  }

  #settle(job: ClipJob, err?: EarshotError, events?: TranscriptEvent[]): void {
    clearTimeout(this.#waiting.get(job));
    this.#waiting.delete(job);
    if (job.onAbort && job.signal) job.signal.removeEventListener('abort', job.onAbort);
    job.onAbort = undefined;
    const resolve = job.resolve;
    const reject = job.reject;
    // Settle once.
    job.resolve = () => undefined;
    job.reject = () => undefined;
    if (err) reject(err);
    else resolve(events ?? []);
  }
}
