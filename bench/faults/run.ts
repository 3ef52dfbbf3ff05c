/**
 * `npm run faults`: the fault matrix, from real runs. Each cell starts what it needs fresh — a scripted emulator on
 * 127.0.0.1, a fault proxy in front of it, an engine pool with a faulty worker, BullMQ workers on a real
 * `redis-server`, or the built CLI as a child process — injects one fault, runs one column's transport, and records
 * what came out: the column's fault-free text again ("recovered, same text"), a coded `EarshotError` with what was
 * kept, or anything else, which the matrix must never show ("DIFFERENT TEXT", "UNCODED", "hang", "LOST",
 * "KEY LEAKED"). Every output of every run (errors with their causes, CLI stdout/stderr, sink files, worker logs) is
 * grepped for the API key and the temporary keys minted; a hit fails the run.
 *
 * `node dist/bench/faults/run.js [--rows a,b] [--columns x,y]` runs a slice (names as printed, prefixes allowed).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { lastValueFrom, tap, toArray, type Observable } from 'rxjs';
import { EarshotError } from '../../src/core/errors.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import type { FaultOptions } from '../../src/emulator/context.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { transcribeRealtime } from '../../src/operators/transcribe-realtime.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { startWorker, type WorkerHandle } from '../../src/queue/worker.js';
import { fromPcm } from '../../src/sources/pcm.js';
import { createTransport, type CreateTransportOptions } from '../../src/transports/catalog.js';
import { createTemporaryKey } from '../../src/transports/dashscope/temporary-key.js';
import type { BatchTransport } from '../../src/transports/dashscope/fun-asr.js';
import { omniDescriptor } from '../../src/transports/dashscope/omni.js';
import { encodeWav } from '../../src/transports/dashscope/upload.js';
import { local, type LocalTransport } from '../../src/transports/local.js';
import { queued } from '../../src/transports/queued.js';
import type { Transport } from '../../src/transports/transport.js';
import { startFaultProxy, type FaultProxy, type ProxyFault } from './proxy.js';

export const KEY = 'sk-faults-matrix-key-0123456789';
const TEXT = 'the quick brown fox';
/** What the scripted emulator "hears" in each realtime utterance (one final per utterance of the speech). */
const WORD = 'hello';
const CELL_BOUND_MS = 240_000;
const RETRY = { attempts: 4, baseMs: 50, maxMs: 200 };
/** The repository, from `dist/bench/faults/` (npm run faults) or `bench/faults/` (the test's slice). */
const ROOT_URL = new URL(import.meta.url.includes('/dist/bench/') ? '../../../' : '../../', import.meta.url);
const ROOT = resolve(ROOT_URL.pathname);
const CLI = join(ROOT, 'dist/src/cli/main.js');
/** The engine worker that exits or hangs on demand (the pool runs a `.ts` entry through tsx). */
const FAULTY_WORKER = new URL('test/engine/fixtures/faulty-worker.ts', ROOT_URL);

type Kind = 'local-rt' | 'local-batch' | 'cloud-rt' | 'cloud-batch' | 'queue-local' | 'queue-cloud';

export interface Column {
  name: string;
  kind: Kind;
  model: string;
  /** `earshot transcribe` arguments of this column. */
  cli: string[];
}

