/**
 * The README's commands and TypeScript blocks, executed as they are written — read from README.md at test time,
 * never copied here.
 *
 * Shell blocks: each `earshot …` / `npx earshot …` line runs, in that block's own directory holding the inputs it
 * names (2.4 s of the bundled sample, converted to the format the name says; stereo for `--channels separate`),
 * with the block's `export`s and `VAR=value` prefixes, a trailing `&` started in the background (the emulator: its
 * `--port` is replaced by a free one, and so is that port wherever the block names it again), and
 * DASHSCOPE_BASE_URL / DASHSCOPE_API_KEY of an emulator where a cloud model needs a key the block does not set. Lines
 * that need what a test cannot have — a live input (RTP, mic), Redis (`--queue`, worker/submit/status/result), a
 * server left running (`serve`), real time (`--pace`), an earlier run's output (`--events`) — are parsed by the
 * CLI's own parser instead, which must accept them. Other commands (bash, npm, curl) are not earshot's to run.
 *
 * TypeScript blocks (all compile in snippets.test.ts): those that read files and subscribe run, transpiled as they
 * are, in their own directory with the files they name; those on a mic, RTP, Redis or an earlier run's output do not.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, startEmulator as StartEmulator } from '../../src/emulator/index.js';
import { parseCommand } from '../../src/cli/args.js';
import { parseServe } from '../../src/cli/serve.js';
import { CLI } from '../helpers/cli.js';
import { built, ROOT } from '../helpers/dist.js';
import { readmeFences, shellWords, type Fence } from './readme.js';

/** Inside the repository, so that `import … from 'earshot'` in a transpiled block resolves to the package itself. */
mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const work = mkdtempSync(join(ROOT, '.tmp/readme-'));
const KEY = 'sk-readme-test';
let emulator: Emulator;
const background: ChildProcess[] = [];

beforeAll(async () => {
  // The built emulator, as the CLI runs it (its engine worker is plain JavaScript, not compiled on the fly).
  const { startEmulator } = (await import(built('src/emulator/index.js'))) as { startEmulator: typeof StartEmulator };
  emulator = await startEmulator();
});
afterAll(async () => {
  for (const c of background) if (c.exitCode === null) c.kill('SIGKILL');
  await emulator?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The audio files a block names (`talk.mp3`, `call.wav`, …), made in `dir` from 2.4 s of the bundled sample. */
function provideInputs(code: string, dir: string, stereo: boolean): void {
  for (const name of new Set(code.match(/(?<![\w/.-])[\w-]+\.(?:wav|mp3|m4a|flac)\b/g) ?? [])) {
    const channels = stereo && name.endsWith('.wav') ? ['-filter_complex', '[0:a][0:a]amerge=inputs=2[a]', '-map', '[a]'] : [];
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(ROOT, 'samples/sample.wav'), '-t', '2.4', ...channels, join(dir, name)]);
  }
}

/** Run a process to its end; resolves with its exit code and output. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The emulator a background `earshot emulator …` line started: resolves with its base URL once it listens. */
function startBackground(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  background.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`earshot ${args.join(' ')} exited (${code}) before listening`)));
  });
}

/** Why a command line cannot run here (it is parsed instead), or undefined when it runs. */
function notRunnable(args: string[]): string | undefined {
  const [command, input] = args;
  if (command === 'serve') return 'a server left running';
  if (command === 'worker' || command === 'submit' || command === 'status' || command === 'result' || args.includes('--queue')) return 'Redis';
  if (command === 'live' || input?.startsWith('rtp://')) return 'a live input';
  if (args.includes('--pace')) return 'real time (test/cli/latency.test.ts runs --pace)';
  if (args.includes('--events')) return "an earlier run's output";
  return undefined;
}

/** Files an earshot command line writes (`--srt F`, `--vtt F`, `--jsonl F`, `--out F`). */
function outputsOf(args: string[]): string[] {
  return args.flatMap((a, i) => (['--srt', '--vtt', '--jsonl', '--out'].includes(a) && args[i + 1] ? [args[i + 1]!] : []));
}

interface Outcome {
  line: string;
  ran: boolean;
  /** Why a line was parsed instead of run. */
  why?: string;
  problem?: string;
}

