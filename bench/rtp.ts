/**
 * RTP benchmark:
 * - depacketizer throughput: packets per second of CPU time (one core) for PCMU, PCMA, L16 and Opus, in order and
 *   with 5 % reordering / 2 % loss / 2 % duplicates, beside bare header parsing as the floor;
 * - CPU per live RTP stream: 20 real-time 20 ms streams sent over UDP from a separate process to `fromRtp`
 *   (depacketize + decode, and with `resample(16000)` as a caption pipeline needs), beside the same process idle.
 *
 * Run alone: `npx tsx bench/rtp.ts` (or `node dist/bench/rtp.js` after a build); `npm run bench -- rtp`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpusScript from 'opusscript';
import { mergeMap, type Subscription } from 'rxjs';
import { resample } from '../src/operators/resample.js';
import { linearToAlaw, linearToUlaw } from '../src/rtp/codecs.js';
import { RtpDepacketizer, type DepacketizerOptions } from '../src/rtp/depacketizer.js';
import { buildRtp, parseRtp } from '../src/rtp/packet.js';
import { fromRtp } from '../src/sources/rtp.js';

type Row = Record<string, string | number>;

const DIR = resolve(process.cwd(), '.tmp/bench');
const SECONDS_OF_AUDIO = 200; // per throughput run: 10,000 packets of 20 ms

function tone(frames: number, rate: number): Int16Array {
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) out[i] = Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / rate) + 2000 * Math.sin((2 * Math.PI * 1234 * i) / rate));
  return out;
}

/** 20 ms packets of one codec, `count` of them, for one SSRC. */
function makePackets(codec: 'pcmu' | 'pcma' | 'l16' | 'opus', count: number, ssrc = 1): Buffer[] {
  const out: Buffer[] = [];
  if (codec === 'opus') {
    const enc = new OpusScript(48000, 1, OpusScript.Application.VOIP);
    const pcm = tone(48000, 48000);
    const payloads: Buffer[] = [];
    for (let k = 0; k < 50; k++) payloads.push(enc.encode(Buffer.from(pcm.buffer, k * 1920, 1920), 960));
    enc.delete();
    for (let k = 0; k < count; k++) out.push(buildRtp({ payloadType: 111, sequence: k, timestamp: k * 960, ssrc, payload: payloads[k % 50]! }));
    return out;
  }
  const rate = codec === 'l16' ? 16000 : 8000;
  const frames = rate / 50;
  const pcm = tone(rate, rate);
  for (let k = 0; k < count; k++) {
    const part = pcm.subarray((k % 50) * frames, (k % 50) * frames + frames);
    let payload: Uint8Array;
    if (codec === 'l16') {
      const b = Buffer.alloc(frames * 2);
      for (let i = 0; i < frames; i++) b.writeInt16BE(part[i]!, i * 2);
      payload = b;
    } else payload = Uint8Array.from(part, codec === 'pcmu' ? linearToUlaw : linearToAlaw);
    out.push(buildRtp({ payloadType: codec === 'pcmu' ? 0 : codec === 'pcma' ? 8 : 96, sequence: k, timestamp: k * frames, ssrc, payload }));
  }
  return out;
}

/** Reorder 5 %, drop 2 %, duplicate 2 % (deterministic). */
function impair(packets: Buffer[]): Buffer[] {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out: Buffer[] = [];
  for (let i = 0; i < packets.length; i++) {
    const r = rand();
    if (r < 0.02) continue;
    if (r < 0.07 && i + 1 < packets.length) {
      out.push(packets[i + 1]!, packets[i]!);
      i++;
      continue;
    }
    out.push(packets[i]!);
    if (rand() < 0.02) out.push(packets[i]!);
  }
  return out;
}

function parseRtpPayload(p: Buffer): Buffer {
  const r = parseRtp(p);
  if (r.kind !== 'rtp') throw new Error('bad packet');
  return Buffer.from(r.packet.payload);
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Push every packet through a fresh depacketizer, best of three; returns packets per CPU second. */
function throughput(packets: Buffer[], options: DepacketizerOptions): { pps: number; realtime: number } {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let frames = 0;
    const depack = new RtpDepacketizer(options, { onStream: (s) => s.audio$.subscribe((c) => (frames += c.samples.length)) });
    const t0 = cpuMs();
    for (const p of packets) depack.push(p);
    depack.close();
    best = Math.min(best, cpuMs() - t0);
    if (frames === 0) throw new Error('benchmark produced no audio');
  }
  const pps = (packets.length / best) * 1000;
  return { pps, realtime: pps / 50 };
}

function parseOnly(packets: Buffer[]): number {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let n = 0;
    const t0 = cpuMs();
    for (let rep = 0; rep < 5; rep++) for (const p of packets) if (parseRtp(p).kind === 'rtp') n++;
    best = Math.min(best, cpuMs() - t0);
    if (n === 0) throw new Error('nothing parsed');
  }
  return ((packets.length * 5) / best) * 1000;
}