export const COLUMNS: Column[] = [
  { name: 'local (realtime)', kind: 'local-rt', model: 'local', cli: ['--model', 'local', '--mode', 'realtime'] },
  { name: 'local (batch)', kind: 'local-batch', model: 'local', cli: ['--model', 'local'] },
  { name: 'fun-asr-realtime', kind: 'cloud-rt', model: 'fun-asr-realtime', cli: ['--model', 'fun-asr-realtime'] },
  { name: 'qwen3-asr-flash-realtime', kind: 'cloud-rt', model: 'qwen3-asr-flash-realtime', cli: ['--model', 'qwen3-asr-flash-realtime'] },
  ...['qwen3.5-omni-plus-realtime', 'qwen3.5-omni-flash-realtime', 'qwen3-omni-flash-realtime'].map((model): Column => ({ name: model, kind: 'cloud-rt', model, cli: ['--model', model] })),
  { name: 'fun-asr', kind: 'cloud-batch', model: 'fun-asr', cli: ['--model', 'fun-asr'] },
  { name: 'qwen3-asr-flash-filetrans', kind: 'cloud-batch', model: 'qwen3-asr-flash-filetrans', cli: ['--model', 'qwen3-asr-flash-filetrans'] },
  { name: 'qwen3-asr-flash', kind: 'cloud-batch', model: 'qwen3-asr-flash', cli: ['--model', 'qwen3-asr-flash'] },
  ...['qwen3.5-omni-plus', 'qwen3.5-omni-flash', 'qwen3-omni-flash'].map((model): Column => ({ name: model, kind: 'cloud-batch', model, cli: ['--model', model] })),
  { name: 'queue → local', kind: 'queue-local', model: 'local', cli: ['--model', 'local'] },
  { name: 'queue → qwen3-asr-flash', kind: 'queue-cloud', model: 'qwen3-asr-flash', cli: ['--model', 'qwen3-asr-flash'] },
];

const cloud = (c: Column): boolean => c.kind === 'cloud-rt' || c.kind === 'cloud-batch' || c.kind === 'queue-cloud';
/** Batch models with tasks and result URLs; the compatible-mode ones (qwen3-asr-flash, Omni) answer in one streamed HTTP call. */
const asyncTask = (c: Column): boolean => c.kind === 'cloud-batch' && !Object.hasOwn(omniDescriptor.models, c.model);
const engine = (c: Column): boolean => c.kind === 'local-rt' || c.kind === 'local-batch' || c.kind === 'queue-local';

/** Why a row does not apply to a column: the footnotes under the table. */
export const NA = {
  net: 'the embedded engine has no network, no key and no server to misbehave',
  task: 'only the async-task models (fun-asr, qwen3-asr-flash-filetrans) have tasks and result URLs',
  socket: 'only the realtime cloud models hold a WebSocket session',
  engine: 'the cloud models run no engine worker',
  ffmpeg: 'no ffmpeg in this path: the CLI sends the file to the service as it is',
} as const;
type NaKey = keyof typeof NA;

interface Fault {
  name: string;
  /** `undefined`: applies; a footnote key: n/a. */
  na?(c: Column): NaKey | undefined;
  /** Emulator faults (set after the temporary key is minted). */
  emulator?: FaultOptions;
  /** Put the fault proxy in front of the emulator. */
  proxy?: { fault: ProxyFault; first?: number };
  /** Point the client at this base URL instead. */
  baseUrl?: string;
  /** The engine worker fault. */
  worker?: 'exit' | 'hang';
  /** Redis refused (queue columns). */
  redisRefused?: boolean;
  /** Run through the built CLI with this process-level fault. */
  cli?: 'baseline' | 'kill' | 'disk-full' | 'ffmpeg';
}

