import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';

describe('scripts/quickstart.sh', () => {
  it('run from another directory, takes the file given there and writes sample.srt and sample.jsonl there', async () => {
    built('src/cli/main.js'); // the suite has built; the script's own build is skipped here
    const dir = mkdtempSync(join(tmpdir(), 'earshot-quickstart-'));
    copyFileSync(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path, join(dir, 'mine.wav'));
    const { stdout } = await promisify(execFile)('bash', [join(ROOT, 'scripts/quickstart.sh'), 'mine.wav'], {
      cwd: dir,
      env: { ...process.env, EARSHOT_SKIP_BUILD: '1' },
      timeout: 60_000,
    });
    expect(stdout).toContain('weather');
    expect(readFileSync(join(dir, 'sample.srt'), 'utf8')).toContain('weather');
    expect(readFileSync(join(dir, 'sample.jsonl'), 'utf8')).toContain('"type":"final"');
  }, 70_000);
});
