import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from, interval, lastValueFrom, map, Observable, Subject, take, throwError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import { FlowControl } from '../../src/core/flow.js';
import type { ByteChunk } from '../../src/core/types.js';
import { fromAsyncIterable } from '../../src/streams/from-async-iterable.js';
import { toAsyncIterable, toReadable } from '../../src/streams/to-readable.js';
import { until } from '../sinks/helpers.js';

/** A cold source that emits only while its FlowControl is free (what fromFile does), counting what it made. */
function pacedSource(total: number): { source: Observable<{ n: number; flow: FlowControl }>; made: () => number; torn: () => boolean } {
  let made = 0;
  let torn = false;
  const source = new Observable<{ n: number; flow: FlowControl }>((subscriber) => {
    const flow = new FlowControl();
    let stop = false;
    void (async () => {
      while (!stop && made < total) {
        await flow.ready();
        if (stop) return;
        subscriber.next({ n: made++, flow });
        await new Promise((r) => setImmediate(r));
      }
      if (!stop) subscriber.complete();
    })();
    return () => {
      stop = true;
      torn = true;
    };
  });
  return { source, made: () => made, torn: () => torn };
}

describe('toReadable', () => {
  it('streams items and ends; the Observable is subscribed on first read', async () => {
    let subscribed = 0;
    const src = new Observable<number>((s) => {
      subscribed++;
      [1, 2, 3].forEach((n) => s.next(n));
      s.complete();
    });
    const readable = toReadable(src);
    expect(subscribed).toBe(0);
    const got: number[] = [];
    for await (const n of readable) got.push(n as number);
    expect(got).toEqual([1, 2, 3]);
    expect(subscribed).toBe(1);
  });

  it("a slow reader pauses a cold source through the items' FlowControl", async () => {
    const { source, made } = pacedSource(10_000);
    const readable = toReadable(source, { highWaterMark: 8 });
    readable.once('readable', () => undefined); // start flowing into the buffer without consuming
    readable.read(0);
    await until(() => made() >= 8, 2000, 'buffer filled');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(made()).toBeLessThanOrEqual(10);
    readable.destroy();
  });

  it('fails with EARSHOT_LIMIT_EXCEEDED instead of buffering without bound when items cannot pause their source', async () => {
    for (const options of [{ maxQueuedItems: 50 }, { maxBuffered: 50 }]) {
      const readable = toReadable(interval(0).pipe(take(1000)), { ...options, highWaterMark: 4 });
      readable.read(0);
      const err = await new Promise((resolve) => readable.on('error', resolve));
      expect(err).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('more than 50 items') });
    }
  });

  it('an Observable error destroys the stream with the same error; pipeline reports it', async () => {
    const boom = new EarshotError('EARSHOT_CONNECTION_LOST', 'socket dropped', { retryable: true });
    const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    await expect(pipeline(toReadable(throwError(() => boom)), sink)).rejects.toBe(boom);
    expect(sink.destroyed).toBe(true);
  });

  it('destroying the stream unsubscribes', async () => {
    const { source, torn } = pacedSource(1_000_000);
    const readable = toReadable(source);
    readable.read(0);
    await new Promise((r) => setImmediate(r));
    readable.destroy();
    expect(torn()).toBe(true);
  });
});

describe('toAsyncIterable', () => {
  it('iterates events with for await, and break tears the source down', async () => {
    const { source, made, torn } = pacedSource(1_000_000);
    const seen: number[] = [];
    for await (const item of toAsyncIterable(source)) {
      seen.push(item.n);
      if (seen.length === 5) break;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(torn()).toBe(true);
    expect(made()).toBeLessThan(40);
  });

  it('throws the Observable error from the loop; empty input ends at once', async () => {
    const boom = new EarshotError('EARSHOT_TIMEOUT', 'slow', { retryable: true });
    const run = async (): Promise<number[]> => {
      const out: number[] = [];
      for await (const n of toAsyncIterable(new Observable<number>((s) => { s.next(1); s.error(boom); }))) out.push(n);
      return out;
    };
    await expect(run()).rejects.toBe(boom);
    const none: unknown[] = [];
    for await (const n of toAsyncIterable(from([]))) none.push(n);
    expect(none).toEqual([]);
  });
});

describe('fromAsyncIterable', () => {
  it('pulls bytes by demand: a held FlowControl stops pulling', async () => {
    let pulled = 0;
    async function* gen(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.from([i]);
      }
    }
    const seen: ByteChunk[] = [];
    let release: (() => void) | undefined;
    const done = new Promise<void>((resolve, reject) =>
      fromAsyncIterable(gen()).subscribe({
        next: (c) => {
          seen.push(c);
          if (seen.length === 3) release = c.flow!.hold();
        },
        error: reject,
        complete: resolve,
      }),
    );
    await until(() => seen.length === 3, 2000, 'three chunks');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(pulled).toBe(3);
    release!();
    await done;
    expect(seen.map((c) => c.data[0])).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('unsubscribing ends the iterable (its finally runs); errors arrive coded', async () => {
    let finished = false;
    async function* endless(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) {
          await new Promise((r) => setImmediate(r));
          yield i;
        }
      } finally {
        finished = true;
      }
    }
    const got = await lastValueFrom(fromAsyncIterable(endless()).pipe(take(3), toArray()));
    expect(got).toEqual([0, 1, 2]);
    await until(() => finished, 2000, 'generator finally');
    async function* broken(): AsyncGenerator<number> {
      yield 1;
      throw new Error('disk gone');
    }
    await expect(lastValueFrom(fromAsyncIterable(broken()))).rejects.toMatchObject({ code: 'EARSHOT_CONNECTION_LOST', cause: { message: 'disk gone' } });
    expect(await lastValueFrom(fromAsyncIterable(Readable.from([Buffer.from('hi')])).pipe(map((c) => c.data.toString())))).toBe('hi');
  });

  it('round trip: Observable → Readable → Observable keeps every item', async () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ i }));
    const back = await lastValueFrom(fromAsyncIterable(toReadable(from(items), { highWaterMark: 3 })).pipe(toArray()));
    expect(back).toEqual(items);
    const subject = new Subject<number>();
    const it = toAsyncIterable(subject);
    const first = it.next();
    subject.next(7);
    expect((await first).value).toBe(7);
    await it.return!();
    expect(subject.observed).toBe(false);
  });
});
