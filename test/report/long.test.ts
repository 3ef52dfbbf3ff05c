/**
 * A 2-hour input: the report stays small (peaks, not samples; audio linked) and opens fast in the system Chromium.
 * The audio is the bundled sample looped for 2 h under white noise (so the peaks do not compress away); the
 * transcript is the engine's result for one loop, repeated, so the engine need not run for 2 h.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import type { Browser } from 'playwright-core';
import { shiftEvent } from '../../src/core/types.js';
import { fromFile } from '../../src/sources/file.js';
import { decode } from '../../src/operators/decode.js';
import { formatJsonlLine } from '../../src/sinks/jsonl.js';
import { readJsonl, report } from '../../src/report/index.js';
import { launchBrowser, openPage } from '../helpers/browser.js';
import { ROOT } from '../helpers/dist.js';
import { rng } from '../helpers/random.js';
import { wavHeader } from '../helpers/speech.js';

/** What the README states for a 2-hour input. */
const MAX_BYTES = 4 * 1024 * 1024;
const MAX_RENDER_MS = 10_000; // measured 1–2 s on a busy shared machine, 5 s at its worst (load 21 on 2 cores)
const HOURS_2 = 7_200_000;

const dir = mkdtempSync(join(tmpdir(), 'earshot-report-long-'));
const audio = join(dir, 'two-hours.wav');
const jsonl = join(dir, 'two-hours.jsonl');
let browser: Browser;
let loopMs = 0;
let words = 0;
let milk = 0;

beforeAll(async () => {
  const sample = join(ROOT, 'samples/sample.wav');
  const chunks = await lastValueFrom(fromFile(sample).pipe(decode(), toArray()));
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  chunks.reduce((at, c) => (pcm.set(c.samples, at), at + c.samples.length), 0);
  loopMs = (pcm.length * 1000) / 16000;
  // 2 h of the sample looped under white noise (-35 dBFS), written straight to a WAV: no encoder, ~1 s.
  const total = (HOURS_2 / 1000) * 16000;
  const fd = openSync(audio, 'w');
  try {
    writeSync(fd, wavHeader(total * 2, 16000));
    const block = new Int16Array(160_000);
    const random = rng(7);
    const noise = Int16Array.from({ length: 160_007 }, () => Math.round((random() * 2 - 1) * 600));
    for (let at = 0; at < total; at += block.length) {
      const n = Math.min(block.length, total - at);
      for (let i = 0; i < n; i++) block[i] = Math.max(-32768, Math.min(32767, pcm[(at + i) % pcm.length]! + noise[(at + i) % noise.length]!));
      writeSync(fd, block, 0, n * 2);
    }
  } finally {
    closeSync(fd);
  }
  // The engine's near-realtime result for one loop (`earshot transcribe samples/sample.wav --mode near-realtime
  // --jsonl test/fixtures/sample.jsonl`), repeated: the engine need not run for 2 h.
  const once = await readJsonl(join(ROOT, 'test/fixtures/sample.jsonl'));
  const lines: string[] = [];
  for (let at = 0; at + loopMs <= HOURS_2; at += loopMs) {
    for (const e of once) {
      lines.push(formatJsonlLine(shiftEvent(e, at)));
      words += e.words?.length ?? 0;
      milk += e.words?.filter((w) => w.text.includes('milk')).length ?? 0;
    }
  }
  writeFileSync(jsonl, lines.join(''));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a 2-hour report', () => {
  it(`is under ${MAX_BYTES / 1048576} MB and renders in under ${MAX_RENDER_MS / 1000} s`, async () => {
    const out = join(dir, 'two-hours.html');
    const built = performance.now();
    const r = await report({ audio, events: jsonl, out });
    const buildMs = performance.now() - built;
    expect(r.durationMs).toBe(HOURS_2);
    expect(r.audio).toBe('linked');
    expect(r.words).toBe(words);
    expect(r.bytes).toBeLessThan(MAX_BYTES);

    const opened = performance.now();
    const { page, errors } = await openPage(browser, pathToFileURL(out).href, 'body[data-ready]');
    const renderMs = performance.now() - opened;
    try {
      console.log(`2-hour report: ${(r.bytes / 1048576).toFixed(2)} MB, ${r.words} words, built in ${(buildMs / 1000).toFixed(1)} s, rendered in ${Math.round(renderMs)} ms (page's own ${await page.evaluate('document.body.dataset.renderMs')} ms)`);
      expect(renderMs).toBeLessThan(MAX_RENDER_MS);
      expect(await page.locator('.word').count()).toBe(words);
      // Zoomed out, the lanes are drawn on canvases; a search zooms in to the hit and shows its words.
      expect(await page.locator('.word:visible').count()).toBe(0);
      expect(milk).toBeGreaterThan(0);
      await page.fill('#search', 'milk');
      await page.press('#search', 'Enter');
      await page.waitForSelector('.word.hit', { state: 'visible' });
      expect(await page.locator('.word:visible').count()).toBeGreaterThan(0);
      expect(await page.locator('.word:visible').count()).toBeLessThan(2000);
      expect(await page.textContent('#search-count')).toBe(`${milk} matches`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
