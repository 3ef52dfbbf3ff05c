/** The real `earshot` binary (dist/, built by `npm test`), spawned as a user would. */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { built, ROOT } from './dist.js';

/** Path of the compiled CLI entry. */
export const CLI = built('src/cli/main.js');

/** How a run of the CLI ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Start `earshot <args>` from the repository root with stdout and stderr piped (stdin ignored). */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Run `earshot <args>` to its end; rejects when it takes longer than `timeoutMs` (the process is killed). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`earshot ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The bundled sample (9.5 s of speech) `times` over, as an MP3 in `dir` (so ffmpeg decodes it); returns its path. */
export function repeatedSample(dir: string, times: number): string {
  const path = join(dir, `sample-x${times}.mp3`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(times - 1), '-i', join(ROOT, 'samples/sample.wav'), path]);
  return path;
}
