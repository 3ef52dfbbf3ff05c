/** Shared helpers for the sink tests: temp dirs, open-descriptor checks, slow writables, polling. */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TranscriptEvent, Word } from '../../src/core/types.js';

export function tempDir(): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-sinks-'));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True while this process holds a descriptor open on `path`. */
export function isOpen(path: string): boolean {
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) return true;
    } catch {
      // the descriptor closed while we looked
    }
  }
  return false;
}

/** Poll `check` every few ms until it is true, failing after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A Writable that takes each chunk only when the test lets it (`step()`, or every tick when `auto`), records whether
 * any write arrived while it had asked for `drain`, and can hold its `final` until released.
 */
export class SlowWritable extends Writable {
  chunks: string[] = [];
  writesWhileFull = 0;
  maxLength = 0;
  #pending: Array<() => void> = [];
  #finalGate: (() => void) | undefined;
  holdFinal = false;
  finalCalled = false;

  constructor(highWaterMark: number, readonly auto = true) {
    super({ highWaterMark, decodeStrings: false });
  }

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    if (this.writableNeedDrain) this.writesWhileFull++;
    this.maxLength = Math.max(this.maxLength, this.writableLength);
    return (super.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }

  override _write(chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(String(chunk));
    const done = (): void => cb();
    if (this.auto) setImmediate(done);
    else this.#pending.push(done);
  }

  step(): void {
    this.#pending.shift()?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finalCalled = true;
    if (this.holdFinal) this.#finalGate = () => cb();
    else cb();
  }

  releaseFinal(): void {
    this.#finalGate?.();
  }

  get text(): string {
    return this.chunks.join('');
  }
}

export function final(text: string, startMs: number, endMs: number, extra: Partial<TranscriptEvent> = {}): TranscriptEvent {
  return { type: 'final', text, startMs, endMs, ...extra };
}

/** Finals with word times, 250 ms a word, a 1.2 s pause between sentences. */
export function sentences(texts: string[], speaker?: string): TranscriptEvent[] {
  let t = 300;
  return texts.map((text) => {
    const words: Word[] = text.split(' ').map((w) => {
      const word = { text: w, startMs: t, endMs: t + 220 };
      t += 250;
      return word;
    });
    const e: TranscriptEvent = { type: 'final', text, startMs: words[0]!.startMs, endMs: t, words };
    if (speaker) e.speaker = speaker;
    t += 1200;
    return e;
  });
}
