/**
 * SubRip (.srt) output: cues laid out by {@link CueBuilder}, written one whole cue at a time, so a file left by a
 * failed or killed run ends at its last complete cue.
 */
import type { MonoTypeOperatorFunction, OperatorFunction } from 'rxjs';
import type { TranscriptEvent } from '../core/types.js';
import { cueLayout, resolveCaptionLimits, type CaptionOptions, type Cue } from './captions.js';
import { formatText, textSink, type SinkOptions, type SinkTarget, type TextFormat } from './text-sink.js';

/** Caption limits plus whether cues name their speaker. */
export interface SrtCaptionOptions extends CaptionOptions {
  /** Start each cue with its speaker (`Speaker 1: …`, SRT has no voice tag). Default true. */
  speakers?: boolean;
}

/** Options of {@link toSrt} and {@link srtText}: caption limits plus sink options. */
export interface SrtOptions extends SrtCaptionOptions, SinkOptions {}

/**
 * A cue timestamp: `01:02:03,456` (`,` for SRT, `.` for WebVTT); hours grow past two digits when needed.
 *
 * @param ms - milliseconds (rounded; negative values clamp to 0).
 * @param separator - `,` (SRT) or `.` (WebVTT).
 * @example
 * ```ts
 * formatTimestamp(3_723_456, ','); // '01:02:03,456'
 * ```
 */
export function formatTimestamp(ms: number, separator: ',' | '.'): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  const milli = t % 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${separator}${String(milli).padStart(3, '0')}`;
}

/** Never let cue text read as a timing line. */
function noArrow(text: string): string {
  return text.replace(/-{2,}>/g, '->');
}

/**
 * One SRT cue: `1\n00:00:01,000 --> 00:00:03,500\ntext\n\n`; a cue with a speaker starts `Speaker 1: `.
 *
 * @param cue - the cue.
 * @param index - its 1-based number.
 * @param speakers - prefix the cue's speaker. Default true.
 * @example
 * ```ts
 * formatSrtCue({ startMs: 1000, endMs: 3500, lines: ['hello'], speaker: 'agent', script: 'latin' }, 1);
 * // '1\n00:00:01,000 --> 00:00:03,500\nagent: hello\n\n'
 * ```
 */
export function formatSrtCue(cue: Cue, index: number, speakers = true): string {
  const lines = cue.lines.map(noArrow);
  if (speakers && cue.speaker && lines.length) lines[0] = `${noArrow(cue.speaker.replace(/\s+/g, ' ').trim())}: ${lines[0]}`;
  return `${index}\n${formatTimestamp(cue.startMs, ',')} --> ${formatTimestamp(cue.endMs, ',')}\n${lines.join('\n')}\n\n`;
}

/**
 * The SRT {@link TextFormat}: finals become cues; partials are ignored.
 *
 * @param options - caption limits and `speakers`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for invalid limits.
 * @example
 * ```ts
 * const fmt = srtFormat();
 * const text = [...fmt.event(finalEvent), ...fmt.end()].join('');
 * ```
 */
export function srtFormat(options: SrtCaptionOptions = {}): TextFormat {
  const builder = cueLayout(options);
  let index = 0;
  const render = (cues: Cue[]): string[] => cues.map((c) => formatSrtCue(c, ++index, options.speakers ?? true));
  return { header: '', event: (e: TranscriptEvent) => render(builder.push(e)), end: () => render(builder.flush()) };
}

/**
 * Sink: write final events as SubRip captions to a file or a Writable, passing every event on.
 *
 * Each cue is appended as soon as it is settled. The operator completes only after the file is flushed and closed;
 * on an upstream error it writes the cues it has, closes the file and forwards the error. Empty input gives an
 * empty file.
 *
 * @param target - a file path (created or truncated) or a Writable.
 * @param options - caption limits ({@link CaptionOptions}) and sink options ({@link SinkOptions}).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time for a bad target or bad limits;
 *   `EARSHOT_SINK_FAILED` through the pipeline when the file cannot be written.
 * @example
 * ```ts
 * await lastValueFrom(events$.pipe(toSrt('talk.srt'), toJsonl('talk.jsonl')), { defaultValue: undefined });
 * ```
 */
export function toSrt(target: SinkTarget, options: SrtOptions = {}): MonoTypeOperatorFunction<TranscriptEvent> {
  resolveCaptionLimits(options);
  return textSink(target, () => srtFormat(options), options);
}

/**
 * Operator: events in, SRT text out (one string per cue), for a Writable or a Readable.
 *
 * @param options - caption limits.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time for bad limits.
 * @example
 * ```ts
 * events$.pipe(srtText()).subscribe((text) => process.stdout.write(text));
 * ```
 */
export function srtText(options: SrtCaptionOptions = {}): OperatorFunction<TranscriptEvent, string> {
  resolveCaptionLimits(options);
  return formatText(() => srtFormat(options));
}
