/**
 * Compressed audio on the inference protocol (§2.2), over a real emulator in engine mode: flite speech encoded to
 * mp3, Ogg Opus, ADTS AAC, Ogg Speex (ffmpeg; 100 ms Ogg pages, as a live client writes them) and AMR-NB (sox: this
 * ffmpeg has no AMR encoder), streamed as ~100 ms byte frames at full speed.
 *
 * - every format: the PCM the stream decoder gives, fed ~100 ms at a time, is bit-identical to ffmpeg decoding the
 *   whole stream in one go (so the streaming adds nothing: the engine feeds itself in fixed 100 ms steps, and the
 *   same PCM gives the same text), and the task's duration is the speech's.
 * - mp3, opus, aac: the final text is within one word of the same speech sent as pcm.
 * - speex loses words to the codec itself (+2 words here, the same when its bytes are decoded offline and sent as
 *   pcm): within three words of pcm.
 * - amr (AMR-NB) is narrowband: 8 kHz speech costs this 16 kHz engine ~60 % WER even uncompressed, so no WER is
 *   compared; its duration is (ffmpeg's decoder drops the comfort-noise frames of pauses: they are filled).
 *
 * Undecodable audio fails the task; a closed socket and the no-audio timeout kill the task's ffmpeg (by pid).
 * Time (~10 s): the decoding is under test, not the engine, so the engine does the least work: the emulator runs
 * stateful (no re-decode of each final), partials come every second, and the engine's second pass over the first
 * utterance is off (the speech has a 100 ms lead, not the long digital-silence lead-in that pass is for). Each task
 * then costs the engine ~2 s.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { ENCODED_FORMATS, EncodedAudioStream } from '../../../src/emulator/ws/encoded-audio.js';
import { local, type LocalTransport } from '../../../src/transports/local.js';
import { SENTENCES, wer } from '../../helpers/speech.js';
import { RawClient, speechPcm, until } from './helpers.js';

const KEY = 'sk-encoded-audio-01';
const NO_AUDIO_MS = 1000;
const sentences = SENTENCES.slice(0, 2);
const reference = sentences.join(' ');
const pcm = speechPcm(sentences, { gapMs: 700, leadMs: 100 });
const pcmBytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
const durationMs = (pcm.length * 1000) / 16000;

const ffmpegEncoders = execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
const hasEncoder = (name: string): boolean => new RegExp(`^\\s*A\\S*\\s+${name}\\s`, 'm').test(ffmpegEncoders);
const soxAmr = (() => {
  try {
    return execFileSync('sox', ['-h'], { encoding: 'utf8' }).includes('amr-nb');
  } catch {
    return false;
  }
})();

/** The speech encoded by ffmpeg (stdin s16le → stdout) with the given codec arguments. */
const ffmpegEncode = (args: string[], input = pcmBytes): Buffer =>
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', 'pipe:0', ...args, 'pipe:1'], { input, maxBuffer: 64 << 20 });
/** `bytes` decoded by ffmpeg in one go, as the stream decoder does (gaps filled), to 16 kHz s16le. */
const ffmpegDecode = (bytes: Buffer): Buffer =>
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'fatal', '-i', 'pipe:0', '-af', 'aresample=async=1', '-f', 's16le', '-ar', '16000', '-ac', '1', 'pipe:1'], { input: bytes, maxBuffer: 64 << 20 });

interface Case {
  format: string;
  available: boolean;
  /** Words the codec itself may cost against the speech sent as pcm; undefined: no WER compared. */
  wordsLost: number | undefined;
  encode: () => Buffer;
}
const cases: Case[] = [
  { format: 'mp3', available: hasEncoder('libmp3lame'), wordsLost: 1, encode: () => ffmpegEncode(['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3']) },
  { format: 'opus', available: hasEncoder('libopus'), wordsLost: 1, encode: () => ffmpegEncode(['-c:a', 'libopus', '-b:a', '32k', '-page_duration', '100000', '-f', 'ogg']) },
  { format: 'aac', available: hasEncoder('aac'), wordsLost: 1, encode: () => ffmpegEncode(['-c:a', 'aac', '-b:a', '64k', '-f', 'adts']) },
  { format: 'speex', available: hasEncoder('libspeex'), wordsLost: 3, encode: () => ffmpegEncode(['-c:a', 'libspeex', '-page_duration', '100000', '-f', 'ogg']) },
  {
    format: 'amr',
    available: hasEncoder('libopencore_amrnb') || soxAmr,
    wordsLost: undefined,
    encode: () =>
      hasEncoder('libopencore_amrnb')
        ? ffmpegEncode(['-ar', '8000', '-c:a', 'libopencore_amrnb', '-b:a', '12.2k', '-f', 'amr'])
        : execFileSync('sox', ['-t', 's16', '-r', '16000', '-c', '1', '-', '-r', '8000', '-C', '7', '-t', 'amr-nb', '-'], { input: pcmBytes, maxBuffer: 64 << 20 }),
  },
];
const encoded = new Map<string, Buffer>();
const bytesOf = (c: Case): Buffer => encoded.get(c.format) ?? encoded.set(c.format, c.encode()).get(c.format)!;

