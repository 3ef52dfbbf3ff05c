/**
 * A pool of engine decoder slots ("workers"), each with its own pocketsphinx decoder; by default they share one
 * dictionary and language model (loaded by the first, `shareModel`). All slots live on one engine worker thread,
 * which runs the recognisers' JavaScript off the main thread; the decoders' heavy native calls (loading, decoding,
 * ending an utterance, the best path) run on libuv's thread pool through koffi's asynchronous calls, so the slots
 * decode in parallel without a thread of their own each (~10 MB of RSS per slot saved). libuv's thread pool has
 * `UV_THREADPOOL_SIZE` threads (default 4), shared with `fs`, `dns` and `zlib`: a pool with more slots than that
 * cannot decode on all of them at once (the pool warns once; the CLI sizes it). The main thread only moves audio
 * and events: clip audio is copied once into a `SharedArrayBuffer` (a retry needs no second copy), stream audio is
 * transferred.
 *
 * Scheduling: a clip goes to a ready slot with no clip in flight and the fewest live sessions (least-busy);
 * otherwise it waits in a FIFO queue. A live session is pinned to the slot with the least load when it opens.
 * A slot that stops answering (`jobTimeoutMs`) is abandoned and replaced: a native call cannot be interrupted, so its
 * decoder is left to finish its call (then freed; if the call never returns, its memory and one libuv thread stay
 * taken) while a fresh decoder takes the slot; if the engine thread itself does not answer either, it is terminated.
 * When the engine thread crashes, every slot is replaced. A replaced slot's clip fails with a retryable
 * `EARSHOT_WORKER_CRASHED` and its live sessions fail with that code. The pool is a lower layer: by default it makes
 * one attempt of a clip and the owner of the clip (`transcribeBatch`) retries it, so retries never multiply; a
 * caller that owns clips itself may give the pool a `retry` policy. A clip's events arrive in one message, so an
 * attempt that died delivered nothing and no audio is transcribed twice.
 *
 * The thread and the slots start on demand; the thread is `unref()`ed while idle (once loaded), so an idle pool
 * never keeps a process alive.
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
import { libuvThreads } from './thread-pool.js';
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
 * V8 limits of the engine thread. Its JavaScript only moves messages and events, so a young generation of 2 MB
 * (instead of growing to V8's default of up to 16 MB semi-spaces) is plenty; this keeps ~1 MB off the RSS.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2 };

/** How long a closing pool waits for the engine thread to end itself before terminating it (ms). */
const SHUTDOWN_GRACE_MS = 10_000;

/** Settings of an {@link EnginePool}. */
export interface EnginePoolOptions {
  /**
   * Number of decoder slots (parallel decodes). Default `os.availableParallelism()`. More than libuv's thread pool
   * (`UV_THREADPOOL_SIZE`, default 4) cannot all decode at once.
   */
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
   * A slot that has work and sends nothing for this long is considered hung and replaced (ms); an engine thread that
   * then does not answer for as long is terminated. The audio given to the slot and not yet answered (a clip, a
   * session's unacknowledged writes, what is left of a session's second pass over its first utterance) adds its
   * duration; a clip and a second pass report progress each second. Default 30000.
   */
  jobTimeoutMs?: number;
  /**
   * Niceness added to the engine thread and given to libuv's thread pool, where the decoding runs (Linux), so the
   * main thread, which paces audio and delivers events, keeps its latency while the decoders use every core. The
   * thread pool is the process's: its `fs`, `dns` and `zlib` work runs niced too. 0 leaves the default priority.
   * Default 10.
   */
  niceness?: number;
  /**
   * How a clip whose worker crashed or hung is retried on a fresh worker (default `{ attempts: 1 }`: not at all;
   * the clip fails with a retryable `EARSHOT_WORKER_CRASHED` for its owner, e.g. `transcribeBatch`, to retry).
   */
  retry?: Partial<RetryPolicy>;
  /** Engine thread entry to run instead of the built-in one (custom engines, fault injection in tests). */
  workerUrl?: URL;
  /** Passed to a custom worker entry as `workerData.extra`. */
  workerExtra?: unknown;
}

