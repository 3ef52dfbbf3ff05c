import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { filter, map, Observable, take, type OperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EarshotError, InvalidArgumentError } from '../../src/core/errors.js';
import { FlowControl } from '../../src/core/flow.js';
import type { ByteChunk } from '../../src/core/types.js';
import { operatorToTransform, toWritable } from '../../src/streams/operator-to-transform.js';
import { until } from '../sinks/helpers.js';

/** A Writable that collects objects, optionally taking each only when the test says so. */
function collector<T>(manual = false): Writable & { items: T[]; step: () => void; auto: () => void } {
  const items: T[] = [];
  const pending: Array<() => void> = [];
  const w = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(chunk: T, _e, cb) {
      items.push(chunk);
      if (manual) pending.push(() => cb());
      else cb();
    },
  }) as Writable & { items: T[]; step: () => void; auto: () => void };
  w.items = items;
  w.step = () => pending.shift()?.();
  w.auto = () => {
    manual = false;
    while (pending.length) pending.shift()!();
  };
  return w;
}

/** An operator that records subscribe / unsubscribe and passes items through. */
function spy<T>(): { op: OperatorFunction<T, T>; log: string[] } {
  const log: string[] = [];
  const op: OperatorFunction<T, T> = (source) =>
    new Observable<T>((subscriber) => {
      log.push('subscribe');
      const sub = source.subscribe(subscriber);
      return () => {
        log.push('unsubscribe');
        sub.unsubscribe();
      };
    });
  return { op, log };
}

describe('operatorToTransform', () => {
  it('runs plain RxJS operators in a pipeline', async () => {
    const out = collector<number>();
    await pipeline(Readable.from([1, 2, 3, 4, 5, 6]), operatorToTransform(filter((n: number) => n % 2 === 0)), operatorToTransform(map((n: number) => n * 10)), out);
    expect(out.items).toEqual([20, 40, 60]);
  });

  it('turns written Buffers into ByteChunks carrying its FlowControl, and re-tags audio chunks', async () => {
    const flow = new FlowControl();
    const out = collector<ByteChunk>();
    await pipeline(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), operatorToTransform(map((c: ByteChunk) => c), { flow }), out);
    expect(out.items.map((c) => [c.kind, c.data.toString(), c.flow === flow])).toEqual([['bytes', 'ab', true], ['bytes', 'cd', true]]);
    const audio = collector<{ flow?: FlowControl }>();
    const other = new FlowControl();
    await pipeline(Readable.from([{ kind: 'audio', samples: new Int16Array(2), sampleRate: 16000, channels: 1, offset: 0, flow: other }]), operatorToTransform(map((c: { flow?: FlowControl }) => c), { flow }), audio);
    expect(audio.items[0]!.flow).toBe(flow);
  });

  it("an operator's hold pauses the writable side", async () => {
    const flow = new FlowControl();
    let release: (() => void) | undefined;
    const holdFirst: OperatorFunction<ByteChunk, ByteChunk> = (source) =>
      new Observable<ByteChunk>((subscriber) =>
        source.subscribe({
          next: (c) => {
            release ??= c.flow!.hold();
            subscriber.next(c);
          },
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        }),
      );
    const duplex = operatorToTransform(holdFirst, { flow, writableHighWaterMark: 1 });
    duplex.resume();
    let called = 0;
    duplex.write(Buffer.from('a'), () => called++);
    duplex.write(Buffer.from('b'), () => called++);
    await new Promise((r) => setImmediate(r));
    expect(called).toBe(0);
    expect(duplex.writableNeedDrain).toBe(true);
    release!();
    await until(() => called === 2, 2000, 'writes taken');
    duplex.end();
    await new Promise((r) => duplex.on('end', r));
  });

  it('a slow consumer stops the producer: memory stays bounded', async () => {
    let produced = 0;
    const source = new Readable({
      objectMode: true,
      highWaterMark: 4,
      read() {
        if (produced >= 100_000) this.push(null);
        else this.push(Buffer.alloc(1024, produced++ & 0xff));
      },
    });
    const out = collector<ByteChunk>(true);
    const done = pipeline(source, operatorToTransform(map((c: ByteChunk) => c)), operatorToTransform(map((c: ByteChunk) => c.data.length)), out);
    await until(() => out.items.length === 1, 2000, 'first item');
    // Let the pipeline settle while the consumer takes nothing more.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(produced).toBeLessThan(80);
    for (let i = 0; i < 10; i++) out.step();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(produced).toBeLessThan(100);
    // Now drain it all.
    out.auto();
    await done;
    expect(out.items).toHaveLength(100_000);
  });

  it('an operator error destroys the stream with the same coded error, and pipeline tears every stage down', async () => {
    const boom = new EarshotError('EARSHOT_DECODE_FAILED', 'bad bytes');
    const first = spy<number>();
    const last = spy<number>();
    const failing = map((n: number) => {
      if (n === 3) throw boom;
      return n;
    });
    const err = await pipeline(Readable.from([1, 2, 3, 4]), operatorToTransform(first.op), operatorToTransform(failing), operatorToTransform(last.op), collector<number>()).catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(first.log).toEqual(['subscribe', 'unsubscribe']);
    expect(last.log).toEqual(['subscribe', 'unsubscribe']);
  });

  it('destroying the stream unsubscribes; an operator that completes early ends the readable side', async () => {
    const s = spy<number>();
    const duplex = operatorToTransform(s.op);
    duplex.write(1);
    expect(s.log).toEqual(['subscribe']);
    duplex.destroy();
    expect(s.log).toEqual(['subscribe', 'unsubscribe']);
    const out = collector<number>();
    await pipeline(Readable.from([1, 2, 3, 4, 5]), operatorToTransform(take(2)), out);
    expect(out.items).toEqual([1, 2]);
  });

  it('empty input ends cleanly; nothing is subscribed until the stream is used', async () => {
    const s = spy<number>();
    const duplex = operatorToTransform(s.op);
    expect(s.log).toEqual([]);
    const out = collector<number>();
    await pipeline(Readable.from([]), duplex, out);
    expect(out.items).toEqual([]);
    expect(s.log).toEqual(['subscribe', 'unsubscribe']);
    expect(() => operatorToTransform(42 as never)).toThrow(InvalidArgumentError);
  });

  it('toWritable finishes only after the operator completes', async () => {
    let complete = false;
    const slow: OperatorFunction<number, number> = (source) =>
      new Observable<number>((subscriber) =>
        source.subscribe({ next: (n) => subscriber.next(n), error: (e) => subscriber.error(e), complete: () => setTimeout(() => { complete = true; subscriber.complete(); }, 20) }),
      );
    await pipeline(Readable.from([1, 2]), toWritable(slow));
    expect(complete).toBe(true);
  });
});
