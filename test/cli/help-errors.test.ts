/**
 * The real `earshot` binary as a newcomer meets it: each command's own help, and failures that say what to do, in
 * CLI terms (the flag or variable to set), with their codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/dist.js';
import { runCli } from '../helpers/cli.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'earshot-errors-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The one line of a failed run, checked to be the only one. */
function failureLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

describe('each command prints its own help', () => {
  it.each([
    ['transcribe', ['Usage: earshot transcribe <input>', '--model', '--mode', '--srt', '--vtt', '--jsonl', '--pace', '--codec', 'rtp://', 'DASHSCOPE_API_KEY', 'DASHSCOPE_BASE_URL', 'EARSHOT_DEBUG', 'exits 130']],
    ['live', ['Usage: earshot live --mic', '--mic-command', 's16le', '--mode', '--srt', 'EARSHOT_DEBUG']],
    ['emulator', ['Usage: earshot emulator', '--port', '--host', '--api-key', '--script', '--allow-host', 'DASHSCOPE_BASE_URL']],
    ['models', ['Usage: earshot models', '--json']],
    ['report', ['earshot report <input>', '--out', '--events', 'except --channels']],
    ['worker', ['earshot worker --queue', '--concurrency', '--rate', 'bullmq']],
    ['submit', ['earshot submit <file|url> --queue', '--id']],
    ['status', ['earshot status <id> --queue', '--json']],
    ['result', ['earshot result <id> --queue', '--srt', '--jsonl']],
  ])('earshot %s --help', async (command, words) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const word of words) expect(r.stdout, word).toContain(word);
    expect(r.stdout).not.toContain('Usage:\n  earshot transcribe <input> [options]'); // not the general help
  });

  it('earshot help <command> is the same, and the general help says so', async () => {
    expect((await runCli(['help', 'emulator'])).stdout).toContain('--script');
    expect((await runCli(['--help'])).stdout).toContain('earshot <command> --help');
  });
});

describe('failures that say what to do', () => {
  it('a directory as input says it is a directory', async () => {
    const folder = join(dir, 'talks');
    mkdirSync(folder);
    const r = await runCli(['transcribe', folder]);
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toBe(`EARSHOT_FILE_NOT_FOUND: cannot open ${folder}: it is a directory, not a file`);
  });

  it('a missing file is named by the path given', async () => {
    const r = await runCli(['transcribe', 'samples/nosuch.wav']);
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toBe('EARSHOT_FILE_NOT_FOUND: cannot open samples/nosuch.wav: no such file');
  });

  it('text named .wav is not audio: EARSHOT_CORRUPT_INPUT, as the README says', async () => {
    const notes = join(dir, 'notes.wav');
    writeFileSync(notes, 'these are my meeting notes, not audio at all\n'.repeat(50));
    const r = await runCli(['transcribe', notes]);
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toMatch(new RegExp(`^EARSHOT_CORRUPT_INPUT: ffmpeg could not decode ${notes}: not audio, or damaged: `));
    const readme = execFileSync('grep', ['^| `EARSHOT_CORRUPT_INPUT`', join(ROOT, 'README.md')], { encoding: 'utf8' });
    expect(readme).toContain('not audio at all');
  });

  it('an M4A on stdin whose index sits at its end says to give its path', async () => {
    const m4a = join(dir, 'talk.m4a');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', join(ROOT, 'samples/sample.wav'), '-c:a', 'aac', m4a]);
    const r = await runCli(['transcribe', '-'], {}, 60_000, m4a);
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toMatch(/^EARSHOT_CORRUPT_INPUT: input: an MP4\/M4A whose index comes after its audio cannot be read from a pipe: give its path instead/);
    expect((await runCli(['transcribe', m4a, '-q'])).stdout).toContain('the weather will be cold');
  });

  it('an empty file is EARSHOT_EMPTY_INPUT', async () => {
    const empty = join(dir, 'empty.mp3');
    writeFileSync(empty, '');
    const r = await runCli(['transcribe', empty]);
    expect(failureLine(r.stderr)).toBe(`EARSHOT_EMPTY_INPUT: ${empty} is empty`);
  });

  it('a model typo suggests the closest id (usage error, exit 2)', async () => {
    const r = await runCli(['transcribe', 'samples/sample.wav', '--model', 'fun-asr-realtme']);
    expect(r.code).toBe(2);
    expect(failureLine(r.stderr)).toMatch(/^EARSHOT_UNKNOWN_MODEL: unknown model "fun-asr-realtme" \(did you mean "fun-asr-realtime"\?\); known: local, /);
    const far = await runCli(['transcribe', 'samples/sample.wav', '--model', 'whisper-large-v3']);
    expect(failureLine(far.stderr)).not.toContain('did you mean');
  });

  it('a missing key names the variable and the offline alternative, not a library option', async () => {
    const r = await runCli(['transcribe', 'samples/sample.wav', '--model', 'fun-asr'], { DASHSCOPE_API_KEY: '' });
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toBe('EARSHOT_MISSING_API_KEY: model fun-asr runs in Qwen Cloud and needs a key: set DASHSCOPE_API_KEY (or use the offline engine: --model local)');
  });

  it('no ffmpeg says to install it, not to pass a path', async () => {
    const mp3 = join(dir, 'talk.mp3');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', join(ROOT, 'samples/sample.wav'), mp3]);
    const r = await runCli(['transcribe', mp3], { PATH: join(dir, 'no-programs-here') });
    expect(r.code).toBe(1);
    expect(failureLine(r.stderr)).toBe('EARSHOT_FFMPEG_MISSING: cannot run ffmpeg: install ffmpeg (it brings ffprobe; apt-get install ffmpeg) and make sure it is on PATH');
  });

  it('an unreachable cloud host names the base URL tried and how to change it (HTTP and WebSocket models)', async () => {
    const base = `http://127.0.0.1:${await closedPort()}`;
    const env = { DASHSCOPE_API_KEY: 'sk-unreachable-test-key', DASHSCOPE_BASE_URL: base };
    for (const model of ['fun-asr', 'fun-asr-realtime']) {
      const r = await runCli(['transcribe', 'samples/sample.wav', '--model', model, '-q'], env);
      expect(r.code, model).toBe(1);
      const line = failureLine(r.stderr);
      expect(line, model).toMatch(/^EARSHOT_CONNECTION_LOST: /);
      expect(line, model).toContain(`ECONNREFUSED`);
      expect(line, model).toContain(`; tried ${base} (from DASHSCOPE_BASE_URL): set DASHSCOPE_BASE_URL to the service's base URL`);
      expect(line).not.toContain('sk-unreachable-test-key');
    }
  });
});