/** Callbacks of a live session. */
export interface PoolSessionHandlers {
  onEvent(event: TranscriptEvent): void;
  onError(error: EarshotError): void;
}

/** A live session pinned to one decoder slot. */
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
  /** Samples of the first utterance's second pass still to decode, as last reported (0 when none runs). */
  redecoding: number;
  done: boolean;
  drainWaiters: Array<{ below: number; resolve(): void }>;
  endWaiter?: { resolve(): void; reject(err: EarshotError): void };
}

/** A decoder slot (its decoders live on the engine thread). */
interface Slot {
  index: number;
  engine: Engine;
  ready: boolean;
  rss: number;
  clip?: ClipJob;
  sessions: Map<number, SessionState>;
  timer?: NodeJS.Timeout;
  dead: boolean;
  /** warmUp() calls waiting for the slot to load. */
  loading: Array<{ resolve(): void; reject(err: EarshotError): void }>;
}

/** The engine thread. */
interface Engine {
  worker: Worker;
  /** A slot has loaded on it. */
  loaded: boolean;
  /** Set while an `abandon` is unanswered: terminates the thread when it fires. */
  unanswered?: NodeJS.Timeout;
  dead: boolean;
}

let warnedThreads = false;

/** The retryable error of work on a slot that was replaced after its engine hung or crashed. */
function replacedError(hung: boolean, cause: unknown): EngineError {
  return new EngineError('EARSHOT_WORKER_CRASHED', `engine worker ${hung ? 'hung' : 'crashed'} and was replaced`, { cause, retryable: true });
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
 * Decoder slots running the embedded engine on one engine thread (see the module's notes).
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
  /** Live sessions by id. */
  readonly #sessions = new Map<number, SessionState>();
  #engine: Engine | undefined;
  #nextId = 1;
  #closed = false;
  #fatal: EarshotError | undefined;
  /** Engine threads in a row that died before loading a model. */
  #startFailures = 0;
  /** Slots replaced after a crash or hang (for tests and monitoring). */
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
    if (size > libuvThreads() && !warnedThreads) {
      warnedThreads = true;
      process.emitWarning(
        `an engine pool of ${size} decoders decodes at most ${libuvThreads()} at once: libuv's thread pool (shared with fs, dns and zlib) has ${libuvThreads()} threads; set UV_THREADPOOL_SIZE (e.g. ${size + 4}) before the process starts`,
        { code: 'EARSHOT_THREADPOOL' },
      );
    }
  }

  /** Decoder slots started (on demand), all on one engine thread. */
  get threads(): number {
    return this.#slots.filter((s) => s && !s.dead).length;
  }

  /** Resident memory when each slot's decoder was loaded (bytes, whole process at that moment). */
  get workerRss(): number[] {
    return this.#slots.flatMap((s) => (s && s.ready ? [s.rss] : []));
  }

  /** Start every slot now and wait until each has loaded its decoder (otherwise they start on demand). */
  async warmUp(): Promise<void> {
    this.#assertOpen();
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < this.size; i++) {
      const slot = this.#slots[i] ?? this.#spawn(i);
      if (!slot.ready) waits.push(new Promise<void>((resolve, reject) => slot.loading.push({ resolve, reject })));
    }
    await Promise.all(waits);
  }

  /**
   * Transcribe one clip (16 kHz mono) on the least-busy slot.
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
   * Open a live session on the slot with the least load.
   *
   * @throws {EngineError} `EARSHOT_ENGINE_UNAVAILABLE` when the engine could not load before.
   * @throws {AbortError} `EARSHOT_ABORTED` when the pool is closed.
   */
  openSession(options: StreamRecognizerOptions, handlers: PoolSessionHandlers): PoolSession {
    this.#assertOpen();
    if (this.#fatal) throw this.#fatal;
    const slot = this.#pickForSession();
    const state: SessionState = { id: this.#nextId++, slot, handlers, unacked: 0, redecoding: 0, done: false, drainWaiters: [] };
    slot.sessions.set(state.id, state);
    this.#sessions.set(state.id, state);
    this.#refresh();
    this.#post(slot, { type: 'open', slot: slot.index, session: state.id, options });
    return {
      write: (samples) => {
        if (state.done) return state.unacked;
        if (samples.length === 0) return state.unacked;
        const copy = samples.slice();
        state.unacked += copy.length;
        this.#post(state.slot, { type: 'audio', session: state.id, samples: copy }, [copy.buffer]);
        this.#arm(state.slot, false);
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
          this.#arm(state.slot, false);
        });
      },
      close: () => {
        if (state.done) return;
        this.#finishSession(state);
        if (!state.slot.dead) this.#post(state.slot, { type: 'close', session: state.id });
      },
    };
  }

  /**
   * Stop the engine thread; pending clips and session ends reject with `EARSHOT_ABORTED`. Native calls running then
   * are let return (a clip in progress runs to its end) before the thread frees its decoders and ends, for up to
   * 10 s; after that it is terminated. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new AbortError(new Error('engine pool closed'));
    for (const job of this.#queue.splice(0)) this.#settle(job, err);
    for (const job of [...this.#waiting.keys()]) this.#settle(job, err);
    for (let i = 0; i < this.#slots.length; i++) {
      const slot = this.#slots[i];
      if (!slot) continue;
      this.#slots[i] = undefined;
      slot.dead = true;
      if (slot.timer) clearTimeout(slot.timer);
      if (slot.clip) this.#settle(slot.clip, err);
      for (const w of slot.loading.splice(0)) w.reject(err);
      for (const s of slot.sessions.values()) {
        this.#finishSession(s);
        s.endWaiter?.reject(err);
      }
    }
    const engine = this.#engine;
    if (!engine) return;
    if (engine.unanswered) clearTimeout(engine.unanswered);
    await this.#shutdown(engine.worker);
    engine.dead = true;
    if (this.#engine === engine) this.#engine = undefined;
  }

  /**
   * End the engine thread from inside: it lets running native calls return, frees its decoders and exits.
   * `terminate()` from outside during a call may abort the whole process, so it is only the fallback for a thread
   * that has not exited after {@link SHUTDOWN_GRACE_MS}.
   */
  #shutdown(worker: Worker): Promise<void> {
    if (worker.threadId < 0) return Promise.resolve(); // already exited
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // A thread ends only once its native calls have returned: one that never returns must not hold the process.
        worker.unref();
        worker.terminate().catch(() => undefined);
        resolve();
      }, SHUTDOWN_GRACE_MS);
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

  /** The engine thread, started on first use. */
  #thread(): Engine {
    if (this.#engine && !this.#engine.dead) return this.#engine;
    const init: WorkerInit = { earshotEngine: true, decoder: this.#decoder, niceness: this.#niceness, ...(this.#extra === undefined ? {} : { extra: this.#extra }) };
    const worker = new Worker(this.#worker.script, { workerData: init, eval: this.#worker.eval, resourceLimits: WORKER_LIMITS });
    const engine: Engine = { worker, loaded: false, dead: false };
    this.#engine = engine;
    // A thread that dies while loading the shared model parts hands the loading on to the next one.
    const { threadId } = worker;
    const shared = this.#decoder.shared;
    if (shared) worker.once('exit', () => releaseSharedModelCell(shared, threadId));
    worker.on('message', (msg: FromWorker) => this.#onMessage(engine, msg));
    worker.on('error', (err) => this.#onDeath(engine, err));
    worker.on('exit', (code) => this.#onDeath(engine, new Error(`engine thread exited with code ${code}`)));
    return engine;
  }

  #spawn(index: number): Slot {
    const engine = this.#thread();
    const slot: Slot = { index, engine, ready: false, rss: 0, sessions: new Map(), dead: false, loading: [] };
    this.#slots[index] = slot;
    this.#post(slot, { type: 'load', slot: index });
    // Referenced while it loads (someone is waiting for it); unref()ed once idle.
    this.#refresh();
    return slot;
  }

  /** Least load among live slots; start another while there is room and every live one is busy. */
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
    // An engine thread that has not answered an abandonment may be stuck itself: a clip sent there would only fail
    // with it. Clips wait for its answer or its replacement.
    if (this.#engine?.unanswered) return;
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
        // Start slots for the waiting clips, if there is room.
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
      this.#refresh();
      this.#post(best, { type: 'clip', slot: best.index, job: job.id, samples: job.samples });
      this.#arm(best, false);
    }
  }

  #post(slot: Slot, msg: ToWorker, transfer?: ArrayBuffer[]): void {
    if (slot.dead || slot.engine.dead) return;
    slot.engine.worker.postMessage(msg, transfer);
  }

  /**
   * The hang watchdog of a slot with work: it fires when the engine thread has said nothing about the slot for
   * `jobTimeoutMs` plus the audio given to it and not yet answered (a clip, unacknowledged session audio, what is left
   * of a second pass), so a long write, clip or pass gets its duration on top. Work sent to the slot starts it when it
   * is not running; only the engine's messages (acks, events, progress of a clip or of a session's second pass)
   * restart it, so a steady stream of audio cannot hide a hung engine.
   *
   * @param answered - the engine just sent a message about the slot (restart); otherwise work was sent (start).
   */
  #arm(slot: Slot, answered: boolean): void {
    if (slot.timer && !answered) return;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    // Audio given and not answered, or being decoded again; a session waiting for its end counts as work too.
    let pending = slot.clip ? slot.clip.samples.length : 0;
    let ending = false;
    for (const s of slot.sessions.values()) {
      pending += s.unacked + s.redecoding;
      ending ||= s.endWaiter !== undefined;
    }
    const busy = slot.clip !== undefined || pending > 0 || ending;
    // A slot still loading its decoder is watched too once a session gave it audio: the engine thread handles that
    // audio while the load runs on the thread pool, and a thread stuck there would never say 'ready'.
    if (!busy || slot.dead) return;
    const budget = this.#timeoutMs + Math.round((pending * 1000) / ENGINE_SAMPLE_RATE);
    slot.timer = setTimeout(() => this.#abandon(slot, new Error(`engine slot sent nothing for ${budget} ms`)), budget);
    slot.timer.unref();
  }

  /**
   * A hung slot: its native call cannot be interrupted, so the engine thread drops the slot (freeing its decoder if
   * the call ever returns) and the slot starts afresh on demand. An engine thread that does not answer that either
   * is stuck itself and is terminated.
   */
  #abandon(slot: Slot, cause: Error): void {
    const engine = slot.engine;
    this.#post(slot, { type: 'abandon', slot: slot.index });
    if (!engine.unanswered) {
      engine.unanswered = setTimeout(() => {
        engine.worker.terminate().catch(() => undefined);
        this.#onDeath(engine, new Error(`engine thread did not answer for ${this.#timeoutMs} ms`), true);
      }, this.#timeoutMs);
      engine.unanswered.unref();
    }
    this.replaced++;
    this.#retire(slot, replacedError(true, cause), true);
  }

  /** ref() the engine thread while a slot has work or is loading, unref() it when idle. */
  #refresh(): void {
    const engine = this.#engine;
    if (!engine || engine.dead) return;
    if (this.#slots.some((s) => s && !s.dead && (!s.ready || s.clip || s.sessions.size > 0))) engine.worker.ref();
    else engine.worker.unref();
  }

  #onMessage(engine: Engine, msg: FromWorker): void {
    if (engine.dead) return;
    if (msg.type === 'abandoned') {
      if (engine.unanswered) clearTimeout(engine.unanswered);
      engine.unanswered = undefined;
      this.#pump();
      return;
    }
    if ('slot' in msg) {
      const slot = this.#slots[msg.slot];
      if (!slot || slot.dead || slot.engine !== engine) return;
      switch (msg.type) {
        case 'ready':
          slot.ready = true;
          slot.rss = msg.rss;
          engine.loaded = true;
          this.#startFailures = 0;
          for (const w of slot.loading.splice(0)) w.resolve();
          this.#pump();
          break;
        case 'fatal': {
          const err = fromWire(msg.error, 'EARSHOT_ENGINE_UNAVAILABLE');
          this.#fatal = err;
          for (const job of this.#queue.splice(0)) this.#settle(job, err);
          this.#retire(slot, err, false);
          break;
        }
        case 'clip-done':
        case 'clip-failed': {
          const job = slot.clip;
          if (!job || job.id !== msg.job) break;
          slot.clip = undefined;
          if (msg.type === 'clip-done') this.#settle(job, undefined, msg.events);
          else this.#settle(job, fromWire(msg.error));
          this.#pump();
          break;
        }
      }
      this.#refresh();
      this.#arm(slot, true);
      return;
    }
    const s = this.#sessions.get(msg.session);
    if (!s || s.slot.engine !== engine) return;
    s.redecoding = msg.type === 'progress' ? msg.samples : 0;
    switch (msg.type) {
      case 'event':
        s.handlers.onEvent(msg.event);
        break;
      case 'ack': {
        s.unacked -= msg.samples;
        s.drainWaiters = s.drainWaiters.filter((w) => (s.unacked <= w.below ? (w.resolve(), false) : true));
        break;
      }
      case 'ended': {
        const waiter = s.endWaiter;
        this.#finishSession(s);
        waiter?.resolve();
        break;
      }
      case 'session-failed': {
        const err = fromWire(msg.error);
        const waiter = s.endWaiter;
        this.#finishSession(s);
        s.handlers.onError(err);
        waiter?.reject(err);
        break;
      }
    }
    this.#arm(s.slot, true);
  }

  #finishSession(s: SessionState): void {
    if (s.done) return;
    s.done = true;
    s.slot.sessions.delete(s.id);
    this.#sessions.delete(s.id);
    for (const w of s.drainWaiters) w.resolve();
    s.drainWaiters = [];
    s.endWaiter = undefined;
    this.#refresh();
  }

  /** The engine thread died (crash, exit, stuck): every slot on it is replaced (its clip retried, its sessions failed). */
  #onDeath(engine: Engine, cause: unknown, hung = false): void {
    if (engine.dead) return;
    engine.dead = true;
    if (engine.unanswered) clearTimeout(engine.unanswered);
    if (this.#engine === engine) this.#engine = undefined;
    const slots = this.#slots.filter((s): s is Slot => s !== undefined && s.engine === engine && !s.dead);
    if (!engine.loaded && ++this.#startFailures >= 2) {
      // The entry itself cannot start (missing file, broken install): stop respawning.
      const err = new EngineError('EARSHOT_ENGINE_UNAVAILABLE', `engine worker cannot start: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      this.#fatal = err;
      for (const job of this.#queue.splice(0)) this.#settle(job, err);
      for (const slot of slots) this.#retire(slot, err, false);
      return;
    }
    const err = replacedError(hung, cause);
    for (const slot of slots) {
      // A slot that was still loading is started again, not counted as replaced.
      if (slot.ready || !engine.loaded) this.replaced++;
      this.#retire(slot, err, true);
    }
    // Clips held back while the thread was suspect go to a fresh one.
    this.#pump();
  }

  #retire(slot: Slot, err: EarshotError, retry: boolean): void {
    slot.dead = true;
    if (slot.timer) clearTimeout(slot.timer);
    for (const w of slot.loading.splice(0)) w.reject(err.code === 'EARSHOT_WORKER_CRASHED' ? new EngineError('EARSHOT_WORKER_CRASHED', 'engine worker exited while loading', { cause: err }) : err);
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
    this.#refresh();
  }

  #abortJob(job: ClipJob, err: EarshotError): void {
    const i = this.#queue.indexOf(job);
    if (i >= 0) this.#queue.splice(i, 1);
    // A job already on a slot finishes there; its result is dropped.
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
