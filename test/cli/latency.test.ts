/**
 * `earshot transcribe --pace` reports the end-of-speech latency it exists to measure: each final in the JSONL carries
 * `latency.endOfSpeechMs`, and one summary line on stderr sums them up (silent with -q). The real CLI on 2.4 s of
 * the bundled sample; the bookkeeping itself on a hand-driven clock.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { PacedLatency, quantile } from '../../src/cli/latency.js';
import { helpFor } from '../../src/cli/help.js';
import type { AudioChunk, TranscriptEvent } from '../../src/core/types.js';
import { runCli, shortSample } from '../helpers/cli.js';
import { ROOT } from '../helpers/dist.js';

/** The summary line of a paced run. */
const SUMMARY = /^earshot: paced: (\d+) finals?, end of speech → final median (\d+) ms, p95 (\d+) ms, max (\d+) ms$/m;

const dir = mkdtempSync(join(tmpdir(), 'earshot-pace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chunk = (startMs: number, ms: number): AudioChunk => ({ kind: 'audio', samples: new Int16Array((ms * 16000) / 1000), sampleRate: 16000, channels: 1, offset: (startMs * 16000) / 1000 });

describe('PacedLatency', () => {
  it('measures each final from the wall time its endMs was fed, per track, and sums them up', async () => {
    let now = 1000;
    const run = new PacedLatency(() => now);
    const feed = run.track();
    const fed = feed.fed();
    for (let t = 0; t < 2000; t += 20) {
      now = 1000 + t + 20; // each 20 ms piece fed when it ends, as pace() does
      await lastValueFrom(of(chunk(t, 20)).pipe(fed));
    }
    expect(feed.fedAt(990)).toBe(2000); // the piece 980–1000 ms
    expect(feed.fedAt(1000)).toBe(2000);
    expect(feed.fedAt(1001)).toBe(2020);
    expect(feed.fedAt(5000)).toBe(3000); // past what was fed: the last piece
    now = 3250;
    const events: TranscriptEvent[] = [
      { type: 'partial', text: 'a', startMs: 0, endMs: 900 },
      { type: 'final', text: 'a b', startMs: 0, endMs: 1000 },
      { type: 'final', text: 'c', startMs: 1200, endMs: 1990.4, latency: { addedMs: 0.5 } },
    ];
    const out = await lastValueFrom(of(...events).pipe(feed.finals(), toArray()));
    expect(out[0]).toEqual(events[0]);
    expect(out[1]!.latency).toEqual({ endOfSpeechMs: 1250 });
    expect(out[2]!.latency).toEqual({ addedMs: 0.5, endOfSpeechMs: 250 });
    expect(run.latencies).toEqual([1250, 250]);
    expect(run.line()).toBe('earshot: paced: 2 finals, end of speech → final median 250 ms, p95 1250 ms, max 1250 ms\n');
    expect(new PacedLatency().line()).toBe('earshot: paced: 0 finals, no end-of-speech latency to report\n');
  });

  it('quantile is the nearest rank', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 4, 2, 3], 0.95)).toBe(5);
    expect(quantile([7], 0)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('earshot transcribe --pace', () => {
  it('writes each final with its latency to --jsonl, and a summary line of the same figures on stderr (none with -q)', async () => {
    const input = shortSample(dir);
    const jsonl = join(dir, 'paced.jsonl');
    const [loud, quiet] = await Promise.all([
      runCli(['transcribe', input, '--pace', '--mode', 'realtime', '--jsonl', jsonl]),
      runCli(['transcribe', input, '--pace', '-q', '--jsonl', join(dir, 'quiet.jsonl')]),
    ]);
    expect(loud.code).toBe(0);
    expect(loud.stdout).toMatch(/weather/);
    const events = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; latency?: { endOfSpeechMs: number } });
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.length).toBeGreaterThan(0);
    const latencies = finals.map((e) => e.latency!.endOfSpeechMs);
    for (const ms of latencies) expect(Number.isInteger(ms) && ms >= 0).toBe(true);
    expect(events.filter((e) => e.type !== 'final' && e.latency)).toEqual([]);
    const m = SUMMARY.exec(loud.stderr);
    expect(m, loud.stderr).not.toBeNull();
    expect(m!.slice(1).map(Number)).toEqual([finals.length, quantile(latencies, 0.5), quantile(latencies, 0.95), Math.max(...latencies)]);

    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const quietFinals = readFileSync(join(dir, 'quiet.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; latency?: { endOfSpeechMs: number } });
    expect(quietFinals.filter((e) => e.type === 'final').every((e) => Number.isInteger(e.latency?.endOfSpeechMs))).toBe(true);
  });

  it('is what `transcribe --help`, `live --help` and the README say it does', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/^# /gm, '')).toMatch(SUMMARY);
    for (const topic of ['transcribe', 'live']) expect(helpFor(topic)).toMatch(/--pace {15}replay the input at real time[^\n]*\n.*end-of-speech latency[\s\S]*summary\s+line on stderr/);
  });
});
