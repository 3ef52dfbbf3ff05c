import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { parseSrt, parseVtt } from './parse-captions.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir()));
afterEach(() => tmp.cleanup());

describe('a killed process leaves valid files', () => {
  it('SIGKILL mid-run: SRT and VTT end at a complete cue, JSONL holds whole lines', async () => {
    const base = join(tmp.dir, 'crash');
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'crash-writer.ts'), base], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolveReady, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolveReady());
      child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const srt = readFileSync(`${base}.srt`, 'utf8');
    // A kill can land between two cues only: each cue is one write. (parseSrt throws on a half-written cue.)
    expect(parseSrt(srt).length).toBeGreaterThan(100);
    expect(() => parseVtt(readFileSync(`${base}.vtt`, 'utf8'))).not.toThrow();
    const jsonl = readFileSync(`${base}.jsonl`, 'utf8');
    expect(jsonl === '' || jsonl.endsWith('\n')).toBe(true);
    for (const line of jsonl.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });
});
