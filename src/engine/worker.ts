/**
 * Entry point of the pool's engine thread, which hosts every decoder slot of the pool: each slot loads one decoder
 * when the pool first needs it and serves clip jobs and live sessions pinned to it; a second decoder is loaded only
 * while two sessions are open on one slot at once. The recognisers' JavaScript runs here, off the main thread; the
 * decoders' heavy calls run on libuv's thread pool, so the slots decode in parallel (one thread per slot would cost
 * ~10 MB more each). The main thread only moves audio and events.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { EarshotError } from '../core/errors.js';
import { Decoder } from './pocketsphinx.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './protocol.js';
import { recognizeClip, StreamRecognizer } from './recognizer.js';
import { libuvThreads } from './thread-pool.js';

function wire(err: unknown): WireError {
  if (err instanceof EarshotError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

/**
 * Lower this thread's scheduling priority (Linux `setpriority` on the thread id), so the main thread, which moves
 * audio and events, wins the CPU when workers keep every core busy. Best effort: returns the niceness in force.
 */
function niceThisThread(niceness: number): number {
  if (niceness === 0 || process.platform !== 'linux') return 0;
  try {
    const gettid = koffi.load('libc.so.6').func('int gettid()') as () => number;
    const tid = gettid();
    setPriority(tid, Math.min(19, getPriority(tid) + niceness));
    return getPriority(tid);
  } catch {
    // Not permitted or no gettid(): the worker runs at the default priority, which is only slower for others.
    return 0;
  }
}

/** Stack of koffi's asynchronous calls on the engine thread (bytes). */
const ASYNC_STACK = 1 << 20;

/** How long {@link niceThreadPool} waits for libuv's threads to take its waits (ms). */
const CATCH_MS = 200;

/**
 * Give libuv's thread pool, where the decoders' calls run, the engine thread's niceness (Linux), so decoding leaves
 * the main thread its latency. A thread's niceness can only be set by its id, and libuv does not name its threads:
 * each of the pool's threads is made to wait on one semaphore (`sem_timedwait`, one asynchronous call per thread), the
 * threads found waiting on it (`/proc/self/task/<tid>/syscall`) are reniced, then all are released. Threads busy
 * with other work for longer than {@link CATCH_MS} keep their priority. Best effort; runs before any decoder loads.
 * The pool is the process's: its `fs`, `dns` and `zlib` work runs niced too.
 */
async function niceThreadPool(niceness: number): Promise<void> {
  if (niceness === 0 || process.platform !== 'linux') return;
  const threads = libuvThreads();
  try {
    const c = koffi.load('libc.so.6');
    const malloc = c.func('void *malloc(size_t size)') as (n: number) => bigint | null;
    const free = c.func('void free(void *p)') as (p: bigint) => void;
    const semInit = c.func('int sem_init(void *sem, int pshared, unsigned int value)') as (p: bigint, s: number, v: number) => number;
    const semWait = c.func('int sem_timedwait(void *sem, const void *abstime)');
    const semPost = c.func('int sem_post(void *sem)') as (p: bigint) => number;
    // The semaphore, then the waits' deadline (a timespec): were this thread to end before releasing them, the
    // waits end by themselves (a thread pool left blocked would stall the process, and this thread's exit with it).
    const sem = malloc(64 + 16);
    if (!sem || semInit(sem, 0, 0) !== 0) {
      if (sem) free(sem);
      return;
    }
    const until = Date.now() + 2 * CATCH_MS;
    koffi.encode(sem, 64, 'int64_t', Math.floor(until / 1000));
    koffi.encode(sem, 72, 'int64_t', (until % 1000) * 1e6);
    // One wait per thread, within koffi's queue of asynchronous calls (256).
    const waits: Array<Promise<void>> = [];
    try {
      while (waits.length < Math.min(threads, 128)) {
        let done!: () => void;
        const wait = new Promise<void>((resolve) => (done = resolve));
        semWait.async(sem, sem + 64n, () => done());
        waits.push(wait);
      }
    } catch {
      // koffi's queue is full: the waits made are released below
    }
    try {
      const found = new Set<number>();
      const deadline = Date.now() + CATCH_MS;
      while (found.size < waits.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
        for (const tid of readdirSync('/proc/self/task')) {
          try {
            // "<syscall number> <first argument> …": a thread in futex(&sem, …).
            const arg = readFileSync(`/proc/self/task/${tid}/syscall`, 'latin1').split(' ')[1];
            const at = arg?.startsWith('0x') ? BigInt(arg) : -1n;
            if (at >= sem && at < sem + 64n) found.add(Number(tid));
          } catch {
            // the thread ended, or this kernel does not show it
          }
        }
      }
      for (const tid of found) {
        try {
          setPriority(tid, Math.max(getPriority(tid), niceness));
        } catch {
          // not permitted: that thread keeps its priority
        }
      }
    } finally {
      // Whatever happened, every wait is released.
      for (let i = 0; i < waits.length; i++) semPost(sem);
      await Promise.all(waits);
    }
    free(sem);
  } catch {
    // no semaphores or no /proc: the thread pool keeps the default priority, which is only slower for others
  }
}

