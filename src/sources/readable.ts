/**
 * A source of bytes from any Node Readable (stdin, a socket, an HTTP body), paced by demand.
 */
import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import { FlowControl } from '../core/flow.js';
import { InputError, InvalidArgumentError } from '../core/errors.js';
import type { ByteChunk } from '../core/types.js';

/**
 * Turn a Node Readable into an `Observable<ByteChunk>` paced by demand.
 *
 * Every chunk carries a {@link FlowControl}: while a stage downstream holds it, the stream is paused (so its own
 * high-water mark bounds memory); when every hold is released it resumes. Unsubscribing destroys the stream.
 * A Readable can be consumed once, so only the first subscription reads it; later ones error with
 * EARSHOT_INVALID_ARGUMENT. (Not `rxjs.from(stream)`: that one notices an unsubscribe only at the next chunk and
 * knows no backpressure.)
 *
 * @param stream - a byte stream (strings and Uint8Arrays are accepted and turned into Buffers).
 * @returns a cold Observable of the stream's bytes.
 * @throws EARSHOT_INVALID_ARGUMENT (synchronously) when `stream` is not a Readable. At run time it errors with
 *   EARSHOT_INVALID_ARGUMENT (already consumed, or a non-byte object chunk), EARSHOT_EMPTY_INPUT (the stream ended
 *   without a byte), EARSHOT_FILE_NOT_FOUND (an fs stream's ENOENT) or EARSHOT_CONNECTION_LOST (the stream failed or
 *   closed before its end).
 * @example
 * ```ts
 * import { fromReadable, decode } from 'earshot';
 * fromReadable(process.stdin).pipe(decode()).subscribe((chunk) => console.log(chunk.offset));
 * ```
 */
export function fromReadable(stream: Readable): Observable<ByteChunk> {
  if (!stream || typeof stream.on !== 'function' || typeof stream.pause !== 'function' || typeof stream.resume !== 'function') {
    throw new InvalidArgumentError('fromReadable: expected a Node Readable');
  }
  let used = false;
  return new Observable<ByteChunk>((subscriber) => {
    if (used || stream.destroyed || stream.readableEnded) {
      subscriber.error(new InvalidArgumentError('fromReadable: the stream was already consumed'));
      return;
    }
    used = true;
    const flow = new FlowControl();
    let done = false;
    let bytes = 0;
    let waiting = false;

    const finish = (): void => {
      done = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (data: unknown): void => {
      let buf: Buffer;
      if (Buffer.isBuffer(data)) buf = data;
      else if (typeof data === 'string') buf = Buffer.from(data);
      else if (data instanceof Uint8Array) buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      else {
        finish();
        stream.destroy();
        subscriber.error(new InvalidArgumentError('fromReadable: the stream emitted a non-byte chunk'));
        return;
      }
      if (buf.length === 0) return;
      bytes += buf.length;
      subscriber.next({ kind: 'bytes', data: buf, flow });
      if (!done && flow.paused && !waiting) {
        waiting = true;
        stream.pause();
        void flow.ready().then(() => {
          waiting = false;
          if (!done) stream.resume();
        });
      }
    };
    const onEnd = (): void => {
      finish();
      if (bytes === 0) subscriber.error(new InputError('EARSHOT_EMPTY_INPUT', 'the stream ended without any data'));
      else subscriber.complete();
    };
    const onError = (err: unknown): void => {
      finish();
      const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
      if (code === 'ENOENT') subscriber.error(new InputError('EARSHOT_FILE_NOT_FOUND', 'the stream could not open its file', { cause: err, details: { errno: code } }));
      else subscriber.error(new InputError('EARSHOT_CONNECTION_LOST', `the stream failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    };
    const onClose = (): void => {
      // 'close' without 'end' or 'error': destroyed by someone else.
      if (done) return;
      finish();
      subscriber.error(new InputError('EARSHOT_CONNECTION_LOST', 'the stream closed before it ended'));
    };

    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (!waiting) stream.resume();

    return () => {
      if (!done) {
        finish();
        stream.destroy();
      }
      // A destroyed stream may still emit 'error'; keep one listener so it cannot crash the process.
      stream.on('error', () => undefined);
    };
  });
}