let engine: LocalTransport;
let emu: Emulator;
/** The speech sent as pcm: the baseline, run alongside the formats. */
let pcmRun: Promise<{ wer: number; durationS: number }>;
/** One word of the reference, in WER (sclite rounds to 0.1 %). */
const ONE_WORD = 1 / reference.split(' ').length;
const clients: RawClient[] = [];

const client = async (): Promise<RawClient> => {
  const c = new RawClient(`${emu.url.replace('http', 'ws')}/api-ws/v1/inference`, { Authorization: `bearer ${KEY}` });
  clients.push(c);
  await c.ready();
  return c;
};
const runTask = (taskId: string, format: string) => ({
  header: { action: 'run-task', task_id: taskId, streaming: 'duplex' },
  payload: { task_group: 'audio', task: 'asr', function: 'recognition', model: 'fun-asr-realtime', parameters: { format, sample_rate: 16000 }, input: {} },
});
const finishTask = (taskId: string) => ({ header: { action: 'finish-task', task_id: taskId, streaming: 'duplex' }, payload: { input: {} } });

/** `bytes` in frames of ~100 ms of its audio. */
function* frames(bytes: Buffer): Generator<Buffer> {
  const size = Math.max(64, Math.round((bytes.length * 100) / durationMs));
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Run one task with `bytes` sent at full speed; the finals' text, or the task-failed header. */
async function transcribe(format: string, bytes: Buffer): Promise<{ text: string; durationS?: number; failed?: Record<string, string> }> {
  const c = await client();
  c.send(runTask(`task-${format}`, format));
  await c.waitFor('task-started');
  for (const frame of frames(bytes)) c.ws.send(frame);
  c.send(finishTask(`task-${format}`));
  await until(() => c.of('task-finished').length > 0 || c.of('task-failed').length > 0, 30_000, `end of the ${format} task`);
  const failed = c.of('task-failed')[0]?.header as Record<string, string> | undefined;
  const text = c
    .of('result-generated')
    .map((f) => f.payload.output.sentence)
    .filter((s) => s.sentence_end)
    .map((s) => s.text as string)
    .join(' ');
  const durationS = c.of('task-finished')[0]?.payload.usage?.duration as number | undefined;
  c.close();
  return { text, ...(durationS !== undefined ? { durationS } : {}), ...(failed ? { failed } : {}) };
}

/** Pids of this process's ffmpeg children reading a forced `container` from stdin (the emulator's decoders). */
function decoderPids(container: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || !stat.includes('(ffmpeg)')) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const f = cmd.indexOf('-f');
      if (cmd[f + 1] === container && cmd[f + 2] === '-i' && cmd[f + 3] === 'pipe:0') pids.push(Number(entry));
    } catch {
      // the process ended while we read it
    }
  }
  return pids;
}
const gone = (pid: number) => !existsSync(`/proc/${pid}`);

/** Every ffmpeg the emulator's decoders run (any container). */
const allDecoderPids = (): number[] => [...new Set(ENCODED_FORMATS.values())].flatMap(decoderPids);

beforeAll(async () => {
  engine = local({ size: 2, partialIntervalMs: 1000, redecodeFirst: false });
  emu = await startEmulator({ recognizer: engine, apiKeys: [KEY], stateless: false, timers: { noAudioMs: NO_AUDIO_MS } });
  pcmRun = transcribe('pcm', pcmBytes).then((r) => ({ wer: wer(reference, r.text), durationS: r.durationS ?? 0 }));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await emu?.close();
  await engine?.close();
});

