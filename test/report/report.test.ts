/**
 * The report page opened in a real headless Chromium (the system's, through playwright-core): a report of the
 * bundled sample transcribed by the embedded engine, one with speakers and emotions, and one made by the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import type { Browser } from 'playwright-core';
import type { TranscriptEvent } from '../../src/core/types.js';
import { fromFile } from '../../src/sources/file.js';
import { decode } from '../../src/operators/decode.js';
import { vadChunk } from '../../src/operators/vad-chunk.js';
import { nearRealtime } from '../../src/operators/near-realtime.js';
import { transcribeBatch } from '../../src/operators/transcribe-batch.js';
import { local } from '../../src/transports/local.js';
import { toJsonl } from '../../src/sinks/jsonl.js';
import { buildCues } from '../../src/sinks/captions.js';
import { readJsonl, report } from '../../src/report/index.js';
import { launchBrowser, openPage } from '../helpers/browser.js';
import { built, ROOT } from '../helpers/dist.js';

const SAMPLE = join(ROOT, 'samples/sample.wav');
const dir = mkdtempSync(join(tmpdir(), 'earshot-report-'));
const jsonl = join(dir, 'sample.jsonl');
let browser: Browser;
let events: TranscriptEvent[];

const wordsIn = (list: readonly TranscriptEvent[]): number => list.reduce((n, e) => n + (e.type === 'final' ? (e.words?.length ?? 0) : 0), 0);
const decoded = () => fromFile(SAMPLE).pipe(decode({ sampleRate: 16000, channels: 1 }));

beforeAll(async () => {
  const engine = local();
  try {
    await lastValueFrom(decoded().pipe(vadChunk(), transcribeBatch(engine), toJsonl(jsonl)), { defaultValue: undefined });
  } finally {
    await engine.close();
  }
  events = await readJsonl(jsonl);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('report page', () => {
  it('shows the run on one time line: every word, vadChunk’s segments, the windows, the cues; click plays a word; search finds it', async () => {
    const out = join(dir, 'sample.html');
    const r = await report({ audio: SAMPLE, events: jsonl, out, windows: { windowMs: 5000 } });
    expect(r.audio).toBe('embedded');
    expect(r.words).toBe(wordsIn(events));
    expect(r.words).toBeGreaterThan(20);
    const { page, errors, requests } = await openPage(browser, pathToFileURL(out).href, 'body[data-ready]');
    try {
      // No network: the page asks only for itself and its data: URIs.
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);

      expect(await page.locator('.word').count()).toBe(wordsIn(events));

      // The VAD lane is exactly vadChunk()'s segments of the same audio (default options).
      const segments = await lastValueFrom(decoded().pipe(vadChunk(), toArray()));
      const drawn = (await page.evaluate('Array.from(document.querySelectorAll(".vad")).map((e) => [+e.dataset.startMs, +e.dataset.endMs, e.dataset.cut])')) as Array<[number, number, string]>;
      expect(drawn).toEqual(segments.map((s) => [Math.round((s.offset * 1000) / 16000), Math.round(((s.offset + s.samples.length) * 1000) / 16000), s.cut]));

      // The windows lane is nearRealtime()'s windows, the revoked ones marked.
      const windows = await lastValueFrom(decoded().pipe(nearRealtime({ windowMs: 5000 }), toArray()));
      expect(await page.locator('.win').count()).toBe(windows.length);
      expect(await page.locator('.win.fate-revoked').count()).toBe(windows.filter((w) => w.provisional?.state === 'revoked').length);

      // Captions as the SRT/WebVTT sinks lay them out.
      const cues = buildCues(events);
      const cueTimes = (await page.evaluate('Array.from(document.querySelectorAll(".cue")).map((e) => [+e.dataset.startMs, +e.dataset.endMs])')) as number[][];
      expect(cueTimes).toEqual(cues.map((c) => [c.startMs, c.endMs]));

      // The embedded audio decodes in this browser (its duration is the file's).
      await page.waitForFunction('document.getElementById("audio").readyState >= 1');
      expect(Number(await page.evaluate('document.getElementById("audio").duration'))).toBeCloseTo(r.durationMs / 1000, 1);

      // Clicking a word seeks the audio to its start.
      const all = events.flatMap((e) => (e.type === 'final' ? (e.words ?? []) : []));
      const target = all[7]!;
      await page.evaluate('window.__seeks = []; document.getElementById("audio").addEventListener("seeking", (e) => window.__seeks.push(e.target.currentTime)); document.getElementById("audio").addEventListener("seeked", (e) => window.__seeked = e.target.currentTime)');
      await page.locator('.word').nth(7).click();
      await page.waitForFunction('window.__seeked !== undefined');
      const [seek] = (await page.evaluate('window.__seeks')) as number[];
      expect(Math.abs(seek! - target.startMs / 1000)).toBeLessThanOrEqual(0.05);
      expect(Math.abs(Number(await page.evaluate('window.__seeked')) - target.startMs / 1000)).toBeLessThanOrEqual(0.05);
      expect(await page.locator('#details').textContent()).toContain(events.find((e) => e.words?.includes(target))!.text);

      // It plays from there, and the cursor follows the audio.
      await page.waitForFunction(`document.getElementById("audio").currentTime > ${target.startMs / 1000 + 0.5}`);
      const [left, pps] = (await page.evaluate('document.getElementById("audio").pause(); [parseFloat(getComputedStyle(document.getElementById("cursor")).left), parseFloat(getComputedStyle(document.getElementById("track")).getPropertyValue("--pps"))]')) as number[];
      await page.waitForFunction('Math.abs(parseFloat(getComputedStyle(document.getElementById("cursor")).left) - document.getElementById("audio").currentTime * ' + pps + ') < 2');
      expect(left).toBeGreaterThan((target.startMs / 1000) * pps!);

      // Search over the text.
      const word = target.text;
      await page.fill('#search', word);
      await page.press('#search', 'Enter');
      const hits = all.filter((w) => w.text.toLowerCase().includes(word.toLowerCase())).length;
      expect(await page.locator('.word.hit').count()).toBe(hits);
      expect(await page.textContent('#search-count')).toBe(`${hits} match${hits === 1 ? '' : 'es'}`);

      // Zooming keeps the page clean.
      await page.click('#zoom-in');
      await page.click('#zoom-fit');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('draws speakers as lanes, emotions as colours, latency, the service’s speech edges, and the partials before each final', async () => {
    const finals = events.filter((e) => e.type === 'final');
    const shaped: TranscriptEvent[] = finals.flatMap((e, i) => [
      { type: 'speech-start' as const, text: '', startMs: e.startMs, endMs: e.startMs },
      { type: 'speech-end' as const, text: '', startMs: e.endMs, endMs: e.endMs },
      { type: 'partial' as const, text: e.text.split(' ').slice(0, 2).join(' '), startMs: e.startMs, endMs: e.startMs + 500, speaker: `Speaker ${(i % 2) + 1}` },
      { ...e, speaker: `Speaker ${(i % 2) + 1}`, emotion: i % 2 ? 'angry' : 'happy', latency: { endOfSpeechMs: 400 + i * 100, addedMs: 0.05 } },
    ]);
    const out = join(dir, 'speakers.html');
    await report({ audio: SAMPLE, events: shaped, out, embedAudio: false });
    const { page, errors } = await openPage(browser, pathToFileURL(out).href, 'body[data-ready]');
    try {
      expect(await page.textContent('#labels')).toContain('Speaker 1');
      expect(await page.textContent('#labels')).toContain('Speaker 2');
      const colours = (await page.evaluate('Array.from(new Set(Array.from(document.querySelectorAll(".word")).map((e) => getComputedStyle(e).backgroundColor)))')) as string[];
      expect(colours.length).toBe(2);
      expect(await page.locator('.lat').count()).toBe(finals.length);
      expect(await page.locator('.partial').count()).toBe(finals.length);
      expect(await page.locator('.svc').count()).toBe(finals.length);
      await page.locator('.final').nth(1).click();
      expect(await page.textContent('#details')).toContain('1 partial before it');
      expect(await page.textContent('#stats')).toContain('median');
      // Linked, not embedded: the audio comes from the file next to the page.
      expect(String(await page.evaluate('document.getElementById("audio").src'))).toMatch(/^file:.*sample\.wav$/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('earshot report runs the pipeline with taps and writes a page of that run', () => {
    const out = join(dir, 'cli.html');
    const cliJsonl = join(dir, 'cli.jsonl');
    const r = spawnSync(process.execPath, [built('src/cli/main.js'), 'report', SAMPLE, '--mode', 'near-realtime', '--out', out, '--jsonl', cliJsonl], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^earshot: report .*cli\.html \(\d+ KiB, \d+ words, audio embedded\)\n$/);
    const html = readFileSync(out, 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!) as { windows: unknown[]; finals: Array<{ words: unknown[] }> };
    expect(data.windows.length).toBeGreaterThan(0);
    const run = readFileSync(cliJsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TranscriptEvent);
    expect(data.finals.reduce((n, f) => n + f.words.length, 0)).toBe(wordsIn(run));
  });

  it('fails with one coded line for a bad JSONL or a missing file', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"type":"final","text":"ok","startMs":0,"endMs":10}\nnot json\n');
    const cli = built('src/cli/main.js');
    const r1 = spawnSync(process.execPath, [cli, 'report', SAMPLE, '--events', bad, '--out', join(dir, 'x.html')], { encoding: 'utf8' });
    expect(r1.status).toBe(1);
    expect(r1.stderr).toBe('EARSHOT_CORRUPT_INPUT: bad.jsonl:2: not JSON\n');
    const r2 = spawnSync(process.execPath, [cli, 'report', join(dir, 'nope.wav'), '--out', join(dir, 'y.html')], { encoding: 'utf8' });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/^EARSHOT_FILE_NOT_FOUND: [^\n]*\n$/);
  });

  it('report() refuses misuse with coded errors and stops when aborted', async () => {
    await expect(report({ audio: '', events: [] })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(report({ audio: SAMPLE })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(report({ audio: SAMPLE, events: [], embedAudio: { bitrateKbps: 1 } })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(report({ audio: SAMPLE, events: join(dir, 'missing.jsonl') })).rejects.toMatchObject({ code: 'EARSHOT_FILE_NOT_FOUND' });
    const ac = new AbortController();
    ac.abort();
    await expect(report({ audio: SAMPLE, events: [], signal: ac.signal })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    await expect(report({ audio: SAMPLE, events: [], out: join(dir, 'no-such-dir', 'r.html') })).rejects.toMatchObject({ code: 'EARSHOT_SINK_FAILED' });
  });
});