const netOnly = (c: Column): NaKey | undefined => (cloud(c) ? undefined : 'net');
export const FAULTS: Fault[] = [
  { name: 'none (baseline)' },
  { name: '429 with Retry-After (first 2 connections)', na: netOnly, proxy: { fault: 'throttle', first: 2 } },
  { name: '429 without Retry-After (first 2 connections)', na: netOnly, proxy: { fault: 'throttle-no-retry-after', first: 2 } },
  { name: '500 (first 2 connections)', na: netOnly, proxy: { fault: 'server-error', first: 2 } },
  { name: 'task-failed', na: (c) => (asyncTask(c) ? undefined : c.kind === 'cloud-rt' ? 'task' : cloud(c) ? 'task' : 'net'), emulator: { failTasks: true } },
  { name: 'result URL expired', na: (c) => (asyncTask(c) ? undefined : cloud(c) ? 'task' : 'net'), emulator: { resultTtlMs: 1, resultDelayMs: 50 } },
  { name: 'socket dropped mid-utterance once (after ~1.5 s of audio)', na: (c) => (c.kind === 'cloud-rt' ? undefined : cloud(c) ? 'socket' : 'net'), proxy: { fault: 'drop', first: 1 } },
  { name: 'socket dropped mid-utterance (after 1.2 s of audio, every session)', na: (c) => (c.kind === 'cloud-rt' ? undefined : cloud(c) ? 'socket' : 'net'), emulator: { dropAfterAudioMs: 1200 } },
  { name: 'socket dropped mid-utterance (after 2.5 s of audio, every session)', na: (c) => (c.kind === 'cloud-rt' ? undefined : cloud(c) ? 'socket' : 'net'), emulator: { dropAfterAudioMs: 2500 } },
  { name: 'error event mid-stream (InternalError)', na: (c) => (c.kind === 'cloud-rt' ? undefined : cloud(c) ? 'socket' : 'net'), emulator: { failAfterAudioMs: 1200 } },
  { name: 'server silent (connection open, no reply)', na: netOnly, proxy: { fault: 'silent' } },
  { name: 'malformed message (first connection)', na: netOnly, proxy: { fault: 'malformed', first: 1 } },
  { name: 'DNS failure', na: netOnly, baseUrl: 'http://earshot-faults.invalid' },
  { name: 'connection refused (queue: Redis refused)', na: (c) => (cloud(c) || c.kind === 'queue-local' ? undefined : 'net'), baseUrl: 'http://127.0.0.1:1', redisRefused: true },
  { name: 'engine worker crash (first job)', na: (c) => (engine(c) ? undefined : 'engine'), worker: 'exit' },
  { name: 'engine worker hang (first job)', na: (c) => (engine(c) ? undefined : 'engine'), worker: 'hang' },
  { name: 'none, through the CLI (speech file)', cli: 'baseline' },
  { name: 'process killed mid-file (SIGKILL; queue: the worker process)', cli: 'kill' },
  { name: 'disk full for a sink (--jsonl /dev/full)', cli: 'disk-full' },
  { name: 'ffmpeg killed mid-decode (SIGKILL)', na: (c) => (asyncTask(c) ? 'ffmpeg' : undefined), cli: 'ffmpeg' },
];

/** What one cell observed, and everything it printed (for the key grep). */
interface Outcome {
  cell: string;
  outputs: string[];
}

/** Shared inputs and services of a run. */
export interface Bench {
  dir: string;
  /** Three spoken sentences with pauses, mono s16 16 kHz. */
  pcm: Int16Array;
  /** A one-second tone (the batch cloud models' library input; the script answers it). */
  wav: string;
  /** The speech as Ogg/Opus (the CLI rows: ffmpeg decodes it). */
  ogg: string;
  /** The speech three times over (28 s), for the row that kills the process mid-file. */
  longOgg: string;
  redis: { url: string; port: number; stop(): Promise<void> };
  /** Temporary keys minted during the run. */
  secrets: Set<string>;
  /** Fault-free text per column (library runs; CLI runs under `cli:`). */
  baselines: Map<string, string>;
  /** Fault-free count of finals per column. */
  counts: Map<string, number>;
  queues: number;
}

/** Three spoken sentences with pauses (ffmpeg's flite), mono s16 16 kHz. */
function speech(): Int16Array {
  const parts = ['the quick brown fox', 'jumps over the lazy dog', 'and runs away'].map((t) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `flite=text='${t}':voice=slt`, '-ar', '16000', '-ac', '1', '-f', 's16le', '-']));
  const gap = Buffer.alloc(32000 * 1.5);
  const all = Buffer.concat([gap.subarray(0, 9600), ...parts.flatMap((p) => [p, gap])]);
  return Int16Array.from(new Int16Array(all.buffer, all.byteOffset, all.length / 2));
}

