/** The real `earshot` binary (dist/, built by `npm test`), spawned as a user would. */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
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

/** Start `earshot <args>` from the repository root with stdout and stderr piped; stdin ignored, or read from a file. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, stdinFile?: string): ChildProcessByStdio<null, Readable, Readable> {
  const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
  try {
    return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] }) as ChildProcessByStdio<null, Readable, Readable>;
  } finally {
    if (typeof stdin === 'number') closeSync(stdin); // the child has its own copy
  }
}

/** Run `earshot <args>` to its end (stdin from `stdinFile` if given); rejects after `timeoutMs` (the process is killed). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000, stdinFile?: string): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, env, stdinFile);
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

/** The first `seconds` of the bundled sample as a WAV in `dir` (2.4 s: "the weather will be cold and windy", the last word cut short). */
export function shortSample(dir: string, seconds = 2.4, name = 'short.wav'): string {
  const path = join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(ROOT, 'samples/sample.wav'), '-t', String(seconds), path]);
  return path;
}
