/**
 * Queue test helpers: a real `redis-server` on a free loopback port (persistence off), and real `earshot worker`
 * processes spawned from the built CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository (tests and benchmarks run from it). */
const ROOT = process.cwd();
/** The built CLI (tests call `built()` first; `npm run bench` builds). */
export const CLI = resolve(ROOT, 'dist/src/cli/main.js');

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stop it (SIGTERM, no save) and wait for the exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Start `redis-server` with persistence off on a free loopback port (or `port`); resolves once it accepts connections. */
export async function startRedis(fixedPort?: number): Promise<RedisServer> {
  const port = fixedPort ?? (await freePort());
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--port', String(port), '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      log += d;
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${log}`));
    });
  });
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  readonly log: string;
  /** Resolves with the exit code (or the signal). */
  exited: Promise<number | NodeJS.Signals | null>;
  /** Resolves once a stderr line matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/** Spawn `earshot worker ARGS` and wait until it says it is ready. */
export async function spawnWorker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  child.stderr!.on('data', (d: Buffer) => {
    log += d;
    for (const w of [...waiters]) if (w.re.test(log)) waiters.splice(waiters.indexOf(w), 1) && w.resolve();
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const handle: WorkerProcess = {
    child,
    get log() {
      return log;
    },
    exited,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(log)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker never printed ${re}:\n${log}`)), timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ re, resolve: done });
        void exited.then((code) => {
          clearTimeout(timer);
          if (!re.test(log)) reject(new Error(`worker exited (${code}) before printing ${re}:\n${log}`));
        });
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  await handle.waitFor(/ready on queue/);
  return handle;
}

/** Events without the wall-clock latency figures (which differ run to run). */
export function comparable<T extends { latency?: unknown }>(events: T[]): Omit<T, 'latency'>[] {
  return events.map(({ latency: _l, ...rest }) => rest);
}
