/**
 * Unix manners of the real `earshot` binary: a reader that goes away (`| head -1`) ends the command quietly, no
 * arguments is a usage error, and Ctrl-C on a file stops it with every output flushed to the last complete event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repeatedSample, runCli, spawnCli } from '../helpers/cli.js';
import { parseSrt, parseVtt } from '../sinks/parse-captions.js';

interface Final {
  type: string;
  text: string;
  startMs: number;
  endMs: number;
}

let dir: string;
/** The bundled sample 18 times over as MP3 (decoded by ffmpeg): 2:50 of speech. */
let long: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'earshot-unix-'));
  long = repeatedSample(dir, 18);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Children of a process (ffmpeg, …), by pid. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exitOf(child: { once(event: 'close', fn: (code: number | null) => void): unknown }): Promise<number | null> {
  return new Promise((resolve) => child.once('close', resolve));
}

function finals(path: string): Final[] {
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Final).filter((e) => e.type === 'final');
}

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

describe('a closed stdout', () => {
  it('ends `earshot models | head -1` with exit code 0 and nothing on stderr', async () => {
    const child = spawnCli(['models']);
    child.stdout.destroy(); // the reader is gone before the first write: every write meets EPIPE
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    expect(await exitOf(child)).toBe(0);
    expect(stderr).toBe('');
  });

  it('stops `earshot transcribe long.mp3 -q | head -1`: exit code 0, no EARSHOT_SINK_FAILED, its ffmpeg gone, files whole', async () => {
    const jsonl = join(dir, 'head.jsonl');
    const srt = join(dir, 'head.srt');
    const child = spawnCli(['transcribe', long, '-q', '--mode', 'near-realtime', '--jsonl', jsonl, '--srt', srt]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = exitOf(child);
    const helpers = await new Promise<number[]>((resolve) => {
      let seen = '';
      child.stdout.on('data', (d: Buffer) => {
        seen += d;
        if (!seen.includes('\n')) return;
        const pids = childrenOf(child.pid!);
        child.stdout.destroy(); // `head -1` has its line and exits
        resolve(pids);
      });
    });
    expect(helpers.length).toBeGreaterThan(0); // ffmpeg decoding the file
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    for (const pid of helpers) expect(alive(pid), `process ${pid} left behind`).toBe(false);
    // the work stopped well before the end of the 3-minute file, and the files end on whole records
    const written = finals(jsonl);
    expect(written.length).toBeGreaterThan(0);
    expect(written.at(-1)!.endMs).toBeLessThan(120_000);
    expect(parseSrt(readFileSync(srt, 'utf8')).length).toBeGreaterThan(0);
  });
});

describe('no arguments', () => {
  it('prints the usage on stderr and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^earshot — /);
    expect(r.stderr).toContain('Usage:');
  });
});

describe('Ctrl-C on a file', () => {
  it('stops with one line saying where, and SRT, WebVTT and JSONL all end at the same last final', async () => {
    const srt = join(dir, 'int.srt');
    const vtt = join(dir, 'int.vtt');
    const jsonl = join(dir, 'int.jsonl');
    const child = spawnCli(['transcribe', long, '--srt', srt, '--vtt', vtt, '--jsonl', jsonl]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = exitOf(child);
    await new Promise<void>((resolve) => {
      let lines = 0;
      child.stdout.on('data', (d: Buffer) => {
        lines += d.toString().split('\n').length - 1;
        if (lines >= 2) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/^EARSHOT_ABORTED: stopped at \d+:\d\d of 2:5\d; captions flushed\n$/);

    const written = finals(jsonl);
    const last = written.at(-1)!;
    const reached = Math.floor(last.endMs / 1000);
    expect(stderr).toContain(`stopped at ${Math.floor(reached / 60)}:${String(reached % 60).padStart(2, '0')} of`);
    expect(last.endMs).toBeLessThan(160_000); // stopped, not finished
    // every word of every final is in the captions, the last one included: no cue left behind
    const said = written.flatMap((e) => words(e.text));
    const srtCues = parseSrt(readFileSync(srt, 'utf8'));
    const vttCues = parseVtt(readFileSync(vtt, 'utf8'));
    expect(srtCues.flatMap((c) => words(c.text))).toEqual(said);
    expect(vttCues.flatMap((c) => words(c.text))).toEqual(said);
    expect(srtCues.at(-1)!.endMs).toBeGreaterThanOrEqual(last.endMs);
  });
});
