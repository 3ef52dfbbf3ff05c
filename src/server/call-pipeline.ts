/**
 * One call on the server: each of its tracks through the same pipeline as every other source (resample → the
 * model in its mode → per-call files), transcripts back to the media server through `CallStream.reply`, live on the
 * call's SSE channel and to the webhook, counted in the metrics.
 *
 * A call ends when the media server ends it (the tracks complete, the last finals are delivered, the files closed),
 * or from this side — server drain, a failed track — by {@link CallRun.stop}: no more audio is taken,
 * the finals of the audio already taken are still transcribed, delivered and written, and only then is the
 * connection closed with the given code. Bounded everywhere: see the overflow policies in `serve.ts`.
 */
import { join } from 'node:path';
import { Observable, Subject, map, takeUntil, tap, type MonoTypeOperatorFunction, type Subscriber, type Subscription } from 'rxjs';
import { toEarshotError } from '../core/errors.js';
import { frameCount, isSpeechEdge, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { resample } from '../operators/resample.js';
import { transcribeMode, type Mode } from '../operators/transcribe-mode.js';
import { toJsonl } from '../sinks/jsonl.js';
import { toSrt } from '../sinks/srt.js';
import { toVtt } from '../sinks/vtt.js';
import type { CallInfo, CallStream, CallTrack } from '../sources/call.js';
import type { RecognitionOptions, Transport } from '../transports/transport.js';
import type { CallEvents } from './events.js';
import type { ServerMetrics } from './metrics.js';
import type { Webhook } from './webhook.js';

/** The per-call files `serve()` can write. */
export type CallFileFormat = 'jsonl' | 'srt' | 'vtt';

/** What every call of a server shares. */
export interface CallPipelineOptions {
  transport: Transport;
  mode: Mode;
  recognition: RecognitionOptions;
  windowMs: number;
  concurrency?: number;
  /** Directory for `<call id>[-<track>].<format>`; none: no files. */
  outDir?: string;
  formats: readonly CallFileFormat[];
  events: CallEvents;
  metrics: ServerMetrics;
  webhook?: Webhook;
  /** A check of the call's start message (a token in Twilio's custom parameters); false refuses the call. */
  authorize?: (call: CallInfo) => boolean;
}

/** Keys of custom parameters never published (they may carry the token). */
const SECRET_PARAMETERS = /token|secret|password|key|auth/i;

/**
 * A call id or track name as a file-name part: letters, digits, `.`, `_`, `-` only, never a path.
 *
 * @example
 * fileSafe('../etc/passwd'); // '__etc_passwd'
 */
export function fileSafe(text: string): string {
  const s = text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 128);
  return s.length > 0 ? s : 'call';
}

/**
 * When the audio at each point of a track arrived (wall clock), for the last `capacity` chunks: a final's
 * end-of-speech latency is the time from the arrival of the audio its last word ended in to the final leaving.
 */
