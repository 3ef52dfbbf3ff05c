/**
 * The one interface every transport implements, whether it runs the embedded engine or calls a cloud model.
 *
 * A transport may serve whole clips (`transcribeClip`, used by `transcribeBatch` and near-realtime windows) and/or
 * live streams (`openStream`, used by `transcribe` and `transcribeRealtime`). What it can do is stated in
 * `capabilities`; asking for something else is a {@link CapabilityError} before any request is made.
 */
import type { SchedulerLike } from 'rxjs';
import type { TranscriptEvent } from '../core/types.js';
import { CapabilityError, InvalidArgumentError } from '../core/errors.js';

/** What a transport (a model) can do. */
export interface Capabilities {
  /** Streams results while audio is still arriving (`openStream`). */
  realtime: boolean;
  /** Transcribes a whole clip per request (`transcribeClip`). */
  batch: boolean;
  /** Events carry per-word times. */
  wordTimes: boolean;
  /** Events carry an emotion label. */
  emotion: boolean;
  /** Events carry a speaker label. */
  diarization: boolean;
  /** Weighted hotword vocabularies. */
  hotwords: boolean;
  /** Free-text prompt context (a system prompt). */
  context: boolean;
  /** Longest audio one request or session accepts, in ms (Infinity when unbounded). */
  maxDurationMs: number;
  /** Languages it recognises (BCP-47-ish short codes). */
  languages: readonly string[];
}

/** A hotword with its weight (1–5 on fun-asr). */
export interface Hotword {
  text: string;
  weight: number;
  lang?: string;
}

/** Options a caller may pass per request; each needs the matching capability. */
export interface RecognitionOptions {
  /** Language hint, e.g. `en`. */
  language?: string;
  /** Hotwords (needs `hotwords`). */
  hotwords?: readonly Hotword[];
  /** An existing vocabulary id (needs `hotwords`). */
  vocabularyId?: string;
  /** Prompt context (needs `context`). */
  context?: string;
  /** Speaker diarization (needs `diarization`). */
  diarize?: boolean;
  /** Expected number of speakers, with `diarize`. */
  speakers?: number;
}

/**
 * One unit of batch work, serializable so it can run on any worker or machine:
 * the audio (mono s16le), its position on the input's time line, the options.
 */
export interface ChunkJob {
  /** Mono signed 16-bit PCM. */
  samples: Int16Array;
  sampleRate: number;
  /** Position of the first sample on the input's time line, in ms. */
  startMs: number;
  options?: RecognitionOptions;
}

/** A live recognition session on a transport. Times of its events are relative to the session's first sample. */
export interface StreamSession {
  /** Send audio (mono s16le at the session's rate). Resolves when the session can take more. */
  write(samples: Int16Array): Promise<void>;
  /** No more audio: resolves once the last final event has been delivered. */
  end(): Promise<void>;
  /** Abandon the session at once, releasing everything it holds. */
  close(): void;
}

/** Callbacks and settings for {@link Transport.openStream}. */
export interface StreamOptions extends RecognitionOptions {
  sampleRate: number;
  signal?: AbortSignal;
  /** Where the session's own timers run (keepalive); default the real clock, a `VirtualTimeScheduler` in tests. */
  scheduler?: SchedulerLike;
  /** Each partial and final event (and speech edge, when the service reports them), times relative to the session's first sample. */
  onEvent(event: TranscriptEvent): void;
  /** A runtime failure of the session (after open resolved). */
  onError(error: Error): void;
}

/** The transport interface. */
export interface Transport {
  /** Model id, e.g. `local`, `fun-asr-realtime`. */
  readonly model: string;
  readonly capabilities: Capabilities;
  /** The sample rate the model wants audio at. */
  readonly sampleRate: number;
  /** Transcribe one clip; event times relative to the clip's first sample. */
  transcribeClip?(job: ChunkJob, options?: { signal?: AbortSignal }): Promise<TranscriptEvent[]>;
  /** Open a live session. */
  openStream?(options: StreamOptions): Promise<StreamSession>;
  /** Release pooled resources (workers, sockets). Safe to call twice. */
  close?(): Promise<void>;
}

/** Throw a {@link CapabilityError} if `options` ask for something the transport lacks. Call when a pipeline is built. */
export function assertCapabilities(transport: Pick<Transport, 'model' | 'capabilities'>, options: RecognitionOptions = {}): void {
  const caps = transport.capabilities;
  if (options.diarize && !caps.diarization) throw new CapabilityError(transport.model, 'diarization');
  if ((options.hotwords?.length || options.vocabularyId) && !caps.hotwords) throw new CapabilityError(transport.model, 'hotwords');
  if (options.context && !caps.context) throw new CapabilityError(transport.model, 'prompt context');
}

/**
 * Check a stream's options before a session opens: what {@link assertCapabilities} checks, and that the audio comes at
 * the transport's sample rate (a realtime service takes one rate per session and does not resample).
 *
 * @throws CapabilityError (`EARSHOT_CAPABILITY_MISSING`) or `EARSHOT_INVALID_ARGUMENT` for another rate.
 * @example
 * assertStreamOptions(transport, stream);
 */
export function assertStreamOptions(transport: Pick<Transport, 'model' | 'capabilities' | 'sampleRate'>, stream: StreamOptions): void {
  assertCapabilities(transport, stream);
  if (stream.sampleRate !== transport.sampleRate) throw new InvalidArgumentError(`${transport.model} takes ${transport.sampleRate} Hz audio, got ${stream.sampleRate} Hz`);
}
