/**
 * Decoding benchmark: CPU seconds and wall time of fromFile → decode → resample(16000) beside bare ffmpeg doing the
 * same conversion (`ffmpeg -i f -f s16le -ar 16000 -ac 1`), 48 kHz WAV and 64 kb/s MP3, 10 and 60 minutes, 3 runs
 * each alternating with ffmpeg; the resampler alone; the peak RSS of the processes that decoded.
 *
 * Each earshot run is a process of its own (`--child <file>`). Its pipeline CPU is its own CPU time (every thread)
 * plus that of the children it reaped (ffmpeg), from just before the pipeline starts to its end: what a long-lived
 * process pays per file. The whole process's CPU (Node start-up and module loading included) is also given, read by
 * this process from the child it reaped. Linux only (/proc/self/stat); elsewhere the CPU rows are left out.
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

/**
 * CPU seconds (user + system) of the children this process has waited for, and of theirs, from /proc/self/stat
 * (cutime + cstime, clock ticks of 1/100 s as on every Linux build), or undefined where there is no /proc.
 */
function childrenCpu(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
  return (f[13]! + f[14]!) / 100;
}

/** CPU seconds spent from `c0` (a {@link childrenCpu} reading) to now, or undefined without /proc. */
const childrenCpuSince = (c0: number | undefined): number | undefined => {
  const c1 = childrenCpu();
  return c0 === undefined || c1 === undefined ? undefined : c1 - c0;
};

/** Bare `ffmpeg -i f -f s16le -ar 16000 -ac 1 -y /dev/null`: wall seconds and CPU seconds (undefined without /proc). */
async function runBareFfmpeg(path: string): Promise<{ wall: number; cpu: number | undefined }> {
  const c0 = childrenCpu();
  const t0 = performance.now();
  await new Promise<void>((res, rej) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', path, '-f', 's16le', '-ar', '16000', '-ac', '1', '-y', '/dev/null'], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`ffmpeg exited with ${code}`))));
  });
  return { wall: (performance.now() - t0) / 1000, cpu: childrenCpuSince(c0) };
}

/** What one earshot run (a process of its own) reports. */
interface OurRun {
  frames: number;
  /** Pipeline wall seconds (start-up excluded). */
  wall: number;
  /** Pipeline CPU seconds, ffmpeg included (undefined without /proc). */
  cpu: number | undefined;
  /** The whole process's CPU seconds, Node start-up included (undefined without /proc). */
  processCpu: number | undefined;
  maxRssKb: number;
}

/** Decode `path` in a separate Node process (`--child`). */
function runOurs(path: string): Promise<OurRun> {
  const self = fileURLToPath(import.meta.url);
  const c0 = childrenCpu();
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...process.execArgv, self, '--child', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code !== 0) return rej(new Error(`child exited with ${code}: ${err.slice(-500)}`));
      const child = JSON.parse(out.trim().split('\n').pop()!) as Omit<OurRun, 'processCpu'>;
      res({ ...child, processCpu: childrenCpuSince(c0) });
    });
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

const fmt = (x: number, digits = 0): string => x.toFixed(digits);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** `a–b` of a list (min–max). */
const span = (xs: number[], digits: number): string => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;

/** Ratio row: bare / ours per paired run, as the median and the min–max of the 3 pairs. */
function ratioRow(what: string, unit: string, ours: number[], bare: number[], goal: string): Row {
  const ratios = ours.map((o, i) => bare[i]! / o);
  return { case: what, value: `${span(ours, 2)} ${unit} vs ${span(bare, 2)} ${unit}`, ratio: `${fmt(median(ratios), 2)} (${span(ratios, 2)})`, goal };
}

/** The decode benchmark: rows for the bench runner's table. */
export async function benchDecode(): Promise<Row[]> {
  const rows: Row[] = [{ case: 'machine load (1-min load average, 2 cores shared)', value: loadavg()[0]!.toFixed(1), ratio: '', goal: '' }];
  const rss: Row[] = [];
  for (const [kind, make] of [['wav 48k', longWav], ['mp3 64k', longMp3]] as const) {
    for (const minutes of [10, 60]) {
      const path = await make(minutes);
      const ours: OurRun[] = [];
      const bare: Array<{ wall: number; cpu: number | undefined }> = [];
      // Alternate the two so that both see the same machine load.
      for (let i = 0; i < 3; i++) {
        ours.push(await runOurs(path));
        bare.push(await runBareFfmpeg(path));
      }
      const what = `${kind} ${minutes} min → 16 kHz mono, earshot vs bare ffmpeg`;
      if (ours.every((r) => r.cpu !== undefined) && bare.every((r) => r.cpu !== undefined)) {
        const bareCpu = bare.map((r) => r.cpu!);
        rows.push(ratioRow(`${what}: CPU (ffmpeg included; per file)`, 's', ours.map((r) => r.cpu!), bareCpu, minutes === 60 ? '≥ 0.8' : ''));
        rows.push(ratioRow(`${what}: CPU of the whole process (Node start-up included)`, 's', ours.map((r) => r.processCpu!), bareCpu, ''));
      }
      const audio = ours[0]!.frames / 16000;
      rows.push({ ...ratioRow(`${what}: wall`, 's', ours.map((r) => r.wall), bare.map((r) => r.wall), '≥ 0.9'), value: `${span(ours.map((r) => audio / r.wall), 0)}× vs ${span(bare.map((r) => audio / r.wall), 0)}× real time` });
      rss.push({ case: `peak RSS, ${kind} ${minutes} min decoded end to end`, value: `${fmt(Math.max(...ours.map((r) => r.maxRssKb)) / 1024)} MB`, ratio: '', goal: '≤ 200 MB, flat' });
    }
  }
  for (const chunkMs of [20, 1000]) {
    const x = await resamplerSpeed(120, chunkMs);
    rows.push({ case: `resample() 48k→16k alone (WASM), ${chunkMs} ms chunks, wall / CPU`, value: `${fmt(x.wall)}× / ${fmt(x.cpu)}× real time`, ratio: '', goal: '> 1000×' });
  }
  const long = await runOurs(await longMp3(120));
  rss.push({ case: 'peak RSS, mp3 64k 120 min decoded end to end', value: `${fmt(long.maxRssKb / 1024)} MB`, ratio: '', goal: '≤ 200 MB, flat' });
  return [...rows, ...rss];
}

async function child(path: string): Promise<void> {
  const c0 = childrenCpu();
  const u0 = process.cpuUsage(); // every thread of this process (worker threads too)
  const r = await runPipeline(path);
  const u = process.cpuUsage(u0);
  const ffmpeg = childrenCpuSince(c0);
  const cpu = ffmpeg === undefined ? undefined : (u.user + u.system) / 1e6 + ffmpeg;
  console.log(JSON.stringify({ frames: r.frames, wall: r.seconds, cpu, maxRssKb: process.resourceUsage().maxRSS }));
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const at = process.argv.indexOf('--child');
  if (at >= 0) await child(process.argv[at + 1]!);
  else console.table(await benchDecode());
}
