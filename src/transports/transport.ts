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

/**
 * What a transport (a model) can do. `realtime` and `batch` are never written by hand: {@link withCapabilities} reads
 * them from the methods the transport has; the rest is declared once, in the model's {@link TransportDescriptor}.
 */
export interface Capabilities extends ModelFeatures {
  /** Streams results while audio is still arriving: the transport has `openStream`. */
  realtime: boolean;
  /** Transcribes a whole clip per request: the transport has `transcribeClip`. */
  batch: boolean;
}

/** What a model can do, as its descriptor declares it: every capability but `realtime`/`batch`. */
export interface ModelFeatures {
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
  /**
   * Runs on this machine, no network (default false): live audio goes to it as fast as it takes it (no pacing to real
   * time, no reconnects), and clips as many at a time as it has workers.
   */
  offline?: boolean;
  /**
   * What a request abandoned midway costs (a speculative near-realtime window revoked because speech resumed):
   * `'free'` (nothing is billed: the embedded engine), `'until-started'` (free while the service has not started on
   * it — an async task still `PENDING` is cancelled — billed after), `'billed'` (audio already uploaded or streamed is
   * billed). Default: `'free'` when `offline`, else `'billed'`; read it with {@link cancelCostOf}. `transcribeBatch`
   * speculates by default only where it is not `'billed'`.
   */
  cancelCost?: CancelCost;
  /**
   * A live session opened with {@link StreamOptions.prime} decodes its audio as `transcribeClip` decodes the same
   * audio as one clip (default false): near-realtime windows can then be recognised while they are spoken
   * (`nearRealtimeLive`). Needs `openStream`.
   */
  liveClips?: boolean;
  /**
   * Shortest pause (ms) at which batch mode cuts audio into clips for this model (default: `vadChunk`'s 300). An
   * engine that ends utterances itself inside a clip (the embedded engine, at 500 ms of silence) loses words when
   * clips are cut at shorter pauses, in mid-sentence, where it would have gone on with the sentence's context.
   */
  minClipPauseMs?: number;
}

/** What an abandoned request costs: see {@link ModelFeatures.cancelCost}. */
export type CancelCost = 'free' | 'until-started' | 'billed';

/**
 * What a request of this model abandoned midway costs: the declared `cancelCost`, else `'free'` for an offline
 * model and `'billed'` for any other.
 *
 * @param features - the model's capabilities.
 * @example
 * cancelCostOf(local().capabilities); // 'free'
 */
export function cancelCostOf(features: Pick<ModelFeatures, 'cancelCost' | 'offline'>): CancelCost {
  return features.cancelCost ?? (features.offline ? 'free' : 'billed');
}

/** Per-call settings of {@link Transport.transcribeClip}. */
export interface ClipCallOptions {
  /** Abandons the request (the clip's owner no longer wants it). */
  signal?: AbortSignal;
  /**
   * Called by a transport whose `cancelCost` is `'until-started'` when a request abandoned through `signal` is billed
   * all the same (the service had started on it: its cancel was refused). Not called for requests that complete.
   */
  onBilled?: () => void;
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
  /**
   * Audio heard on this input before the session (mono, at `sampleRate`), not to be transcribed: a model that adapts
   * to its input (the embedded engine's cepstral mean) starts adapted to it, and a `liveClips` transport decodes the
   * session as it decodes a clip (an empty prime: nothing heard yet, the model's own starting point). Others ignore it.
   */
  prime?: Int16Array;
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
  transcribeClip?(job: ChunkJob, options?: ClipCallOptions): Promise<TranscriptEvent[]>;
  /** Open a live session. */
  openStream?(options: StreamOptions): Promise<StreamSession>;
  /** Release pooled resources (workers, sockets). Safe to call twice. */
  close?(): Promise<void>;
}

/** Throw a {@link CapabilityError} if `options` ask for something the transport lacks. Call when a pipeline is built. */
export function assertCapabilities(transport: { readonly model: string; readonly capabilities: ModelFeatures }, options: RecognitionOptions = {}): void {
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

/**
 * Give a transport its capabilities: the model's declared features, plus `realtime` when it has `openStream` and
 * `batch` when it has `transcribeClip`. Returns the same object (so methods may refer to it), capabilities frozen.
 *
 * @param features - What the model can do, from its descriptor.
 * @param transport - The transport without `capabilities`.
 * @example
 * const transport: Transport = withCapabilities(FEATURES, { model: 'my-asr', sampleRate: 16000, async transcribeClip(job) { return []; } });
 * transport.capabilities.batch; // true
 */
export function withCapabilities<T extends Omit<Transport, 'capabilities'>>(features: ModelFeatures, transport: T): NoInfer<T> & { readonly capabilities: Capabilities } {
  const capabilities: Capabilities = Object.freeze({
    ...features,
    realtime: typeof transport.openStream === 'function',
    batch: typeof transport.transcribeClip === 'function',
  });
  return Object.assign(transport, { capabilities });
}

/** What `createTransport` hands every descriptor: the connection and default recognition options. */
export interface TransportOptions extends RecognitionOptions {
  /** API key of a cloud provider (each provider also reads its own environment variable). */
  apiKey?: string;
  /** Base URL of a cloud provider. */
  baseUrl?: string;
  /** Environment to read keys and URLs from (default `process.env`; tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

/** One model a descriptor serves, as `earshot models` lists it. */
export interface ModelSpec {
  /** One line for `earshot models`. */
  summary: string;
  /** What it can do (`realtime`/`batch` come from the methods of the transport `create` makes). */
  capabilities: ModelFeatures;
}

/**
 * Everything earshot needs to know about a transport to list its models and make it: adding a model is one
 * descriptor (in its transport's module) plus its tests. Built-in descriptors are listed in `catalog.ts`; any other
 * is added with `registerTransport(descriptor)` (or, for the CLI, a module named in `EARSHOT_TRANSPORTS`).
 *
 * @typeParam O - The options `create` reads (every descriptor gets at least {@link TransportOptions}).
 * @example
 * ```ts
 * export const myAsrDescriptor: TransportDescriptor = {
 *   provider: 'my-cloud',
 *   api: 'http-json',
 *   models: {
 *     'my-asr': { summary: 'My ASR per request.', capabilities: { wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: 60_000, languages: ['en'] } },
 *   },
 *   create: (id, options) => myAsr(id, options),
 * };
 * ```
 */
export interface TransportDescriptor<O extends TransportOptions = TransportOptions> {
  /** Who runs the models: `local` (this machine) or a cloud provider (`dashscope`, …). */
  readonly provider: string;
  /** The wire API family, e.g. `embedded`, `ws-inference`, `async-task`. */
  readonly api: string;
  /** The model ids it serves, best first, each with a summary and its capabilities. */
  readonly models: Readonly<Record<string, ModelSpec>>;
  /**
   * Make the transport of one of `models` (its `model` is `id`, its capabilities those declared here). Must do no
   * I/O (connect on first use): the catalog also calls it once per model, with `{ apiKey: 'catalog-probe', env: {} }`,
   * to read which methods the transport has.
   *
   * @throws whatever the transport's factory throws for bad options (e.g. EARSHOT_MISSING_API_KEY).
   */
  create(id: string, options: O): Transport;
}

/**
 * The connection part of `options` (key, base URL, environment), without `undefined` values.
 *
 * @example
 * funAsrRealtime({ ...connectionOf(options), model: id });
 */
export function connectionOf(options: TransportOptions): Pick<TransportOptions, 'apiKey' | 'baseUrl' | 'env'> {
  return {
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  };
}
