/**
 * A recorded comparison of earshot's traffic with what the protocol notes (docs/protocol-notes.md)
 * ask for: each DashScope transport runs one job through a logging proxy (test/helpers/traffic-proxy.ts) to the
 * emulator (scripted, no engine), and the script prints, per model, the frames sent (sizes), the request rates
 * (task queries a second) and the fields sent. Run it after a protocol change and compare with the notes:
 *
 *   npx tsx scripts/compare-traffic.ts            # a table per model
 *   npx tsx scripts/compare-traffic.ts --json     # the same as JSON
 *
 * What to look for: realtime frames of ~100 ms (3,200 B at 16 kHz; 1–16 KB), at most 20 task queries a second for
 * the whole account (§1.7), no field the notes do not list.
 */
import { startEmulator } from '../src/emulator/server.js';
import { funAsr } from '../src/transports/dashscope/fun-asr.js';
import { funAsrRealtime } from '../src/transports/dashscope/fun-asr-realtime.js';
import { omni } from '../src/transports/dashscope/omni.js';
import { omniRealtime } from '../src/transports/dashscope/omni-realtime.js';
import { qwenAsrFiletrans } from '../src/transports/dashscope/qwen-asr-filetrans.js';
import { qwenAsrRealtime } from '../src/transports/dashscope/qwen-asr-realtime.js';
import type { Transport } from '../src/transports/transport.js';
import { startTrafficProxy, type TrafficRecord } from '../test/helpers/traffic-proxy.js';

const KEY = 'sk-compare-traffic-0001';

/** 6 s of a voiced tone with pauses (what the emulator's energy VAD hears as two utterances). */
function audio(): Int16Array {
  const out = new Int16Array(16000 * 6);
  for (let i = 0; i < out.length; i++) {
    const s = i / 16000;
    const voiced = (s > 0.5 && s < 2.2) || (s > 3.4 && s < 5.0);
    out[i] = voiced ? Math.round(6000 * Math.sin(2 * Math.PI * 220 * s) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * s))) : 0;
  }
  return out;
}

/** Stream `pcm` in 64 KiB chunks (a file source's chunk size), as fast as the session takes it. */
async function stream(t: Transport, pcm: Int16Array): Promise<void> {
  const session = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: () => {} });
  for (let i = 0; i < pcm.length; i += 32768) await session.write(pcm.subarray(i, i + 32768));
  await session.end();
}

/** Four 1.5 s clips in flight at once (near-realtime windows). */
async function clips(t: Transport, pcm: Int16Array): Promise<void> {
  await Promise.all([0, 1, 2, 3].map((k) => t.transcribeClip!({ samples: pcm.subarray(k * 24000, (k + 1) * 24000), sampleRate: 16000, startMs: k * 1500 })));
}

interface Summary {
  model: string;
  job: string;
  wsFramesOut: number;
  /** Binary frames or the audio of appends, bytes: min / median / max (the last frame excluded from min). */
  audioFrameBytes?: { min: number; median: number; max: number };
  events: Record<string, number>;
  httpRequests: Record<string, number>;
  /** Most task queries in any one second. */
  peakTaskQueriesPerSecond: number;
  fieldsSent: string[];
}

function summarise(model: string, job: string, records: TrafficRecord[]): Summary {
  const out = records.filter((r) => r.kind === 'ws-out');
  const sizes = out.map((r) => (r.binary ? r.bytes : r.audioBytes)).filter((n): n is number => n !== undefined);
  const sorted = sizes.slice(0, -1).sort((a, b) => a - b);
  const events: Record<string, number> = {};
  for (const r of out) if (r.event) events[r.event] = (events[r.event] ?? 0) + 1;
  const http = records.filter((r) => r.kind === 'http');
  const httpRequests: Record<string, number> = {};
  for (const r of http) {
    const key = `${r.method} ${r.path.replace(/\/tasks\/[^/]+/, '/tasks/{id}')}`;
    httpRequests[key] = (httpRequests[key] ?? 0) + 1;
  }
  const queries = http.filter((r) => /\/tasks\/[^/]+$/.test(r.path)).map((r) => r.atMs);
  const peak = queries.length ? Math.max(...queries.map((t) => queries.filter((u) => u >= t && u < t + 1000).length)) : 0;
  const fields = new Set<string>();
  for (const r of [...out, ...http]) for (const f of r.fields ?? []) fields.add(f);
  const summary: Summary = { model, job, wsFramesOut: out.length, events, httpRequests, peakTaskQueriesPerSecond: peak, fieldsSent: [...fields].sort() };
  if (sorted.length) summary.audioFrameBytes = { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: Math.max(...sizes) };
  return summary;
}

async function main(): Promise<void> {
  const asJson = process.argv.includes('--json');
  const emulator = await startEmulator({ apiKeys: [KEY], script: [{ text: 'hello from the emulator', emotion: 'neutral', language: 'en' }] });
  const proxy = await startTrafficProxy(emulator.url);
  const options = { apiKey: KEY, baseUrl: proxy.url };
  const pcm = audio();
  const jobs: Array<[string, string, () => Transport, (t: Transport) => Promise<void>]> = [
    ['fun-asr-realtime', 'stream 6 s in 64 KiB chunks', () => funAsrRealtime(options), (t) => stream(t, pcm)],
    ['qwen3-asr-flash-realtime', 'stream 6 s in 64 KiB chunks', () => qwenAsrRealtime(options), (t) => stream(t, pcm)],
    ['qwen3.5-omni-flash-realtime', 'stream 6 s in 64 KiB chunks', () => omniRealtime('qwen3.5-omni-flash-realtime', options), (t) => stream(t, pcm)],
    ['fun-asr', 'four clips in flight', () => funAsr(options), (t) => clips(t, pcm)],
    ['qwen3-asr-flash-filetrans', 'four clips in flight', () => qwenAsrFiletrans(options), (t) => clips(t, pcm)],
    ['qwen3-asr-flash', 'four clips in flight', () => omni('qwen3-asr-flash', options), (t) => clips(t, pcm)],
    ['qwen3.5-omni-flash', 'four clips in flight', () => omni('qwen3.5-omni-flash', options), (t) => clips(t, pcm)],
  ];
  const summaries: Summary[] = [];
  try {
    for (const [model, job, make, run] of jobs) {
      proxy.records.length = 0;
      const t = make();
      try {
        await run(t);
      } finally {
        await t.close?.();
      }
      summaries.push(summarise(model, job, proxy.records.slice()));
    }
  } finally {
    await proxy.close();
    await emulator.close();
  }
  if (asJson) {
    process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
    return;
  }
  for (const s of summaries) {
    const lines = [`## ${s.model} (${s.job})`];
    if (s.wsFramesOut) lines.push(`  ws frames out: ${s.wsFramesOut}; ${Object.entries(s.events).map(([k, v]) => `${k} ×${v}`).join(', ') || 'binary only'}`);
    if (s.audioFrameBytes) lines.push(`  audio frame bytes: min ${s.audioFrameBytes.min} (last excluded), median ${s.audioFrameBytes.median}, max ${s.audioFrameBytes.max}`);
    if (Object.keys(s.httpRequests).length) lines.push(`  http: ${Object.entries(s.httpRequests).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    if (s.peakTaskQueriesPerSecond) lines.push(`  peak task queries in one second: ${s.peakTaskQueriesPerSecond} (account limit 20)`);
    lines.push(`  fields sent: ${s.fieldsSent.join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)}\n`);
  process.exitCode = 1;
});
