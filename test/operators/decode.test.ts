import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EMPTY, filter, lastValueFrom, map, Observable, Subject, tap, toArray } from 'rxjs';
import { decode, type DecodeOptions } from '../../src/operators/decode.js';
import { ffmpegResampler, knownFfmpegResampler } from '../../src/media/ffmpeg.js';
import { fromFile } from '../../src/sources/file.js';
import { fromReadable } from '../../src/sources/readable.js';
import type { AudioChunk, ByteChunk } from '../../src/core/types.js';
import type { EarshotError } from '../../src/core/errors.js';
import { makeSpeech, SENTENCES, wavHeader } from '../helpers/speech.js';
import { joinSamples } from '../helpers/audio.js';

const DIR = resolve(process.cwd(), '.tmp/test-decode');
mkdirSync(DIR, { recursive: true });
const speech = (format: string, sampleRate?: number) => makeSpeech({ sentences: SENTENCES.slice(0, 2), leadMs: 300, format, ...(sampleRate ? { sampleRate } : {}) });

/** pids of ffmpeg processes that are children of this test process (zombies count until reaped). */
function ffmpegChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'ffmpeg' && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // the process went away while listing
    }
  }
  return pids;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise<void>((r) => setTimeout(r, 5));
  }
}

const noFfmpegLeft = () => until(() => ffmpegChildren().length === 0);


function decodeAll(src: Observable<ByteChunk>, options?: DecodeOptions): Promise<AudioChunk[]> {
  return lastValueFrom(src.pipe(decode(options), toArray()));
}

async function failure(src: Observable<ByteChunk>, options?: DecodeOptions): Promise<{ err: EarshotError; frames: number; ms: number }> {
  const t0 = Date.now();
  let frames = 0;
  const err = await new Promise<unknown>((res) =>
    src.pipe(decode(options)).subscribe({ next: (c) => (frames += c.samples.length / c.channels), error: res, complete: () => res(new Error('completed')) }),
  );
  return { err: err as EarshotError, frames, ms: Date.now() - t0 };
}

/** Signal-to-difference ratio in dB. */
function snr(ref: Int16Array, test: Int16Array): number {
  const n = Math.min(ref.length, test.length);
  let s = 0;
  let d = 0;
  for (let i = 0; i < n; i++) {
    s += ref[i]! * ref[i]!;
    d += (ref[i]! - test[i]!) ** 2;
  }
  return 10 * Math.log10(s / Math.max(d, 1e-9));
}