describe('inference protocol: compressed audio through a streaming ffmpeg per task', () => {
  it.concurrent('pcm is the baseline', async () => {
    const pcmResult = await pcmRun;
    expect(pcmResult.wer).toBeLessThan(0.2);
    expect(pcmResult.durationS).toBe(Math.ceil(durationMs / 1000));
  });

  for (const c of cases) {
    const what = c.wordsLost === undefined ? 'finals' : `final text within ${c.wordsLost} word(s) of the same speech sent as pcm`;
    // The no-audio timer is 1 s here: the engine holds these full-speed sockets longer than that, which must not count.
    (c.available ? it.concurrent : it.skip)(`${c.format}: ${what}, the speech's duration`, async () => {
      const bytes = bytesOf(c);
      const [result, pcmResult] = await Promise.all([transcribe(c.format, bytes), pcmRun]);
      expect(result.failed).toBeUndefined();
      const score = wer(reference, result.text);
      if (c.wordsLost === undefined) expect(result.text).not.toBe('');
      else expect(Math.abs(score - pcmResult.wer)).toBeLessThanOrEqual(c.wordsLost * ONE_WORD + 0.005);
      // Billed seconds (ceil): codec padding or AMR's unsent trailing silence may move it by one; a lost pause more.
      expect(Math.abs(result.durationS! - pcmResult.durationS)).toBeLessThanOrEqual(1);
    });
  }

  it('leaves no ffmpeg once its task has finished', () => {
    expect(allDecoderPids()).toEqual([]);
  });

  it('bytes that are not mp3 fail the task with NO_VALID_AUDIO_ERROR, close the socket and leave no ffmpeg', async () => {
    const c = await client();
    c.send(runTask('garbage', 'mp3'));
    await c.waitFor('task-started');
    const garbage = Buffer.from('this is not audio at all, only text. '.repeat(300));
    for (const frame of frames(garbage)) c.ws.send(frame);
    const [pid] = await until(() => (decoderPids('mp3').length > 0 ? decoderPids('mp3') : undefined), 5000, 'the mp3 decoder');
    c.send(finishTask('garbage'));
    const [failed] = await c.waitFor('task-failed');
    expect(failed!.header.error_code).toBe('NO_VALID_AUDIO_ERROR');
    expect(failed!.header.error_message).toMatch(/not valid mp3/);
    await until(() => c.closed, 5000, 'close');
    expect(c.of('task-finished')).toEqual([]);
    await until(() => gone(pid!), 5000, `ffmpeg ${pid} to exit`);
  });

  it('a socket closed mid-stream kills the task ffmpeg', async () => {
    const c = await client();
    c.send(runTask('closed', 'opus'));
    await c.waitFor('task-started');
    const all = [...frames(bytesOf(cases[1]!))];
    for (const frame of all.slice(0, all.length >> 1)) c.ws.send(frame);
    const [pid] = await until(() => (decoderPids('ogg').length > 0 ? decoderPids('ogg') : undefined), 5000, 'the opus decoder');
    c.close();
    await until(() => gone(pid!), 5000, `ffmpeg ${pid} to exit`);
    expect(allDecoderPids()).toEqual([]);
  });

  it('a client silent mid-stream gets CLIENT_ERROR after the no-audio time, and its ffmpeg is killed', async () => {
    const c = await client();
    c.send(runTask('silent', 'aac'));
    await c.waitFor('task-started');
    const all = [...frames(bytesOf(cases[2]!))];
    for (const frame of all.slice(0, 10)) c.ws.send(frame);
    // The no-audio time counts from the last audio the server read, which is after this point (never before it).
    const sent = Date.now();
    const [pid] = await until(() => (decoderPids('aac').length > 0 ? decoderPids('aac') : undefined), 5000, 'the aac decoder');
    const [failed] = await c.waitFor('task-failed', 1, 5000);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(NO_AUDIO_MS - 50);
    expect(failed!.header).toMatchObject({ error_code: 'CLIENT_ERROR', error_message: 'request timeout after 1 seconds.' });
    await until(() => c.closed, 5000, 'close');
    await until(() => gone(pid!), 5000, `ffmpeg ${pid} to exit`);
  });

  it('refuses a format outside §2.2 with task-failed InvalidParameter', async () => {
    const c = await client();
    c.send(runTask('flac', 'flac'));
    const [failed] = await c.waitFor('task-failed');
    expect(failed!.header.error_code).toBe('InvalidParameter');
    expect(failed!.header.error_message).toMatch(/flac/);
    await until(() => c.closed, 5000, 'close');
  });
});

