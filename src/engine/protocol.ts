/**
 * Messages between the main thread and an engine worker. Audio travels as `Int16Array`s whose buffers are
 * transferred (streams) or shared (`SharedArrayBuffer`, clips, so a retry needs no second copy).
 */
import type { TranscriptEvent } from '../core/types.js';
import type { DecoderConfig } from './pocketsphinx.js';
import type { StreamRecognizerOptions } from './recognizer.js';

/** `workerData` of an engine worker. */
export interface WorkerInit {
  /** Marks a worker started by the pool (the entry serves only then). */
  earshotEngine: true;
  decoder: DecoderConfig;
  /** Scheduling niceness for the worker thread (Linux; 0 leaves it alone). */
  niceness?: number;
  /** Anything a custom worker entry needs (fault injection in tests). */
  extra?: unknown;
}

/** Main thread → worker. */
export type ToWorker =
  | { type: 'clip'; job: number; samples: Int16Array }
  | { type: 'open'; session: number; options: StreamRecognizerOptions }
  | { type: 'audio'; session: number; samples: Int16Array }
  | { type: 'end'; session: number }
  | { type: 'close'; session: number }
  /** Free every decoder and end the thread from JavaScript (the pool closing): a thread terminated from outside
   * while it is inside a native call (loading a model, decoding) aborts the process when the call returns. */
  | { type: 'shutdown' };

/** A serialisable error from a worker. */
export interface WireError {
  message: string;
  code?: string;
}

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready'; rss: number; niceness: number }
  | { type: 'fatal'; error: WireError }
  | { type: 'clip-done'; job: number; events: TranscriptEvent[] }
  | { type: 'clip-failed'; job: number; error: WireError }
  | { type: 'event'; session: number; event: TranscriptEvent }
  | { type: 'ack'; session: number; samples: number }
  | { type: 'ended'; session: number }
  | { type: 'session-failed'; session: number; error: WireError };
