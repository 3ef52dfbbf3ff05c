/**
 * Decoding benchmark: throughput of fromFile → decode → resample(16000) beside bare ffmpeg on the same long files
 * in the same run, the resampler alone, and the peak RSS of a whole process decoding 10- and 60-minute inputs.
 *
 * Run alone: `npx tsx bench/decode.ts` (or `node dist/bench/decode.js` after a build); `npm run bench -- decode`.
 * Long inputs (flite speech repeated, 48 kHz WAV and 64 kb/s MP3) are made once under .tmp/bench.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { from } from 'rxjs';
import { fromFile } from '../src/sources/file.js';
import { decode } from '../src/operators/decode.js';
import { resample } from '../src/operators/resample.js';
import type { AudioChunk } from '../src/core/types.js';
import { makeSpeech, SENTENCES, wavHeader } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;

const DIR = resolve(process.cwd(), '.tmp/bench');
const RATE = 48000;

/** A WAV of `minutes` of speech at 48 kHz mono, made by repeating the flite sentences. */
async function longWav(minutes: number): Promise<string> {
  mkdirSync(DIR, { recursive: true });
  const path = join(DIR, `speech-${minutes}min-48k.wav`);
  if (existsSync(path)) return path;
  const base = readFileSync(makeSpeech({ sentences: SENTENCES, sampleRate: RATE, gapsMs: [500] }).path).subarray(44);
  const total = minutes * 60 * RATE * 2;
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  const write = (b: Buffer): Promise<void> => new Promise((res) => (out.write(b) ? res() : out.once('drain', () => res())));
  await write(wavHeader(total, RATE));
  for (let left = total; left > 0; left -= base.length) await write(left >= base.length ? base : base.subarray(0, left));
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  renameSync(tmp, path);
  return path;
}

/** An MP3 (64 kb/s) of `minutes` of speech: 10 minutes encoded, longer ones by joining those frames. */
async function longMp3(minutes: number): Promise<string> {
  const path = join(DIR, `speech-${minutes}min.mp3`);
  if (existsSync(path)) return path;
  const ten = join(DIR, 'speech-10min.mp3');
  if (!existsSync(ten)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', await longWav(10), '-c:a', 'libmp3lame', '-b:a', '64k', '-y', `${ten}.tmp.mp3`]);
    renameSync(`${ten}.tmp.mp3`, ten);
  }
  if (minutes === 10) return ten;
  const list = join(DIR, `concat-${minutes}.txt`);
  writeFileSync(list, Array.from({ length: Math.ceil(minutes / 10) }, () => `file '${ten}'`).join('\n'));
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', '-y', `${path}.tmp.mp3`]);
  renameSync(`${path}.tmp.mp3`, path);
  return path;
}

/** Run the earshot pipeline to the end; resolves with frames decoded and wall seconds. */
function runPipeline(path: string): Promise<{ frames: number; seconds: number }> {
  const t0 = performance.now();
  let frames = 0;
  return new Promise((res, rej) =>
    fromFile(path)
      .pipe(decode(), resample(16000))
      .subscribe({
        next: (c) => (frames += c.samples.length / c.channels),
        error: rej,
        complete: () => res({ frames, seconds: (performance.now() - t0) / 1000 }),
      }),
  );
}

/** Bare `ffmpeg -i f -f s16le -ar 16000 -ac 1 -` with stdout to /dev/null; resolves with wall seconds. */
function runBareFfmpeg(path: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', path, '-f', 's16le', '-ar', '16000', '-ac', '1', '-'], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res((performance.now() - t0) / 1000) : rej(new Error(`ffmpeg exited with ${code}`))));
  });
}

/** Resampler alone, 48 kHz → 16 kHz, on `seconds` of a speech-like signal in `chunkMs` pieces: × real time per wall and per CPU second. */
async function resamplerSpeed(seconds: number, chunkMs: number): Promise<{ wall: number; cpu: number }> {
  const frames = (RATE * chunkMs) / 1000;
  const chunks: AudioChunk[] = [];
  const n = Math.round((seconds * 1000) / chunkMs);
  for (let k = 0; k < n; k++) {
    const s = new Int16Array(frames);
    for (let i = 0; i < frames; i++) {
      const t = (k * frames + i) / RATE;
      s[i] = Math.round(8000 * Math.sin(2 * Math.PI * 220 * t) + 4000 * Math.sin(2 * Math.PI * 2900 * t) + 2000 * Math.sin(2 * Math.PI * 11000 * t));
    }
    chunks.push({ kind: 'audio', samples: s, sampleRate: RATE, channels: 1, offset: k * frames });
  }
  await new Promise<void>((res) => from(chunks.slice(0, 2)).pipe(resample(16000)).subscribe({ complete: res })); // load the WASM first
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise<void>((res, rej) => from(chunks).pipe(resample(16000)).subscribe({ error: rej, complete: res }));
  const cpu = process.cpuUsage(c0);
  return { wall: seconds / ((performance.now() - t0) / 1000), cpu: seconds / ((cpu.user + cpu.system) / 1e6) };
}

