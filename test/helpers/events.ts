/** Checks on transcript events shared by tests. */
import { expect } from 'vitest';
import { isSpeechEdge, type TranscriptEvent } from '../../src/core/types.js';

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

/** The events without speech edges (`speech-start` / `speech-end`): partials and finals. */
export function transcripts(events: readonly TranscriptEvent[]): TranscriptEvent[] {
  return events.filter((e) => !isSpeechEdge(e));
}

/**
 * Speech edges from a service VAD: they alternate from a `speech-start`, each is an instant with empty text, and
 * every final is framed by the edges before it — a start at its `startMs` and an end at its `endMs`.
 */
export function expectSpeechEdges(events: readonly TranscriptEvent[]): void {
  let start: TranscriptEvent | undefined;
  let end: TranscriptEvent | undefined;
  let open = false;
  let finals = 0;
  for (const e of events) {
    if (isSpeechEdge(e)) {
      expect(e.type).toBe(open ? 'speech-end' : 'speech-start');
      expect(e.text).toBe('');
      expect(e.endMs).toBe(e.startMs);
      open = !open;
      if (open) start = e;
      else end = e;
    } else if (e.type === 'final') {
      finals++;
      expect(start?.startMs).toBe(e.startMs);
      expect(end?.endMs).toBe(e.endMs);
    }
  }
  expect(finals).toBeGreaterThan(0);
}