/** A `redis-server` on a free loopback port, persistence off. */
async function startRedis(): Promise<Bench['redis']> {
  const probe = await startFaultProxy(1, 'silent');
  const port = Number(new URL(probe.url).port);
  await probe.close();
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--port', String(port), '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((ok, fail) => {
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d) && log.includes('Ready to accept connections') && ok());
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code}`)));
  });
  child.stdout!.resume();
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return { url: `redis://127.0.0.1:${port}`, port, stop: async () => void (child.kill('SIGTERM'), await exited) };
}

export async function setUp(): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-faults-'));
  const pcm = speech();
  const wav = join(dir, 'tone.wav');
  writeFileSync(wav, encodeWav(new Int16Array(16000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 16000))), 16000));
  const ogg = join(dir, 'speech.ogg');
  writeFileSync(join(dir, 'speech.raw'), pcm);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', join(dir, 'speech.raw'), '-c:a', 'libopus', '-b:a', '32k', ogg]);
  const longOgg = join(dir, 'long.ogg');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-stream_loop', '2', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', join(dir, 'speech.raw'), '-c:a', 'libopus', '-b:a', '32k', longOgg]);
  return { dir, pcm, wav, ogg, longOgg, redis: await startRedis(), secrets: new Set(), baselines: new Map(), counts: new Map(), queues: 0 };
}

export async function tearDown(b: Bench): Promise<void> {
  await b.redis.stop();
  rmSync(b.dir, { recursive: true, force: true });
}

function bounded<T>(run: Promise<T>, ms = CELL_BOUND_MS): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([run, new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)))]).finally(() => clearTimeout(timer));
}

function describeError(err: unknown): string[] {
  return [err instanceof Error ? err.message : String(err), inspect(err, { depth: 20 })];
}

/** Compare a run's finals to the column's baseline (recording it on the baseline row). */
function judge(b: Bench, key: string, fault: Fault, finals: string[], total?: number): string {
  const text = finals.join(' ').trim();
  if (fault.name.startsWith('none')) {
    b.baselines.set(key, text);
    b.counts.set(key, total ?? finals.length);
    return `baseline (${total ?? finals.length} finals)`;
  }
  const base = b.baselines.get(key);
  if (text === base) return `recovered, same text (${total ?? finals.length} finals)`;
  return `DIFFERENT TEXT: ${JSON.stringify(text)} vs ${JSON.stringify(base)}`;
}

function failure(err: unknown, finals: string[], total: number): string {
  if (!(err instanceof EarshotError)) return `UNCODED: ${String(err)}`;
  return `coded ${err.code}, kept ${finals.length} of ${total} finals`;
}

/** The engine transport of a cell: the real worker, or the faulty one for the worker rows. */
function engineTransport(fault: Fault): LocalTransport {
  if (!fault.worker) return local({ size: 1 });
  const remaining = new Int32Array(new SharedArrayBuffer(4));
  remaining[0] = 1;
  return local({ size: 1, jobTimeoutMs: 10_000, workerUrl: FAULTY_WORKER, workerExtra: { remaining, mode: fault.worker, on: 'clip' } });
}

function engineSessionTransport(fault: Fault): LocalTransport {
  if (!fault.worker) return local({ size: 1 });
  const remaining = new Int32Array(new SharedArrayBuffer(4));
  remaining[0] = 1;
  return local({ size: 1, jobTimeoutMs: 10_000, workerUrl: FAULTY_WORKER, workerExtra: { remaining, mode: fault.worker, on: 'audio' } });
}

