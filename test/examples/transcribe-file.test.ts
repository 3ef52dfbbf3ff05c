/** examples/transcribe-file.ts, run as a user would (compiled by `npm test`), on the bundled sample. */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { wer } from '../helpers/speech.js';
import { built, ROOT } from '../helpers/dist.js';


describe('examples/transcribe-file', () => {
  it('transcribes the bundled sample to text, SRT and JSONL', async () => {
    const EXAMPLE = built('examples/transcribe-file.js');
    const out = join(mkdtempSync(join(tmpdir(), 'earshot-ex-')), 'sample');
    const { stdout } = await promisify(execFile)(process.execPath, [EXAMPLE, join(ROOT, 'samples/sample.wav'), out], { timeout: 120_000 });
    expect(wer(readFileSync(join(ROOT, 'samples/sample.txt'), 'utf8'), stdout)).toBeLessThanOrEqual(0.2);
    expect(readFileSync(`${out}.srt`, 'utf8')).toMatch(/^1\n/);
    expect(readFileSync(`${out}.jsonl`, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });
});
