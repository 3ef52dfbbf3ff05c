/**
 * `npm run faults`: the fault matrix, from real runs. Each cell starts a fresh emulator (scripted, on 127.0.0.1)
 * with one fault injected, runs one model's transport on a one-second WAV, and records what came out: the
 * fault-free text again ("recovered, same text"), a coded `EarshotError` ("coded CODE"), or anything else (which
 * the matrix must never show: "DIFFERENT TEXT", "UNCODED", "hang"). Prints a Markdown table and the time it took.
 *
 * Scope (see the README): two realtime and three batch models; the embedded and queued columns and the
 * engine/ffmpeg/sink rows are not generated yet.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarshotError } from '../../src/core/errors.js';
import type { FaultOptions } from '../../src/emulator/context.js';
import { startEmulator } from '../../src/emulator/server.js';
import { transcribeRealtime } from '../../src/operators/transcribe-realtime.js';
import { fromPcm } from '../../src/sources/pcm.js';
import { createTransport } from '../../src/transports/catalog.js';
import type { BatchTransport } from '../../src/transports/dashscope/fun-asr.js';
import { encodeWav } from '../../src/transports/dashscope/upload.js';

const KEY = 'sk-faults-matrix-key';
const TEXT = 'the quick brown fox';
const BATCH = ['fun-asr', 'qwen3-asr-flash-filetrans', 'qwen3-asr-flash'];
const REALTIME = ['fun-asr-realtime', 'qwen3-asr-flash-realtime'];
const MODELS = [...REALTIME, ...BATCH];
/** What the scripted emulator "hears" in each utterance (realtime: one final per utterance of the speech). */
const WORD = 'hello';
const CELL_BOUND_MS = 90_000;

interface Fault {
  name: string;
  faults?: FaultOptions;
  /** Connect somewhere nothing listens instead of the emulator. */
  refused?: boolean;
  /** Only the async-task models have it. */
  asyncOnly?: boolean;
  /** Only the realtime models have it. */
  realtimeOnly?: boolean;
  /** The emulator injects it on HTTP requests only. */
  httpOnly?: boolean;
}

const FAULTS: Fault[] = [
  { name: 'none (baseline)' },
  { name: '429 with Retry-After (first 2 requests)', faults: { throttleFirst: 2 } },
  { name: '5xx (first 2 HTTP requests)', faults: { serverErrorFirst: 2 }, httpOnly: true },
  { name: 'task-failed', faults: { failTasks: true }, asyncOnly: true },
  { name: 'result URL expired', faults: { resultTtlMs: 1, resultDelayMs: 50 }, asyncOnly: true },
  { name: 'socket dropped mid-utterance (after 1.2 s of audio, every session)', faults: { dropAfterAudioMs: 1200 }, realtimeOnly: true },
  { name: 'socket dropped mid-utterance (after 2.5 s of audio, every session)', faults: { dropAfterAudioMs: 2500 }, realtimeOnly: true },
  { name: 'task-failed / error event mid-stream (InternalError)', faults: { failAfterAudioMs: 1200 }, realtimeOnly: true },
  { name: 'connection refused', refused: true },
];

function toneWav(dir: string): string {
  const samples = new Int16Array(16000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 16000)));
  const path = join(dir, 'tone.wav');
  writeFileSync(path, encodeWav(samples, 16000));
  return path;
}

/** Three spoken sentences with pauses (ffmpeg's flite), mono s16 16 kHz. */
function speech(): Int16Array {
  const parts = ['the quick brown fox', 'jumps over the lazy dog', 'and runs away'].map((t) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `flite=text='${t}':voice=slt`, '-ar', '16000', '-ac', '1', '-f', 's16le', '-']));
  const gap = Buffer.alloc(32000 * 1.5);
  const all = Buffer.concat([gap.subarray(0, 9600), ...parts.flatMap((p) => [p, gap])]);
  return Int16Array.from(new Int16Array(all.buffer, all.byteOffset, all.length / 2));
}

