/**
 * How `earshot transcribe` ends before its input does, the Unix way:
 * - Ctrl-C on a file (or stdin) stops at once: every output is flushed to the last complete event, one line says
 *   where it stopped (`EARSHOT_ABORTED: stopped at 1:45 of 10:41; captions flushed`), exit code 130. Live inputs
 *   (mic, RTP) treat Ctrl-C as their normal end instead: they stop listening and finish the last utterance.
 * - stdout closed by its reader (`earshot transcribe talk.mp3 | head -1`) stops the work quietly, exit code 0.
 */
import { EMPTY, takeUntil, tap, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import type { TranscriptEvent } from '../core/types.js';
import { probeDurationMs } from '../media/ffmpeg.js';
import type { CliIo } from './transcribe.js';

/** Exit code of a command stopped by Ctrl-C before its input ended (128 + SIGINT, as shells report it). */
export const INTERRUPTED_EXIT_CODE = 130;

/** True for the error a write to a pipe whose reader has gone away raises. */
export function isClosedPipe(err: unknown): boolean {
  return typeof err === 'object' && err !== null && ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_DESTROYED');
}

/** `m:ss` (or `h:mm:ss`) of a time in ms. */
export function clockTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** What a run needs to say where it stopped. */
export interface StopReport {
  /** The input file, to read its duration (`of 10:41`). */
  path?: string;
  /** Whether caption files (SRT, WebVTT) or other files (JSONL) are being written. */
  captions: boolean;
  files: boolean;
}

/**
 * Watches one run for an early end: Ctrl-C (when the input is not live) and a closed stdout. Create it before the pipeline starts writing, put {@link EarlyStop.events} before the sinks, pass the
 * pipeline's failure through {@link EarlyStop.failure}, then take the exit code from {@link EarlyStop.finish}.
 *
 * @example
 * ```ts
 * const stop = new EarlyStop(io);
 * try {
 *   await lastValueFrom(events.pipe(stop.events(io.interrupt), toSrt('talk.srt'), toConsole())).catch((err) => stop.failure(err));
 *   return await stop.finish(io, { path: 'talk.mp3', captions: true, files: true });
 * } finally {
 *   stop.dispose();
 * }
 * ```
 */
export class EarlyStop {
  #interrupted = false;
  #stdoutClosed = false;
  #reachedMs = 0;
  readonly #stdout: NodeJS.WritableStream;

  /** @param io - the CLI's streams: a write to a closed `io.stdout` ends the run quietly. */
  constructor(io: CliIo) {
    this.#stdout = io.stdout;
    this.#stdout.on('error', this.#onStdoutError);
  }

  /** True once a write to stdout found its reader gone. */
  get stdoutClosed(): boolean {
    return this.#stdoutClosed;
  }

  /**
   * Operator before the sinks: events pass until Ctrl-C; notes how far the finals reach.
   * @param interrupt - Ctrl-C, for inputs it stops at once; omit for live inputs, which end on it by themselves.
   */
  events(interrupt: Observable<unknown> = EMPTY): MonoTypeOperatorFunction<TranscriptEvent> {
    return (source) =>
      source.pipe(
        tap((e) => {
          if (e.type === 'final') this.#reachedMs = Math.max(this.#reachedMs, e.endMs);
        }),
        takeUntil(interrupt.pipe(tap(() => (this.#interrupted = true)))),
      );
  }

  /**
   * The pipeline failed: nothing to report when the failure is only stdout closed by its reader.
   * @throws the error otherwise.
   */
  failure(err: unknown): void {
    if (!this.#stdoutClosed) throw err;
  }

  /** After the pipeline ended: say where Ctrl-C stopped it (on stderr) and give the exit code. */
  async finish(io: CliIo, report: StopReport): Promise<number> {
    if (!this.#interrupted || this.#stdoutClosed) return 0;
    const totalMs = report.path ? await probeDurationMs(report.path).catch(() => undefined) : undefined;
    const flushed = report.captions ? '; captions flushed' : report.files ? '; outputs flushed' : '';
    io.stderr.write(`EARSHOT_ABORTED: stopped at ${clockTime(this.#reachedMs)}${totalMs === undefined ? '' : ` of ${clockTime(totalMs)}`}${flushed}\n`);
    return INTERRUPTED_EXIT_CODE;
  }

  /** Stop watching stdout. */
  dispose(): void {
    this.#stdout.off('error', this.#onStdoutError);
  }

  readonly #onStdoutError = (err: unknown): void => {
    if (isClosedPipe(err)) this.#stdoutClosed = true;
  };
}
