/**
 * The progress line of `earshot transcribe`: its text (done of total, percent, × real time, ETA) on a virtual clock,
 * and the real CLI in a pseudo-terminal (stdout and stderr both the terminal, through util-linux `script`) on a
 * two-minute file: the progress is drawn, and no transcript line on the screen carries progress text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lastValueFrom, of, toArray } from 'rxjs';
import { ProgressDisplay } from '../../src/cli/progress.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { ROOT } from '../helpers/dist.js';
import { CLI, repeatedSample } from '../helpers/cli.js';

const run = promisify(execFile);

/** What a terminal shows, line by line: `\r` goes back to the line's start, `ESC[2K` clears it, text overwrites. */
function screenLines(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\n') {
      lines.push(line.join('').trimEnd());
      line = [];
      col = 0;
    } else if (ch === '\r') col = 0;
    else if (raw.startsWith('\x1b[2K', i)) {
      line = [];
      i += 3;
    } else {
      line[col++] = ch;
    }
  }
  if (line.length) lines.push(line.join('').trimEnd());
  return lines;
}

/** Run the CLI with stdout and stderr on a pseudo-terminal; resolves to everything the terminal received. */
async function inTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const { stdout } = await run('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, COLUMNS: '200' } });
  return stdout;
}

const final = (text: string, startMs: number, endMs: number): TranscriptEvent => ({ type: 'final', text, startMs, endMs });

describe('the progress text', () => {
  it('says done of total, percent, speed and time left', async () => {
    let now = 0;
    const written: string[] = [];
    const display = new ProgressDisplay({ write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream, () => now);
    display.totalMs = 641_000;
    expect(display.text()).toBe('earshot: 0:00 of 10:41 (0%)');
    now = 10_500;
    await lastValueFrom(of(final('hello', 0, 105_000)).pipe(display.events(), toArray()));
    expect(display.text()).toBe('earshot: 1:45 of 10:41 (16%) · 10× real time · ETA 0:53');
    display.phase('running (RUNNING)');
    expect(display.text()).toContain('· running (RUNNING)');
    expect(written.at(-1)).toBe(`\r\x1b[2K${display.text().replace(' · running (RUNNING)', '')}`); // drawn when the event came
    display.stop();
    expect(written.at(-1)).toBe('\r\x1b[2K');
    display.totalMs = undefined;
    expect(display.text()).toBe('earshot: 1:45 transcribed · 10× real time · running (RUNNING)');
  });
});

describe('earshot transcribe in a terminal', () => {
  let dir: string;
  let long: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'earshot-progress-'));
    long = repeatedSample(dir, 13);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('draws progress on stderr and never on a transcript line (2 minutes of audio)', async () => {
    const jsonl = join(dir, 'long.jsonl');
    const raw = await inTerminal(['transcribe', long, '--jsonl', jsonl]);
    const finals = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TranscriptEvent).filter((e) => e.type === 'final');
    expect(finals.length).toBeGreaterThan(3);
    // progress was drawn, with its total, percent and speed
    expect(raw).toMatch(/earshot: \d+:\d\d of 2:0\d \(\d+%\) · [\d.]+× real time/);
    expect(raw).toMatch(/ETA \d+:\d\d/);
    const screen = screenLines(raw).filter((l) => l !== '');
    // every final is a line of its own on the screen, and no line mixes transcript and progress
    for (const e of finals) expect(screen).toContain(e.text);
    for (const line of screen) {
      if (!line.includes('earshot:')) continue;
      expect(line, line).toMatch(/^earshot: \d+:\d\d (of|transcribed)/);
      expect(finals.some((e) => line.includes(e.text.slice(0, 20))), line).toBe(false);
    }
    // the progress line is cleared at the end: the screen ends on the transcript
    expect(screen.at(-1)).toBe(finals.at(-1)!.text);
  });

  it('is silent with -q', async () => {
    const raw = await inTerminal(['transcribe', 'samples/sample.wav', '-q']);
    expect(raw).not.toContain('earshot:');
    expect(raw).toContain('the weather will be cold');
  });
});