async function libraryCell(b: Bench, col: Column, fault: Fault): Promise<Outcome> {
  const outputs: string[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const finals: string[] = [];
  try {
    const emu: Emulator = await startEmulator({ apiKeys: [KEY], script: [{ text: col.kind === 'cloud-rt' ? WORD : TEXT }] });
    closers.push(() => emu.close());
    let apiKey = KEY;
    if (col.kind === 'cloud-rt') {
      // Realtime clients in browsers get temporary keys: mint one before the fault is switched on.
      apiKey = (await createTemporaryKey({ apiKey: KEY, baseUrl: emu.url, expireInSeconds: 300 })).token;
      b.secrets.add(apiKey);
    }
    Object.assign(emu.context.faults, fault.emulator ?? {});
    let baseUrl = fault.baseUrl ?? emu.url;
    if (fault.proxy) {
      const proxy: FaultProxy = await startFaultProxy(emu.port, fault.proxy.fault, fault.proxy.first);
      closers.unshift(() => proxy.close());
      baseUrl = proxy.url;
    }
    // Short deadlines so that a silent server costs seconds here (defaults: 120 s per HTTP reply, 15 s per open).
    const cloudOptions = { apiKey, baseUrl, retry: RETRY, pollMs: 20, requestTimeoutMs: 2000, realtime: { openTimeoutMs: 2000 } } as CreateTransportOptions;
    let total = 3;
    let run: Promise<unknown>;
    const collect = (events: Observable<TranscriptEvent>): Promise<unknown> => lastValueFrom(events.pipe(tap((e) => e.type === 'final' && finals.push(e.text)), toArray()));
    const audio = (): Observable<AudioChunk> => fromPcm(b.pcm, { sampleRate: 16000 });
    if (col.kind === 'cloud-batch') {
      total = 1;
      const t = createTransport(col.model, cloudOptions) as BatchTransport;
      closers.unshift(async () => t.close?.());
      run = t.transcribeFile(b.wav).then((events) => finals.push(...events.filter((e) => e.type === 'final').map((e) => e.text)));
    } else if (col.kind === 'cloud-rt' || col.kind === 'local-rt') {
      const t: Transport = col.kind === 'local-rt' ? engineSessionTransport(fault) : createTransport(col.model, cloudOptions);
      closers.unshift(async () => t.close?.());
      run = collect(audio().pipe(transcribeRealtime(t, { pace: false, reconnect: RETRY })));
    } else if (col.kind === 'local-batch') {
      const t = engineTransport(fault);
      closers.unshift(() => t.close());
      run = collect(audio().pipe(vadChunk(), transcribeBatch(t, { retry: RETRY })));
    } else {
      const queue = `faults-${++b.queues}`;
      const connection = fault.redisRefused ? 'redis://127.0.0.1:1' : b.redis.url;
      const reports: unknown[] = [];
      if (!fault.redisRefused) {
        const transport = col.kind === 'queue-local' ? engineTransport(fault) : undefined;
        if (transport) closers.push(() => transport.close());
        const worker: WorkerHandle = await startWorker({
          connection,
          queue,
          model: col.model,
          concurrency: 2,
          stitch: false,
          ...(transport ? { transport } : { transportOptions: { apiKey, baseUrl, requestTimeoutMs: 2000 } as CreateTransportOptions }),
          onJob: (r) => r.error && reports.push(r.error),
        });
        closers.unshift(() => worker.close());
      }
      closers.push(async () => outputs.push(...reports.flatMap(describeError)));
      const t = queued({ connection, model: col.model, queue, retry: RETRY, connectTimeoutMs: 3000 });
      closers.unshift(() => t.close());
      run = collect(audio().pipe(vadChunk(), transcribeBatch(t, { concurrency: 3 })));
    }
    const out = await bounded(run);
    if (out === 'hang') return { cell: 'hang', outputs };
    return { cell: judge(b, col.name, fault, finals, total), outputs: [...outputs, ...finals] };
  } catch (err) {
    outputs.push(...describeError(err), ...finals);
    return { cell: failure(err, finals, col.kind === 'cloud-batch' ? 1 : 3), outputs };
  } finally {
    await closeAll(closers, outputs);
  }
}

/** Run the closers in order, each bounded (a close that does not end is a hang of its own). */
async function closeAll(closers: Array<() => Promise<unknown>>, outputs: string[]): Promise<void> {
  for (const close of closers) {
    const out = await bounded(close().catch((e: unknown) => outputs.push(...describeError(e))), 15_000);
    if (out === 'hang') outputs.push('CLOSE HANG');
  }
}

interface CliRun {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = false): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  const run: CliRun = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((ok) => child.once('close', (code, signal) => ok({ code, signal }))),
  };
  child.stdout!.on('data', (d: Buffer) => (run.stdout += d));
  child.stderr!.on('data', (d: Buffer) => (run.stderr += d));
  return run;
}

