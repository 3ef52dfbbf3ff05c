/**
 * `transcribeMode(transport, { mode })`: the operator chain for a mode — batch (VAD clips), near-realtime (windows
 * cut at pauses) or realtime (one live session) — so the CLI and the server build the same pipeline one way.
 */
import { identity, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import type { PaceClock } from '../core/clock.js';
import type { AudioChunk, AudioSegment, TranscriptEvent } from '../core/types.js';
import type { RecognitionOptions, Transport } from '../transports/transport.js';
import { vadChunk } from './vad-chunk.js';
import type { WindowSegment } from './near-realtime.js';
import { transcribeNearRealtime } from './near-realtime-live.js';
import { transcribe } from './transcribe.js';
import { transcribeBatch } from './transcribe-batch.js';
import { transcribeRealtime } from './transcribe-realtime.js';

/** How audio is turned into text: whole clips after the fact, windows closed at pauses, or one live session. */
export type Mode = 'batch' | 'near-realtime' | 'realtime';

/** Options of {@link transcribeMode}. */
export interface TranscribeModeOptions {
  /** The mode (default: {@link defaultMode} for the transport and `live`). */
  mode?: Mode;
  /** The audio is live (a call, a mic): realtime sessions are then not paced again. Default false. */
  live?: boolean;
  /** Recognition options, checked against the transport's capabilities now. */
  recognition?: RecognitionOptions;
  /** Near-realtime window length, ms (default 5000). */
  windowMs?: number;
  /**
   * Near-realtime windows decoded live as they are spoken where the transport can (see `transcribeNearRealtime`'s
   * `live`). Default: when the audio is `live` or paced (`clock`) — where the final's latency counts; a file read at
   * full speed sends whole windows, spread over the engine's workers.
   */
  liveWindows?: boolean;
  /** Requests in flight in batch and near-realtime modes (default: as many as the engine has workers offline, 4 on a network model). */
  concurrency?: number;
  /** A clock anchored by `pace()` upstream: batch finals then carry `latency.endOfSpeechMs`. */
  clock?: PaceClock;
  /** Emit partial events in realtime mode (default true). */
  partials?: boolean;
  /** Operators that watch the segments on their way to the model (`earshot report`); each passes its input on unchanged. */
  taps?: {
    /** The `vadChunk()` clips (batch mode). */
    vad?: MonoTypeOperatorFunction<AudioSegment>;
    /** The `nearRealtime()` windows (near-realtime mode). */
    windows?: MonoTypeOperatorFunction<WindowSegment>;
  };
}

/**
 * The mode a model runs in when none is given: realtime (or near-realtime on a batch-only model) for live audio;
 * whole-clip batch otherwise (realtime for realtime-only models).
 *
 * @example
 * defaultMode(local(), true); // 'realtime'
 */
export function defaultMode(transport: Pick<Transport, 'capabilities'>, live: boolean): Mode {
  if (live) return transport.capabilities.realtime ? 'realtime' : 'near-realtime';
  return transport.capabilities.batch ? 'batch' : 'realtime';
}

/**
 * Transcribe mono audio at the transport's sample rate in a mode:
 * - `batch`: `vadChunk()` clips of at most 20 s (or the model's limit), cut at pauses of the model's `minClipPauseMs`
 *   (default 300 ms) → `transcribeBatch()`;
 * - `near-realtime`: `transcribeNearRealtime()`: `nearRealtime({ windowMs })` windows → `transcribeBatch()`, or with
 *   on an engine whose sessions decode like clips (`local()`) and live or paced audio (`liveWindows`), windows decoded
 *   live as they are spoken;
 * - `realtime`: `transcribe()` on an offline engine (`capabilities.offline`), `transcribeRealtime()` on a network model (paced to real time
 *   unless the audio is `live` or already paced).
 *
 * @param transport - the model; it must have `transcribeClip` for batch and near-realtime, `openStream` for realtime.
 * @param options - see {@link TranscribeModeOptions}.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a mode the model cannot run, now;
 *   CapabilityError (`EARSHOT_CAPABILITY_MISSING`) for recognition options it lacks.
 * @example
 * ```ts
 * fromFile('call.wav').pipe(decode({ sampleRate: 16000, channels: 1 }), transcribeMode(local(), { mode: 'near-realtime' }));
 * ```
 */
export function transcribeMode(transport: Transport, options: TranscribeModeOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  const live = options.live ?? false;
  const mode = options.mode ?? defaultMode(transport, live);
  const recognition = options.recognition ?? {};
  if (mode !== 'realtime' && !transport.transcribeClip) throw new InvalidArgumentError(`model ${transport.model} is realtime only: its mode is 'realtime'`);
  if (mode === 'realtime' && !transport.openStream) throw new InvalidArgumentError(`model ${transport.model} cannot stream: its modes are 'batch' and 'near-realtime'`);
  // An offline engine takes clips as many at a time as it has workers; a network service 4 at a time.
  const concurrency = options.concurrency ?? (transport.capabilities.offline === true ? undefined : 4);
  const batchOptions = {
    options: recognition,
    ...(concurrency ? { concurrency } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  if (mode === 'batch') {
    const minSilenceMs = transport.capabilities.minClipPauseMs;
    const clips = { maxChunkMs: Math.min(transport.capabilities.maxDurationMs, 20_000), ...(minSilenceMs ? { minSilenceMs } : {}) };
    return (audio) => audio.pipe(vadChunk(clips), options.taps?.vad ?? identity, transcribeBatch(transport, batchOptions));
  }
  if (mode === 'near-realtime') {
    return transcribeNearRealtime(transport, { ...batchOptions, windowMs: options.windowMs ?? 5000, live: options.liveWindows ?? (live || options.clock !== undefined), ...(options.taps?.windows ? { windows: options.taps.windows } : {}) });
  }
  if (transport.capabilities.offline === true) return transcribe(transport, { ...recognition, ...(options.partials === false ? { partials: false } : {}) });
  return transcribeRealtime(transport, { options: recognition, pace: !live && !options.clock });
}
