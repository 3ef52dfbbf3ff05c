import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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

async function transcribe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<TranscriptEvent[]> {
  const jsonl = join(dir, `${args.join('-').replace(/[^a-z0-9-]/gi, '')}.jsonl`);
  await promisify(execFile)(process.execPath, [built('src/cli/main.js'), 'transcribe', ...args, '--jsonl', jsonl, '--quiet'], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 300_000 });
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
  it('a stereo call with overlapping speech gives two event streams with each side’s words (embedded engine)', async () => {
    const call = stereoCall();
    const events = await transcribe([call.path, '--channels', 'separate', '--channel-names', 'caller,agent']);
    expectTwoSides(events, call);
  }, 320_000);

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
});