let baselineRealtime: string | undefined;

async function realtimeCell(model: string, fault: Fault, pcm: Int16Array): Promise<string> {
  if (fault.asyncOnly || fault.httpOnly) return 'n/a';
  // The emulator throttles handshakes of the realtime socket, not of the inference one.
  if (fault.faults?.throttleFirst && model === 'fun-asr-realtime') return 'n/a (not injected on this socket)';
  const emu = await startEmulator({ apiKeys: [KEY], script: [{ text: WORD }], faults: fault.faults ?? {} });
  const t = createTransport(model, { apiKey: KEY, baseUrl: fault.refused ? 'http://127.0.0.1:1' : emu.url } as Parameters<typeof createTransport>[1]);
  let timer: NodeJS.Timeout | undefined;
  const finals: string[] = [];
  try {
    const run = lastValueFrom(
      fromPcm(pcm, { sampleRate: 16000 }).pipe(
        transcribeRealtime(t, { pace: false, reconnect: { attempts: 4, baseMs: 50, maxMs: 200 } }),
        tap((e) => e.type === 'final' && finals.push(e.text)),
        toArray(),
      ),
    ).then(() => finals.join(' ').trim());
    const out = await Promise.race([run, new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), CELL_BOUND_MS)))]);
    if (out === 'hang') return 'hang';
    if (fault.name.startsWith('none')) baselineRealtime = out;
    return out === baselineRealtime ? `recovered, same text (${out.split(' ').length} finals)` : `DIFFERENT TEXT: ${JSON.stringify(out)} vs ${JSON.stringify(baselineRealtime)}`;
  } catch (err) {
    return err instanceof EarshotError ? `coded ${err.code}, kept ${finals.length} of 3 finals` : `UNCODED: ${String(err)}`;
  } finally {
    clearTimeout(timer);
    await t.close?.();
    await emu.close();
  }
}

async function cell(model: string, fault: Fault, wav: string): Promise<string> {
  if (fault.asyncOnly && model === 'qwen3-asr-flash') return 'n/a (no async task)';
  if (fault.realtimeOnly) return 'n/a';
  const emu = await startEmulator({ apiKeys: [KEY], script: [{ text: TEXT }], faults: fault.faults ?? {} });
  const t = createTransport(model, { apiKey: KEY, baseUrl: fault.refused ? 'http://127.0.0.1:1' : emu.url, retry: { attempts: 4, baseMs: 50, maxMs: 200 }, pollMs: 20 } as Parameters<typeof createTransport>[1]) as BatchTransport;
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = t.transcribeFile(wav).then((events) => events.filter((e) => e.type === 'final').map((e) => e.text).join(' ').trim());
    const out = await Promise.race([run, new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), CELL_BOUND_MS)))]);
    if (out === 'hang') return 'hang';
    return out === TEXT ? 'recovered, same text' : `DIFFERENT TEXT: ${JSON.stringify(out)}`;
  } catch (err) {
    return err instanceof EarshotError ? `coded ${err.code}${err.retryable ? ' (after retries)' : ''}, nothing produced to keep` : `UNCODED: ${String(err)}`;
  } finally {
    clearTimeout(timer);
    await t.close?.();
    await emu.close();
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('/faults/run.js')) {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'earshot-faults-'));
  const wav = toneWav(dir);
  const pcm = speech();
  const rows: string[] = [`| fault | ${MODELS.join(' | ')} |`, `|---|${MODELS.map(() => '---').join('|')}|`];
  let bad = 0;
  for (const fault of FAULTS) {
    const cells: string[] = [];
    for (const model of MODELS) {
      const c = REALTIME.includes(model) ? await realtimeCell(model, fault, pcm) : await cell(model, fault, wav);
      if (/^(hang|UNCODED|DIFFERENT)/.test(c)) bad++;
      cells.push(c);
    }
    rows.push(`| ${fault.name} | ${cells.join(' | ')} |`);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(rows.join('\n'));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(bad > 0 ? 1 : 0);
}
