import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EnginePool } from '../../src/engine/pool.js';
import { from, lastValueFrom, toArray } from 'rxjs';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { local } from '../../src/transports/local.js';
import { SENTENCES, synthRaw } from '../helpers/speech.js';

const FAULTY = new URL('./fixtures/faulty-worker.ts', import.meta.url);

function sentence(i: number, voice: 'slt' | 'rms' = 'rms'): Int16Array {
  const b = synthRaw(SENTENCES[i]!, voice);
  return new Int16Array(b.buffer, b.byteOffset, b.length / 2);
}

function faults(count: number, mode: 'exit' | 'hang' | 'throw' | 'slow', on: 'clip' | 'audio' = 'clip', stallMs?: number) {
  const remaining = new Int32Array(new SharedArrayBuffer(4));
  remaining[0] = count;
  return { remaining, mode, on, stallMs };
}

const pools: EnginePool[] = [];
function pool(options: ConstructorParameters<typeof EnginePool>[0]): EnginePool {
  const p = new EnginePool(options);
  pools.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('EnginePool', () => {
  it('validates its options when built', () => {
    expect(() => new EnginePool({ size: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => new EnginePool({ jobTimeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => new EnginePool({ retry: { attempts: 0 } })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('fails with EARSHOT_ENGINE_UNAVAILABLE, without respawning forever, when the worker entry cannot start', async () => {
    const p = pool({ size: 2, workerUrl: new URL('./fixtures/missing-worker.js', import.meta.url) });
    await expect(p.transcribe(sentence(1))).rejects.toMatchObject({ code: 'EARSHOT_ENGINE_UNAVAILABLE' });
    await expect(p.transcribe(sentence(1))).rejects.toMatchObject({ code: 'EARSHOT_ENGINE_UNAVAILABLE' });
    expect(() => p.openSession({}, { onEvent: () => undefined, onError: () => undefined })).toThrow(expect.objectContaining({ code: 'EARSHOT_ENGINE_UNAVAILABLE' }));
    expect(p.threads).toBe(0);
  });

  it('transcribes a clip on a worker and leaves the caller’s array intact', async () => {
    const p = pool({ size: 1 });
    const samples = sentence(1);
    const before = samples.length;
    const events = await p.transcribe(samples);
    expect(events.map((e) => e.text).join(' ')).toBe(SENTENCES[1]);
    expect(samples.length).toBe(before);
    expect(p.threads).toBe(1);
  });

  it('by default makes one attempt: a crash fails the clip with a retryable EARSHOT_WORKER_CRASHED for its owner', async () => {
    const f = faults(1, 'exit');
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: f });
    await expect(p.transcribe(sentence(1))).rejects.toMatchObject({ name: 'EngineError', code: 'EARSHOT_WORKER_CRASHED', retryable: true });
    expect(1 - f.remaining[0]!).toBe(1); // the clip went to a worker once
    expect(p.replaced).toBe(1);
    // The next job runs on a fresh worker.
    expect((await p.transcribe(sentence(7)))[0]!.text).toBe(SENTENCES[7]);
  });

  it('with a retry policy, replaces a worker killed mid-job and retries the job once, transcribing it once', async () => {
    const f = faults(1, 'exit');
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: f, retry: { attempts: 2 } });
    const events = await p.transcribe(sentence(1));
    expect(events).toHaveLength(1);
    expect(events[0]!.text).toBe(SENTENCES[1]);
    expect(p.replaced).toBe(1);
    expect(p.threads).toBe(1);
  });

  it('fails a job that crashes its worker twice with EARSHOT_WORKER_CRASHED, and keeps serving', async () => {
    const f = faults(2, 'throw');
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: f, retry: { attempts: 2 } });
    const err = await p.transcribe(sentence(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EarshotError);
    expect((err as EarshotError).code).toBe('EARSHOT_WORKER_CRASHED');
    expect(p.replaced).toBe(2);
    // The next job runs on a fresh worker.
    const events = await p.transcribe(sentence(7));
    expect(events[0]!.text).toBe(SENTENCES[7]);
  });

  it('terminates a hung worker after jobTimeoutMs and retries elsewhere', async () => {
    const f = faults(1, 'hang');
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: f, jobTimeoutMs: 3000, retry: { attempts: 2 } }); // room for the real decode on a loaded machine
    const events = await p.transcribe(sentence(1));
    expect(events[0]!.text).toBe(SENTENCES[1]);
    expect(p.replaced).toBe(1);
  });

  it('holds clips back from an engine thread that has not answered an abandonment (stuck itself), so the retry runs on a fresh one', async () => {
    // Two warm slots on one engine thread, which hangs on the first clip: its retry must not go to the other slot of
    // that stuck thread (where it would fail again when the thread is terminated) but wait for a fresh thread.
    const p = pool({ size: 2, workerUrl: FAULTY, workerExtra: faults(1, 'hang'), jobTimeoutMs: 800, retry: { attempts: 2 } });
    await p.warmUp();
    const events = await p.transcribe(sentence(1));
    expect(events.map((e) => e.text)).toEqual([SENTENCES[1]]);
  });

  it('lets a clip that decodes slower than real time but keeps reporting progress finish (a starved machine is not a hang)', async () => {
    // 2.79 s of speech, three reports; the engine thread stalls 1.2 s after each: over 3.6 s in all, past a budget of
    // jobTimeoutMs + the clip's length (3.39 s) counted from the start, while a gap between two reports is 1.2 s plus
    // the decoding of 1 s of audio. Not niced, so a loaded machine slows it less.
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: faults(0, 'slow', 'clip', 1200), jobTimeoutMs: 600, niceness: 0 });
    await p.warmUp();
    const started = performance.now();
    const events = await p.transcribe(sentence(7));
    expect(performance.now() - started).toBeGreaterThan(3390);
    expect(events.map((e) => e.text)).toEqual([SENTENCES[7]]);
    expect(p.replaced).toBe(0);
  });

  it('lets a session’s second pass over its first utterance outlast jobTimeoutMs while it reports progress', async () => {
    // The sentence without its trailing silence, so its utterance (and the second pass over its 2.6 s) ends at end(),
    // when no audio is unanswered: the pass alone keeps the slot busy. The engine thread stalls 1.2 s after each
    // report: past jobTimeoutMs, within it plus what is left of the pass.
    const audio = sentence(7);
    let last = audio.length - 1;
    while (last > 0 && Math.abs(audio[last]!) < 500) last--;
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: faults(0, 'slow', 'clip', 1200), jobTimeoutMs: 1000, niceness: 0 });
    await p.warmUp();
    const finals: string[] = [];
    const s = p.openSession({ endSilenceMs: 0 }, { onEvent: (e) => e.type === 'final' && finals.push(e.text), onError: (e) => { throw e; } });
    s.write(audio.subarray(0, last + 1));
    await s.drained(0);
    const started = performance.now();
    await s.end();
    expect(performance.now() - started).toBeGreaterThan(2400); // at least two stalls: the pass reported progress
    expect(finals).toEqual([SENTENCES[7]]);
    expect(p.replaced).toBe(0);
  });

  it('rejects an aborted job with EARSHOT_ABORTED and close() rejects queued ones', async () => {
    const p = pool({ size: 1 });
    const ac = new AbortController();
    ac.abort();
    await expect(p.transcribe(sentence(1), { signal: ac.signal })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    const a = p.transcribe(sentence(1));
    const b = p.transcribe(sentence(2));
    const closing = p.close();
    await expect(a).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await expect(b).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await closing;
    expect(p.threads).toBe(0);
    await expect(p.transcribe(sentence(1))).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
  });

  it('spreads independent clips over the pool and close() leaves no worker', async () => {
    const p = pool({ size: 2 });
    const texts = await Promise.all([1, 5, 6, 7].map(async (i) => (await p.transcribe(sentence(i, i % 2 ? 'rms' : 'slt'))).map((e) => e.text).join(' ')));
    expect(p.threads).toBe(2);
    expect(texts.join(' ').split(' ').length).toBeGreaterThan(30);
    await p.close();
    expect(p.threads).toBe(0);
    await p.close();
  });

  it('decodes two clips at once: while both run, two threads besides the main one are mostly running native code together', async () => {
    const p = pool({ size: 2 });
    await p.warmUp();
    /** Threads of this process (the main one excepted) that are running or runnable now. */
    const running = (): number =>
      readdirSync('/proc/self/task').filter((tid) => {
        if (Number(tid) === process.pid) return false;
        try {
          return readFileSync(`/proc/self/task/${tid}/stat`, 'latin1').replace(/^.*\) /s, '').startsWith('R');
        } catch {
          return false; // the thread ended
        }
      }).length;
    let both = true;
    const samples: number[] = [];
    // Sampled while both clips are on the pool (until the first is done).
    const jobs = Promise.all([sentence(1), sentence(6, 'slt')].map((c) => p.transcribe(c).finally(() => (both = false))));
    while (both) {
      samples.push(running());
      await new Promise((r) => setTimeout(r, 2));
    }
    const texts = (await jobs).map((events) => events.map((e) => e.text).join(' '));
    expect(texts).toEqual([SENTENCES[1], SENTENCES[6]]);
    // Decoded one after the other, at most one thread would run native code at a time (the engine thread's
    // JavaScript is a small fraction); on two threads of libuv's pool, both do most of the time.
    const together = samples.filter((n) => n >= 2).length;
    expect(samples.length).toBeGreaterThan(20);
    expect(together / samples.length).toBeGreaterThan(0.5);
  });

  it('close() while workers are still loading their models lets them end themselves (a thread terminated inside a native call aborts the process)', async () => {
    const p = pool({ size: 2 });
    const jobs = [1, 2].map((i) => p.transcribe(sentence(i)).then(() => 'done', (e: EarshotError) => e.code));
    expect(p.threads).toBe(2); // both spawned, neither ready yet
    await p.close();
    expect(await Promise.all(jobs)).toEqual(['EARSHOT_ABORTED', 'EARSHOT_ABORTED']);
    expect(p.threads).toBe(0);
  });

  it('streams a live session on one worker: partials, then a final at end()', async () => {
    const p = pool({ size: 2 });
    const events: Array<{ type: string; text: string }> = [];
    const s = p.openSession({}, { onEvent: (e) => events.push(e), onError: (e) => { throw e; } });
    const audio = sentence(1);
    for (let i = 0; i < audio.length; i += 3200) s.write(audio.subarray(i, i + 3200));
    await s.drained(0);
    await s.end();
    expect(events.some((e) => e.type === 'partial')).toBe(true);
    expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual([SENTENCES[1]]);
    expect(p.threads).toBe(1);
  });

  it('fails a live session with EARSHOT_WORKER_CRASHED when its worker dies', async () => {
    const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: faults(1, 'exit', 'audio') });
    let failure: EarshotError | undefined;
    const s = p.openSession({}, { onEvent: () => undefined, onError: (e) => (failure = e) });
    s.write(sentence(1));
    await expect(s.end()).rejects.toMatchObject({ code: 'EARSHOT_WORKER_CRASHED' });
    expect(failure?.code).toBe('EARSHOT_WORKER_CRASHED');
    expect(p.replaced).toBe(1);
    // A new session gets a fresh worker.
    const events: string[] = [];
    const s2 = p.openSession({}, { onEvent: (e) => events.push(e.text), onError: (e) => { throw e; } });
    s2.write(sentence(7));
    await s2.end();
    expect(events.at(-1)).toBe(SENTENCES[7]);
  });

  it('finds a hung engine while a live session keeps writing audio (writes never postpone the watchdog), its slot loaded or still loading', async () => {
    for (const warm of [true, false]) {
      const p = pool({ size: 1, workerUrl: FAULTY, workerExtra: faults(1, 'hang', 'audio'), jobTimeoutMs: 500 });
      // Cold, the engine thread takes the session's audio while its decoder loads on the thread pool, and is stuck
      // before it can say 'ready'.
      if (warm) await p.warmUp();
      let failure: EarshotError | undefined;
      const s = p.openSession({}, { onEvent: () => undefined, onError: (e) => (failure = e) });
      // 100 ms of audio every 50 ms for up to 5 s: the engine is stuck on the first and answers nothing. Its budget
      // is jobTimeoutMs + the 100 ms it was given, counted from that first write.
      const started = performance.now();
      for (let i = 0; i < 100 && !failure; i++) {
        s.write(new Int16Array(1600));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(failure?.code).toBe('EARSHOT_WORKER_CRASHED');
      expect(performance.now() - started).toBeLessThan(4000);
      expect(p.replaced).toBe(1);
      // The stuck thread, which does not answer the abandonment either, is terminated jobTimeoutMs later (a timer
      // that fires before this one), so close() has no thread to wait for. A new session on a fresh thread: see the
      // crash test.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });

  it('under transcribeBatch, the operator alone retries a crashed clip: sent at most `attempts` times, never attempts × pool attempts', async () => {
    const run = async (crashes: number) => {
      const f = faults(crashes, 'throw');
      const engine = local({ size: 1, workerUrl: FAULTY, workerExtra: f });
      const samples = sentence(1);
      const segment = { kind: 'audio' as const, samples, sampleRate: 16000, channels: 1, offset: 0, cut: 'pause' as const };
      const out = await lastValueFrom(from([segment]).pipe(transcribeBatch(engine, { retry: { attempts: 3, baseMs: 0 } }), toArray())).catch((e: unknown) => e);
      const sent = crashes - f.remaining[0]!;
      const replaced = engine.pool.replaced;
      await engine.close();
      return { out, sent, replaced };
    };
    const recovered = await run(2);
    expect((recovered.out as TranscriptEvent[]).map((e) => e.text)).toEqual([SENTENCES[1]]);
    expect(recovered).toMatchObject({ sent: 3, replaced: 2 });
    const spent = await run(5);
    expect(spent.out).toMatchObject({ name: 'EngineError', code: 'EARSHOT_WORKER_CRASHED', retryable: false, details: { attempts: 3 } });
    expect(spent).toMatchObject({ sent: 3, replaced: 3 });
  });
});
