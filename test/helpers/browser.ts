/**
 * The system's headless Chromium (Debian's `chromium`, installed by scripts/setup.sh in test mode) driven by
 * playwright-core: no browser is ever downloaded. A page records its console errors, uncaught exceptions and every
 * URL it requests, so tests can assert a page is clean and needs no network.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Launch the system Chromium, headless. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** Open `url` in a new page of `browser` and wait for `readySelector`. */
export async function openPage(browser: Browser, url: string, readySelector: string, viewport = { width: 1400, height: 900 }): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector(readySelector, { state: 'attached' });
  return { page, errors, requests };
}
