/** examples/serve-embedded.ts run as a user would: a Twilio call to its own WebSocket endpoint, captions out, clean stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { twilioCall } from '../../bench/call-clients.js';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { readJsonl, ulawOf, waitFor } from '../server/helpers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('examples/serve-embedded', () => {
  it('transcribes a Twilio call on its own endpoint, prints and writes the finals, and stops on SIGTERM', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'], leadMs: 400, gapsMs: [800], format: 'ulaw.wav', sampleRate: 8000 });
    const out = mkdtempSync(join(tmpdir(), 'earshot-embedded-'));
    const child = spawn(process.execPath, [built('examples/serve-embedded.js'), '0', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = (await waitFor(() => /listening on (ws:\/\/127\.0\.0\.1:\d+\/media)/.exec(stderr)?.[1], 30_000, 'the example to listen'))!;

    const result = await twilioCall({ url, ulaw: ulawOf(speech.path), callSid: 'CA-embedded', speed: 3 });
    expect(result.closeCode).toBe(1000);
    await waitFor(() => stderr.includes('call ended'), 60_000, 'the call to end');
    expect(stdout).toMatch(/^CA-embedded inbound: .*weather.*$/m);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const file = join(out, 'CA-embedded-inbound.jsonl');
    expect(existsSync(file)).toBe(true);
    expect(readJsonl(file).map((e) => e.text).join(' ')).toContain('weather');
  });
});
