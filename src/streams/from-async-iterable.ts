/**
 * Async iterable → Observable, pulled by demand.
 */
import { Observable } from 'rxjs';
import { EarshotError, InputError, InvalidArgumentError } from '../core/errors.js';
import { FlowControl } from '../core/flow.js';
import type { ByteChunk } from '../core/types.js';

/**
 * Turn an async iterable (an async generator, a Readable, a `ReadableStream`) into an Observable pulled by demand.
 *
 * Bytes (Buffer, Uint8Array) become `ByteChunk`s carrying a {@link FlowControl}: the next item is pulled only once
 * no stage downstream holds it, so a slow transport paces the iterable. Other items are emitted as they are, and
 * the next one is pulled when the item's own `flow` (if any) is free. Unsubscribing calls the iterator's `return()`
 * (a generator runs its `finally`, a Readable is destroyed). An `EarshotError` thrown by the iterable reaches the
 * subscriber as it is; anything else as `EARSHOT_CONNECTION_LOST` with the original as `cause`.
 *
 * @param iterable - the source; iterated once per subscription.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when `iterable` is not async iterable.
 * @example
 * ```ts
 * fromAsyncIterable(process.stdin).pipe(decode(), resample(16000), transcribe(local())).subscribe(console.log);
 * ```
 */
export function fromAsyncIterable(iterable: AsyncIterable<Uint8Array>): Observable<ByteChunk>;
export function fromAsyncIterable<T>(iterable: AsyncIterable<T>): Observable<T>;
export function fromAsyncIterable<T>(iterable: AsyncIterable<T>): Observable<T | ByteChunk> {
  if (!iterable || typeof (iterable as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function') {
    throw new InvalidArgumentError('fromAsyncIterable needs an async iterable');
  }
  return new Observable<T | ByteChunk>((subscriber) => {
    const flow = new FlowControl();
    const iterator = iterable[Symbol.asyncIterator]();
    let closed = false;
    const run = async (): Promise<void> => {
      try {
        while (!closed) {
          const step = await iterator.next();
          if (closed) return;
          if (step.done) return subscriber.complete();
          const value = step.value as unknown;
          let item: T | ByteChunk;
          let gate: FlowControl | undefined;
          if (value instanceof Uint8Array) {
            const data = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
            if (data.length === 0) continue;
            item = { kind: 'bytes', data, flow };
            gate = flow;
          } else {
            item = value as T;
            const own = (value as { flow?: unknown } | null)?.flow;
            if (own instanceof FlowControl) gate = own;
          }
          subscriber.next(item);
          if (gate?.paused) await gate.ready();
        }
      } catch (err) {
        if (closed) return;
        subscriber.error(err instanceof EarshotError ? err : new InputError('EARSHOT_CONNECTION_LOST', `the async iterable failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
    };
    void run();
    return () => {
      closed = true;
      // Ends the iterable: a generator runs its finally blocks, a Readable's iterator destroys the stream.
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    };
  });
}