class ArrivalLog {
  readonly #endMs: Float64Array;
  readonly #wall: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity = 1024) {
    this.#endMs = new Float64Array(capacity);
    this.#wall = new Float64Array(capacity);
  }

  add(endMs: number, wall: number): void {
    this.#endMs[this.#next] = endMs;
    this.#wall[this.#next] = wall;
    this.#next = (this.#next + 1) % this.#endMs.length;
    this.#size = Math.min(this.#size + 1, this.#endMs.length);
  }

  /** Wall time at which audio time `ms` had arrived, or undefined when it is older than the log (or not yet here). */
  arrivalOf(ms: number): number | undefined {
    const cap = this.#endMs.length;
    for (let k = 0; k < this.#size; k++) {
      const i = (this.#next - this.#size + k + cap) % cap;
      if (this.#endMs[i]! >= ms) return k === 0 && this.#size === cap ? undefined : this.#wall[i];
    }
    return undefined;
  }
}

/**
 * One call in progress on the server.
 *
 * @example
 * const run = new CallRun('twilio', fromTwilioMediaStream(ws), options);
 * process.once('SIGTERM', () => run.stop(1001, 'going away'));
 * await run.done; // finals delivered, files closed, connection gone
 */
export class CallRun {
  /** Resolves once every track's finals are delivered and files closed, and the connection is gone. */
  readonly done: Promise<void>;
  readonly #protocol: string;
  readonly #call: CallStream;
  readonly #o: CallPipelineOptions;
  readonly #stop$ = new Subject<void>();
  readonly #pending: Array<{ track: CallTrack; audio: Held<AudioChunk> }> = [];
  readonly #subs = new Set<Subscription>();
  #outer: Subscription | undefined;
  #resolve!: () => void;
  #id: string | undefined;
  #batches = 0;
  #active = 0;
  #outerDone = false;
  #stopping: { code: number; reason: string } | undefined;
  #closed = false;
  #finished = false;
  #malformedSeen = 0;

  /**
   * Start transcribing a call.
   *
   * @param protocol - the route's protocol name (a metrics label).
   * @param call - the call, from one of the `src/sources` call sources.
   * @param options - what every call of the server shares.
   */
  constructor(protocol: string, call: CallStream, options: CallPipelineOptions) {
    this.#protocol = protocol;
    this.#call = call;
    this.#o = options;
    this.done = new Promise<void>((resolve) => (this.#resolve = resolve));
    options.metrics.activeCalls.inc({ protocol });
    options.metrics.calls.inc({ protocol });
    const outer = call.subscribe({
      next: (track) => {
        if (this.#stopping) return;
        // Take the audio now (a burst after the start message must not wait in the source's 2 s hold).
        this.#pending.push({ track, audio: hold(track.audio$) });
        // Tracks of one start message arrive together: see them all before naming files.
        if (this.#pending.length === 1) queueMicrotask(() => this.#startBatch());
      },
      error: (err: unknown) => {
        this.#failed(err);
        this.#outerDone = true;
        this.#settle();
      },
      complete: () => {
        this.#outerDone = true;
        this.#settle();
      },
    });
    if (this.#finished) outer.unsubscribe();
    else this.#outer = outer;
  }

  /** The call's id on this server (its SSE channel and file names), once the media server has said it. */
  get id(): string | undefined {
    return this.#id;
  }

  /**
   * End the call from this side: take no more audio, deliver the finals of what was taken, close the files, then
   * close the connection with `code` and `reason`. Idempotent (the first reason wins).
   */
  stop(code: number, reason: string): void {
    if (this.#stopping) return;
    this.#stopping = { code, reason };
    this.#stop$.next();
    this.#settle();
  }

  /** Add the malformed frames counted since the last call to the metrics (scrape time and the end of the call). */
  syncStats(): void {
    const malformed = this.#call.stats().malformed;
    if (malformed > this.#malformedSeen) this.#o.metrics.malformedFrames.inc({ protocol: this.#protocol }, malformed - this.#malformedSeen);
    this.#malformedSeen = malformed;
  }

  #startBatch(): void {
    const batch = this.#pending.splice(0);
    if (batch.length === 0 || this.#stopping) {
      for (const b of batch) b.audio.release();
      return this.#settle();
    }
    this.#batches++;
    if (this.#id === undefined) {
      const info = batch[0]!.track.call;
      if (this.#o.authorize && !this.#o.authorize(info)) {
        this.#o.metrics.refused.inc({ code: 'EARSHOT_AUTH_FAILED' });
        this.#stopping = { code: 1008, reason: 'EARSHOT_AUTH_FAILED: a token is required' };
        for (const b of batch) b.audio.release();
        return this.#settle();
      }
      this.#id = this.#o.events.open(fileSafe(info.callId), this.#protocol);
      const parameters = Object.fromEntries(Object.entries(info.customParameters).filter(([k]) => !SECRET_PARAMETERS.test(k)));
      this.#publish('call', { callId: this.#id, protocol: info.protocol, ...(info.streamId ? { streamId: info.streamId } : {}), customParameters: parameters });
    }
    const single = this.#batches === 1 && batch.length === 1;
    for (const { track, audio } of batch) {
      try {
        this.#startTrack(track, audio.observable, single ? this.#id : `${this.#id}-${fileSafe(track.track)}`);
      } catch (err) {
        // A pipeline that cannot even be built ends the call cleanly, never the process.
        audio.release();
        this.stop(1011, `${this.#failed(err).code}: transcription failed`);
      }
    }
    this.#settle();
  }

  #startTrack(track: CallTrack, audio: Observable<AudioChunk>, base: string): void {
    const o = this.#o;
    const labels = { protocol: this.#protocol };
    const audioSeconds = o.metrics.audioSeconds.labels(labels);
    const arrivals = new ArrivalLog();
    this.#publish('track', { track: track.track, channel: track.channel, sampleRate: track.sampleRate });

    let events: Observable<TranscriptEvent> = audio.pipe(
      takeUntil(this.#stop$),
      tap((chunk) => {
        const seconds = frameCount(chunk) / chunk.sampleRate;
        audioSeconds.inc(seconds);
        arrivals.add(((chunk.offset / chunk.sampleRate) + seconds) * 1000, performance.now());
      }),
      resample(o.transport.sampleRate),
      transcribeMode(o.transport, {
        mode: o.mode,
        live: true,
        recognition: o.recognition,
        windowMs: o.windowMs,
        ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      }),
      map((e): TranscriptEvent => ({ ...e, channel: track.channel })),
      tap((e) => {
        if (!isSpeechEdge(e)) this.#call.reply(e, track); // media servers take transcripts, not speech edges
        if (e.type === 'final') {
          o.metrics.finals.inc(labels);
          const arrived = arrivals.arrivalOf(e.endMs);
          if (arrived !== undefined) o.metrics.endOfSpeech.observe(labels, Math.max(0, performance.now() - arrived) / 1000);
          o.webhook?.push({ callId: this.#id, protocol: this.#protocol, track: track.track, ...e });
        }
        this.#publish(e.type, { track: track.track, ...e });
      }),
    );
    if (o.outDir) for (const format of o.formats) events = events.pipe(fileSink(format, join(o.outDir, `${base}.${format}`)));

    this.#active++;
    const sub = events.subscribe({
      error: (err: unknown) => {
        const e = this.#failed(err);
        this.#subs.delete(sub);
        this.#active--;
        this.stop(1011, `${e.code}: transcription failed`);
        this.#settle();
      },
      complete: () => {
        this.#subs.delete(sub);
        this.#active--;
        this.#settle();
      },
    });
    if (!sub.closed) this.#subs.add(sub);
  }

  /** Count and publish a failure; returns it coded. */
  #failed(err: unknown): ReturnType<typeof toEarshotError> {
    const e = toEarshotError(err, 'EARSHOT_ENGINE_FAILED');
    this.#o.metrics.errors.inc({ code: e.code });
    this.#publish('error', { code: e.code, message: e.message });
    return e;
  }

  #publish(type: string, data: Record<string, unknown>): void {
    if (this.#id !== undefined) this.#o.events.publish(this.#id, { type, data });
  }

  /**
   * Move the call on: close the connection once a stopping call — or one whose tracks the media server has all ended
   * (Twilio `stop`, Jambonz STT `stop`) — has no pipeline left; finish once the connection is gone too.
   */
  #settle(): void {
    if (this.#active > 0 || this.#pending.length > 0) return;
    // A media server that ended every track may leave its socket open for the last transcripts (Jambonz STT): they are out.
    if (!this.#stopping && this.#batches > 0) this.#stopping = { code: 1000, reason: 'transcription complete' };
    if (this.#stopping && !this.#closed) {
      this.#closed = true;
      this.#call.close(this.#stopping.code, this.#stopping.reason);
    }
    if (this.#outerDone && !this.#finished) this.#finish();
  }

  #finish(): void {
    this.#finished = true;
    this.#outer?.unsubscribe();
    for (const s of this.#subs) s.unsubscribe();
    this.syncStats();
    this.#publish('end', { callId: this.#id, stats: this.#call.stats() });
    if (this.#id !== undefined) this.#o.events.end(this.#id);
    this.#o.metrics.activeCalls.dec({ protocol: this.#protocol });
    this.#resolve();
  }
}

/** A subscription taken now whose values wait (for one turn of the event loop at most) for the real subscriber. */
interface Held<T> {
  /** Subscribe once: the held values first, then the live ones; unsubscribing ends the source subscription. */
  readonly observable: Observable<T>;
  /** Drop it unsubscribed. */
  release(): void;
}

function hold<T>(source: Observable<T>): Held<T> {
  const held: T[] = [];
  let target: Subscriber<T> | undefined;
  let ended: { error: unknown; failed: boolean } | undefined;
  const sub = source.subscribe({
    next: (v) => (target ? target.next(v) : held.push(v)),
    error: (error: unknown) => (target ? target.error(error) : (ended = { error, failed: true })),
    complete: () => (target ? target.complete() : (ended = { error: undefined, failed: false })),
  });
  const observable = new Observable<T>((subscriber) => {
    target = subscriber;
    for (const v of held.splice(0)) subscriber.next(v);
    if (ended) {
      if (ended.failed) subscriber.error(ended.error);
      else subscriber.complete();
    }
    return () => sub.unsubscribe();
  });
  return { observable, release: () => sub.unsubscribe() };
}

function fileSink(format: CallFileFormat, path: string): MonoTypeOperatorFunction<TranscriptEvent> {
  if (format === 'jsonl') return toJsonl(path, { finalsOnly: true });
  return format === 'srt' ? toSrt(path) : toVtt(path);
}
