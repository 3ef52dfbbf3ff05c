import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { FileSource, fromFile } from '../../src/sources/file.js';
import { EarshotError } from '../../src/core/errors.js';

const DIR = resolve(process.cwd(), '.tmp/test-file-source');
mkdirSync(DIR, { recursive: true });

function makeFile(name: string, bytes: number): string {
  const path = join(DIR, name);
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
  writeFileSync(path, data);
  return path;
}

/** Let the event loop and the fs thread pool turn `n` times (what a running reader would need to make progress). */
async function settle(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) {
    await stat(DIR);
    await new Promise<void>((r) => setImmediate(r));
  }
}

function openFds(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // fd closed while listing
    }
  }
  return n;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise<void>((r) => setImmediate(r));
  }
}

describe('fromFile', () => {
  it('reads the whole file in chunkBytes pieces, each with a flow control', async () => {
    const path = makeFile('whole.bin', 100_003);
    const chunks = await lastValueFrom(fromFile(path, { chunkBytes: 4096 }).pipe(toArray()));
    expect(chunks.length).toBe(Math.ceil(100_003 / 4096));
    expect(chunks.slice(0, -1).every((c) => c.data.length === 4096)).toBe(true);
    expect(Buffer.concat(chunks.map((c) => c.data)).equals(readFileSync(path))).toBe(true);
    expect(chunks.every((c) => c.kind === 'bytes' && c.flow === chunks[0]!.flow && c.flow !== undefined)).toBe(true);
  });

  it('is a cold FileSource exposing its path: each subscription reads from the start', async () => {
    const path = makeFile('cold.bin', 10_000);
    const src = fromFile(path, { chunkBytes: 3000 });
    expect(src).toBeInstanceOf(FileSource);
    expect(src.path).toBe(path);
    const [a, b] = await Promise.all([lastValueFrom(src.pipe(toArray())), lastValueFrom(src.pipe(toArray()))]);
    expect(Buffer.concat(a.map((c) => c.data)).length).toBe(10_000);
    expect(Buffer.concat(b.map((c) => c.data)).length).toBe(10_000);
  });

  it('errors with EARSHOT_FILE_NOT_FOUND for a missing file or a directory, naming it by the path given', async () => {
    const missing = join(DIR, 'some-dir', 'nope.wav');
    const err = await lastValueFrom(fromFile(missing)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EarshotError);
    expect((err as EarshotError).code).toBe('EARSHOT_FILE_NOT_FOUND');
    expect((err as EarshotError).message).toBe(`cannot open ${missing}: no such file`);
    const folder = await lastValueFrom(fromFile(DIR)).catch((e: unknown) => e);
    expect(folder).toMatchObject({ code: 'EARSHOT_FILE_NOT_FOUND', message: `cannot open ${DIR}: it is a directory, not a file` });
  });

  it('errors with EARSHOT_EMPTY_INPUT for an empty file', async () => {
    const path = makeFile('empty.bin', 0);
    const err = await lastValueFrom(fromFile(path)).catch((e: unknown) => e);
    expect((err as EarshotError).code).toBe('EARSHOT_EMPTY_INPUT');
  });

  it('throws EARSHOT_INVALID_ARGUMENT when built with bad options', () => {
    expect(() => fromFile('')).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => fromFile('x', { chunkBytes: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => fromFile('x', { chunkBytes: 1.5 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('stops reading while a chunk flow is held and goes on when released', async () => {
    const path = makeFile('held.bin', 1_000_000);
    let chunks = 0;
    let release: (() => void) | undefined;
    const done = new Promise<void>((resolveDone, reject) => {
      fromFile(path, { chunkBytes: 10_000 }).subscribe({
        next: (c) => {
          chunks++;
          if (chunks === 3) release = c.flow!.hold();
        },
        error: reject,
        complete: resolveDone,
      });
    });
    await until(() => chunks >= 3);
    await settle(30);
    expect(chunks).toBe(3); // bounded: nothing read past the hold
    release!();
    await done;
    expect(chunks).toBe(100);
  });

  it('closes the file at once on unsubscribe, even while held', async () => {
    const path = makeFile('unsub.bin', 200_000);
    let sawFd = false;
    const sub = fromFile(path, { chunkBytes: 1000 }).subscribe({
      next: (c) => {
        c.flow!.hold();
        sawFd = openFds(path) > 0;
      },
    });
    await until(() => sawFd);
    sub.unsubscribe();
    await until(() => openFds(path) === 0);
    expect(openFds(path)).toBe(0);
  });

  it('emits the first chunk with the file bytes (early take)', async () => {
    const path = makeFile('first.bin', 50_000);
    const first = await firstValueFrom(fromFile(path, { chunkBytes: 1024 }));
    expect(first.data.equals(readFileSync(path).subarray(0, 1024))).toBe(true);
    await until(() => openFds(path) === 0);
  });
});
