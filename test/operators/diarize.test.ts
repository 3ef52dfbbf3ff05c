import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';
import { diarize, splitBySpeaker } from '../../src/operators/diarize.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { decode } from '../../src/operators/decode.js';
import { fromFile } from '../../src/sources/file.js';
import { local } from '../../src/transports/local.js';
import { diarize as diarizeAudio, speakerAt } from '../../src/media/speakers.js';
import { built, ROOT } from '../helpers/dist.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';

const finals = (events: TranscriptEvent[]): TranscriptEvent[] => events.filter((e) => e.type === 'final');

describe('diarize() operator', () => {
  it('splits a final at a speaker change and labels each part from its words', () => {
    const words = [
      { text: 'hello', startMs: 0, endMs: 400 },
      { text: 'there', startMs: 450, endMs: 900 },
      { text: 'hi', startMs: 1300, endMs: 1600 },
    ];
    const turns = [{ startMs: 0, endMs: 1000, speaker: 0 }, { startMs: 1200, endMs: 2000, speaker: 1 }];
    const out = splitBySpeaker({ type: 'final', text: 'hello there hi', startMs: 0, endMs: 1600, words }, turns, (n) => `S${n}`);
    expect(out.map((e) => [e.speaker, e.text, e.startMs, e.endMs])).toEqual([['S0', 'hello there', 0, 900], ['S1', 'hi', 1300, 1600]]);
    expect(splitBySpeaker({ type: 'final', text: 'x', startMs: 1250, endMs: 1500 }, turns, (n) => `S${n}`)[0]!.speaker).toBe('S1');
    expect(() => diarize((s) => s as never, { speakers: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('a three-speaker flite conversation through the embedded engine gets three labels, each final inside one voice', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 6), voices: ['rms', 'slt', 'awb'], leadMs: 300, gapsMs: [600, 400, 800] });
    const engine = local({ size: 1 });
    try {
      const events = await lastValueFrom(fromFile(speech.path).pipe(decode({ sampleRate: 16000, channels: 1 }), diarize(transcribe(engine)), toArray()));
      const labelled = finals(events);
      expect(new Set(labelled.map((e) => e.speaker))).toEqual(new Set(['Speaker 1', 'Speaker 2', 'Speaker 3']));
      // Each voice's sentences carry one label, and the three voices three different ones.
      const byVoice = new Map<string, Set<string>>();
      for (const e of labelled) {
        const mid = (e.startMs + e.endMs) / 2;
        const seg = speech.segments.find((s) => mid >= s.startMs - 200 && mid <= s.endMs + 200);
        if (seg) byVoice.set(seg.voice, (byVoice.get(seg.voice) ?? new Set()).add(e.speaker!));
        if (seg) expect(e.startMs, e.text).toBeGreaterThanOrEqual(seg.startMs - 300);
        if (seg) expect(e.endMs, e.text).toBeLessThanOrEqual(seg.endMs + 300);
      }
      expect([...byVoice.values()].map((s) => s.size)).toEqual([1, 1, 1]);
      expect(new Set([...byVoice.values()].map((s) => [...s][0])).size).toBe(3);
    } finally {
      await engine.close();
    }
  }, 120_000);

  it('`earshot transcribe --diarize` with local on a real two-speaker conversation: two labels, no final across a turn change', async () => {
    const file = join(ROOT, 'samples/real/conversation/pyannote-sample.flac');
    const jsonl = join(mkdtempSync(join(tmpdir(), 'earshot-diarize-')), 'out.jsonl');
    // The engine needs ~25 s of CPU for this file; the machine may be shared, so the limit is generous.
    await promisify(execFile)(process.execPath, [built('src/cli/main.js'), 'transcribe', file, '--diarize', '--jsonl', jsonl, '--quiet'], { cwd: ROOT, timeout: 400_000 });
    const events = readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TranscriptEvent);
    const labelled = finals(events);
    expect(new Set(labelled.map((e) => e.speaker)).size).toBeGreaterThanOrEqual(2);
    // The turns the operator finds on the same audio: the words of a final all belong to one speaker (a word belongs
    // to the turn it overlaps most), and conversation turns did split the engine's utterances.
    const raw = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '16000', '-'], { maxBuffer: 1 << 26 });
    const turns = diarizeAudio(new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2), 16000);
    for (const e of labelled) {
      expect(e.words?.length, e.text).toBeGreaterThan(0);
      expect(new Set(e.words!.map((w) => speakerAt(turns, w.startMs, w.endMs))).size, e.text).toBe(1);
    }
    const changes = labelled.filter((e, i) => i > 0 && e.speaker !== labelled[i - 1]!.speaker).length;
    expect(changes).toBeGreaterThanOrEqual(3);
  }, 420_000);
});
