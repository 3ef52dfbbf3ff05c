import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';

/** `earshot emulator <args>` until it has printed its lines to paste; then Ctrl-C. */
async function printed(args: string[]): Promise<string[]> {
  const child = spawnCli(['emulator', '--port', '0', ...args]);
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 3) resolve();
      });
      child.once('exit', (code) => reject(new Error(`emulator exited (${code}): ${out}`)));
    });
  } finally {
    child.kill('SIGINT');
  }
  return out.trim().split('\n').slice(1);
}

describe('earshot emulator', () => {
  it('prints lines that a shell takes as they are: the settings, and comments', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'earshot-emulator-cli-')), 'script.json');
    writeFileSync(script, JSON.stringify([{ text: 'hello' }])); // no engine needed to start
    const anyKey = await printed(['--script', script]);
    const shell = (lines: string[]): string => execFileSync('bash', ['-c', `${lines.join('\n')}\necho "$DASHSCOPE_BASE_URL $DASHSCOPE_API_KEY"`], { encoding: 'utf8', env: { PATH: process.env.PATH } }).trim();
    expect(shell(anyKey)).toMatch(/^http:\/\/127\.0\.0\.1:\d+ sk-anything$/);
    const ownKey = await printed(['--script', script, '--api-key', 'sk-only-this-one']);
    expect(shell(ownKey)).toMatch(/^http:\/\/127\.0\.0\.1:\d+ ?$/);
    expect(ownKey.join('\n')).not.toContain('sk-only-this-one'); // the key is not echoed
  });
});
