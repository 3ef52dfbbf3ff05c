/**
 * Messages between the main thread and the pool's engine thread, which hosts every decoder slot of the pool. Audio
 * travels as `Int16Array`s whose buffers are transferred (streams) or shared (`SharedArrayBuffer`, clips, so a retry
 * needs no second copy). Session ids are unique in the pool, so session messages name no slot.
 */
import type { TranscriptEvent } from '../core/types.js';
import type { DecoderConfig } from './pocketsphinx.js';
import type { StreamRecognizerOptions } from './recognizer.js';

/** `workerData` of an engine thread. */
export interface WorkerInit {
  /** Marks a thread started by the pool (the entry serves only then). */
  earshotEngine: true;
  decoder: DecoderConfig;
  /** Scheduling niceness for the engine thread (Linux; 0 leaves it alone). */
  niceness?: number;
  /** Anything a custom worker entry needs (fault injection in tests). */
  extra?: unknown;
}

/** Main thread → engine thread. */
export type ToWorker =
  /** Load the slot's decoder; answered by `ready` or `fatal`. */
  | { type: 'load'; slot: number }
  | { type: 'clip'; slot: number; job: number; samples: Int16Array }
  | { type: 'open'; slot: number; session: number; options: StreamRecognizerOptions }
  | { type: 'audio'; session: number; samples: Int16Array }
  | { type: 'end'; session: number }
  | { type: 'close'; session: number }
  /**
   * Drop the slot (its call hung): its sessions and clip are forgotten, its decoders freed once their running call
   * returns (never, if it never does); a later `load` starts the slot afresh. Answered by `abandoned`.
   */
  | { type: 'abandon'; slot: number }
  /** Let running calls return, free every decoder and end the thread from JavaScript (the pool closing): a thread
   * terminated from outside while a native call runs may abort the process when the call returns. */
  | { type: 'shutdown' };

/** A serialisable error from the engine thread. */
export interface WireError {
  message: string;
  code?: string;
}

/** Engine thread → main thread. */
export type FromWorker =
  | { type: 'ready'; slot: number; rss: number; niceness: number }
  | { type: 'fatal'; slot: number; error: WireError }
  | { type: 'abandoned'; slot: number }
  /** A clip's decoding moved on (each second of its audio, `recognizeClip`'s progress): the slot is alive. */
  | { type: 'progress'; slot: number; job: number }
  | { type: 'clip-done'; slot: number; job: number; events: TranscriptEvent[] }
  | { type: 'clip-failed'; slot: number; job: number; error: WireError }
  /** A session's second pass over its first utterance moved on (each second of it): `samples` are left to decode. */
  | { type: 'progress'; session: number; samples: number }
  | { type: 'event'; session: number; event: TranscriptEvent }
  | { type: 'ack'; session: number; samples: number }
  | { type: 'ended'; session: number }
  | { type: 'session-failed'; session: number; error: WireError };