/** Peak RSS (MB) of a separate process decoding `path` end to end (via /usr/bin/time -v when present). */
function peakRss(path: string): Promise<{ mb: number; audioSeconds: number; wallSeconds: number }> {
  const self = fileURLToPath(import.meta.url);
  const node = [...process.execArgv, self, '--child', path];
  const useTime = existsSync('/usr/bin/time');
  const [cmd, args] = useTime ? ['/usr/bin/time', ['-v', process.execPath, ...node]] : [process.execPath, node];
  return new Promise((res, rej) => {
    const p = spawn(cmd, args as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code !== 0) return rej(new Error(`child exited with ${code}: ${err.slice(-500)}`));
      const child = JSON.parse(out.trim().split('\n').pop()!) as { frames: number; seconds: number; maxRssKb: number };
      const timeKb = /Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1];
      res({ mb: Number(timeKb ?? child.maxRssKb) / 1024, audioSeconds: child.frames / 16000, wallSeconds: child.seconds });
    });
  });
}

/** CPU seconds (user + sys, children included) of a command, from `/usr/bin/time -v`; undefined without it. */
function cpuSeconds(cmd: string, args: string[]): Promise<number | undefined> {
  if (!existsSync('/usr/bin/time')) return Promise.resolve(undefined);
  return new Promise((res, rej) => {
    const p = spawn('/usr/bin/time', ['-v', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code !== 0) return rej(new Error(`${cmd} exited with ${code}: ${err.slice(-300)}`));
      const user = Number(/User time \(seconds\): ([\d.]+)/.exec(err)?.[1] ?? NaN);
      const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(err)?.[1] ?? NaN);
      res(user + sys);
    });
  });
}

const fmt = (x: number, digits = 0): string => x.toFixed(digits);

/** The decode benchmark: rows for the bench runner's table. */
export async function benchDecode(): Promise<Row[]> {
  const rows: Row[] = [{ case: 'machine load (1-min load average, 2 cores shared)', value: loadavg()[0]!.toFixed(1), ratio: '', goal: '' }];
  for (const [kind, make] of [['wav 48k', longWav], ['mp3 64k', longMp3]] as const) {
    const path = await make(10);
    // Wall time: alternate the two, best of three each, so both see the same machine load.
    let ours = Infinity;
    let bare = Infinity;
    let frames = 0;
    for (let i = 0; i < 3; i++) {
      const r = await runPipeline(path);
      frames = r.frames;
      ours = Math.min(ours, r.seconds);
      bare = Math.min(bare, await runBareFfmpeg(path));
    }
    const audio = frames / 16000;
    rows.push({
      case: `${kind} 10 min: fromFile→decode→resample(16000) vs bare ffmpeg, wall`,
      value: `${fmt(audio / ours)}× vs ${fmt(audio / bare)}×`,
      ratio: fmt(bare / ours, 2),
      goal: '≥ 0.8',
    });
    // CPU time (user + sys, ffmpeg children included): steadier than wall time on a shared machine.
    const self = fileURLToPath(import.meta.url);
    const oursCpu = await cpuSeconds(process.execPath, [...process.execArgv, self, '--child', path]);
    const bareCpu = await cpuSeconds('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', path, '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', '/dev/null']);
    if (oursCpu !== undefined && bareCpu !== undefined) {
      rows.push({
        case: `${kind} 10 min: same, CPU seconds (ours includes node start-up)`,
        value: `${oursCpu.toFixed(2)} s vs ${bareCpu.toFixed(2)} s`,
        ratio: fmt(bareCpu / oursCpu, 2),
        goal: '≥ 0.8',
      });
    }
  }
  for (const chunkMs of [20, 1000]) {
    const x = await resamplerSpeed(120, chunkMs);
    rows.push({ case: `resample 48k→16k alone, ${chunkMs} ms chunks (q5), wall / CPU`, value: `${fmt(x.wall)}× / ${fmt(x.cpu)}× real time`, ratio: '', goal: '> 1000×' });
  }
  for (const [kind, make, lengths] of [['wav 48k', longWav, [10, 60]], ['mp3 64k', longMp3, [10, 60, 120]]] as const) {
    for (const minutes of lengths) {
      const r = await peakRss(await make(minutes));
      rows.push({ case: `peak RSS, ${kind} ${minutes} min decoded end to end`, value: `${fmt(r.mb)} MB (${fmt(r.audioSeconds / r.wallSeconds)}× rt)`, ratio: '', goal: '≤ 200 MB, flat' });
    }
  }
  return rows;
}

async function child(path: string): Promise<void> {
  const r = await runPipeline(path);
  console.log(JSON.stringify({ ...r, maxRssKb: process.resourceUsage().maxRSS }));
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const at = process.argv.indexOf('--child');
  if (at >= 0) await child(process.argv[at + 1]!);
  else console.table(await benchDecode());
}

