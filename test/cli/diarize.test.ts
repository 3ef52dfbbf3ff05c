import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';
import { startEmulator } from '../../src/emulator/server.js';
import { runCli } from '../helpers/cli.js';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';

describe('earshot --diarize', () => {
  it('one speaker timeline over the whole input: fun-asr in near-realtime (not a "Speaker 1" per window)', async () => {
    // Two voices taking turns, a sentence each, with pauses long enough for each sentence to be its own window: the
    // service, asked per window, hears one voice in each and calls it Speaker 1 every time.
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 4), voices: ['rms', 'slt'], leadMs: 300, gapsMs: [900, 900, 900] });
    const emulator = await startEmulator({ apiKeys: ['sk-diarize-test'], script: SENTENCES.slice(0, 4).map((text) => ({ text })) });
    const jsonl = join(mkdtempSync(join(tmpdir(), 'earshot-cli-diarize-')), 'out.jsonl');
    try {
      const env = { ...process.env, DASHSCOPE_API_KEY: 'sk-diarize-test', DASHSCOPE_BASE_URL: emulator.url };
      const args = ['transcribe', speech.path, '--model', 'fun-asr', '--mode', 'near-realtime', '--diarize', '--jsonl', jsonl, '--quiet'];
      await promisify(execFile)(process.execPath, [built('src/cli/main.js'), ...args], { cwd: ROOT, env, timeout: 60_000 });
    } finally {
      await emulator.close();
    }
    const finals = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TranscriptEvent).filter((e) => e.type === 'final');
    const byVoice = new Map<string, Set<string | undefined>>();
    for (const e of finals) {
      const mid = (e.startMs + e.endMs) / 2;
      const voice = speech.segments.find((s) => mid >= s.startMs - 200 && mid <= s.endMs + 200)?.voice ?? 'none';
      byVoice.set(voice, (byVoice.get(voice) ?? new Set()).add(e.speaker));
    }
    // Each voice one label, the two voices two different ones. (A model without labels of its own goes through
    // diarize() too: the local --diarize run of test/operators/diarize.test.ts.)
    expect([...byVoice.keys()].sort()).toEqual(['rms', 'slt']);
    expect([...byVoice.values()].map((s) => s.size)).toEqual([1, 1]);
    expect(new Set([...byVoice.values()].map((s) => [...s][0])).size).toBe(2);
  }, 90_000);

  it('earshot live refuses --diarize on fun-asr too, as on the models without labels (it would label each window on its own)', async () => {
    const r = await runCli(['live', '--mic', '--model', 'fun-asr', '--diarize']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^EARSHOT_CAPABILITY_MISSING: model fun-asr does not support diarization of live audio/);
  });
});
