/**
 * Make the README's screenshot of a real report: the bundled sample transcribed by the embedded engine in
 * near-realtime mode, paced at real time (so latency is measured), watched by a ReportCollector; the page opened
 * in the system Chromium (playwright-core, no browser download) and saved as docs/report.png.
 *
 *   npx tsx scripts/report-screenshot.ts [out.png]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom } from 'rxjs';
import { chromium } from 'playwright-core';
import { decode, fromFile, local, nearRealtime, pace, PaceClock, transcribeBatch } from '../src/index.js';
import { report, ReportCollector } from '../src/report/index.js';

const root = resolve(import.meta.dirname, '..');
const audio = join(root, 'samples/sample.wav');
const png = resolve(process.argv[2] ?? join(root, 'docs/report.png'));
const dir = mkdtempSync(join(tmpdir(), 'earshot-screenshot-'));

try {
  const seen = new ReportCollector();
  const clock = new PaceClock();
  // Default priority (the pool's workers are niced by default), so a busy shared machine does not stretch the
  // latency the picture shows.
  const engine = local({ niceness: 0 });
  try {
    // Warm the workers up first (model loading is not the latency a live run sees).
    const silence = { samples: new Int16Array(16000), sampleRate: 16000, startMs: 0 };
    await Promise.all([engine.transcribeClip!(silence, {}), engine.transcribeClip!(silence, {})]);
    await lastValueFrom(
      fromFile(audio).pipe(decode(), seen.audio(), pace({ clock }), nearRealtime({ windowMs: 4000 }), seen.windows(), transcribeBatch(engine, { clock }), seen.events()),
      { defaultValue: undefined },
    );
  } finally {
    await engine.close();
  }
  const out = join(dir, 'sample.report.html');
  await report({ audio, collector: seen, out });

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 640 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(out).href);
    await page.waitForSelector('body[data-ready]', { state: 'attached' });
    await page.locator('.word').nth(12).click();
    await page.evaluate('document.getElementById("audio").pause()');
    await page.fill('#search', 'milk');
    await page.press('#search', 'Enter');
    await page.evaluate('document.getElementById("audio").pause()');
    const height = Number(await page.evaluate('Math.ceil(document.getElementById("panes").getBoundingClientRect().bottom + 12)'));
    await page.screenshot({ path: png, clip: { x: 0, y: 0, width: 1280, height } });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${png}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
