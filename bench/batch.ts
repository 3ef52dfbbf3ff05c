/**
 * Batch cloud models benchmark, against the emulator on loopback (no network, no key):
 *
 * - Per model, a whole file through the emulator running the embedded engine: wall time and WER, beside the engine
 *   transcribing the same audio directly in the same run (the transport's own cost is the difference).
 * - Per model, the round trip of one 5-second clip in scripted mode (no recognition cost): what a near-realtime
 *   window pays for upload, task polling or SSE.
 * - Diarization: speed (× real time) and share of speech time on the right speaker for two flite voices.
 * - Omni `transcribeFile` of a long noisy file: pieces, requests and RSS growth (constant memory).
 *
 * Run: `npx tsx bench/batch.ts` (or `npm run bench -- batch`). `EARSHOT_BENCH_QUICK=1` skips the long-file run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TranscriptEvent } from '../src/core/types.js';
import { diarize } from '../src/media/speakers.js';
import { httpStats } from '../src/emulator/http/index.js';
import { startEmulator } from '../src/emulator/server.js';
import { funAsr } from '../src/transports/dashscope/fun-asr.js';
import { omni } from '../src/transports/dashscope/omni.js';
import { qwenAsrFiletrans } from '../src/transports/dashscope/qwen-asr-filetrans.js';
import { local } from '../src/transports/local.js';
import type { ChunkJob } from '../src/transports/transport.js';
import { CACHE_DIR, makeSpeech, SENTENCES, wer } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;
const KEY = 'sk-bench-000000';
const text = (events: TranscriptEvent[]): string => events.map((e) => e.text).join(' ');
const pcmOf = (path: string): Int16Array => {
  const b = readFileSync(path);
  return new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + b.length));
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Batch {
  transcribeFile(path: string): Promise<TranscriptEvent[]>;
  transcribeClip(job: ChunkJob): Promise<TranscriptEvent[]>;
  close(): Promise<void>;
}
const MODELS: [string, (baseUrl: string) => Batch][] = [
  ['fun-asr', (baseUrl) => funAsr({ apiKey: KEY, baseUrl })],
  ['qwen3-asr-flash-filetrans', (baseUrl) => qwenAsrFiletrans({ apiKey: KEY, baseUrl })],
  ['qwen3-asr-flash', (baseUrl) => omni('qwen3-asr-flash', { apiKey: KEY, baseUrl })],
  ['qwen3.5-omni-plus', (baseUrl) => omni('qwen3.5-omni-plus', { apiKey: KEY, baseUrl })],
  ['qwen3.5-omni-flash', (baseUrl) => omni('qwen3.5-omni-flash', { apiKey: KEY, baseUrl })],
  ['qwen3-omni-flash', (baseUrl) => omni('qwen3-omni-flash', { apiKey: KEY, baseUrl })],
];

async function wholeFiles(): Promise<Row[]> {
  const speech = makeSpeech({ sentences: SENTENCES.slice(0, 8), voices: ['rms', 'slt'], gapsMs: [700], leadMs: 300 });
  const engine = local({ size: 1 });
  const emu = await startEmulator({ recognizer: engine, apiKeys: [KEY] });
  const rows: Row[] = [];
  try {
    let t = performance.now();
    const direct = await engine.transcribeClip({ samples: pcmOf(speech.path), sampleRate: 16000, startMs: 0 });
    const directS = (performance.now() - t) / 1000;
    rows.push({ what: 'whole file', model: 'local (direct)', audio_s: +(speech.durationMs / 1000).toFixed(1), wall_s: +directS.toFixed(2), wer_pct: +(wer(speech.text, text(direct)) * 100).toFixed(1) });
    for (const [model, make] of MODELS) {
      const asr = make(emu.url);
      t = performance.now();
      const events = await asr.transcribeFile(speech.path);
      const wall = (performance.now() - t) / 1000;
      await asr.close();
      rows.push({ what: 'whole file', model, audio_s: +(speech.durationMs / 1000).toFixed(1), wall_s: +wall.toFixed(2), wer_pct: +(wer(speech.text, text(events)) * 100).toFixed(1), vs_direct_s: +(wall - directS).toFixed(2) });
    }
  } finally {
    await emu.close();
    await engine.close();
  }
  return rows;
}

async function clipRoundTrips(): Promise<Row[]> {
  const emu = await startEmulator({ script: [{ text: 'a scripted window of speech', emotion: 'neutral', language: 'en' }], apiKeys: [KEY] });
  const samples = pcmOf(makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['slt'] }).path).subarray(0, 16000 * 5);
  const rows: Row[] = [];
  try {
    for (const [model, make] of MODELS) {
      const asr = make(emu.url);
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        await asr.transcribeClip({ samples, sampleRate: 16000, startMs: 0 });
        times.push(performance.now() - t);
      }
      await asr.close();
      rows.push({ what: '5 s clip round trip (scripted)', model, median_ms: Math.round(median(times)), max_ms: Math.round(Math.max(...times)) });
    }
  } finally {
    await emu.close();
  }
  return rows;
}

function diarization(): Row[] {
  const speech = makeSpeech({ sentences: SENTENCES, voices: ['rms', 'slt'], gapsMs: [500, 300, 800], leadMs: 300 });
  const pcm = pcmOf(speech.path);
  const rows: Row[] = [];
  for (const speakerCount of [undefined, 2]) {
    const t = performance.now();
    const turns = diarize(pcm, 16000, speakerCount ? { speakerCount } : {});
    const wall = (performance.now() - t) / 1000;
    const counts = new Map<string, number>();
    let total = 0;
    for (const seg of speech.segments) {
      for (let ms = seg.startMs; ms < seg.endMs; ms += 20) {
        const turn = turns.find((x) => ms >= x.startMs && ms < x.endMs);
        if (!turn) continue;
        counts.set(`${turn.speaker}|${seg.voice}`, (counts.get(`${turn.speaker}|${seg.voice}`) ?? 0) + 1);
        total++;
      }
    }
    const direct = (counts.get('0|rms') ?? 0) + (counts.get('1|slt') ?? 0);
    const crossed = (counts.get('1|rms') ?? 0) + (counts.get('0|slt') ?? 0);
    rows.push({ what: `diarize rms+slt (${speakerCount ?? 'auto'})`, speakers: new Set(turns.map((x) => x.speaker)).size, right_pct: +((Math.max(direct, crossed) / total) * 100).toFixed(1), x_realtime: Math.round(speech.durationMs / 1000 / wall) });
  }
  return rows;
}

async function longFile(): Promise<Row[]> {
  const minutes = 30;
  const path = join(CACHE_DIR, `noise-${minutes}min.ogg`);
  if (!existsSync(path)) {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `anoisesrc=d=${minutes * 60}:a=0.02:r=16000`, '-ac', '1', '-c:a', 'libopus', '-b:a', '12k', '-y', path]);
  }
  const emu = await startEmulator({ script: [{ text: 'noise' }], apiKeys: [KEY] });
  try {
    const asr = omni('qwen3.5-omni-flash', { apiKey: KEY, baseUrl: emu.url });
    const before = process.memoryUsage().rss;
    // Peak RSS over the first third of the pieces and over the last third: equal when memory does not grow with length.
    const peaks = [0, 0, 0];
    let fraction = 0;
    const timer = setInterval(() => {
      const third = Math.min(2, Math.floor(fraction * 3));
      peaks[third] = Math.max(peaks[third]!, process.memoryUsage().rss);
    }, 25);
    const t = performance.now();
    const events = await asr.transcribeFile(path, { onProgress: (p) => (fraction = p.fraction ?? fraction) });
    clearInterval(timer);
    await asr.close();
    const mb = (x: number): number => Math.round((x - before) / 1048576);
    return [{ what: `omni transcribeFile ${minutes} min (emulator in-process)`, pieces: events.length, requests: httpStats(emu.context).requests, wall_s: +((performance.now() - t) / 1000).toFixed(1), rss_growth_first_third_mb: mb(peaks[0]!), rss_growth_last_third_mb: mb(peaks[2]!) }];
  } finally {
    await emu.close();
  }
}

/** Every batch figure, as table rows. */
export async function benchBatch(): Promise<Row[]> {
  const rows = [...(await wholeFiles()), ...(await clipRoundTrips()), ...diarization()];
  if (!process.env.EARSHOT_BENCH_QUICK) rows.push(...(await longFile()));
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await benchBatch());
}
