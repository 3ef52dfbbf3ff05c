import { describe, expect, it, vi } from 'vitest';
import { Observable, Subject, lastValueFrom, toArray } from 'rxjs';
import { transcribe } from '../../src/operators/transcribe.js';
import { FlowControl } from '../../src/core/flow.js';
import { EarshotError } from '../../src/core/errors.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import type { StreamOptions, Transport } from '../../src/transports/transport.js';

/** A streaming transport that "recognises" one word per 1600 samples written and reports its calls. */
function countingTransport(writeDelayMs = 0) {
  const calls = { opened: 0, written: 0, ended: 0, closed: 0 };
  const transport: Transport = {
    model: 'counting',
    sampleRate: 16000,
    capabilities: { realtime: true, batch: false, wordTimes: true, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
    async openStream(o: StreamOptions) {
      calls.opened++;
      let frames = 0;
      return {
        write: async (samples: Int16Array) => {
          if (writeDelayMs) await new Promise((r) => setTimeout(r, writeDelayMs));
          const start = (frames / 16000) * 1000;
          frames += samples.length;
          calls.written += samples.length;
          o.onEvent({ type: 'partial', text: 'w', startMs: start, endMs: (frames / 16000) * 1000 });
        },
        end: async () => {
          calls.ended++;
          o.onEvent({ type: 'final', text: `frames ${frames}`, startMs: 0, endMs: (frames / 16000) * 1000 });
        },
        close: () => {
          calls.closed++;
        },
      };
    },
  };
  return { transport, calls };
}

function chunk(offset: number, n = 1600, flow?: FlowControl): AudioChunk {
  return { kind: 'audio', samples: new Int16Array(n), sampleRate: 16000, channels: 1, offset, ...(flow ? { flow } : {}) };
}

describe('transcribe', () => {
  it('maps session times onto the input time line and ends the session on completion', async () => {
    const { transport, calls } = countingTransport();
    const src = new Observable<AudioChunk>((s) => {
      s.next(chunk(16000));
      s.next(chunk(17600));
      s.complete();
    });
    const events = await lastValueFrom(src.pipe(transcribe(transport), toArray()));
    expect(events.map((e) => e.type)).toEqual(['partial', 'partial', 'final']);
    expect(events[0]!.startMs).toBe(1000);
    expect(events[2]).toMatchObject({ text: 'frames 3200', startMs: 1000, endMs: 1200 });
    expect(calls).toMatchObject({ opened: 1, ended: 1 });
  });

  it('completes without opening a session on empty input', async () => {
    const { transport, calls } = countingTransport();
    const events = await lastValueFrom(new Observable<AudioChunk>((s) => s.complete()).pipe(transcribe(transport), toArray()));
    expect(events).toEqual([]);
    expect(calls.opened).toBe(0);
  });

  it('flushes finals of audio already sent before forwarding a source error', async () => {
    const { transport } = countingTransport();
    const src = new Observable<AudioChunk>((s) => {
      s.next(chunk(0));
      s.error(new EarshotError('EARSHOT_DECODE_FAILED', 'broken input'));
    });
    const seen: TranscriptEvent[] = [];
    const err = await new Promise<unknown>((resolve) => src.pipe(transcribe(transport)).subscribe({ next: (e) => seen.push(e), error: resolve }));
    expect(err).toMatchObject({ code: 'EARSHOT_DECODE_FAILED' });
    expect(seen.at(-1)).toMatchObject({ type: 'final', text: 'frames 1600' });
  });

  it('unsubscribing while the finals are flushed after a source error leaves no timer behind', async () => {
    vi.useFakeTimers();
    try {
      const { transport } = countingTransport();
      const hanging: Transport = { ...transport, openStream: async (o) => ({ ...(await transport.openStream!(o)), end: () => new Promise<void>(() => {}) }) };
      const src = new Observable<AudioChunk>((s) => {
        s.next(chunk(0));
        s.error(new EarshotError('EARSHOT_DECODE_FAILED', 'broken input'));
      });
      let error: unknown;
      const sub = src.pipe(transcribe(hanging, { flushOnErrorMs: 10_000 })).subscribe({ error: (e: unknown) => (error = e) });
      await vi.advanceTimersByTimeAsync(0);
      expect(vi.getTimerCount()).toBe(1); // the flush deadline
      sub.unsubscribe();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(20_000);
      expect(error).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('passes an upstream error on unchanged (the same object): coded or not, never relabelled EARSHOT_ENGINE_FAILED', async () => {
    for (const upstream of [new EarshotError('EARSHOT_DECODE_FAILED', 'broken input'), new Error('socket closed')]) {
      const { transport } = countingTransport();
      const src = new Observable<AudioChunk>((s) => {
        s.next(chunk(0));
        s.error(upstream);
      });
      await expect(lastValueFrom(src.pipe(transcribe(transport)))).rejects.toBe(upstream);
      // before any audio, too (no session was opened)
      await expect(lastValueFrom(new Observable<AudioChunk>((s) => s.error(upstream)).pipe(transcribe(transport)))).rejects.toBe(upstream);
    }
  });

  it('a session failure arrives as the transport raised it (the same object)', async () => {
    const sessionError = new EarshotError('EARSHOT_CONNECTION_LOST', 'dropped', { retryable: true });
    const failing: Transport = {
      ...countingTransport().transport,
      async openStream(o: StreamOptions) {
        setImmediate(() => o.onError(sessionError));
        return { write: async () => undefined, end: () => new Promise<void>(() => undefined), close: () => undefined };
      },
    };
    await expect(lastValueFrom(new Observable<AudioChunk>((s) => s.next(chunk(0))).pipe(transcribe(failing)))).rejects.toBe(sessionError);
  });

  it('holds a cold source while the session is busy and closes the session on early unsubscribe', async () => {
    const { transport, calls } = countingTransport(20);
    const flow = new FlowControl();
    const src = new Subject<AudioChunk>();
    const sub = src.pipe(transcribe(transport)).subscribe();
    src.next(chunk(0, 1600, flow));
    expect(flow.paused).toBe(true);
    await flow.ready();
    expect(calls.written).toBe(1600);
    src.next(chunk(1600, 1600, flow));
    expect(flow.paused).toBe(true);
    sub.unsubscribe();
    expect(calls.closed).toBe(1);
    expect(flow.paused).toBe(false); // teardown lets the source go at once
  });

  it('lets a cold source read ahead up to highWaterMs, and fails a hot source past maxQueuedMs', async () => {
    const { transport, calls } = countingTransport(20);
    const flow = new FlowControl();
    const src = new Subject<AudioChunk>();
    const done = lastValueFrom(src.pipe(transcribe(transport, { highWaterMs: 250, lowWaterMs: 0 }), toArray()));
    const paused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      src.next(chunk(i * 1600, 1600, flow));
      paused.push(flow.paused);
    }
    expect(paused).toEqual([false, false, true]); // 100, 200, 300 ms waiting
    await flow.ready();
    expect(calls.written).toBe(4800); // let go only once everything was written (low water 0)
    src.complete();
    await done;

    const hot = countingTransport(20);
    const live = new Subject<AudioChunk>();
    const failed = new Promise<unknown>((resolve) => live.pipe(transcribe(hot.transport, { maxQueuedMs: 250 })).subscribe({ error: resolve }));
    for (let i = 0; i < 3; i++) live.next(chunk(i * 1600));
    expect(await failed).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('transcribe(): more than 250 ms') });
    expect(() => transcribe(transport, { highWaterMs: 10, lowWaterMs: 20 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('rejects audio at the wrong rate with a coded error', async () => {
    const { transport } = countingTransport();
    const src = new Observable<AudioChunk>((s) => s.next({ ...chunk(0), sampleRate: 8000 }));
    await expect(lastValueFrom(src.pipe(transcribe(transport)))).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
  });

  it('refuses a transport that cannot stream and options it lacks, when the pipeline is built', () => {
    const { transport } = countingTransport();
    expect(() => transcribe({ ...transport, openStream: undefined })).toThrow(EarshotError);
    expect(() => transcribe(transport, { diarize: true })).toThrow(/diarization/);
  });
});
