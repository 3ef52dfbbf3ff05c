import { describe, expect, it, vi } from 'vitest';
import { from, lastValueFrom, Observable, Subject, throwError, concat, toArray, EMPTY } from 'rxjs';
import { resample } from '../../src/operators/resample.js';
import { FlowControl } from '../../src/core/flow.js';
import type { AudioChunk } from '../../src/core/types.js';
import { InputError, type EarshotError } from '../../src/core/errors.js';
import type { DropInfo } from '../../src/core/backpressure.js';
import { joinSamples } from '../helpers/audio.js';

function tone(freqs: number[], rate: number, frames: number, amp = 30000): Int16Array {
  const ch = freqs.length;
  const out = new Int16Array(frames * ch);
  for (let i = 0; i < frames; i++) for (let c = 0; c < ch; c++) out[i * ch + c] = Math.round(amp * Math.sin((2 * Math.PI * freqs[c]! * i) / rate));
  return out;
}

/** Cut interleaved samples into chunks of pseudo-random frame counts. */
function chunked(samples: Int16Array, rate: number, channels: number, seed = 7, flow?: FlowControl, start = 0): AudioChunk[] {
  const out: AudioChunk[] = [];
  const frames = samples.length / channels;
  let at = 0;
  let x = seed;
  while (at < frames) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const n = Math.min(frames - at, 1 + (x % 3000));
    out.push({ kind: 'audio', samples: samples.slice(at * channels, (at + n) * channels), sampleRate: rate, channels, offset: start + at, ...(flow ? { flow } : {}) });
    at += n;
  }
  return out;
}


