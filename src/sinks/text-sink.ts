/**
 * The machinery shared by every text sink: a writer that honours `drain` with a bounded queue and settles only once
 * the output is flushed and closed, and the operator shape that writes events and passes them on.
 *
 * A sink is a `MonoTypeOperatorFunction<TranscriptEvent>`: it writes what each event produces and emits the event
 * unchanged, so a pipeline may end in several sinks. It completes only after its output is flushed and closed; on an
 * upstream error it writes what is complete, closes the output (which stays a valid file) and then forwards the error.
 */
import { createWriteStream } from 'node:fs';
import { finished, type Writable } from 'node:stream';
import { Observable, type MonoTypeOperatorFunction, type OperatorFunction, type Subscription } from 'rxjs';
import { InvalidArgumentError, SinkError } from '../core/errors.js';
import { FlowLatch, type FlowControl } from '../core/flow.js';
import type { TranscriptEvent } from '../core/types.js';

/** Where a sink writes: a file path (created or truncated) or any Writable (`process.stdout`, a socket, …). */
export type SinkTarget = string | NodeJS.WritableStream | Writable;

/** Options every file sink takes. */
export interface SinkOptions {
  /**
   * End the Writable when the sink finishes. Default: true for a path (the sink owns the file) and for a Writable,
   * except `process.stdout` and `process.stderr`, which are never ended.
   */
  end?: boolean;
  /**
   * Most bytes held while the output is not draining. Past it the sink fails with `EARSHOT_SINK_FAILED` rather than
   * grow without bound. Default 16 MiB. (Shared vocabulary: README "Backpressure".)
   */
  maxQueuedBytes?: number;
  /** @deprecated Use `maxQueuedBytes` (same meaning). */
  maxBufferBytes?: number;
  /**
   * A source's flow control to hold while the output is not draining, so a cold source pauses for a slow disk
   * or a slow consumer. Optional: events carry no flow control of their own.
   */
  flow?: FlowControl;
}

/** How a format turns events into text: a header, text per event, and text at the end of the input. */
export interface TextFormat {
  /** Written first, even for empty input (`WEBVTT\n\n`), or ''. */
  header: string;
  /** Text for one event: zero or more whole records (cues, lines), each written in one piece. */
  event(event: TranscriptEvent): string[];
  /** Records still pending at the end of the input (or when it fails): only complete ones. */
  end(): string[];
}

const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;

function isWritable(target: unknown): target is Writable {
  return typeof target === 'object' && target !== null && typeof (target as Writable).write === 'function' && typeof (target as Writable).on === 'function';
}

/**
 * Check a sink target when the pipeline is built.
 *
 * @param target - a non-empty path or a Writable.
 * @param what - the sink's name for the message.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for anything else.
 * @example
 * ```ts
 * assertSinkTarget(process.stdout, 'toJsonl'); // ok
 * ```
 */
export function assertSinkTarget(target: unknown, what: string): asserts target is SinkTarget {
  if (typeof target === 'string' ? target.length === 0 : !isWritable(target)) {
    throw new InvalidArgumentError(`${what} needs a file path or a Writable stream`);
  }
}

/**
 * Writes whole records to a path or a Writable, in order, never writing while the stream wants `drain`.
 * Records wait in a queue bounded by `maxQueuedBytes`; a FlowControl given in the options is held meanwhile.
 * Each record goes to the stream in one `write()`, so a killed process leaves only whole records.
 *
 * @example
 * ```ts
 * const writer = new SinkWriter('out.txt', {}, (err) => console.error(err.code));
 * writer.write('one line\n');
 * await writer.close(); // flushed and closed
 * ```
 */
export class SinkWriter {
  readonly #stream: Writable;
  readonly #label: string;
  readonly #end: boolean;
  readonly #maxBuffer: number;
  readonly #flow: FlowControl | undefined;
  readonly #onError: (err: SinkError) => void;
  #queue: string[] = [];
  #queued = 0;
  #waiting = false;
  /** Holds the source's flow while the output is not draining. */
  readonly #latch = new FlowLatch();
  #closing = false;
  #failed = false;

