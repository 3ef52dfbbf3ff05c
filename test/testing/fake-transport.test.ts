import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray, VirtualTimeScheduler } from 'rxjs';
import { EarshotError, TransportError } from '../../src/core/errors.js';
import type { AudioSegment, TranscriptEvent } from '../../src/core/types.js';
import { fromPcm } from '../../src/sources/pcm.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { fakeTransport, runVirtual } from '../../src/testing/index.js';

const hello: TranscriptEvent = { type: 'final', text: 'hello', startMs: 200, endMs: 900 };
const partial: TranscriptEvent = { type: 'partial', text: 'wor', startMs: 1200, endMs: 1500 };
const world: TranscriptEvent = { type: 'final', text: 'world', startMs: 1200, endMs: 1900 };
const tail: TranscriptEvent = { type: 'final', text: 'tail', startMs: 2800, endMs: 3400 };
const script = [world, hello, partial, tail];

function ms(n: number): Int16Array {
  return new Int16Array(n * 16);
}

describe('fakeTransport', () => {
  it('has the methods it serves, and capabilities that follow from them', () => {
    expect(fakeTransport().capabilities).toMatchObject({ realtime: true, batch: true, hotwords: false, languages: ['en'] });
    const clips = fakeTransport({ serves: 'clips', capabilities: { emotion: true } });
    expect(clips.openStream).toBeUndefined();
    expect(clips.capabilities).toMatchObject({ realtime: false, batch: true, emotion: true });
    const streams = fakeTransport({ serves: 'streams' });
    expect(streams.transcribeClip).toBeUndefined();
    expect(streams.capabilities).toMatchObject({ realtime: true, batch: false });
    expect(() => fakeTransport({ latencyMs: -1 })).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
  });

  it('answers a clip with the events that start in it, clip-relative, after its latency on the scheduler', async () => {
    const scheduler = new VirtualTimeScheduler();
    const fake = fakeTransport({ script, latencyMs: 300, scheduler });
    let result: TranscriptEvent[] | undefined;
    let at = -1;
    void fake.transcribeClip!({ samples: ms(1000), sampleRate: 16000, startMs: 1000 }).then((events) => {
      result = events;
      at = scheduler.now();
    });
    await runVirtual(scheduler, 299);
    expect(result).toBeUndefined();
    await runVirtual(scheduler);
    expect(at).toBe(300);
    expect(result).toEqual([
      { type: 'partial', text: 'wor', startMs: 200, endMs: 500 },
      { type: 'final', text: 'world', startMs: 200, endMs: 900 },
    ]);
    expect(fake.clips).toEqual([{ startMs: 1000, durationMs: 1000 }]);
  });

  it('refuses what a real transport refuses: capabilities it lacks, another rate, an aborted call', async () => {
    const scheduler = new VirtualTimeScheduler();
    const fake = fakeTransport({ script, latencyMs: 100, scheduler });
    await expect(fake.transcribeClip!({ samples: ms(100), sampleRate: 16000, startMs: 0, options: { hotwords: [{ text: 'x', weight: 3 }] } })).rejects.toMatchObject({ code: 'EARSHOT_CAPABILITY_MISSING' });
    await expect(fake.transcribeClip!({ samples: new Int16Array(800), sampleRate: 8000, startMs: 0 })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(fake.openStream!({ sampleRate: 8000, onEvent: () => undefined, onError: () => undefined })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    const ac = new AbortController();
    const call = fake.transcribeClip!({ samples: ms(1000), sampleRate: 16000, startMs: 0 }, { signal: ac.signal });
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    expect(scheduler.actions).toHaveLength(0);
  });

  it('fails the first clip that reaches a scripted failure, once, so a retry succeeds', async () => {
    const boom = new TransportError('EARSHOT_SERVER_ERROR', 'scripted 503', { retryable: true });
    const fake = fakeTransport({ script: [hello, { atMs: 500, error: boom }] });
    const job = { samples: ms(1000), sampleRate: 16000, startMs: 0 };
    await expect(fake.transcribeClip!(job)).rejects.toBe(boom);
    await expect(fake.transcribeClip!(job)).resolves.toEqual([hello]);
    expect(fake.clips).toHaveLength(2);
  });

  it('streams each event once the audio written reaches its end, the rest at end(), on virtual time', async () => {
    const scheduler = new VirtualTimeScheduler();
    const fake = fakeTransport({ script, latencyMs: 250, scheduler });
    const seen: Array<{ text: string; type: string; at: number }> = [];
    const session = await fake.openStream!({ sampleRate: 16000, onEvent: (e) => seen.push({ text: e.text, type: e.type, at: scheduler.now() }), onError: (e) => expect.unreachable(e.message) });
    await session.write(ms(1000));
    await runVirtual(scheduler);
    expect(seen).toEqual([{ text: 'hello', type: 'final', at: 250 }]);
    scheduler.frame = 1000;
    await session.write(ms(1000));
    await runVirtual(scheduler);
    expect(seen.slice(1)).toEqual([
      { text: 'wor', type: 'partial', at: 1250 },
      { text: 'world', type: 'final', at: 1250 },
    ]);
    await session.write(ms(1000)); // to 3000 ms: 'tail' (2800–3400) has started, not ended
    let ended = false;
    const ending = session.end().then(() => (ended = true));
    await runVirtual(scheduler);
    await ending;
    expect(ended).toBe(true);
    expect(seen.map((e) => e.text)).toEqual(['hello', 'wor', 'world', 'tail']);
    expect(fake.sessions).toEqual([{ options: { sampleRate: 16000 }, writtenMs: 3000, ended: true, closed: true }]);
  });

  it('fails a session at a scripted failure after delivering what came before, and stops', async () => {
    const scheduler = new VirtualTimeScheduler();
    const boom = new TransportError('EARSHOT_CONNECTION_LOST', 'scripted drop', { retryable: true });
    const fake = fakeTransport({ script: [hello, world, { atMs: 1000, error: boom }], latencyMs: 10, scheduler });
    const events: string[] = [];
    const errors: EarshotError[] = [];
    const session = await fake.openStream!({ sampleRate: 16000, onEvent: (e) => events.push(e.text), onError: (e) => errors.push(e as EarshotError) });
    await session.write(ms(1500));
    await session.write(ms(1000));
    await runVirtual(scheduler);
    expect(events).toEqual(['hello']);
    expect(errors).toEqual([boom]);
    expect(fake.sessions[0]).toMatchObject({ closed: true });
  });

  it('close() cancels what is pending, and a closed session emits nothing more', async () => {
    const scheduler = new VirtualTimeScheduler();
    const fake = fakeTransport({ script, latencyMs: 100, scheduler });
    const events: string[] = [];
    const session = await fake.openStream!({ sampleRate: 16000, onEvent: (e) => events.push(e.text), onError: () => undefined });
    await session.write(ms(2000));
    const ending = session.end();
    await fake.close();
    await ending; // resolves: the session is gone
    await runVirtual(scheduler);
    expect(events).toEqual([]);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('drives the real operators: transcribe() on a stream and transcribeBatch() on clips, times on the input', async () => {
    const scheduler = new VirtualTimeScheduler();
    const audio = ms(3500);
    const streamed = lastValueFrom(fromPcm(audio, { sampleRate: 16000, offset: 16000 }).pipe(transcribe(fakeTransport({ script, latencyMs: 50, scheduler }), { partials: false }), toArray()));
    await runVirtual(scheduler);
    expect((await streamed).map((e) => [e.text, e.startMs, e.endMs])).toEqual([
      ['hello', 1200, 1900],
      ['world', 2200, 2900],
      ['tail', 3800, 4400],
    ]);

    const fake = fakeTransport({ script, latencyMs: 400, scheduler });
    const segments: AudioSegment[] = [0, 1, 2, 3].map((i) => ({ kind: 'audio', samples: ms(1000), sampleRate: 16000, channels: 1, offset: i * 16000, cut: 'pause' }));
    const batched = lastValueFrom(from(segments).pipe(transcribeBatch(fake, { scheduler }), toArray()));
    await runVirtual(scheduler);
    expect((await batched).filter((e) => e.type === 'final').map((e) => [e.text, e.startMs, e.endMs])).toEqual([
      ['hello', 200, 900],
      ['world', 1200, 1900],
      ['tail', 2800, 3400],
    ]);
    expect(fake.clips.map((c) => c.startMs)).toEqual([0, 1000, 2000, 3000]);
  });
});