/** Byte-wise equality of two sample arrays (vitest's toEqual walks typed arrays slowly). */
function same(a: Int16Array, b: Int16Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function rms(a: Int16Array, channels = 1, channel = 0, skip = 0): number {
  let s = 0;
  let n = 0;
  for (let i = skip * channels + channel; i < a.length - skip * channels; i += channels) {
    s += a[i]! * a[i]!;
    n++;
  }
  return Math.sqrt(s / n);
}

const run = (chunks: AudioChunk[], rate: number) => lastValueFrom(from(chunks).pipe(resample(rate), toArray()));

describe('resample', () => {
  it('gives chunked output identical to one-shot output, with exact length and contiguous offsets', async () => {
    const input = tone([440], 44100, 44100 * 3);
    const one = await run([{ kind: 'audio', samples: input, sampleRate: 44100, channels: 1, offset: 0 }], 16000);
    const many = await run(chunked(input, 44100, 1), 16000);
    const a = joinSamples(one);
    const b = joinSamples(many);
    expect(a.length).toBe(Math.ceil((44100 * 3 * 16000) / 44100));
    expect(same(b, a)).toBe(true);
    let next = 0;
    for (const c of many) {
      expect(c.offset).toBe(next);
      expect(c.sampleRate).toBe(16000);
      next += c.samples.length;
    }
  });

  it('keeps the signal in the pass band and time-aligned (no filter delay)', async () => {
    const out = joinSamples(await run(chunked(tone([1000], 48000, 48000), 48000, 1), 16000));
    let maxErr = 0;
    for (let i = 200; i < out.length - 200; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - 30000 * Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    expect(maxErr).toBeLessThan(30); // < 0.1 % of the amplitude: same phase, same gain
  });

  it('rejects a tone above the new Nyquist by at least 80 dB (48k -> 16k)', async () => {
    for (const f of [8800, 12000, 20000]) {
      const input = tone([f], 48000, 48000);
      const out = joinSamples(await run(chunked(input, 48000, 1), 16000));
      const floor = Math.max(rms(out, 1, 0, 100), 0.5); // int16 output: half an LSB is the measurable floor
      expect(20 * Math.log10(rms(input) / floor)).toBeGreaterThanOrEqual(80);
    }
  });

  it('handles interleaved multi-channel audio, channels kept apart', async () => {
    const input = tone([500, 3000], 32000, 32000);
    const out = await run(chunked(input, 32000, 2), 8000);
    expect(out.every((c) => c.channels === 2)).toBe(true);
    const all = joinSamples(out);
    expect(all.length).toBe(8000 * 2);
    // The 3 kHz channel survives at 8 kHz (Nyquist 4 kHz); compare with a fresh tone per channel.
    const ref = tone([500, 3000], 8000, 8000);
    let maxErr = 0;
    for (let i = 400; i < all.length - 400; i++) maxErr = Math.max(maxErr, Math.abs(all[i]! - ref[i]!));
    expect(maxErr).toBeLessThan(600); // 3 kHz is near the band edge, a little gain ripple
    const one = joinSamples(await run([{ kind: 'audio', samples: input, sampleRate: 32000, channels: 2, offset: 0 }], 8000));
    expect(same(all, one)).toBe(true);
  });

  it('rescales offsets onto the new time line and restarts on a gap', async () => {
    const a = tone([300], 48000, 4800);
    const chunks: AudioChunk[] = [
      { kind: 'audio', samples: a, sampleRate: 48000, channels: 1, offset: 96000 },
      { kind: 'audio', samples: a, sampleRate: 48000, channels: 1, offset: 96000 + 4800 },
      { kind: 'audio', samples: a, sampleRate: 48000, channels: 1, offset: 480000 }, // a gap
    ];
    const out = await run(chunks, 16000);
    expect(out[0]!.offset).toBe(32000);
    const afterGap = out.find((c) => c.offset >= 160000)!;
    expect(afterGap.offset).toBe(160000);
    const beforeGap = out.filter((c) => c.offset < 160000).reduce((n, c) => n + c.samples.length, 0);
    expect(beforeGap).toBe(3200);
  });

  it('passes chunks already at the rate through untouched', async () => {
    const chunks = chunked(tone([440], 16000, 16000), 16000, 1);
    const out = await run(chunks, 16000);
    expect(out.length).toBe(chunks.length);
    out.forEach((c, i) => expect(c).toBe(chunks[i]));
  });

  it('passes the flow control on', async () => {
    const flow = new FlowControl();
    const out = await run(chunked(tone([440], 22050, 22050), 22050, 1, 3, flow), 16000);
    expect(out.length).toBeGreaterThan(1);
    expect(out.every((c) => c.flow === flow)).toBe(true);
  });

  it('completes empty on an empty source', async () => {
    const out = await lastValueFrom(EMPTY.pipe(resample(16000), toArray()));
    expect(out).toEqual([]);
  });

  it('flushes the audio already received, then forwards a source error', async () => {
    const input = tone([440], 48000, 4800);
    const boom = new Error('boom');
    const got: AudioChunk[] = [];
    const err = await new Promise<unknown>((res) =>
      concat(from([{ kind: 'audio', samples: input, sampleRate: 48000, channels: 1, offset: 0 } as AudioChunk]), throwError(() => boom))
        .pipe(resample(16000))
        .subscribe({ next: (c) => got.push(c), error: res, complete: () => res(undefined) }),
    );
    // An upstream error is the source's to describe: it arrives as it was raised.
    expect(err).toBe(boom);
    expect(joinSamples(got).length).toBe(1600);
  });

  it('passes an upstream coded error on unchanged (the same object), also while the resampler loads', async () => {
    const coded = new InputError('EARSHOT_CORRUPT_INPUT', 'bad frame');
    const audio = { kind: 'audio', samples: tone([440], 48000, 4800), sampleRate: 48000, channels: 1, offset: 0 } as AudioChunk;
    await expect(lastValueFrom(concat(from([audio]), throwError(() => coded)).pipe(resample(16000)))).rejects.toBe(coded);
    // An error that arrives before any audio (queued while the WASM module may still load) is passed on the same way.
    await expect(lastValueFrom(throwError(() => coded).pipe(resample(16000)))).rejects.toBe(coded);
  });

  it('errors with EARSHOT_INVALID_ARGUMENT on a chunk with a bad layout', async () => {
    const bad: AudioChunk = { kind: 'audio', samples: new Int16Array(3), sampleRate: 8000, channels: 2, offset: 0 };
    const err = await lastValueFrom(from([bad]).pipe(resample(16000))).catch((e: unknown) => e);
    expect((err as EarshotError).code).toBe('EARSHOT_INVALID_ARGUMENT');
  });

  it('throws EARSHOT_INVALID_ARGUMENT when built with a bad rate or quality', () => {
    expect(() => resample(0)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => resample(16000.5)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => resample(16000, { quality: 11 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('stops and unsubscribes its source on early unsubscribe', async () => {
    const subject = new Subject<AudioChunk>();
    const got: AudioChunk[] = [];
    const sub = subject.pipe(resample(16000)).subscribe((c) => got.push(c));
    const chunks = chunked(tone([440], 48000, 48000), 48000, 1);
    // the WASM module may still be loading: the first chunks queue until it is ready
    subject.next(chunks[0]!);
    await new Promise<void>((res) => {
      const check = (): void => (got.length > 0 ? res() : void setImmediate(check));
      check();
    });
    sub.unsubscribe();
    expect(subject.observed).toBe(false);
    subject.next(chunks[1]!);
    expect(got.length).toBe(1);
  });

  it('is reusable: each subscription has its own state', async () => {
    const op = resample(16000);
    const input = chunked(tone([440], 48000, 9600), 48000, 1);
    const src = new Observable<AudioChunk>((s) => {
      input.forEach((c) => s.next(c));
      s.complete();
    });
    const [a, b] = await Promise.all([lastValueFrom(src.pipe(op, toArray())), lastValueFrom(src.pipe(op, toArray()))]);
    expect(same(joinSamples(a), joinSamples(b))).toBe(true);
  });
});

describe('resample while its WASM module loads', () => {
  /** A fresh copy of resample() whose WASM module is not loaded yet (vitest keeps modules per test file; reset them). */
  async function freshResample(): Promise<typeof resample> {
    vi.resetModules();
    const speex = await import('../../src/media/speex.js');
    expect(speex.speexLoaded()).toBe(false);
    return (await import('../../src/operators/resample.js')).resample;
  }
  const second = (start: number, flow?: FlowControl) => chunked(tone([440], 48000, 48000), 48000, 1, 5, flow, start);

  it('fails a hot source that queues more than maxQueuedMs before the module is ready', async () => {
    const fresh = await freshResample();
    const err = await lastValueFrom(from(second(0)).pipe(fresh(16000, { maxQueuedMs: 500 }))).catch((e: unknown) => e as EarshotError);
    expect(err).toMatchObject({ code: 'EARSHOT_LIMIT_EXCEEDED', message: expect.stringContaining('more than 500 ms') });
  });

  it('drops the oldest chunks under overflow: drop-oldest, counts them, and keeps the time line', async () => {
    const fresh = await freshResample();
    const drops: DropInfo[] = [];
    const input = [...second(0), ...second(48000)]; // 2 s, all at once
    const out = await lastValueFrom(from(input).pipe(fresh(16000, { maxQueuedMs: 1000, overflow: 'drop-oldest', onDrop: (d) => drops.push(d) }), toArray()));
    const last = drops.at(-1)!;
    expect(last.totalSize).toBeGreaterThanOrEqual(1000);
    expect(last.totalSize).toBeLessThan(1100);
    // What is kept is the last second (and a bit), at its own place on the 16 kHz time line.
    const keptFrames = joinSamples(out).length;
    expect(Math.abs(keptFrames / 16 + last.totalSize - 2000)).toBeLessThanOrEqual(1);
    expect(out[0]!.offset).toBe(Math.round((last.totalSize * 16000) / 1000));
    expect(out.at(-1)!.offset + out.at(-1)!.samples.length).toBe(32000);
  });

  it('holds a cold source instead, however long the load takes, and lets it go once loaded', async () => {
    const fresh = await freshResample();
    const flow = new FlowControl();
    const states: boolean[] = [];
    const subject = new Subject<AudioChunk>();
    const got: AudioChunk[] = [];
    const done = new Promise<void>((res, rej) => subject.pipe(fresh(16000, { maxQueuedMs: 10 })).subscribe({ next: (c) => got.push(c), error: rej, complete: res }));
    for (const c of [...second(0, flow), ...second(48000, flow)]) {
      subject.next(c);
      states.push(flow.paused);
    }
    subject.complete();
    expect(states.every((p) => p)).toBe(true); // held from the first chunk, never dropped nor failed
    await done;
    expect(flow.paused).toBe(false);
    expect(joinSamples(got).length).toBe(32000);
  });
});
