/**
 * Observable → Readable and Observable → async iterable, with backpressure and teardown.
 */
import { Readable } from 'node:stream';
import type { Observable, Subscription } from 'rxjs';
import { EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { FlowControl, FlowLatch } from '../core/flow.js';

/** Options of {@link toReadable}. */
export interface ToReadableOptions {
  /** Items buffered before the readable reports itself full. Default 16. */
  highWaterMark?: number;
  /**
   * Object mode: most items buffered for a consumer that does not read, when the items carry no FlowControl to
   * pause their source with. Past it the stream is destroyed with `EARSHOT_LIMIT_EXCEEDED`. Default 10 000.
   */
  maxQueuedItems?: number;
  /** Byte mode: the same bound in bytes (default 10 240 000). */
  maxQueuedBytes?: number;
  /** @deprecated Items in object mode, KiB in byte mode: use `maxQueuedItems` / `maxQueuedBytes`. */
  maxBuffered?: number;
  /** Emit objects (default) or bytes (strings and Buffers only). */
  objectMode?: boolean;
}

/**
 * Turn an Observable into a Node Readable.
 *
 * The Observable is subscribed on the first read. When the consumer is full, the adapter holds the FlowControl of
 * the item just pushed (chunks from a cold source carry one), pausing that source until the consumer reads; items
 * without one are buffered up to `maxQueuedItems` (`maxQueuedBytes` in byte mode). An Observable error destroys
 * the stream with that same coded error; destroying the stream (or `break` in a `for await` over it) unsubscribes.
 *
 * @param source - any Observable; `null` items are not allowed (they would end a Readable).
 * @param options - buffer sizes and mode.
 * @returns a Readable of the Observable's items.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when `source` is not an Observable.
 * @example
 * ```ts
 * await pipeline(toReadable(fromFile('talk.wav').pipe(decode(), resample(16000), transcribe(local()), jsonlText())), process.stdout);
 * ```
 */
export function toReadable<T>(source: Observable<T>, options: ToReadableOptions = {}): Readable {
  if (!source || typeof (source as { subscribe?: unknown }).subscribe !== 'function') throw new InvalidArgumentError('toReadable needs an Observable');
  const objectMode = options.objectMode ?? true;
  const maxQueued = objectMode ? (options.maxQueuedItems ?? options.maxBuffered ?? 10_000) : (options.maxQueuedBytes ?? (options.maxBuffered ?? 10_000) * 1024);
  const unit = objectMode ? 'items' : 'bytes';
  if (!(maxQueued > 0)) throw new InvalidArgumentError(`toReadable: maxQueued${objectMode ? 'Items' : 'Bytes'} must be positive`);
  let sub: Subscription | undefined;
  const latch = new FlowLatch(); // holds the source's flow while the consumer is full
  const release = (): void => latch.release();
  let started = false;
  const readable = new Readable({
    objectMode,
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
    read() {
      release();
      if (started) return;
      started = true;
      sub = source.subscribe({
        next: (item) => {
          if (readable.destroyed) return;
          if (item === null || item === undefined) {
            readable.destroy(new InvalidArgumentError('toReadable: the Observable emitted null or undefined, which a Readable cannot carry'));
            return;
          }
          if (readable.push(item)) return;
          const flow = (item as { flow?: unknown }).flow;
          if (flow instanceof FlowControl) latch.hold(flow);
          else if (readable.readableLength > maxQueued) {
            readable.destroy(new EarshotError('EARSHOT_LIMIT_EXCEEDED', `toReadable: more than ${maxQueued} ${unit} wait for a consumer that does not read, and they carry no flow control to pause their source`));
          }
        },
        error: (err: unknown) => {
          release();
          readable.destroy(err instanceof Error ? err : toEarshotError(err));
        },
        complete: () => {
          release();
          if (!readable.destroyed) readable.push(null);
        },
      });
    },
    destroy(err, callback) {
      sub?.unsubscribe();
      release();
      callback(err);
    },
  });
  return readable;
}

/**
 * Iterate an Observable with `for await`: items are buffered up to the high-water mark and their source paused
 * beyond it (as {@link toReadable}); an error is thrown from the loop; `break` or `return` unsubscribes.
 *
 * @param source - any Observable.
 * @param options - as {@link toReadable}.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when `source` is not an Observable.
 * @example
 * ```ts
 * for await (const event of toAsyncIterable(events$)) if (event.type === 'final') console.log(event.text);
 * ```
 */
export function toAsyncIterable<T>(source: Observable<T>, options: Omit<ToReadableOptions, 'objectMode'> = {}): AsyncIterableIterator<T> {
  return toReadable(source, { ...options, objectMode: true })[Symbol.asyncIterator]() as AsyncIterableIterator<T>;
}