function spawnWorkerProcess(args: string[], env: NodeJS.ProcessEnv): CliRun {
  return runCli(['worker', ...args], env);
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

/**
 * Pids of the `ffmpeg` decoders (reading stdin) whose parent is `pid`. Not the soxr probe that runs before a pipe is
 * decoded: killed, it only makes the CLI decode with ffmpeg's own resampler (`ffmpegResampler()`), no fault at all.
 */
function ffmpegDecoders(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /\bffmpeg\b.* -i pipe:0\b/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return [];
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Whole JSONL lines of a sink file, and whether a partial line was left. */
function jsonlKept(path: string): { finals: number; partial: boolean; text: string } {
  if (!existsSync(path)) return { finals: 0, partial: false, text: '' };
  const text = readFileSync(path, 'utf8');
  let finals = 0;
  let partial = false;
  for (const l of lines(text)) {
    try {
      if ((JSON.parse(l) as TranscriptEvent).type === 'final') finals++;
    } catch {
      partial = true;
    }
  }
  return { finals, partial: partial || (text !== '' && !text.endsWith('\n')), text };
}

async function cliCell(b: Bench, col: Column, fault: Fault): Promise<Outcome> {
  const outputs: string[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const jsonl = join(b.dir, `out-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  try {
    const slow = fault.cli === 'kill' || fault.cli === 'ffmpeg';
    // An async task (fun-asr, filetrans) answers the whole file at once: its result comes after the kill at 3 s, so the
    // kill lands mid-task on any machine (on an idle one a 1.5 s result let the CLI finish first).
    const delay = fault.cli === 'kill' && asyncTask(col) ? 6000 : 1500;
    const emu = await startEmulator({ apiKeys: [KEY], script: [{ text: WORD }], faults: slow && !col.kind.startsWith('local') ? { resultDelayMs: delay } : {} });
    closers.push(() => emu.close());
    const env = { DASHSCOPE_API_KEY: KEY, DASHSCOPE_BASE_URL: emu.url };
    // ffmpeg killed: the file comes on stdin, slowly, so ffmpeg is still decoding when it is killed.
    const queue = col.kind === 'queue-local' || col.kind === 'queue-cloud';
    // (Queue columns: the worker is killed, the text compared with the baseline's, so the same file.)
    const input = fault.cli === 'ffmpeg' ? '-' : fault.cli === 'kill' && !queue ? b.longOgg : b.ogg;
    const args = ['transcribe', input, ...col.cli, '--jsonl', fault.cli === 'disk-full' ? '/dev/full' : jsonl, '-q'];
    if (slow && (col.kind === 'local-rt' || col.kind === 'cloud-rt')) args.push('--pace');
    const workers: CliRun[] = [];
    if (queue) {
      args.push('--queue', b.redis.url);
      const startOne = async (): Promise<CliRun> => {
        const w = spawnWorkerProcess(['--queue', b.redis.url, '--model', col.model, '--concurrency', '1', '--lock-duration', '2s', '--stalled-interval', '1s'], env);
        workers.push(w);
        closers.unshift(async () => {
          if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
          await w.exited;
          outputs.push(w.stdout, w.stderr);
        });
        if (!(await until(() => /ready on queue/.test(w.stderr), 30_000))) throw new Error(`worker not ready: ${w.stderr}`);
        return w;
      };
      await startOne();
      if (fault.cli === 'kill') {
        const run = runCli(args, env);
        // Kill the worker once it has done a job, then start another: the lost job comes back after its lock.
        await until(() => /done in/.test(workers[0]!.stderr), 30_000);
        workers[0]!.child.kill('SIGKILL');
        await workers[0]!.exited;
        await startOne();
        return await finishCli(b, col, fault, run, jsonl, outputs, 'the worker process killed after its first job; a new worker took the rest');
      }
    }
    const run = runCli(args, env, fault.cli === 'ffmpeg');
    if (fault.cli === 'kill') {
      // Mid-file: after the first final (the realtime columns are paced), or 3 s into a batch request.
      await until(() => lines(run.stdout).length > 0, col.kind === 'local-rt' || col.kind === 'cloud-rt' ? 20_000 : 3000);
      if (run.child.exitCode !== null) return { cell: `UNCODED: finished before the kill (exit ${run.child.exitCode})`, outputs: [run.stdout, run.stderr] };
      run.child.kill('SIGKILL');
    } else if (fault.cli === 'ffmpeg') {
      const ogg = readFileSync(b.ogg);
      let sent = 0;
      const feed = setInterval(() => {
        if (sent < ogg.length) run.child.stdin!.write(ogg.subarray(sent, (sent += 1024)));
      }, 40);
      let pids: number[] = [];
      await until(() => (pids = ffmpegDecoders(run.child.pid!)).length > 0 || run.child.exitCode !== null, 15_000);
      if (pids.length > 0) {
        await until(() => sent >= ogg.length / 2, 5000);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // It ended on its own first: the cell then shows the run's outcome without the fault.
          }
        }
      }
      await until(() => sent >= ogg.length, 10_000);
      clearInterval(feed);
      run.child.stdin!.end();
      if (pids.length === 0) {
        await run.exited;
        return { cell: `n/a: no ffmpeg ran (exit ${run.child.exitCode})`, outputs: [run.stdout, run.stderr] };
      }
    }
    return await finishCli(b, col, fault, run, jsonl, outputs);
  } catch (err) {
    outputs.push(...describeError(err));
    return { cell: `UNCODED: ${String(err)}`, outputs };
  } finally {
    await closeAll(closers, outputs);
    rmSync(jsonl, { force: true });
  }
}

async function finishCli(b: Bench, col: Column, fault: Fault, run: CliRun, jsonl: string, outputs: string[], note?: string): Promise<Outcome> {
  const out = await bounded(run.exited);
  if (out === 'hang') {
    run.child.kill('SIGKILL');
    return { cell: 'hang', outputs };
  }
  const kept = jsonlKept(jsonl);
  outputs.push(run.stdout, run.stderr, kept.text);
  const stdoutFinals = lines(run.stdout);
  const key = `cli:${col.name}`;
  if (out.signal === 'SIGKILL') {
    return { cell: `killed; ${col.kind.startsWith('cloud-batch') || col.kind === 'local-batch' ? '' : ''}kept ${kept.finals} whole finals in the JSONL${kept.partial ? ' AND A PARTIAL LINE' : ', no partial line'}`, outputs };
  }
  if (out.code === 0) {
    const cell = judge(b, key, fault, stdoutFinals);
    return { cell: note ? `${cell}; ${note}` : cell, outputs };
  }
  const errLines = lines(run.stderr);
  const m = /^(EARSHOT_[A-Z_]+): /.exec(errLines.at(-1) ?? '');
  const total = b.counts.get(key) ?? '?';
  if (!m || errLines.length !== 1) return { cell: `UNCODED exit ${out.code}: ${JSON.stringify(run.stderr.slice(0, 300))}`, outputs };
  const where = fault.cli === 'disk-full' ? `${stdoutFinals.length} of ${total} finals on stdout` : `${kept.finals} of ${total} finals in the JSONL, ${stdoutFinals.length} on stdout`;
  return { cell: `coded ${m[1]} (exit ${out.code}), kept ${where}`, outputs };
}

/** Grep every output for the key and the temporary keys. */
export function leaks(b: Bench, outputs: string[]): string[] {
  const secrets = [KEY, ...b.secrets];
  return secrets.filter((s) => outputs.some((o) => o.includes(s)));
}

export interface Matrix {
  rows: string[];
  bad: number;
  footnotes: NaKey[];
  /** Outputs grepped for the keys (error messages and inspections, CLI stdout/stderr, sink files, worker logs). */
  grepped: number;
}

/** The rows or columns named in the comma-separated `wanted` (a name, or a prefix of names), all when absent. */
export function select<T extends { name: string }>(all: T[], wanted: string | undefined): T[] {
  if (!wanted) return all;
  const names = wanted.split(',');
  const exact = (n: string): boolean => all.some((y) => y.name === n);
  return all.filter((x) => names.some((n) => x.name === n || (!exact(n) && x.name.startsWith(n))));
}

/** Run the cells of `faults` × `columns`; returns the Markdown rows and the count of forbidden cells. */
export async function matrix(b: Bench, faults: Fault[] = FAULTS, columns: Column[] = COLUMNS, log: (line: string) => void = () => {}): Promise<Matrix> {
  const used: NaKey[] = [];
  const rows: string[] = [`| fault | ${columns.map((c) => c.name).join(' | ')} |`, `|---|${columns.map(() => '---').join('|')}|`];
  let bad = 0;
  let grepped = 0;
  for (const fault of faults) {
    const cells: string[] = [];
    for (const col of columns) {
      const na = fault.na?.(col);
      if (na) {
        if (!used.includes(na)) used.push(na);
        cells.push(`n/a [${used.indexOf(na) + 1}]`);
        continue;
      }
      const t0 = performance.now();
      const { cell, outputs } = fault.cli ? await cliCell(b, col, fault) : await libraryCell(b, col, fault);
      grepped += outputs.length;
      const leaked = leaks(b, outputs);
      let shown = leaked.length > 0 ? `KEY LEAKED (${leaked.length}) — ${cell}` : cell;
      if (outputs.includes('CLOSE HANG')) shown = `hang at close — ${shown}`;
      if (/^(hang|UNCODED|DIFFERENT|KEY LEAKED)|PARTIAL/.test(shown)) bad++;
      log(`${fault.name} × ${col.name}: ${shown} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      cells.push(shown);
    }
    rows.push(`| ${fault.name} | ${cells.join(' | ')} |`);
  }
  return { rows, bad, footnotes: used, grepped };
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('/faults/run.js')) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log('usage: npm run faults [-- --rows NAMES] [--columns NAMES]');
    console.log('  NAMES: comma-separated row or column names, or prefixes of them (all when absent); the baseline rows always run.');
    console.log(`  rows: ${FAULTS.map((f) => f.name).join('; ')}`);
    console.log(`  columns: ${COLUMNS.map((c) => c.name).join('; ')}`);
    process.exit(0);
  }
  const started = performance.now();
  const b = await setUp();
  const faults = select(FAULTS, arg('--rows'));
  // The baseline rows give the reference texts: always run them.
  faults.unshift(...FAULTS.filter((f) => f.name.startsWith('none') && !faults.includes(f)));
  const m = await matrix(b, faults, select(COLUMNS, arg('--columns')), (l) => console.error(l));
  await tearDown(b);
  console.log(m.rows.join('\n'));
  console.log('');
  console.log(m.footnotes.map((k, i) => `[${i + 1}] ${NA[k]}.`).join(' '));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s; ${m.grepped} outputs grepped for the key and ${b.secrets.size} temporary keys: ${m.rows.some((r) => r.includes('KEY LEAKED')) ? 'LEAKED' : 'none found'})`);
  process.exit(m.bad > 0 ? 1 : 0);
}