  /**
   * @param target - a path (opened now, truncated) or a Writable.
   * @param options - see {@link SinkOptions}.
   * @param onError - called once with a `SinkError` (`EARSHOT_SINK_FAILED`) when writing fails.
   */
  constructor(target: SinkTarget, options: SinkOptions, onError: (err: SinkError) => void) {
    this.#onError = onError;
    this.#maxBuffer = options.maxQueuedBytes ?? options.maxBufferBytes ?? DEFAULT_MAX_BUFFER;
    this.#flow = options.flow;
    if (typeof target === 'string') {
      this.#stream = createWriteStream(target, { flags: 'w' });
      this.#label = target;
      this.#end = true;
    } else {
      this.#stream = target as Writable;
      this.#label = 'the output stream';
      const std = target === process.stdout || target === process.stderr;
      this.#end = std ? false : options.end ?? true;
    }
    this.#stream.on('error', this.#handleError);
    this.#stream.on('drain', this.#pump);
  }

  /** Bytes waiting in the queue (not yet handed to the stream). */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Queue one whole record. */
  write(text: string): void {
    if (this.#closing) throw new SinkError('EARSHOT_SINK_FAILED', `${this.#label} is closing: no more records`);
    if (text === '' || this.#failed) return;
    this.#queue.push(text);
    this.#queued += Buffer.byteLength(text);
    if (this.#queued > this.#maxBuffer) {
      this.#fail(new SinkError('EARSHOT_SINK_FAILED', `${this.#label} is not draining: more than ${this.#maxBuffer} bytes waiting`, { details: { maxQueuedBytes: this.#maxBuffer } }));
      return;
    }
    this.#pump();
  }

  /** Write what is queued, end the stream (when owned) and resolve once it is flushed and closed. */
  close(): Promise<void> {
    this.#closing = true;
    return new Promise<void>((resolve, reject) => {
      if (this.#failed) return reject(new SinkError('EARSHOT_SINK_FAILED', `${this.#label} failed earlier`));
      const stream = this.#stream;
      if (this.#end) {
        this.#whenEmpty(() => {
          // finished() waits for 'close' when the stream will emit it (a file: its descriptor is closed).
          finished(stream, { readable: false }, (err) => {
            this.#detach();
            if (err) reject(this.#wrap(err));
            else resolve();
          });
          stream.end();
        });
      } else {
        this.#whenEmpty(() => {
          this.#detach();
          resolve();
        });
      }
    });
  }

  /** Teardown without waiting: write what is queued, end the stream when owned, ignore later errors. */
  abandon(): void {
    if (this.#failed) return;
    this.#closing = true;
    this.#stream.on('error', () => undefined);
    this.#whenEmpty(() => {
      if (this.#end) this.#stream.end();
      this.#detach();
    });
  }

  #whenEmpty(then: () => void): void {
    if (this.#queue.length === 0 && !this.#waiting) return then();
    const check = (): void => {
      if (this.#queue.length === 0 && !this.#waiting) {
        this.#stream.off('drain', check);
        then();
      }
    };
    this.#stream.on('drain', check);
  }