/** Execute one shell block line by line, as a user would type it. */
async function runShellBlock(block: Fence): Promise<Outcome[]> {
  const dir = join(work, `sh-${block.line}`);
  mkdirSync(dir);
  provideInputs(block.code, dir, /--channels separate/.test(block.code));
  const env: NodeJS.ProcessEnv = { ...process.env, EARSHOT_TOKEN: 'readme-token' };
  delete env.DASHSCOPE_API_KEY;
  delete env.DASHSCOPE_BASE_URL;
  const ports = new Map<string, string>();
  const outcomes: Outcome[] = [];
  for (const raw of block.code.split('\n')) {
    const line = [...ports].reduce((l, [from, to]) => l.split(`:${from}`).join(`:${to}`), raw);
    const { words, background: bg } = shellWords(line, env);
    if (words[0] === 'export') {
      for (const w of words.slice(1)) {
        const [name, ...value] = w.split('=');
        env[name!] = value.join('=');
      }
      continue;
    }
    const local: NodeJS.ProcessEnv = {};
    while (words[0] && /^[A-Za-z_]\w*=/.test(words[0])) {
      const [name, ...value] = words.shift()!.split('=');
      local[name!] = value.join('=');
    }
    if (words[0] === 'npx' && words[1] === 'earshot') words.shift();
    if (words[0] !== 'earshot') continue;
    const args = words.slice(1);
    const lineEnv = { ...env, ...local };
    const why = notRunnable(args);
    if (why) {
      try {
        if (args[0] === 'serve') parseServe(args.slice(1), lineEnv);
        else parseCommand(args);
        outcomes.push({ line: raw, ran: false, why });
      } catch (err) {
        outcomes.push({ line: raw, ran: false, why, problem: `the CLI refuses it: ${String(err)}` });
      }
      continue;
    }
    if (bg) {
      const port = args[args.indexOf('--port') + 1];
      const url = await startBackground(args.map((a, i) => (args[i - 1] === '--port' ? '0' : a)), dir, lineEnv);
      if (port) ports.set(port, new URL(url).port);
      outcomes.push({ line: raw, ran: true });
      continue;
    }
    // A cloud model without a key in the block's environment gets the test's emulator.
    const cloud = args.includes('--model') && args[args.indexOf('--model') + 1] !== 'local';
    const runEnv = cloud && !lineEnv.DASHSCOPE_API_KEY ? { ...lineEnv, DASHSCOPE_BASE_URL: emulator.url, DASHSCOPE_API_KEY: KEY } : lineEnv;
    const r = await run(process.execPath, [CLI, ...args], { cwd: dir, env: runEnv });
    const missing = outputsOf(args).filter((f) => {
      try {
        return statSync(join(dir, f)).size === 0;
      } catch {
        return true;
      }
    });
    const problem =
      r.code !== 0 ? `exit ${r.code}: ${r.stderr.trim()}` : r.stdout.trim() === '' && !args.includes('--emotion') ? 'printed nothing' : missing.length ? `did not write ${missing.join(', ')}` : undefined;
    outcomes.push({ line: raw, ran: true, ...(problem ? { problem } : {}) });
  }
  return outcomes;
}

/** Run one TypeScript block as it is (transpiled to JavaScript) in its own directory. */
async function runTsBlock(block: Fence): Promise<Outcome> {
  const dir = join(work, `ts-${block.line}`);
  mkdirSync(dir);
  provideInputs(block.code, dir, false);
  const js = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(dir, 'block.mjs'), js);
  const r = await run(process.execPath, ['block.mjs'], { cwd: dir, env: { ...process.env, DASHSCOPE_BASE_URL: emulator.url, DASHSCOPE_API_KEY: KEY } });
  const written = [...block.code.matchAll(/(?:toSrt|toVtt|toJsonl|createWriteStream)\('([^']+)'\)/g)].map((m) => m[1]!);
  const missing = written.filter((f) => {
    try {
      return !statSync(join(dir, f)).isFile();
    } catch {
      return true;
    }
  });
  const problem = r.code !== 0 ? `exit ${r.code}: ${r.stderr.trim()}` : missing.length ? `did not write ${missing.join(', ')}` : undefined;
  return { line: block.code.split('\n')[0]!, ran: true, ...(problem ? { problem } : {}) };
}

/** A TypeScript block that runs offline here: it reads files, subscribes, and needs no mic, RTP, Redis or earlier run. */
function runnableTs(block: Fence): boolean {
  if (/fromMic|fromRtp|earshot\/queue|earshot\/report/.test(block.code)) return false;
  return /\bawait\b|\.subscribe\(|pipeline\(/.test(block.code);
}

describe('the README, as written', () => {
  it('runs every earshot command it shows that can run offline, and the CLI accepts the rest', async () => {
    const blocks = readmeFences().filter((f) => f.lang === 'sh');
    // One process at a time: the suite already runs two test files at once on a 2-core machine.
    const outcomes: Outcome[] = [];
    for (const block of blocks) outcomes.push(...(await runShellBlock(block)));
    const ran = outcomes.filter((o) => o.ran).map((o) => o.line.trim());
    const parsed = outcomes.filter((o) => !o.ran).map((o) => `  ${o.line.trim()}  (${o.why})`);
    console.log(`README commands: ${ran.length} run, ${parsed.length} parsed:\n${parsed.join('\n')}`);
    expect(outcomes.filter((o) => o.problem).map((o) => `${o.line.trim()} → ${o.problem}`)).toEqual([]);
    expect(ran.length).toBeGreaterThanOrEqual(8);
    expect(ran).toEqual(expect.arrayContaining([expect.stringMatching(/^earshot emulator --port 8080 &/), expect.stringMatching(/--model fun-asr --diarize/), expect.stringMatching(/--channels separate/)]));
  }, 300_000);

  it('runs its TypeScript blocks that read files (cloud models through the emulator)', async () => {
    const blocks = readmeFences().filter((f) => f.lang === 'ts' && runnableTs(f));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const outcomes: Outcome[] = [];
    for (const block of blocks) outcomes.push(await runTsBlock(block));
    expect(outcomes.filter((o) => o.problem).map((o) => `${o.line} → ${o.problem}`)).toEqual([]);
    expect(readFileSync(join(work, `ts-${blocks[0]!.line}`, 'talk.srt'), 'utf8')).toMatch(/^1\n[\s\S]*cold/);
  }, 300_000);
});
