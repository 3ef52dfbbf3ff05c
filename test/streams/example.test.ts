/** examples/streams-and-rx.ts, run as a user would (through tsx), on the bundled sample. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { wer } from '../helpers/speech.js';
import { parseSrt, parseVtt } from '../sinks/parse-captions.js';
import { tempDir } from '../sinks/helpers.js';

const ROOT = resolve(__dirname, '../..');

describe('examples/streams-and-rx', () => {
  it('writes SRT through Node streams, VTT and JSONL through RxJS, and prints the finals', async () => {
    const tmp = tempDir();
    try {
      const out = join(tmp.dir, 'sample');
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/streams-and-rx.ts'), join(ROOT, 'samples/sample.wav'), out], { cwd: ROOT, timeout: 120_000 });
      const reference = readFileSync(join(ROOT, 'samples/sample.txt'), 'utf8');
      const printed = stdout.replace(/^\s*[\d.]+s\s+/gm, '');
      // The engine's own accuracy on this sample (~0.3 WER live) is not what this test is about: plumbing is.
      expect(wer(reference, printed)).toBeLessThanOrEqual(0.4);
      const srt = parseSrt(readFileSync(`${out}.srt`, 'utf8'));
      const vtt = parseVtt(readFileSync(`${out}.vtt`, 'utf8'));
      expect(srt.length).toBeGreaterThan(0);
      expect(vtt.map((c) => c.text)).toEqual(srt.map((c) => c.text));
      const lines = readFileSync(`${out}.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      expect(lines.every((l) => l.type === 'final')).toBe(true);
      expect(lines.map((l) => (l as { text?: string }).text).join(' ').trim()).toBe(printed.trim().split('\n').join(' '));
    } finally {
      tmp.cleanup();
    }
  });
});
