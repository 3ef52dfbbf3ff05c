import { execFile, execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-channels-'));

/** A stereo call: one voice on the left, another on the right starting 1 s later, so the two talk over each other. */
function stereoCall(): { path: string; left: string; right: string } {
  const left = makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['rms'], leadMs: 300, gapsMs: [500] });
  const right = makeSpeech({ sentences: SENTENCES.slice(2, 4), voices: ['slt'], leadMs: 1300, gapsMs: [400] });
  const path = join(dir, 'call.wav');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', left.path, '-i', right.path, '-filter_complex', '[0:a][1:a]amerge=inputs=2[a]', '-map', '[a]', '-ac', '2', path]);
  return { path, left: left.text, right: right.text };
}

/** The real CLI; with `stdin`, that file is piped to it. */
async function transcribe(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<TranscriptEvent[]> {
  const jsonl = join(dir, `${args.join('-').replace(/[^a-z0-9-]/gi, '')}.jsonl`);
  const run = promisify(execFile)(process.execPath, [built('src/cli/main.js'), 'transcribe', ...args, '--jsonl', jsonl, '--quiet'], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 300_000 });
  if (stdin) createReadStream(stdin).pipe(run.child.stdin!);
  await run;
  return readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TranscriptEvent).filter((e) => e.type === 'final');
}

function expectTwoSides(events: TranscriptEvent[], call: { left: string; right: string }): void {
  const side = (c: number): string => events.filter((e) => e.channel === c).map((e) => e.text).join(' ');
  expect(events.every((e) => e.channel === 0 || e.channel === 1)).toBe(true);
  expect(new Set(events.map((e) => e.speaker))).toEqual(new Set(['caller', 'agent']));
  for (const e of events) expect(e.speaker).toBe(e.channel === 0 ? 'caller' : 'agent');
  // Each side holds its own words, not the other's, although they overlap in time.
  expect(wer(call.left, side(0))).toBeLessThanOrEqual(0.3);
  expect(wer(call.right, side(1))).toBeLessThanOrEqual(0.3);
  expect(wer(call.right, side(0))).toBeGreaterThan(0.7);
  expect(wer(call.left, side(1))).toBeGreaterThan(0.7);
}

describe('earshot transcribe --channels separate', () => {
  it('a stereo call with overlapping speech gives two event streams with each side’s words (embedded engine, FLAC on stdin)', async () => {
    const call = stereoCall();
    // stdin cannot be probed by path: its channel count comes from its first bytes (the file path is tested below).
    const flac = join(dir, 'call.flac');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', call.path, flac]);
    const events = await transcribe(['-', '--channels', 'separate', '--channel-names', 'caller,agent'], {}, flac);
    expectTwoSides(events, call);
  }, 320_000);

  it('stdin that is not audio fails with one coded line naming stdin, not a temporary file', async () => {
    const notAudio = join(dir, 'not-audio.txt');
    writeFileSync(notAudio, 'hello, this is text\n'.repeat(100));
    const err = await transcribe(['-', '--channels', 'separate'], {}, notAudio).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr.trim()).toMatch(/^EARSHOT_CORRUPT_INPUT: .*stdin/);
    expect(err?.stderr).not.toContain('earshot-stdin-');
  });

  it('the same through the emulator: fun-asr and filetrans (channel_id lists both, one transcript each), fun-asr-realtime (one session each)', async () => {
    const call = stereoCall();
    const { startEmulator } = await import('../../src/emulator/server.js');
    const emulator = await startEmulator({ apiKeys: ['sk-channels-test'] });
    try {
      const env = { DASHSCOPE_API_KEY: 'sk-channels-test', DASHSCOPE_BASE_URL: emulator.url };
      for (const model of ['fun-asr', 'qwen3-asr-flash-filetrans', 'fun-asr-realtime']) {
        expectTwoSides(await transcribe([call.path, '--model', model, '--channels', 'separate', '--channel-names', 'caller,agent'], env), call);
      }
    } finally {
      await emulator.close();
    }
  }, 320_000);

  /**
   * The stereo call through qwen3-asr-flash on a scripted emulator: what is checked is which channel each event comes
   * from, not the words (the tests above check those).
   */
  async function scriptedChannels(extra: string[]): Promise<TranscriptEvent[]> {
    const { startEmulator } = await import('../../src/emulator/server.js');
    const emulator = await startEmulator({ apiKeys: ['sk-channels-test'], script: [{ text: 'one side' }, { text: 'the other side' }] });
    try {
      const env = { DASHSCOPE_API_KEY: 'sk-channels-test', DASHSCOPE_BASE_URL: emulator.url };
      const events = await transcribe([stereoCall().path, '--model', 'qwen3-asr-flash', '--channels', 'separate', '--channel-names', 'caller,agent', ...extra], env);
      expect(new Set(events.map((e) => e.channel))).toEqual(new Set([0, 1]));
      return events;
    } finally {
      await emulator.close();
    }
  }

  it('with --diarize, the speakers found on a channel keep its name ("caller (Speaker 1)"), not a bare "Speaker 1" on both sides', async () => {
    for (const e of await scriptedChannels(['--diarize'])) expect(e.speaker).toMatch(e.channel === 0 ? /^caller \(Speaker \d+\)$/ : /^agent \(Speaker \d+\)$/);
  });

  it('batch models that hear one mixed channel (compatible mode: qwen3-asr-flash, Omni) get each channel as its own clips, not the file mixed', async () => {
    for (const e of await scriptedChannels([])) expect(e.speaker).toBe(e.channel === 0 ? 'caller' : 'agent');
  });
});