/** The part of a worker's parent port that {@link serve} uses. */
export interface EnginePort {
  postMessage(message: FromWorker): void;
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
}

/**
 * Serve engine messages on `port` (the thread's parent port): load slots' decoders, answer clip jobs and sessions.
 * Exported so a custom worker entry can wrap the port (fault injection in tests). A model that cannot load is
 * reported as a `fatal` message (`EARSHOT_ENGINE_UNAVAILABLE` / `EARSHOT_ENGINE_FAILED`), never thrown.
 *
 * @example
 * ```ts
 * // a custom entry, started with new EnginePool({ workerUrl: new URL('./my-worker.js', import.meta.url) })
 * import { parentPort, workerData } from 'node:worker_threads';
 * serve(parentPort!, workerData);
 * ```
 */
export function serve(port: EnginePort, init: WorkerInit): void {
  const post = (msg: FromWorker): void => port.postMessage(msg);
  try {
    // koffi runs an asynchronous call on a stack of its own, 128 KiB by default: the decoders' calls need less than
    // 64 KiB on the bench's speech (the least koffi allows), 1 MiB leaves room for what they did not meet. Settable
    // only before this thread's first library load.
    koffi.config({ ...koffi.config(), async_stack_size: ASYNC_STACK });
  } catch {
    // a library was loaded on this thread already (a custom entry): koffi's default stays
  }
  const slots = new Map<number, EngineSlot>();
  const sessions = new Map<number, EngineSession>();
  /** Work in progress (loads, clips, sessions winding down): a shutdown waits for it. */
  const work = new Set<Promise<unknown>>();
  let closing = false;
  const track = (p: Promise<unknown>): void => {
    const settled: Promise<boolean> = p.then(
      () => work.delete(settled),
      () => work.delete(settled),
    );
    work.add(settled);
  };

  const niceness = niceThisThread(init.niceness ?? 0);
  const niced = niceThreadPool(niceness);
  const slotOf = (index: number): EngineSlot => {
    let slot = slots.get(index);
    if (!slot) slots.set(index, (slot = { idle: [], gone: false, loading: Promise.resolve() }));
    return slot;
  };
  const acquire = async (slot: EngineSlot): Promise<Decoder> => {
    // A session opened on a slot still loading takes that decoder rather than loading a second one.
    await slot.loading;
    return slot.idle.pop() ?? (await Decoder.create(init.decoder));
  };
  const release = (slot: EngineSlot, decoder: Decoder): void => {
    // Keep one spare decoder per slot; free the others (each holds ~33 MB of its own, ~100 MB without a shared model).
    if (slot.gone || closing || slot.idle.length > 0) decoder.free();
    else slot.idle.push(decoder);
  };
  /** Stop a session's recognizer, then give its decoder back. */
  const wind = (s: EngineSession): void => {
    s.done = true;
    sessions.delete(s.id);
    track(s.recognizer.then((r) => r.cancel()).then(() => s.decoder && release(s.slot, s.decoder), () => undefined));
  };
  const fail = (s: EngineSession, err: unknown): void => {
    if (s.done) return;
    wind(s);
    post({ type: 'session-failed', session: s.id, error: wire(err) });
  };

  port.on('message', (msg) => {
    switch (msg.type) {
      case 'load': {
        const slot = slotOf(msg.slot);
        slot.loading = niced.then(() => Decoder.create(init.decoder)).then(
          (decoder) => {
            release(slot, decoder);
            if (!slot.gone) post({ type: 'ready', slot: msg.slot, rss: process.memoryUsage().rss, niceness });
          },
          (err: unknown) => post({ type: 'fatal', slot: msg.slot, error: wire(err) }),
        );
        track(slot.loading);
        break;
      }
      case 'clip': {
        const slot = slotOf(msg.slot);
        const job = acquire(slot).then(async (decoder) => {
          try {
            return await recognizeClip(decoder, msg.samples, () => post({ type: 'progress', slot: msg.slot, job: msg.job }));
          } finally {
            release(slot, decoder);
          }
        });
        track(
          job.then(
            (events) => post({ type: 'clip-done', slot: msg.slot, job: msg.job, events }),
            (err: unknown) => post({ type: 'clip-failed', slot: msg.slot, job: msg.job, error: wire(err) }),
          ),
        );
        break;
      }
      case 'open': {
        const slot = slotOf(msg.slot);
        const id = msg.session;
        const s: EngineSession = {
          id,
          slot,
          done: false,
          recognizer: acquire(slot).then((decoder) => {
            s.decoder = decoder;
            return new StreamRecognizer(
              decoder,
              (event) => s.done || post({ type: 'event', session: id, event }),
              msg.options,
              (samples) => s.done || post({ type: 'progress', session: id, samples }),
            );
          }),
        };
        s.recognizer.catch((err: unknown) => fail(s, err));
        sessions.set(id, s);
        break;
      }
      case 'audio': {
        const s = sessions.get(msg.session);
        if (!s) break;
        const samples = msg.samples;
        s.recognizer
          .then((r) => r.write(samples))
          .then(
            () => s.done || post({ type: 'ack', session: s.id, samples: samples.length }),
            (err: unknown) => fail(s, err),
          );
        break;
      }
      case 'end': {
        const s = sessions.get(msg.session);
        if (!s) break;
        s.recognizer
          .then((r) => r.end())
          .then(
            () => {
              if (s.done) return;
              wind(s);
              post({ type: 'ended', session: s.id });
            },
            (err: unknown) => fail(s, err),
          );
        break;
      }
      case 'close': {
        const s = sessions.get(msg.session);
        if (s) wind(s);
        break;
      }
      case 'abandon': {
        const slot = slots.get(msg.slot);
        slots.delete(msg.slot);
        if (slot) {
          slot.gone = true;
          for (const decoder of slot.idle.splice(0)) decoder.free();
          for (const s of [...sessions.values()]) if (s.slot === slot) wind(s);
        }
        post({ type: 'abandoned', slot: msg.slot });
        break;
      }
      case 'shutdown': {
        closing = true;
        for (const s of [...sessions.values()]) wind(s);
        // Decoders in use are freed as their calls return; then the spares, then the thread ends.
        void Promise.allSettled([...work]).then(() => {
          for (const slot of slots.values()) for (const decoder of slot.idle.splice(0)) decoder.free();
          if (!isMainThread) process.exit(0);
        });
        break;
      }
    }
  });
}

/** A decoder slot on this thread. */
interface EngineSlot {
  /** Loaded decoders not in use (one kept). */
  idle: Decoder[];
  /** Abandoned: decoders coming back are freed. */
  gone: boolean;
  /** Its first decoder's load (never rejects). */
  loading: Promise<void>;
}

/** A live session on this thread. */
interface EngineSession {
  id: number;
  slot: EngineSlot;
  decoder?: Decoder;
  recognizer: Promise<StreamRecognizer>;
  /** Ended, failed or closed: sends nothing more. */
  done: boolean;
}

if (parentPort && (workerData as { earshotEngine?: boolean } | undefined)?.earshotEngine) {
  serve(parentPort, workerData as WorkerInit);
}