/** Byte-wise equality of two sample arrays (vitest's toEqual walks typed arrays slowly). */
function same(a: Int16Array, b: Int16Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function offsetsContiguous(chunks: AudioChunk[]): boolean {
  let next = 0;
  for (const c of chunks) {
    if (c.offset !== next) return false;
    next += c.samples.length / c.channels;
  }
  return true;
}

describe('decode', () => {
  // ADTS AAC has no gapless info: the encoder's priming and padding (~100 ms) stay in the output.
  const tolerance: Record<string, number> = { aac: 150 };
  for (const format of ['wav', 'mp3', 'aac', 'm4a', 'ogg', 'opus', 'flac', 'ulaw.wav']) {
    it(`decodes ${format} to 16 kHz mono of the right duration`, async () => {
      const sp = speech(format);
      const chunks = await decodeAll(fromFile(sp.path));
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks.every((c) => c.sampleRate === 16000 && c.channels === 1)).toBe(true);
      expect(offsetsContiguous(chunks)).toBe(true);
      const ms = joinSamples(chunks).length / 16;
      expect(Math.abs(ms - sp.durationMs)).toBeLessThanOrEqual(tolerance[format] ?? 50);
      await noFfmpegLeft();
    });
  }

  it('gives the same samples on the in-process WAV path and through ffmpeg, and for lossless FLAC', async () => {
    const wav = speech('wav');
    const fast = joinSamples(await decodeAll(fromFile(wav.path)));
    const viaFfmpeg = joinSamples(await decodeAll(fromFile(wav.path), { decoder: 'ffmpeg' }));
    const flac = joinSamples(await decodeAll(fromFile(speech('flac').path)));
    expect(same(fast, viaFfmpeg)).toBe(true);
    expect(same(flac, fast)).toBe(true);
  });

  it('resamples and downmixes a 44.1 kHz stereo WAV in-process, close to ffmpeg', async () => {
    const mono = speech('wav', 44100);
    const raw = readFileSync(mono.path).subarray(44);
    const stereo = Buffer.alloc(raw.length * 2);
    for (let i = 0; i < raw.length; i += 2) {
      raw.copy(stereo, i * 2, i, i + 2);
      raw.copy(stereo, i * 2 + 2, i, i + 2);
    }
    const path = join(DIR, 'stereo44k.wav');
    writeFileSync(path, Buffer.concat([wavHeader(stereo.length, 44100, 2), stereo]));
    const fast = await decodeAll(fromFile(path));
    const ref = joinSamples(await decodeAll(fromFile(path), { decoder: 'ffmpeg' }));
    expect(offsetsContiguous(fast)).toBe(true);
    const a = joinSamples(fast);
    expect(Math.abs(a.length - ref.length)).toBeLessThanOrEqual(2);
    expect(snr(ref, a)).toBeGreaterThan(25); // two different resamplers, same time alignment
  });

  it('converts 24-bit and float WAV in-process, matching ffmpeg', async () => {
    const src = speech('wav').path;
    for (const codec of ['pcm_s24le', 'pcm_f32le', 'pcm_u8', 'pcm_s32le']) {
      const path = join(DIR, `speech-${codec}.wav`);
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', src, '-c:a', codec, '-y', path]);
      const fast = joinSamples(await decodeAll(fromFile(path), { decoder: 'native' }));
      const ref = joinSamples(await decodeAll(fromFile(path), { decoder: 'ffmpeg' }));
      expect(fast.length).toBe(ref.length);
      expect(snr(ref, fast)).toBeGreaterThan(40);
    }
  });

  it('parses a WAV header split across tiny chunks, skipping metadata and reading WAVE_FORMAT_EXTENSIBLE', async () => {
    const pcm = readFileSync(speech('wav').path).subarray(44);
    const fmt = Buffer.alloc(8 + 40);
    fmt.write('fmt ', 0);
    fmt.writeUInt32LE(40, 4);
    fmt.writeUInt16LE(0xfffe, 8); // extensible
    fmt.writeUInt16LE(1, 10);
    fmt.writeUInt32LE(16000, 12);
    fmt.writeUInt32LE(32000, 16);
    fmt.writeUInt16LE(2, 20);
    fmt.writeUInt16LE(16, 22);
    fmt.writeUInt16LE(22, 24);
    fmt.writeUInt16LE(16, 26);
    fmt.writeUInt32LE(4, 28);
    fmt.writeUInt16LE(1, 32); // sub-format GUID starts with 1: PCM
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.alloc(1)]); // odd size + pad byte
    const big = Buffer.concat([Buffer.from('junk'), Buffer.from([0, 0, 2, 0]), Buffer.alloc(0x20000)]); // 128 KiB of metadata
    const data = Buffer.concat([Buffer.from('data'), Buffer.alloc(4), pcm]);
    data.writeUInt32LE(pcm.length, 4);
    const body = Buffer.concat([Buffer.from('WAVE'), fmt, list, big, data]);
    const path = join(DIR, 'extensible.wav');
    writeFileSync(path, Buffer.concat([Buffer.from('RIFF'), Buffer.from([0, 0, 0, 0]), body]));
    const expected = joinSamples(await decodeAll(fromFile(speech('wav').path)));
    for (const chunkBytes of [7, 4096]) {
      const got = joinSamples(await decodeAll(fromFile(path, { chunkBytes }), { decoder: 'native' }));
      expect(same(got, expected)).toBe(true);
    }
  });

  it('decodes raw PCM given by input (s16le, f32le) without ffmpeg, and mulaw through it', async () => {
    const wav = speech('wav');
    const pcm = readFileSync(wav.path).subarray(44);
    const expected = joinSamples(await decodeAll(fromFile(wav.path)));
    const rawPath = join(DIR, 'speech.s16');
    writeFileSync(rawPath, pcm);
    const raw = joinSamples(await decodeAll(fromFile(rawPath), { input: { format: 's16le', sampleRate: 16000, channels: 1 } }));
    expect(same(raw, expected)).toBe(true);
    const viaFfmpeg = joinSamples(await decodeAll(fromFile(rawPath), { input: { format: 's16le', sampleRate: 16000, channels: 1 }, decoder: 'ffmpeg' }));
    expect(same(viaFfmpeg, expected)).toBe(true);
    const f32 = Buffer.alloc(pcm.length * 2);
    for (let i = 0; i < pcm.length / 2; i++) f32.writeFloatLE(pcm.readInt16LE(i * 2) / 32768, i * 4);
    const f32Path = join(DIR, 'speech.f32');
    writeFileSync(f32Path, f32);
    const fromFloat = joinSamples(await decodeAll(fromFile(f32Path, { chunkBytes: 1001 }), { input: { format: 'f32le', sampleRate: 16000, channels: 1 } }));
    expect(same(fromFloat, expected)).toBe(true);
    const at8k = await decodeAll(fromFile(rawPath), { input: { format: 's16le', sampleRate: 16000, channels: 1 }, sampleRate: 8000 });
    expect(joinSamples(at8k).length).toBe(Math.ceil(expected.length / 2));
    const mulawPath = join(DIR, 'speech.ul');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', wav.path, '-f', 'mulaw', '-ar', '8000', '-y', mulawPath]);
    const mu = joinSamples(await decodeAll(fromFile(mulawPath), { input: { format: 'mulaw', sampleRate: 8000, channels: 1 } }));
    expect(Math.abs(mu.length / 16 - wav.durationMs)).toBeLessThanOrEqual(50);
  });

  it('decodes from any Readable through ffmpeg stdin (mp3, m4a)', async () => {
    for (const format of ['mp3', 'm4a']) {
      const sp = speech(format);
      const chunks = await decodeAll(fromReadable(createReadStream(sp.path)));
      expect(Math.abs(joinSamples(chunks).length / 16 - sp.durationMs)).toBeLessThanOrEqual(60);
    }
    await noFfmpegLeft();
  });

  it('lets ffmpeg open the file whatever operators sit between fromFile and decode (an M4A whose index is at its end)', async () => {
    // 30 s of tone in an M4A as ffmpeg writes it by default: the moov atom after the audio, so a reader must seek.
    const path = join(DIR, 'moov-at-end.m4a');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=30', '-ar', '16000', '-ac', '1', '-c:a', 'aac', '-y', path]);
    const bytes = readFileSync(path);
    expect(bytes.indexOf('moov')).toBeGreaterThan(bytes.indexOf('mdat'));

    const seen: ByteChunk[] = [];
    const chunks = await decodeAll(
      fromFile(path, { chunkBytes: 4096 }).pipe(
        map((c) => c),
        tap((c) => seen.push(c)),
        filter(() => true),
      ),
    );
    expect(seen[0]!.source).toEqual({ path });
    expect(seen.length).toBeLessThanOrEqual(2); // decode let go of the source once ffmpeg had the path
    expect(offsetsContiguous(chunks)).toBe(true);
    expect(Math.abs(joinSamples(chunks).length / 16 - 30_000)).toBeLessThanOrEqual(100);
    expect(same(joinSamples(chunks), joinSamples(await decodeAll(fromFile(path))))).toBe(true);

    // The same bytes without their path go to ffmpeg's stdin, where this M4A cannot be read: the path is what matters.
    const { err } = await failure(fromFile(path).pipe(map(({ kind, data, flow }): ByteChunk => ({ kind, data, ...(flow ? { flow } : {}) }))));
    expect(err.code).toBe('EARSHOT_CORRUPT_INPUT');
    expect(err.message).toContain('an MP4/M4A whose index comes after its audio cannot be read from a pipe: give its path instead');
    await noFfmpegLeft();
  });

  it('errors with a coded error quickly for bad inputs, with no ffmpeg left behind', async () => {
    const wav = readFileSync(speech('wav').path);
    const files: Record<string, Buffer> = {
      'text.wav': Buffer.from('this is plain text, not audio\n'.repeat(40)),
      'noise.mp3': Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 2654435761) >>> 24)),
      'zero-channels.wav': Buffer.from(wav),
      'absurd-rate.wav': Buffer.from(wav),
      'huge-chunk.wav': Buffer.concat([wav.subarray(0, 12), Buffer.from('LIST'), Buffer.from([0xf0, 0xff, 0xff, 0x7f]), wav.subarray(12)]),
      'unknown-codec.wav': Buffer.from(wav),
    };
    files['zero-channels.wav']!.writeUInt16LE(0, 22);
    files['absurd-rate.wav']!.writeUInt32LE(0xfffffff0, 24);
    files['unknown-codec.wav']!.writeUInt16LE(0x1234, 20);
    const expected: Record<string, string[]> = {
      'text.wav': ['EARSHOT_CORRUPT_INPUT'],
      'noise.mp3': ['EARSHOT_CORRUPT_INPUT'],
      'zero-channels.wav': ['EARSHOT_CORRUPT_INPUT'],
      'absurd-rate.wav': ['EARSHOT_CORRUPT_INPUT'],
      'huge-chunk.wav': ['EARSHOT_CORRUPT_INPUT'],
      'unknown-codec.wav': ['EARSHOT_UNSUPPORTED_FORMAT'],
    };
    for (const [name, data] of Object.entries(files)) {
      const path = join(DIR, 'secret-place', name);
      mkdirSync(join(DIR, 'secret-place'), { recursive: true });
      writeFileSync(path, data);
      const { err, ms } = await failure(fromFile(path));
      expect(expected[name], `${name}: ${err.code} ${err.message}`).toContain(err.code);
      expect(ms).toBeLessThan(5000);
      if (err.message.includes(name)) expect(err.message).toContain(path); // a file is named by the path given
    }
    await noFfmpegLeft();
  });

  it('emits everything a WAV holds before the error when its data chunk is cut short', async () => {
    const wav = readFileSync(speech('wav').path);
    const path = join(DIR, 'cut.wav');
    const keep = 44 + 32000 * 2 + 1; // two seconds and an odd byte
    writeFileSync(path, wav.subarray(0, keep));
    const { err, frames } = await failure(fromFile(path));
    expect(err.code).toBe('EARSHOT_CORRUPT_INPUT');
    expect(frames).toBe(32000);
    // the same header claiming 2 GiB of data: also cut short
    const absurd = Buffer.from(wav);
    absurd.writeUInt32LE(0x7ffffff0, 40);
    writeFileSync(path, absurd);
    const big = await failure(fromFile(path));
    expect(big.err.code).toBe('EARSHOT_CORRUPT_INPUT');
    expect(big.frames).toBe((wav.length - 44) / 2);
  });

  it('decodes a truncated MP3 as far as it goes and completes (ffmpeg treats it as a short file)', async () => {
    const mp3 = readFileSync(speech('mp3').path);
    const path = join(DIR, 'half.mp3');
    writeFileSync(path, mp3.subarray(0, mp3.length >> 1));
    const chunks = await decodeAll(fromFile(path));
    const ms = joinSamples(chunks).length / 16;
    expect(ms).toBeGreaterThan(2000);
    expect(ms).toBeLessThan(speech('mp3').durationMs);
    await noFfmpegLeft();
  });

  it('errors with EARSHOT_UNSUPPORTED_FORMAT when decoder is native and the input needs ffmpeg', async () => {
    const { err } = await failure(fromFile(speech('mp3').path), { decoder: 'native' });
    expect(err.code).toBe('EARSHOT_UNSUPPORTED_FORMAT');
    expect(ffmpegChildren()).toEqual([]);
  });

  it('errors with EARSHOT_FFMPEG_MISSING when ffmpeg cannot be run', async () => {
    const { err } = await failure(fromFile(speech('mp3').path), { ffmpegPath: join(DIR, 'no-ffmpeg-here') });
    expect(err.code).toBe('EARSHOT_FFMPEG_MISSING');
  });

  it('errors with EARSHOT_EMPTY_INPUT on empty input', async () => {
    const { err } = await failure(EMPTY);
    expect(err.code).toBe('EARSHOT_EMPTY_INPUT');
    const path = join(DIR, 'header-only.wav');
    writeFileSync(path, wavHeader(0, 16000));
    expect((await failure(fromFile(path))).err.code).toBe('EARSHOT_EMPTY_INPUT');
  });

  it('lets go of its source on early unsubscribe (in-process path)', async () => {
    const wav = readFileSync(speech('wav', 44100).path);
    const input = new Subject<ByteChunk>();
    const got: AudioChunk[] = [];
    const sub = input.pipe(decode({ decoder: 'native' })).subscribe((c) => got.push(c));
    input.next({ kind: 'bytes', data: wav.subarray(0, 100_000) });
    await until(() => got.length > 0); // the resampler's WASM may load first
    sub.unsubscribe();
    expect(input.observed).toBe(false);
    const seen = got.length;
    input.next({ kind: 'bytes', data: wav.subarray(100_000, 200_000) });
    expect(got.length).toBe(seen);
  });

  it('kills ffmpeg at once on early unsubscribe', async () => {
    const sp = speech('mp3');
    let pids: number[] = [];
    const sub = fromFile(sp.path)
      .pipe(decode())
      .subscribe((c) => {
        if (pids.length === 0) {
          pids = ffmpegChildren();
          c.flow!.hold(); // keep ffmpeg alive (blocked on its stdout) until we unsubscribe
        }
      });
    await until(() => pids.length > 0);
    expect(pids.length).toBe(1);
    sub.unsubscribe();
    await until(() => {
      try {
        process.kill(pids[0]!, 0);
        return readFileSync(`/proc/${pids[0]}/stat`, 'utf8').includes(') Z'); // killed, waiting to be reaped
      } catch {
        return true; // gone
      }
    });
    await noFfmpegLeft();
  });

  it('passes demand back: while the output flow is held, reading stops (file and stdin paths)', async () => {
    // 60 s of speech as WAV
    const pcm = readFileSync(speech('wav').path).subarray(44);
    const reps = Math.ceil((60 * 32000) / pcm.length);
    const long = Buffer.concat(Array.from({ length: reps }, () => pcm));
    const path = join(DIR, 'long.wav');
    writeFileSync(path, Buffer.concat([wavHeader(long.length, 16000), long]));

    /** Hold the flow of the first output chunk, wait until the reader has visibly stopped, check the bound, release. */
    const heldRun = async (src: Observable<ByteChunk>, options: DecodeOptions, stopped: () => boolean | Promise<boolean>, read: () => number): Promise<void> => {
      let chunks = 0;
      let release: (() => void) | undefined;
      const done = new Promise<void>((res, rej) =>
        src.pipe(decode(options)).subscribe({
          next: (c) => {
            chunks++;
            if (chunks === 1) release = c.flow!.hold();
          },
          error: rej,
          complete: res,
        }),
      );
      await until(() => release !== undefined);
      const end = Date.now() + 5000;
      while (!(await stopped())) {
        if (Date.now() > end) throw new Error(`the reader did not stop (${JSON.stringify(ffmpegChildren().map((pid) => readFileSync(`/proc/${pid}/wchan`, 'utf8')))}, read ${read()})`);
        await new Promise<void>((r) => setTimeout(r, 5));
      }
      expect(read()).toBeLessThan(1024 * 1024); // of a 1.9 MB input
      expect(chunks).toBe(1);
      release!();
      await done;
    };
    const ffmpegBlockedOnStdout = (): boolean => {
      const pid = ffmpegChildren()[0];
      if (pid === undefined) return false;
      try {
        // Node's stdio are socket pairs: a writer blocked on a full one sleeps in sock_alloc_send_pskb (pipe_write for a pipe)
        return /pipe_write|sock_alloc_send/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
      } catch {
        return false;
      }
    };
    const ffmpegRead = (): number => {
      const pid = ffmpegChildren()[0];
      try {
        return Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
      } catch {
        return 0;
      }
    };

    // file source + in-process path (a probe between them counts the bytes read; the flow passes through it).
    // "Stopped": the count stays the same across 20 fs round trips, each enough for the source to read a chunk.
    let fileBytes = 0;
    const probed = new Observable<ByteChunk>((sub) =>
      fromFile(path).subscribe({ next: (c) => ((fileBytes += c.data.length), sub.next(c)), error: (e: unknown) => sub.error(e), complete: () => sub.complete() }),
    );
    const steady = async (): Promise<boolean> => {
      const before = fileBytes;
      for (let i = 0; i < 20; i++) await stat(DIR);
      return fileBytes === before;
    };
    await heldRun(probed, {}, steady, () => fileBytes);

    // file source read by ffmpeg itself (-i path): ffmpeg blocks writing its stdout and reads no further
    await heldRun(fromFile(path), { decoder: 'ffmpeg' }, ffmpegBlockedOnStdout, ffmpegRead);

    // a Readable piped to ffmpeg's stdin: ffmpeg blocks, its stdin fills, the source's flow is held, the stream pauses
    const stream = createReadStream(path);
    let streamBytes = 0;
    stream.on('data', (d) => (streamBytes += d.length));
    await heldRun(fromReadable(stream), { decoder: 'ffmpeg' }, () => ffmpegBlockedOnStdout() && stream.isPaused(), () => streamBytes);
    await noFfmpegLeft();
  });
});

