/**
 * `earshot serve` as a user runs it: the built CLI spawned on 127.0.0.1:0 with `--out`, a Twilio call streaming flite
 * speech, then SIGTERM while the call is still open: the call's finals in flight are delivered, its files flushed
 * (whole lines), the media server gets close 1001, and the process exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { local } from '../../src/transports/local.js';
import { twilioCall } from '../../bench/call-clients.js';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { finalsText, get, metric, parseMetrics, readJsonl, transcribeLikeACall, ulawOf, waitFor } from './helpers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('earshot serve', () => {
  it('drains on SIGTERM: finals in flight delivered, files flushed, close 1001, exit 0', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['slt'], leadMs: 400, gapsMs: [1200], format: 'ulaw.wav', sampleRate: 8000 });
    const ulaw = ulawOf(speech.path);
    const out = mkdtempSync(join(tmpdir(), 'earshot-serve-cli-'));
    const child = spawn(process.execPath, [built('src/cli/main.js'), 'serve', '--port', '0', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const base = (await waitFor(() => /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1], 30_000, 'the server to listen'))!;

    const call = twilioCall({ url: `${base.replace('http', 'ws')}/twilio`, ulaw, callSid: 'CA-sigterm', speed: 3, hangUp: false });
    // All the audio is in (the socket stays open, as on a live call): now stop the server.
    await waitFor(async () => metric(parseMetrics((await get(`${base}/metrics`)).body), 'earshot_audio_seconds_total', { protocol: 'twilio' }) >= ulaw.length / 8000 - 0.05, 60_000, 'the audio');
    child.kill('SIGTERM');
    const result = await call;
    expect(await exited).toBe(0);
    expect(result.closeCode).toBe(1001);
    expect(stderr).toContain('draining 1 call');

    const raw = readFileSync(join(out, 'CA-sigterm.jsonl'), 'utf8');
    expect(raw.endsWith('\n')).toBe(true);
    const finals = readJsonl(join(out, 'CA-sigterm.jsonl'));
    // The second sentence was still being recognised when SIGTERM came: its final is in the file.
    expect(finals[finals.length - 1]!.endMs).toBeGreaterThan(speech.segments[1]!.voicedStartMs + 500);
    // …and the text is that of the same audio transcribed from a file (within 2 WER points): nothing was cut off.
    const engine = local({ size: 1 });
    try {
      const reference = await transcribeLikeACall(speech.path, engine);
      expect(wer(speech.text, finalsText(finals))).toBeLessThanOrEqual(wer(speech.text, finalsText(reference)) + 0.02);
    } finally {
      await engine.close();
    }
    expect(readFileSync(join(out, 'CA-sigterm.srt'), 'utf8')).toMatch(/^1\r?\n/);
  }, 300_000); // the engine on a loaded 2-core machine

  it('refuses, with a coded line and exit 2, to listen beyond loopback without a token, and unknown flags', async () => {
    const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [built('src/cli/main.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EARSHOT_TOKEN: '' } });
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const open = await run(['--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/^EARSHOT_INVALID_ARGUMENT: listening on 0\.0\.0\.0 \(beyond loopback\) needs a token/);
    const bogus = await run(['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^EARSHOT_INVALID_ARGUMENT: /);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('/jambonz/stt');
  });
});