describe('EncodedAudioStream', () => {
  /** Feed `bytes` in ~100 ms pieces (waiting for room when asked); the PCM it gives and whether end() succeeded. */
  async function decodeStream(format: string, bytes: Buffer, holdFirst = false): Promise<{ pcm: Buffer; ok: boolean; full: boolean }> {
    const out: Buffer[] = [];
    const dec = new EncodedAudioStream({ format, sampleRate: 16000, onPcm: (s) => out.push(Buffer.from(s.buffer, s.byteOffset, s.byteLength)), onError: (e) => out.push(Buffer.from(e.message)) });
    let release = holdFirst ? dec.holdOutput() : undefined;
    let full = false;
    for (const frame of frames(bytes)) {
      if (dec.write(frame)) continue;
      full = true;
      // The output is held: ffmpeg stopped, its stdin filled. Let it go on.
      release?.();
      release = undefined;
      await dec.drained();
    }
    release?.();
    const ok = await dec.end();
    return { pcm: Buffer.concat(out), ok, full };
  }

  for (const c of cases) {
    it.runIf(c.available)(`${c.format}: fed ~100 ms at a time, gives exactly the PCM of ffmpeg decoding the whole stream, as long as the speech`, async () => {
      const bytes = bytesOf(c);
      const { pcm: streamed, ok } = await decodeStream(c.format, bytes);
      expect(ok).toBe(true);
      expect(streamed.equals(ffmpegDecode(bytes))).toBe(true);
      // Codec padding adds a little; AMR loses its last pause (comfort noise after the last sound frame), no more:
      // its pauses inside the speech are filled (ffmpeg alone would drop ~1.7 s of them here).
      expect(Math.abs(streamed.length / 2 - pcm.length)).toBeLessThanOrEqual(0.75 * 16000);
    });
  }

  it('a held output stops ffmpeg until its stdin is full (write returns false), and nothing is lost once released', async () => {
    // 320 kb/s: enough bytes to fill ffmpeg's output pipe, its stdin pipe and the stream's buffer behind them.
    const bytes = ffmpegEncode(['-c:a', 'libmp3lame', '-b:a', '320k', '-f', 'mp3'], Buffer.concat([pcmBytes, pcmBytes]));
    const { pcm: streamed, ok, full } = await decodeStream('mp3', bytes, true);
    expect(full).toBe(true);
    expect(ok).toBe(true);
    expect(streamed.equals(ffmpegDecode(bytes))).toBe(true);
  });

  for (const c of cases) {
    it.runIf(c.available)(`${c.format}: a live stream, decoded as it comes (PCM from its first 300 ms of bytes, before it ends)`, async () => {
      const bytes = bytesOf(c);
      let frames = 0;
      const dec = new EncodedAudioStream({ format: c.format, sampleRate: 16000, onPcm: (s) => (frames += s.length), onError: () => undefined });
      dec.write(bytes.subarray(0, Math.round((bytes.length * 300) / durationMs)));
      // ffmpeg analysing the stream first would wait for 1-4 s of it (mp3, aac).
      await until(() => frames > 0, 5000, 'the first PCM');
      dec.close();
    });
  }

  it('throws EARSHOT_INVALID_ARGUMENT for a format it does not decode', () => {
    expect(() => new EncodedAudioStream({ format: 'flac', sampleRate: 16000, onPcm: () => undefined, onError: () => undefined })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('ends at once, with no process, when nothing was written', async () => {
    const dec = new EncodedAudioStream({ format: 'mp3', sampleRate: 16000, onPcm: () => undefined, onError: () => undefined });
    await expect(dec.end()).resolves.toBe(true);
    expect(dec.pid).toBeUndefined();
  });

  it('close() kills ffmpeg at once, and a pending end() resolves false', async () => {
    const dec = new EncodedAudioStream({ format: 'mp3', sampleRate: 16000, onPcm: () => undefined, onError: () => undefined });
    dec.write(bytesOf(cases[0]!).subarray(0, 4000));
    const pid = dec.pid!;
    expect(pid).toBeGreaterThan(0);
    const ended = dec.end();
    dec.close();
    await expect(ended).resolves.toBe(false);
    await until(() => gone(pid), 5000, `ffmpeg ${pid} to exit`);
  });

  it('reports a missing ffmpeg as a server-side EARSHOT_FFMPEG_MISSING', async () => {
    const errors: Array<[string, string]> = [];
    const dec = new EncodedAudioStream({ format: 'mp3', sampleRate: 16000, ffmpegPath: '/nonexistent/ffmpeg', onPcm: () => undefined, onError: (e, origin) => errors.push([e.code, origin]) });
    dec.write(Buffer.from('abc'));
    await until(() => errors.length > 0, 5000, 'the spawn error');
    expect(errors).toEqual([['EARSHOT_FFMPEG_MISSING', 'server']]);
    await expect(dec.end()).resolves.toBe(false);
  });
});