describe('decode: rate conversion by ffmpeg', () => {
  /** A 48 kHz mono WAV of one tone (1 s), written once. */
  const toneWav = (freq: number): string => {
    const path = join(DIR, `tone-${freq}-48k.wav`);
    const pcm = Buffer.alloc(48000 * 2);
    for (let i = 0; i < 48000; i++) pcm.writeInt16LE(Math.round(30000 * Math.sin((2 * Math.PI * freq * i) / 48000)), i * 2);
    writeFileSync(path, Buffer.concat([wavHeader(pcm.length, 48000), pcm]));
    return path;
  };
  /** dB between the input tone's RMS and the output's (edges skipped); half an LSB is the measurable floor. */
  const rejection = (out: Int16Array): number => {
    let s = 0;
    for (let i = 100; i < out.length - 100; i++) s += out[i]! * out[i]!;
    return 20 * Math.log10(30000 / Math.SQRT2 / Math.max(Math.sqrt(s / (out.length - 200)), 0.5));
  };
  /** Decode `path` from the file (ffmpeg opens it) and from a pipe (ffmpeg's stdin): the same samples either way. */
  const bothWays = async (path: string, options: DecodeOptions = {}): Promise<Int16Array> => {
    const file = joinSamples(await decodeAll(fromFile(path), options));
    const piped = joinSamples(await decodeAll(fromReadable(createReadStream(path)), options));
    expect(same(file, piped)).toBe(true);
    return file;
  };

  it('rejects tones above the new Nyquist by at least 80 dB (48 kHz WAV to 16 kHz), keeps 1 kHz in phase, the same samples from a file or a pipe', async () => {
    for (const f of [8800, 12000, 20000]) expect(rejection(await bothWays(toneWav(f)))).toBeGreaterThanOrEqual(80);
    const pass = await bothWays(toneWav(1000));
    expect(pass.length).toBe(16000);
    let maxErr = 0;
    for (let i = 200; i < pass.length - 200; i++) maxErr = Math.max(maxErr, Math.abs(pass[i]! - 30000 * Math.sin((2 * Math.PI * 1000 * i) / 16000)));
    expect(maxErr).toBeLessThan(30); // < 0.1 % of the amplitude: same phase, same gain
    await noFfmpegLeft();
  });

  it('uses ffmpeg’s own resampler, as good, where ffmpeg has no soxr (a file is read again, a pipe waits for the probe)', async () => {
    // This machine's ffmpeg behind a wrapper that refuses soxr as a build without libsoxr does.
    const noSoxr = join(DIR, 'ffmpeg-without-soxr');
    writeFileSync(noSoxr, '#!/bin/sh\ncase "$*" in *soxr*) echo "[SWR @ 0x1] Requested resampling engine is unavailable" >&2; exit 1;; esac\nexec ffmpeg "$@"\n', { mode: 0o755 });
    const out = await bothWays(toneWav(8800), { ffmpegPath: noSoxr });
    expect(out.length).toBe(16000);
    expect(rejection(out)).toBeGreaterThanOrEqual(80);
    // Unsubscribed while the probe of a new ffmpeg path runs: no decoding ffmpeg is started afterwards.
    const fresh = join(DIR, 'ffmpeg-not-probed-yet');
    copyFileSync(noSoxr, fresh);
    const sub = fromReadable(createReadStream(toneWav(8800))).pipe(decode({ ffmpegPath: fresh })).subscribe();
    await until(() => ffmpegChildren().length > 0 || knownFfmpegResampler(fresh) !== undefined); // the probe runs (or ran)
    sub.unsubscribe();
    await ffmpegResampler(fresh);
    await noFfmpegLeft();
  });
});
