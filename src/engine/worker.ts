/**
 * Entry point of an engine worker thread. Loads one decoder at start (the model, once), serves clip jobs and
 * live sessions pinned to it; a second decoder is loaded only while two sessions are open on this worker at once.
 * The main thread only moves audio and events.
 */
import { getPriority, setPriority } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { EarshotError } from '../core/errors.js';
import { Decoder } from './pocketsphinx.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './protocol.js';
import { recognizeClip, StreamRecognizer } from './recognizer.js';

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

/** The part of a worker's parent port that {@link serve} uses. */
export interface EnginePort {
  postMessage(message: FromWorker): void;
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
}

/**
 * Serve engine messages on `port` (the worker's parent port): load the model, then answer clip jobs and sessions.
 * Exported so a custom worker entry can wrap the port (fault injection in tests). A model that cannot load is
 * reported as a `fatal` message (`EARSHOT_ENGINE_UNAVAILABLE` / `EARSHOT_ENGINE_FAILED`), never thrown.
 *
 * @example
 * ```ts
 * // a custom entry, started with new EnginePool({ workerUrl: new URL('./my-worker.js', import.meta.url) })
 * import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
 * serve(parentPort!, workerData);
 * ```
 */
export function serve(port: EnginePort, init: WorkerInit): void {
  const post = (msg: FromWorker): void => port.postMessage(msg);
  const idle: Decoder[] = [];
  const sessions = new Map<number, { decoder: Decoder; recognizer: StreamRecognizer }>();

  const niceness = niceThisThread(init.niceness ?? 0);
  try {
    idle.push(new Decoder(init.decoder));
  } catch (err) {
    post({ type: 'fatal', error: wire(err) });
    return;
  }
  post({ type: 'ready', rss: process.memoryUsage().rss, niceness });

  const acquire = (): Decoder => idle.pop() ?? new Decoder(init.decoder);
  const release = (decoder: Decoder): void => {
    // Keep one spare decoder; free the others (each holds ~33 MB of its own, ~100 MB without a shared model).
    if (idle.length === 0) idle.push(decoder);
    else decoder.free();
  };

  port.on('message', (msg) => {
    switch (msg.type) {
      case 'clip': {
        let decoder: Decoder | undefined;
        try {
          decoder = acquire();
          const events = recognizeClip(decoder, msg.samples);
          post({ type: 'clip-done', job: msg.job, events });
        } catch (err) {
          post({ type: 'clip-failed', job: msg.job, error: wire(err) });
        } finally {
          if (decoder) release(decoder);
        }
        break;
      }
      case 'open': {
        try {
          const decoder = acquire();
          const session = msg.session;
          const recognizer = new StreamRecognizer(decoder, (event) => post({ type: 'event', session, event }), msg.options);
          sessions.set(session, { decoder, recognizer });
        } catch (err) {
          post({ type: 'session-failed', session: msg.session, error: wire(err) });
        }
        break;
      }
      case 'audio': {
        const s = sessions.get(msg.session);
        if (!s) break;
        try {
          s.recognizer.write(msg.samples);
          post({ type: 'ack', session: msg.session, samples: msg.samples.length });
        } catch (err) {
          sessions.delete(msg.session);
          release(s.decoder);
          post({ type: 'session-failed', session: msg.session, error: wire(err) });
        }
        break;
      }
      case 'end': {
        const s = sessions.get(msg.session);
        if (!s) break;
        sessions.delete(msg.session);
        try {
          s.recognizer.end();
          post({ type: 'ended', session: msg.session });
        } catch (err) {
          post({ type: 'session-failed', session: msg.session, error: wire(err) });
        } finally {
          release(s.decoder);
        }
        break;
      }
      case 'close': {
        const s = sessions.get(msg.session);
        if (!s) break;
        sessions.delete(msg.session);
        release(s.decoder);
        break;
      }
      case 'shutdown': {
        for (const s of sessions.values()) s.decoder.free();
        sessions.clear();
        for (const decoder of idle.splice(0)) decoder.free();
        if (!isMainThread) process.exit(0);
        break;
      }
    }
  });
}

if (parentPort && (workerData as { earshotEngine?: boolean } | undefined)?.earshotEngine) {
  serve(parentPort, workerData as WorkerInit);
}
