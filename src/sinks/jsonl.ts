/**
 * JSON Lines output following the transcript contract, one event a line, keys in contract order:
 * `{"type","text","startMs","endMs","words"?,"speaker"?,"channel"?,"emotion"?,"language"?}`, times as integer milliseconds.
 * Each line is written whole, so a file left by a failed run holds only whole lines.
 */
import type { MonoTypeOperatorFunction, OperatorFunction } from 'rxjs';
import { InputError } from '../core/errors.js';
import { isSpeechEdge, type TranscriptEvent } from '../core/types.js';
import { formatText, textSink, type SinkOptions, type SinkTarget, type TextFormat } from './text-sink.js';

/** What goes into each line. */
export interface JsonlFormatOptions {
  /** Write only final events. Default false (partials and finals). */
  finalsOnly?: boolean;
  /** Add the event's `latency` figures (when present) as a last key. Default false. */
  latency?: boolean;
  /** Write `speech-start` / `speech-end` events too (unless `finalsOnly`). Default false. */
  speechEvents?: boolean;
}

/** Options of {@link toJsonl}. */
export interface JsonlOptions extends JsonlFormatOptions, SinkOptions {}

/**
 * Serialize one event as a contract line (with the trailing newline).
 *
 * @param event - the event.
 * @param options - `latency` adds the latency figures.
 * @example
 * ```ts
 * formatJsonlLine({ type: 'final', text: 'hi', startMs: 0.4, endMs: 900.6 });
 * // '{"type":"final","text":"hi","startMs":0,"endMs":901}\n'
 * ```
 */
export function formatJsonlLine(event: TranscriptEvent, options: Pick<JsonlFormatOptions, 'latency'> = {}): string {
  const out: Record<string, unknown> = {
    type: event.type,
    text: event.text,
    startMs: Math.round(event.startMs),
    endMs: Math.round(event.endMs),
  };
  if (event.words) out.words = event.words.map((w) => ({ text: w.text, startMs: Math.round(w.startMs), endMs: Math.round(w.endMs) }));
  if (event.speaker !== undefined) out.speaker = event.speaker;
  if (event.channel !== undefined) out.channel = event.channel;
  if (event.emotion !== undefined) out.emotion = event.emotion;
  if (event.language !== undefined) out.language = event.language;
  if (options.latency && event.latency) {
    const latency: Record<string, number> = {};
    if (event.latency.endOfSpeechMs !== undefined) latency.endOfSpeechMs = event.latency.endOfSpeechMs;
    if (event.latency.addedMs !== undefined) latency.addedMs = event.latency.addedMs;
    out.latency = latency;
  }
  // U+2028/2029 are line terminators to some readers: keep every record on exactly one line.
  return `${JSON.stringify(out).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')}\n`;
}

/**
 * The JSONL {@link TextFormat}: one contract line per event.
 *
 * @param options - `finalsOnly`, `latency`, `speechEvents` (speech edges are left out unless it is set).
 * @example
 * ```ts
 * jsonlFormat({ finalsOnly: true }).event({ type: 'partial', text: 'h', startMs: 0, endMs: 90 }); // []
 * ```
 */
export function jsonlFormat(options: JsonlFormatOptions = {}): TextFormat {
  return {
    header: '',
    event: (e) => ((options.finalsOnly && e.type !== 'final') || (!options.speechEvents && isSpeechEdge(e)) ? [] : [formatJsonlLine(e, options)]),
    end: () => [],
  };
}

/**
 * Sink: write every event (or only finals) as JSON Lines to a file or a Writable, passing every event on.
 *
 * Completes after the file is flushed and closed; on an upstream error it closes the file (whole lines only) and
 * forwards the error. Empty input gives an empty file.
 *
 * @param target - a file path (created or truncated) or a Writable.
 * @param options - `finalsOnly`, `latency`, `speechEvents`, and sink options.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time for a bad target;
 *   `EARSHOT_SINK_FAILED` through the pipeline when the file cannot be written.
 * @example
 * ```ts
 * await lastValueFrom(events$.pipe(toJsonl('talk.jsonl', { finalsOnly: true })), { defaultValue: undefined });
 * ```
 */
export function toJsonl(target: SinkTarget, options: JsonlOptions = {}): MonoTypeOperatorFunction<TranscriptEvent> {
  return textSink(target, () => jsonlFormat(options), options);
}

/**
 * Operator: events in, JSONL lines out.
 *
 * @param options - `finalsOnly`, `latency`, `speechEvents`.
 * @example
 * ```ts
 * events$.pipe(jsonlText()).subscribe((line) => process.stdout.write(line));
 * ```
 */
export function jsonlText(options: JsonlFormatOptions = {}): OperatorFunction<TranscriptEvent, string> {
  return formatText(() => jsonlFormat(options));
}

/**
 * Read one line of the JSONL contract back into an event (the inverse of {@link formatJsonlLine}); unknown keys
 * are ignored.
 *
 * @param line - one JSON line (without or with its newline).
 * @param where - where it came from, for the error message (e.g. `talk.jsonl:12`).
 * @throws InputError (`EARSHOT_CORRUPT_INPUT`) when the line is not JSON or not a transcript event.
 * @example
 * ```ts
 * parseJsonlLine('{"type":"final","text":"hi","startMs":0,"endMs":900}'); // { type: 'final', text: 'hi', startMs: 0, endMs: 900 }
 * ```
 */
export function parseJsonlLine(line: string, where = 'line'): TranscriptEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new InputError('EARSHOT_CORRUPT_INPUT', `${where}: not JSON`, { cause: err });
  }
  const bad = (why: string): InputError => new InputError('EARSHOT_CORRUPT_INPUT', `${where}: not a transcript event (${why})`);
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const o = raw as Record<string, unknown>;
  const time = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (o.type !== 'partial' && o.type !== 'final' && o.type !== 'speech-start' && o.type !== 'speech-end') throw bad('type must be partial, final, speech-start or speech-end');
  if (typeof o.text !== 'string') throw bad('text must be a string');
  if (!time(o.startMs) || !time(o.endMs)) throw bad('startMs and endMs must be numbers');
  const event: TranscriptEvent = { type: o.type, text: o.text, startMs: o.startMs, endMs: o.endMs };
  if (o.words !== undefined) {
    if (!Array.isArray(o.words)) throw bad('words must be an array');
    event.words = o.words.map((w: unknown) => {
      const x = (w ?? {}) as Record<string, unknown>;
      if (typeof x.text !== 'string' || !time(x.startMs) || !time(x.endMs)) throw bad('a word needs text, startMs and endMs');
      return { text: x.text, startMs: x.startMs, endMs: x.endMs };
    });
  }
  if (typeof o.speaker === 'string') event.speaker = o.speaker;
  if (typeof o.channel === 'number') event.channel = o.channel;
  if (typeof o.emotion === 'string') event.emotion = o.emotion;
  if (typeof o.language === 'string') event.language = o.language;
  if (typeof o.latency === 'object' && o.latency !== null) {
    const l = o.latency as Record<string, unknown>;
    event.latency = {};
    if (time(l.endOfSpeechMs)) event.latency.endOfSpeechMs = l.endOfSpeechMs;
    if (time(l.addedMs)) event.latency.addedMs = l.addedMs;
  }
  return event;
}
