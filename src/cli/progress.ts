/**
 * One progress line on stderr for `earshot transcribe` on a file: how much audio is transcribed of how much, the
 * percentage, the speed (× real time) and the time left, through the whole job. It shares the terminal with the
 * transcript on stdout: every write to stdout (through {@link ProgressDisplay.wrap}) clears the line first and draws
 * it again after a complete transcript line, so no transcript line ever carries progress text. Silent when stderr is
 * not a terminal or with `-q` (then it is never created).
 */
import { Writable } from 'node:stream';
import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import { frameToMs, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { clockTime } from './stop.js';

const CLEAR_LINE = '\r\x1b[2K';
/** Least time between two redraws that nothing forces. */
const REDRAW_MS = 250;

/**
 * The progress line of one run.
 *
 * @example
 * ```ts
 * const display = new ProgressDisplay(process.stderr);
 * display.totalMs = 641_000;
 * await writeOutputs(events.pipe(display.events()), outputs, { ...io, stdout: display.wrap(process.stdout) });
 * display.stop();
 * ```
 */
export class ProgressDisplay {
  /** Length of the input, ms, once known (a file's duration). */
  totalMs: number | undefined;
  readonly #stderr: NodeJS.WritableStream;
  readonly #now: () => number;
  readonly #startedAt: number;
  #readMs = 0;
  #doneMs = 0;
  #phase: string | undefined;
  #shown = false;
  /** A transcript line is half written on stdout (a partial): the status waits for its end. */
  #midLine = false;
  #drawnAt = -Infinity;
  #stopped = false;

  /**
   * @param stderr - the terminal to draw on.
   * @param now - a clock in ms (tests pass their own).
   */
  constructor(stderr: NodeJS.WritableStream, now: () => number = () => performance.now()) {
    this.#stderr = stderr;
    this.#now = now;
    this.#startedAt = now();
  }

  /** Operator on the decoded audio: notes how far it has been read. */
  audio(): MonoTypeOperatorFunction<AudioChunk> {
    return tap((c) => {
      this.#readMs = Math.max(this.#readMs, frameToMs(c.offset + c.samples.length / c.channels, c.sampleRate));
      this.#draw(false);
    });
  }

  /** Operator on the events: notes how far the transcript has come. */
  events(): MonoTypeOperatorFunction<TranscriptEvent> {
    return tap((e) => {
      this.#doneMs = Math.max(this.#doneMs, e.endMs);
      this.#draw(false);
    });
  }

  /** A stage of a remote job (upload, a task's status), shown until the transcript comes. */
  phase(text: string | undefined): void {
    this.#phase = text;
    this.#draw(false);
  }

  /** The progress text as it would be drawn now. */
  text(): string {
    const elapsed = Math.max(1, this.#now() - this.#startedAt);
    const done = this.#doneMs;
    const total = this.totalMs;
    const parts = [total ? `${clockTime(done)} of ${clockTime(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)` : `${clockTime(done)} transcribed`];
    if (this.#readMs - done >= 1000) parts.push(`${clockTime(this.#readMs)} read`);
    if (done > 0) {
      const speed = done / elapsed;
      parts.push(`${speed >= 10 ? speed.toFixed(0) : speed.toFixed(1)}× real time`);
      if (total && total > done) parts.push(`ETA ${clockTime((total - done) / speed)}`);
    }
    if (this.#phase) parts.push(this.#phase);
    return `earshot: ${parts.join(' · ')}`;
  }

  /**
   * The stream the transcript goes to: writes pass to `stdout`, with the progress line cleared before and drawn again
   * after each complete line. Errors of `stdout` (a closed pipe) come out of it too.
   */
  wrap(stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): NodeJS.WritableStream & { isTTY?: boolean; columns?: number } {
    const out = new Writable({
      decodeStrings: false,
      write: (chunk: string | Buffer, _encoding, callback) => {
        this.#hide();
        const text = chunk.toString();
        stdout.write(chunk, (err) => {
          this.#midLine = !text.endsWith('\n');
          if (!err) this.#draw(true);
          callback(err ?? null);
        });
      },
    });
    return Object.assign(out, { isTTY: stdout.isTTY, columns: stdout.columns });
  }

  /** Clear the line for good (the run is over, or a last message follows). */
  stop(): void {
    this.#hide();
    this.#stopped = true;
  }

  #hide(): void {
    if (!this.#shown) return;
    this.#stderr.write(CLEAR_LINE);
    this.#shown = false;
  }

  #draw(force: boolean): void {
    if (this.#stopped || this.#midLine) return;
    const now = this.#now();
    if (!force && now - this.#drawnAt < REDRAW_MS) return;
    this.#drawnAt = now;
    this.#stderr.write(`${CLEAR_LINE}${this.text()}`);
    this.#shown = true;
  }
}
