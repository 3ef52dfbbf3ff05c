/**
 * Live captions on a terminal. On a TTY, partials rewrite the current line (`\r` and clear-line) and each final is
 * printed as a line; elsewhere (a pipe, a file) only finals are printed, one per line.
 */
import type { MonoTypeOperatorFunction } from 'rxjs';
import { isSpeechEdge, type TranscriptEvent } from '../core/types.js';
import { textSink, type TextFormat } from './text-sink.js';

/** Options of {@link toConsole}. */
export interface ConsoleOptions {
  /** Where to print. Default `process.stdout`. It is never ended. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Prefix each line with the speaker (`Speaker 1: `). Default true. */
  speakers?: boolean;
}

const CLEAR_LINE = '\r\x1b[2K';

function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/**
 * The console {@link TextFormat}: on a TTY, partials as a rewritten line; finals as lines; speech edges ignored.
 *
 * @param options - `tty` (rewrite partials), `columns` (partials are cut to fit), `speakers` (label lines).
 * @example
 * ```ts
 * consoleFormat({ tty: false }).event({ type: 'final', text: 'hi', startMs: 0, endMs: 500 }); // ['hi\n']
 * ```
 */
export function consoleFormat(options: { tty: boolean; columns?: number; speakers?: boolean }): TextFormat {
  let partialShown = false;
  const label = (e: TranscriptEvent): string => (options.speakers !== false && e.speaker ? `${oneLine(e.speaker)}: ` : '');
  return {
    header: '',
    event: (e) => {
      if (isSpeechEdge(e)) return [];
      const text = label(e) + oneLine(e.text);
      if (e.type === 'final') {
        const clear = options.tty && partialShown ? CLEAR_LINE : '';
        partialShown = false;
        if (text === '') return clear ? [clear] : [];
        return [`${clear}${text}\n`];
      }
      if (!options.tty) return [];
      // Keep a partial on one screen line so `\r` can rewrite it: show its tail.
      const width = Math.max(10, (options.columns ?? 80) - 1);
      const chars = Array.from(text);
      const shown = chars.length > width ? `…${chars.slice(chars.length - width + 1).join('')}` : text;
      partialShown = true;
      return [CLEAR_LINE + shown];
    },
    end: () => (partialShown ? [CLEAR_LINE] : []),
  };
}

/**
 * Sink: print live captions and pass every event on.
 *
 * @param options - `stream` (default `process.stdout`) and `speakers`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time when `stream` is not a Writable.
 * @example
 * ```ts
 * events$.pipe(toConsole()).subscribe();
 * ```
 */
export function toConsole(options: ConsoleOptions = {}): MonoTypeOperatorFunction<TranscriptEvent> {
  const stream = options.stream ?? process.stdout;
  return textSink(stream, () => consoleFormat({ tty: stream.isTTY === true, columns: stream.columns, speakers: options.speakers }), { end: false });
}