  #detach(): void {
    this.#latch.release();
    this.#stream.off('drain', this.#pump);
    this.#stream.off('error', this.#handleError);
    // Keep a listener so a late error on a stream we no longer watch cannot crash the process.
    this.#stream.on('error', () => undefined);
  }

  readonly #pump = (): void => {
    if (this.#failed) return;
    const stream = this.#stream;
    if (stream.destroyed) return;
    this.#waiting = false;
    while (this.#queue.length > 0 && !stream.writableNeedDrain) {
      const text = this.#queue.shift()!;
      this.#queued -= Buffer.byteLength(text);
      stream.write(text);
    }
    this.#waiting = stream.writableNeedDrain;
    if (this.#waiting) this.#latch.hold(this.#flow);
    else this.#latch.release();
  };

  readonly #handleError = (err: unknown): void => {
    this.#fail(this.#wrap(err));
  };

  #wrap(err: unknown): SinkError {
    if (err instanceof SinkError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new SinkError('EARSHOT_SINK_FAILED', `could not write ${this.#label}: ${message}`, { cause: err, details: typeof this.#label === 'string' ? { target: this.#label } : {} });
  }

  #fail(err: SinkError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#latch.release();
    this.#stream.on('error', () => undefined);
    if (this.#end && !this.#stream.destroyed) this.#stream.destroy();
    this.#onError(err);
  }
}

/**
 * Build a sink operator from a text format: each event's records are written, then the event is passed on.
 *
 * @param target - a path or a Writable.
 * @param format - makes a fresh {@link TextFormat} per subscription.
 * @param options - see {@link SinkOptions}.
 * @returns an operator that completes after the output is flushed and closed.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time for a bad target; at run time the
 *   operator errors with `EARSHOT_SINK_FAILED` when the output cannot be written, or forwards the upstream error
 *   after closing the output.
 * @example
 * ```ts
 * events$.pipe(textSink('out.txt', () => ({ header: '', event: (e) => [e.text + '\n'], end: () => [] })));
 * ```
 */
export function textSink(target: SinkTarget, format: () => TextFormat, options: SinkOptions = {}): MonoTypeOperatorFunction<TranscriptEvent> {
  assertSinkTarget(target, 'a sink');
  const maxQueuedBytes = options.maxQueuedBytes ?? options.maxBufferBytes;
  if (maxQueuedBytes !== undefined && !(maxQueuedBytes > 0)) throw new InvalidArgumentError('maxQueuedBytes must be positive');
  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      const fmt = format();
      let settled = false;
      let upstreamFailure: { error: unknown } | undefined;
      const writer = new SinkWriter(target, options, (err) => {
        if (settled) return;
        settled = true;
        // An upstream error that made us close the file is the one worth reporting.
        subscriber.error(upstreamFailure ? upstreamFailure.error : err);
      });
      writer.write(fmt.header);
      let stopped = false;
      let sub: Subscription | undefined;
      /** End of input (or failure upstream, `failure` set): write what is complete, close, then settle. */
      const finish = (failure?: { error: unknown }): void => {
        if (stopped) return;
        stopped = true;
        upstreamFailure = failure;
        sub?.unsubscribe();
        try {
          for (const r of fmt.end()) writer.write(r);
        } catch (err) {
          failure ??= { error: err };
        }
        writer.close().then(
          () => {
            if (settled) return;
            settled = true;
            if (failure) subscriber.error(failure.error);
            else subscriber.complete();
          },
          (err: unknown) => {
            if (settled) return;
            settled = true;
            subscriber.error(failure ? failure.error : err);
          },
        );
      };
      sub = source.subscribe({
        next: (event) => {
          if (stopped) return;
          let records: string[];
          try {
            records = fmt.event(event);
          } catch (err) {
            finish({ error: err });
            return;
          }
          for (const r of records) writer.write(r);
          subscriber.next(event);
        },
        error: (err: unknown) => finish({ error: err }),
        complete: () => finish(),
      });
      if (stopped) sub.unsubscribe();
      return () => {
        sub?.unsubscribe();
        if (!settled) {
          settled = true;
          if (stopped) return writer.abandon();
          try {
            for (const r of fmt.end()) writer.write(r);
          } finally {
            writer.abandon();
          }
        }
      };
    });
}

/**
 * Operator: events in, the format's text out (header first, then each record), for writing elsewhere.
 *
 * @param format - makes a fresh {@link TextFormat} per subscription.
 * @example
 * ```ts
 * events$.pipe(formatText(() => srtFormat())).subscribe((text) => process.stdout.write(text));
 * ```
 */
export function formatText(format: () => TextFormat): OperatorFunction<TranscriptEvent, string> {
  return (source) =>
    new Observable<string>((subscriber) => {
      const fmt = format();
      if (fmt.header) subscriber.next(fmt.header);
      const flush = (): boolean => {
        try {
          for (const r of fmt.end()) subscriber.next(r);
          return true;
        } catch (err) {
          subscriber.error(err);
          return false;
        }
      };
      const sub = source.subscribe({
        next: (event) => {
          let records: string[];
          try {
            records = fmt.event(event);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          for (const r of records) subscriber.next(r);
        },
        error: (err: unknown) => {
          if (flush()) subscriber.error(err);
        },
        complete: () => {
          if (flush()) subscriber.complete();
        },
      });
      return () => sub.unsubscribe();
    });
}
