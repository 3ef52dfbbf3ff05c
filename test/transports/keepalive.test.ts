import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { runVirtual } from '../../src/core/clock.js';
import { TransportError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { keepaliveOption, withKeepalive } from '../../src/transports/keepalive.js';
import type { StreamOptions, StreamSession } from '../../src/transports/transport.js';

/** An inner session that records what it is sent (value and virtual time) and lets the test speak for the service. */
function recorder(scheduler: VirtualTimeScheduler) {
  const writes: Array<{ at: number; frames: number; silent: boolean }> = [];
  let inner: StreamOptions | undefined;
  let closed = false;
  const open = async (stream: StreamOptions): Promise<StreamSession> => {
    inner = stream;
    return {
      write: async (samples) => void writes.push({ at: scheduler.now(), frames: samples.length, silent: samples.every((s) => s === 0) }),
      end: async () => {},
      close: () => void (closed = true),
    };
  };
  return { writes, open, service: () => inner!, closed: () => closed };
}

describe('withKeepalive', () => {
  it('sends 100 ms of silence after each idle period, keeps it off the events’ time line, and stops at the end', async () => {
    const scheduler = new VirtualTimeScheduler();
    const rec = recorder(scheduler);
    const events: TranscriptEvent[] = [];
    const session = await withKeepalive({ sampleRate: 16000, scheduler, onEvent: (e) => events.push(e), onError: () => {} }, 1000, rec.open);
    await session.write(new Int16Array(8000).fill(5)); // 500 ms of audio at t = 0
    await runVirtual(scheduler, 3500);
    expect(rec.writes).toEqual([
      { at: 0, frames: 8000, silent: false },
      { at: 1000, frames: 1600, silent: true },
      { at: 2000, frames: 1600, silent: true },
      { at: 3000, frames: 1600, silent: true },
    ]);
    await session.write(new Int16Array(8000).fill(7)); // the caller's audio goes on at 500 ms on its time line
    // The service's times count the silence (300 ms of it before the second write).
    rec.service().onEvent({ type: 'final', text: 'seven', startMs: 800, endMs: 1300, words: [{ text: 'seven', startMs: 850, endMs: 1250 }] });
    rec.service().onEvent({ type: 'speech-start', text: '', startMs: 650, endMs: 650 }); // inside the silence
    expect(events).toEqual([
      { type: 'final', text: 'seven', startMs: 500, endMs: 1000, words: [{ text: 'seven', startMs: 550, endMs: 950 }] },
      { type: 'speech-start', text: '', startMs: 500, endMs: 500 },
    ]);
    await runVirtual(scheduler, 4400); // less than idleMs after the write: no keepalive
    expect(rec.writes).toHaveLength(5);
    await session.end();
    expect(scheduler.actions).toHaveLength(0);
    await runVirtual(scheduler, 10_000);
    expect(rec.writes).toHaveLength(5);
  });

  it('stops on close and on a failure (reported once); 0 opens the session as it is; bad values are refused', async () => {
    const scheduler = new VirtualTimeScheduler();
    const rec = recorder(scheduler);
    const closing = await withKeepalive({ sampleRate: 16000, scheduler, onEvent: () => {}, onError: () => {} }, 500, rec.open);
    closing.close();
    expect(rec.closed()).toBe(true);
    expect(scheduler.actions).toHaveLength(0);

    const errors: Error[] = [];
    await withKeepalive({ sampleRate: 16000, scheduler, onEvent: () => {}, onError: (e) => errors.push(e) }, 500, rec.open);
    const lost = new TransportError('EARSHOT_CONNECTION_LOST', 'gone', { retryable: true });
    rec.service().onError(lost);
    expect(errors).toEqual([lost]);
    expect(scheduler.actions).toHaveLength(0);

    let opened: StreamOptions | undefined;
    const stream: StreamOptions = { sampleRate: 16000, scheduler, onEvent: () => {}, onError: () => {} };
    await withKeepalive(stream, 0, async (s) => ((opened = s), { write: async () => {}, end: async () => {}, close: () => {} }));
    expect(opened).toBe(stream);
    expect(scheduler.actions).toHaveLength(0);
    expect(keepaliveOption(undefined)).toBe(10_000);
    expect(() => keepaliveOption(-1)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
