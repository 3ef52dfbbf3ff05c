/**
 * A cold source of bytes read from a file, paced by demand through {@link FlowControl}.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Observable } from 'rxjs';
import { FlowControl } from '../core/flow.js';
import { InputError, InvalidArgumentError } from '../core/errors.js';
import type { ByteChunk, ByteSource } from '../core/types.js';

/** Options of {@link fromFile}. */
export interface FromFileOptions {
  /** Bytes per read and per emitted chunk (default 65536, at most 16 MiB). */
  chunkBytes?: number;
}

/** Default bytes per read. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * The Observable returned by {@link fromFile}: an ordinary cold `Observable<ByteChunk>` that exposes its `path`.
 * Later stages learn that the bytes come from a file from the chunks themselves (`chunk.source.path`), not from
 * this class, so operators may sit between `fromFile()` and `decode()`.
 *
 * Each subscription opens the file, reads it in `chunkBytes` pieces and, between reads, waits until the
 * {@link FlowControl} attached to every chunk has no hold. Unsubscribing closes the file at once.
 */
export class FileSource extends Observable<ByteChunk> {
  /** The path given to {@link fromFile}. */
  readonly path: string;
  /** Bytes per read. */
  readonly chunkBytes: number;

  constructor(path: string, options: FromFileOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('fromFile: path must be a non-empty string');
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
      throw new InvalidArgumentError(`fromFile: chunkBytes must be an integer in 1..${MAX_CHUNK_BYTES}`, { details: { chunkBytes } });
    }
    super((subscriber) => {
      const flow = new FlowControl();
      const origin: ByteSource = { path };
      let closed = false;
      let handle: FileHandle | undefined;
      let closing: Promise<void> | undefined;
      const closeHandle = (): void => {
        if (handle && !closing) closing = handle.close().catch(() => undefined);
      };

      const run = async (): Promise<void> => {
        try {
          handle = await open(path, 'r');
        } catch (err) {
          if (!closed) subscriber.error(openError(err, path));
          return;
        }
        if (closed) return closeHandle();
        let position = 0;
        try {
          while (!closed) {
            const buf = Buffer.allocUnsafe(chunkBytes);
            const { bytesRead } = await handle.read(buf, 0, chunkBytes, position);
            if (closed) break;
            if (bytesRead === 0) {
              closeHandle();
              if (position === 0) subscriber.error(new InputError('EARSHOT_EMPTY_INPUT', `${path} is empty`, { details: { file: path } }));
              else subscriber.complete();
              return;
            }
            position += bytesRead;
            subscriber.next({ kind: 'bytes', data: bytesRead === chunkBytes ? buf : buf.subarray(0, bytesRead), flow, source: origin });
            if (flow.paused) await flow.ready();
          }
        } catch (err) {
          closeHandle();
          // a directory opens on Linux and fails on the first read
          if (!closed) subscriber.error(errnoCode(err) === 'EISDIR' ? openError(err, path) : new InputError('EARSHOT_CORRUPT_INPUT', `cannot read ${path}: ${errnoCode(err) ?? 'I/O error'}`, { cause: err, details: { file: path, at: position } }));
          return;
        }
        closeHandle();
      };
      void run();

      return () => {
        closed = true;
        closeHandle();
      };
    });
    this.path = path;
    this.chunkBytes = chunkBytes;
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function openError(err: unknown, name: string): InputError {
  const code = errnoCode(err);
  const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : code === 'EISDIR' ? 'it is a directory, not a file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? 'open failed');
  return new InputError('EARSHOT_FILE_NOT_FOUND', `cannot open ${name}: ${why}`, { cause: err, details: { file: name, errno: code } });
}

/**
 * Read a file as a cold, demand-paced stream of byte chunks.
 *
 * Nothing is opened until subscription; every subscription reads the file from the start. Between reads the
 * source awaits `chunk.flow.ready()`, so a slow stage downstream that calls `chunk.flow.hold()` stops the reading
 * (memory stays bounded by what was already emitted). Every chunk carries `source: { path }`, so `decode()` can
 * let ffmpeg open the file itself (MP4/M4A need to seek) even with other operators in between. Unsubscribing
 * closes the file.
 *
 * @param path - file to read.
 * @param options - `chunkBytes`: bytes per read (default 65536).
 * @returns a {@link FileSource} (an `Observable<ByteChunk>` that exposes `path`).
 * @throws EARSHOT_INVALID_ARGUMENT (synchronously) for an empty path or a bad `chunkBytes`.
 *   At run time it errors with EARSHOT_FILE_NOT_FOUND (missing, unreadable or a directory), EARSHOT_EMPTY_INPUT
 *   (zero bytes) or EARSHOT_CORRUPT_INPUT (a read failed).
 * @example
 * ```ts
 * import { fromFile } from 'earshot';
 * let bytes = 0;
 * fromFile('talk.wav').subscribe({ next: (c) => (bytes += c.data.length), complete: () => console.log(bytes) });
 * ```
 */
export function fromFile(path: string, options: FromFileOptions = {}): FileSource {
  return new FileSource(path, options);
}
