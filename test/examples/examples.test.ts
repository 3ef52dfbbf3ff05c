/**
 * examples/ as a user gets them: each imports earshot by its package name only (so it can be copied into a project
 * as it is), and runs from this repository as compiled by `npm test` (`'earshot'` resolves to dist/ through the
 * package's own `exports`). transcribe-file and streams-and-rx run here on 2.4 s of the bundled sample, side by
 * side; twilio-captions (test/examples/twilio-captions.test.ts) and media-server (test/rtp/media-server-example.test.ts)
 * have their own.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { built, ROOT } from '../helpers/dist.js';
import { shortSample } from '../helpers/cli.js';

const run = promisify(execFile);
const EXAMPLES = join(ROOT, 'examples');

describe('examples/', () => {
  it('import earshot by its name (entry points of its exports map), Node built-ins and its dependencies only', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; dependencies: Record<string, string> };
    const allowed = new Set([...Object.keys(pkg.exports).map((k) => k.replace(/^\./, 'earshot')), ...Object.keys(pkg.dependencies)]);
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const specifiers = [...readFileSync(join(EXAMPLES, f), 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)].map((m) => m[1]!);
      expect(specifiers, f).toContain('earshot');
      const odd = specifiers.filter((s) => !allowed.has(s) && !(s.startsWith('node:') && builtinModules.includes(s.slice(5))));
      expect(odd, f).toEqual([]);
    }
  });

  it.concurrent('transcribe-file: a file to text, SRT and JSONL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-ex-'));
    const out = join(dir, 'short');
    const { stdout } = await run(process.execPath, [built('examples/transcribe-file.js'), shortSample(dir), out], { timeout: 120_000 });
    expect(stdout).toMatch(/^the weather will be cold/);
    expect(readFileSync(`${out}.srt`, 'utf8')).toMatch(/^1\n/);
    expect(readFileSync(`${out}.jsonl`, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });

  it.concurrent('streams-and-rx: one engine, a Node stream pipeline to SRT and an RxJS pipeline to WebVTT and JSONL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-ex-'));
    const out = join(dir, 'short');
    const { stdout } = await run(process.execPath, [built('examples/streams-and-rx.js'), shortSample(dir), out], { timeout: 120_000 });
    expect(stdout).toMatch(/^\d+\.\d\ds {2}the weather will be cold/m);
    expect(readFileSync(`${out}.srt`, 'utf8')).toMatch(/^1\n[\s\S]*weather/);
    expect(readFileSync(`${out}.vtt`, 'utf8')).toMatch(/^WEBVTT[\s\S]*weather/);
    expect(readFileSync(`${out}.jsonl`, 'utf8')).toMatch(/"type":"final","text":"the weather/);
  });
});
