/**
 * WebVTT (.vtt) output: `WEBVTT` header, `.` before the milliseconds, text escaped (`&amp;`, `&lt;`, `&gt;`, so
 * `-->` never appears in a cue's text), and speakers as voice spans (`<v Speaker 1>`). Cues are written whole, one
 * at a time, so a file left by a failed run ends at its last complete cue.
 */
import type { MonoTypeOperatorFunction, OperatorFunction } from 'rxjs';
import type { TranscriptEvent } from '../core/types.js';
import { cueLayout, resolveCaptionLimits, type CaptionOptions, type Cue } from './captions.js';
import { formatTimestamp } from './srt.js';
import { formatText, textSink, type SinkOptions, type SinkTarget, type TextFormat } from './text-sink.js';

/** Options of {@link toVtt} and {@link vttText}. */
export interface VttOptions extends CaptionOptions, SinkOptions {
  /** Mark each cue's speaker with a voice span `<v Speaker 1>`. Default true. */
  speakers?: boolean;
}

/**
 * The header every WebVTT file starts with (and all an empty one holds).
 *
 * @example
 * ```ts
 * writeFileSync('empty.vtt', VTT_HEADER);
 * ```
 */
export const VTT_HEADER = 'WEBVTT\n\n';

/**
 * Escape text for a WebVTT cue: `&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`.
 *
 * @param text - raw text.
 * @example
 * ```ts
 * escapeVtt('a --> b & <c>'); // 'a --&gt; b &amp; &lt;c&gt;'
 * ```
 */
export function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One WebVTT cue: `00:00:01.000 --> 00:00:03.500\n<v Speaker 1>text\n\n`.
 *
 * @param cue - the cue.
 * @param speakers - add a voice span for the cue's speaker. Default true.
 * @example
 * ```ts
 * formatVttCue({ startMs: 0, endMs: 900, lines: ['hi'], speaker: 'Speaker 1', script: 'latin' });
 * // '00:00:00.000 --> 00:00:00.900\n<v Speaker 1>hi\n\n'
 * ```
 */
export function formatVttCue(cue: Cue, speakers = true): string {
  const voice = speakers && cue.speaker ? `<v ${escapeVtt(cue.speaker.replace(/\s+/g, ' ').trim())}>` : '';
  return `${formatTimestamp(cue.startMs, '.')} --> ${formatTimestamp(cue.endMs, '.')}\n${voice}${cue.lines.map(escapeVtt).join('\n')}\n\n`;
}

/**
 * The WebVTT {@link TextFormat}.
 *
 * @param options - caption limits and `speakers`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for invalid limits.
 * @example
 * ```ts
 * const fmt = vttFormat({ speakers: false });
 * const text = fmt.header + [...fmt.event(finalEvent), ...fmt.end()].join('');
 * ```
 */
export function vttFormat(options: Omit<VttOptions, keyof SinkOptions> = {}): TextFormat {
  const builder = cueLayout(options);
  const speakers = options.speakers ?? true;
  const render = (cues: Cue[]): string[] => cues.map((c) => formatVttCue(c, speakers));
  return { header: VTT_HEADER, event: (e: TranscriptEvent) => render(builder.push(e)), end: () => render(builder.flush()) };
}

/**
 * Sink: write final events as WebVTT captions to a file or a Writable, passing every event on.
 *
 * The header is written at once (empty input gives a valid file holding only the header); each cue is appended
 * when settled. Completes after the file is flushed and closed; on an upstream error it writes the cues it has,
 * closes the file and forwards the error.
 *
 * @param target - a file path (created or truncated) or a Writable.
 * @param options - caption limits, `speakers`, and sink options.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time; `EARSHOT_SINK_FAILED` through the
 *   pipeline when the file cannot be written.
 * @example
 * ```ts
 * await lastValueFrom(events$.pipe(toVtt('talk.vtt')), { defaultValue: undefined });
 * ```
 */
export function toVtt(target: SinkTarget, options: VttOptions = {}): MonoTypeOperatorFunction<TranscriptEvent> {
  resolveCaptionLimits(options);
  return textSink(target, () => vttFormat(options), options);
}

/**
 * Operator: events in, WebVTT text out (the header first, then one string per cue).
 *
 * @param options - caption limits and `speakers`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time for bad limits.
 * @example
 * ```ts
 * events$.pipe(vttText()).subscribe((text) => process.stdout.write(text));
 * ```
 */
export function vttText(options: Omit<VttOptions, keyof SinkOptions> = {}): OperatorFunction<TranscriptEvent, string> {
  resolveCaptionLimits(options);
  return formatText(() => vttFormat(options));
}
