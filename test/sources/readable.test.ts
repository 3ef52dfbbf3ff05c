import { describe, expect, it } from 'vitest';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { lastValueFrom, toArray } from 'rxjs';
import { fromReadable } from '../../src/sources/readable.js';
import type { EarshotError } from '../../src/core/errors.js';

const DIR = resolve(process.cwd(), '.tmp/test-readable-source');
mkdirSync(DIR, { recursive: true });

/** A stream that makes 1000-byte chunks on demand and counts how many bytes it was asked for. */
function counting(totalChunks: number): Readable & { produced: number } {
  let n = 0;
  const s = new Readable({
    highWaterMark: 4096,
    read() {
      // Asynchronous like a socket or a file: one chunk per turn of the event loop.
      setImmediate(() => {
        if (n >= totalChunks) return void this.push(null);
        n++;
        s.produced += 1000;
        this.push(Buffer.alloc(1000, n & 0xff));
      });
    },
  }) as Readable & { produced: number };
  s.produced = 0;
  return s;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise<void>((r) => setImmediate(r));
  }
}

async function settle(n = 30): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('fromReadable', () => {
  it('emits every byte of the stream in order, with a flow control', async () => {
    const pass = new PassThrough();
    const out = lastValueFrom(fromReadable(pass).pipe(toArray()));
    pass.write('abc');
    pass.write(Buffer.from([1, 2, 3]));
    pass.end('xyz');
    const chunks = await out;
    expect(Buffer.concat(chunks.map((c) => c.data)).toString('latin1')).toBe('abc\x01\x02\x03xyz');
    expect(chunks.every((c) => c.kind === 'bytes' && c.flow !== undefined)).toBe(true);
  });

  it('pauses the stream while the flow is held (bounded bytes read) and resumes on release', async () => {
    const s = counting(300);
    let got = 0;
    let release: (() => void) | undefined;
    const done = new Promise<void>((res, rej) =>
      fromReadable(s).subscribe({
        next: (c) => {
          got += c.data.length;
          if (got === 5000) release = c.flow!.hold();
        },
        error: rej,
        complete: res,
      }),
    );
    await until(() => release !== undefined);
    await settle();
    expect(s.produced).toBeLessThanOrEqual(5000 + 4096 + 1000); // what was emitted plus one high-water mark
    expect(s.isPaused()).toBe(true);
    release!();
    await done;
    expect(got).toBe(300_000);
  });

  it('destroys the stream on unsubscribe', async () => {
    const s = counting(1_000_000);
    let chunks = 0;
    const sub = fromReadable(s).subscribe(() => chunks++);
    await until(() => chunks > 0);
    sub.unsubscribe();
    expect(s.destroyed).toBe(true);
    const seen = chunks;
    await settle();
    expect(chunks).toBe(seen);
  });

  it('errors with EARSHOT_EMPTY_INPUT for a stream that ends without data', async () => {
    const err = await lastValueFrom(fromReadable(Readable.from([]))).catch((e: unknown) => e);
    expect((err as EarshotError).code).toBe('EARSHOT_EMPTY_INPUT');
  });

  it('maps stream failures to coded errors', async () => {
    const missing = await lastValueFrom(fromReadable(createReadStream(join(DIR, 'missing.wav')))).catch((e: unknown) => e);
    expect((missing as EarshotError).code).toBe('EARSHOT_FILE_NOT_FOUND');
    const pass = new PassThrough();
    const failed = lastValueFrom(fromReadable(pass)).catch((e: unknown) => e);
    pass.write('x');
    pass.destroy(new Error('socket hang up'));
    expect((await failed as EarshotError).code).toBe('EARSHOT_CONNECTION_LOST');
  });

  it('reads a stream once: a second subscription is EARSHOT_INVALID_ARGUMENT', async () => {
    const path = join(DIR, 'once.bin');
    writeFileSync(path, Buffer.alloc(100, 1));
    const src = fromReadable(createReadStream(path));
    const first = await lastValueFrom(src.pipe(toArray()));
    expect(first.reduce((n, c) => n + c.data.length, 0)).toBe(100);
    const err = await lastValueFrom(src).catch((e: unknown) => e);
    expect((err as EarshotError).code).toBe('EARSHOT_INVALID_ARGUMENT');
  });

  it('throws EARSHOT_INVALID_ARGUMENT for something that is not a Readable', () => {
    expect(() => fromReadable({} as Readable)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
