/** Checks on transcript events shared by tests. */
import { expect } from 'vitest';
import type { TranscriptEvent } from '../../src/core/types.js';

/** The finals' text, joined by spaces. */
export function finalText(events: readonly TranscriptEvent[]): string {
  return events
    .filter((e) => e.type === 'final')
    .map((e) => e.text)
    .join(' ');
}

/** One time line: no event starts before the previous final ended, and none ends before it starts. */
export function expectOneTimeline(events: readonly TranscriptEvent[]): void {
  let lastFinalEnd = -Infinity;
  for (const e of events) {
    expect(e.startMs).toBeGreaterThanOrEqual(lastFinalEnd);
    expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
    if (e.type === 'final') lastFinalEnd = e.endMs;
  }
}
