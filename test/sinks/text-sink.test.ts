import { from, lastValueFrom, Observable, range, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../src/core/flow.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { toJsonl } from '../../src/sinks/jsonl.js';
import { toSrt } from '../../src/sinks/srt.js';
import { SinkWriter } from '../../src/sinks/text-sink.js';
import { SlowWritable, until } from './helpers.js';
import { parseSrt } from './parse-captions.js';

const lines = (n: number): Observable<TranscriptEvent> => range(0, n).pipe(map((i): TranscriptEvent => ({ type: 'final', text: `event number ${i}`, startMs: i * 2000, endMs: i * 2000 + 900 })));

describe('sink writing', () => {
  it('never writes while the Writable wants drain, and loses nothing', async () => {
    const out = new SlowWritable(64);
    await lastValueFrom(lines(300).pipe(toJsonl(out)));
    expect(out.writesWhileFull).toBe(0);
    expect(out.maxLength).toBeLessThanOrEqual(64 + 200);
    expect(out.text.trim().split('\n').map((l) => JSON.parse(l).text)).toEqual(Array.from({ length: 300 }, (_, i) => `event number ${i}`));
    expect(out.writableFinished).toBe(true);
  });

  it('holds the given flow control while the output is not draining, and lets it go when drained', async () => {
    const out = new SlowWritable(32, false);
    const flow = new FlowControl();
    const writer = new SinkWriter(out, { flow }, (err) => { throw err; });
    writer.write('x'.repeat(40));
    expect(flow.paused).toBe(true);
    writer.write('y'.repeat(10));
    expect(writer.queuedBytes).toBe(10);
    out.step();
    await until(() => !flow.paused, 2000, 'flow released');
    expect(out.text).toBe('x'.repeat(40) + 'y'.repeat(10));
    const closed = writer.close();
    await until(() => out.chunks.length === 2, 2000, 'second write');
    out.step();
    await closed;
    expect(out.writableFinished).toBe(true);
    expect(() => writer.write('z')).toThrow(expect.objectContaining({ code: 'EARSHOT_SINK_FAILED' }));
    expect(out.text).toBe('x'.repeat(40) + 'y'.repeat(10));
  });

  it('completes only after the output is finished and closed', async () => {
    const out = new SlowWritable(1024);
    out.holdFinal = true;
    let completed = false;
    const run = lastValueFrom(lines(3).pipe(toSrt(out))).then(() => (completed = true));
    await until(() => out.finalCalled, 2000, '_final');
    await new Promise((r) => setImmediate(r));
    expect(completed).toBe(false);
    out.releaseFinal();
    await run;
    expect(out.closed).toBe(true);
    expect(parseSrt(out.text)).toHaveLength(3);
  });

  it('fails with EARSHOT_SINK_FAILED when more than maxQueuedBytes (or the deprecated maxBufferBytes) wait for drain', async () => {
    for (const options of [{ maxQueuedBytes: 1000 }, { maxBufferBytes: 1000 }]) {
      const out = new SlowWritable(16, false);
      const err = await lastValueFrom(lines(100).pipe(toJsonl(out, options))).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EARSHOT_SINK_FAILED', details: { maxQueuedBytes: 1000 } });
      expect(out.destroyed).toBe(true);
    }
    expect(() => toJsonl(new SlowWritable(16), { maxQueuedBytes: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('a Writable that fails mid-run gives EARSHOT_SINK_FAILED with the cause', async () => {
    const out = new SlowWritable(1024);
    const cause = new Error('disk full');
    const run = lastValueFrom(lines(50).pipe(toJsonl(out)));
    out.destroy(cause);
    await expect(run).rejects.toMatchObject({ code: 'EARSHOT_SINK_FAILED', cause });
  });

  it('does not end process.stdout', async () => {
    await lastValueFrom(from([] as TranscriptEvent[]).pipe(toJsonl(process.stdout)), { defaultValue: undefined });
    expect(process.stdout.writableEnded).toBe(false);
  });
});