const SENDER = `
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
const [port, streams, seconds, codec, payloadFile] = process.argv.slice(2).map((v, i) => (i < 3 ? Number(v) : v));
const s = dgram.createSocket('udp4');
const payloads = JSON.parse(readFileSync(payloadFile, 'utf8')).map((b) => Buffer.from(b, 'base64'));
const pt = codec === 'opus' ? 111 : 0;
const step = codec === 'opus' ? 960 : 160;
let k = 0;
const start = Date.now();
const t = setInterval(() => {
  const due = Math.floor((Date.now() - start) / 20);
  for (; k <= due; k++) {
    for (let ssrc = 1; ssrc <= streams; ssrc++) {
      const payload = payloads[k % payloads.length];
      const b = Buffer.alloc(12 + payload.length);
      b[0] = 0x80; b[1] = pt; b.writeUInt16BE(k & 0xffff, 2); b.writeUInt32BE((k * step) >>> 0, 4); b.writeUInt32BE(ssrc, 8);
      payload.copy(b, 12);
      s.send(b, port, '127.0.0.1');
    }
  }
  if (Date.now() - start > seconds * 1000) { clearInterval(t); s.close(); }
}, 5);
`;

/** CPU of this process while `streams` live streams arrive for `seconds`, per stream, in % of one core. */
async function liveCpu(streams: number, seconds: number, codec: 'pcmu' | 'opus', withResample: boolean): Promise<{ perStream: number; idle: number; chunks: number; lost: number }> {
  mkdirSync(DIR, { recursive: true });
  const script = join(DIR, 'rtp-sender.mjs');
  writeFileSync(script, SENDER);
  const payloadFile = join(DIR, `rtp-payloads-${codec}.json`);
  writeFileSync(payloadFile, JSON.stringify(makePackets(codec, 50).map((p) => parseRtpPayload(p).toString('base64'))));
  let chunks = 0;
  let port = 0;
  let listening!: () => void;
  const ready = new Promise<void>((res) => (listening = res));
  const source = fromRtp({ port: 0, payloads: { 111: 'opus/48000/2' }, opusSampleRate: 16000, onListening: (a) => ((port = a.port), listening()) });
  const sub: Subscription = source.pipe(mergeMap((s) => (withResample ? s.audio$.pipe(resample(16000)) : s.audio$))).subscribe(() => chunks++);
  await ready;
  // idle baseline: the same process, socket open, nothing arriving
  const idle0 = cpuMs();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  const idle = ((cpuMs() - idle0) / (performance.now() - w0)) * 100;
  const child = spawn(process.execPath, [script, String(port), String(streams), String(seconds), codec, payloadFile], { stdio: 'inherit' });
  const c0 = cpuMs();
  const t0 = performance.now();
  await new Promise((r) => child.once('exit', r));
  const busy = ((cpuMs() - c0) / (performance.now() - t0)) * 100;
  const lost = source.stats().lost;
  sub.unsubscribe();
  return { perStream: Math.max(0, busy - idle) / streams, idle, chunks, lost };
}

/** Run the RTP benchmark; one row per measurement. */
export async function benchRtp(): Promise<Row[]> {
  const rows: Row[] = [];
  const count = SECONDS_OF_AUDIO * 50;
  const pcmu = makePackets('pcmu', count);
  throughput(pcmu, {}); // warm-up: let the JIT settle before the first measured row
  rows.push({ measure: 'parseRtp only (floor)', codec: 'any', 'packets/s per core': Math.round(parseOnly(pcmu)), 'x realtime (1 stream)': '-' });
  const cases: Array<[string, 'pcmu' | 'pcma' | 'l16' | 'opus', DepacketizerOptions]> = [
    ['depacketize+decode', 'pcmu', {}],
    ['depacketize+decode', 'pcma', {}],
    ['depacketize+decode', 'l16', { payloads: { 96: 'L16/16000/1' } }],
    ['depacketize+decode → 48 kHz', 'opus', { payloads: { 111: 'opus/48000/2' } }],
    ['depacketize+decode → 16 kHz', 'opus', { payloads: { 111: 'opus/48000/2' }, opusSampleRate: 16000 }],
  ];
  for (const [measure, codec, options] of cases) {
    const packets = codec === 'pcmu' ? pcmu : makePackets(codec, count);
    const clean = throughput(packets, options);
    rows.push({ measure, codec, 'packets/s per core': Math.round(clean.pps), 'x realtime (1 stream)': Math.round(clean.realtime) });
    if (codec === 'pcmu' || codec === 'opus') {
      const rough = throughput(impair(packets), options);
      rows.push({ measure: `${measure}, 5% reorder 2% loss 2% dup`, codec, 'packets/s per core': Math.round(rough.pps), 'x realtime (1 stream)': Math.round(rough.realtime) });
    }
  }
  const streams = 50;
  for (const [codec, withResample] of [['pcmu', false], ['pcmu', true], ['opus', false], ['opus', true]] as const) {
    const r = await liveCpu(streams, 5, codec, withResample);
    rows.push({
      measure: `live: ${streams} UDP streams × 5 s${withResample ? ' + resample(16000)' : ''}`,
      codec: codec === 'opus' ? 'opus → 16 kHz' : codec,
      'packets/s per core': '-',
      'x realtime (1 stream)': '-',
      'CPU % of a core per stream': Number(r.perStream.toFixed(2)),
      'idle process CPU %': Number(r.idle.toFixed(2)),
      'lost packets': r.lost,
    });
  }
  return rows;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) console.table(await benchRtp());
