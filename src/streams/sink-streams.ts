/**
 * The stream face of the sinks. Two shapes, both built on the same formats as the RxJS sinks:
 * - `srtStream()`, `vttStream()`, `jsonlStream()`: Transforms from `TranscriptEvent` objects to text, to pipe into
 *   any Writable (`createWriteStream('a.srt')`, `process.stdout`, a socket);
 * - `srtWritable(path)`, `vttWritable(path)`, `jsonlWritable(path)`: Writables of events that write the file
 *   themselves; `'finish'` means the file is flushed and closed, and a slow disk pauses the writer.
 */
import type { Duplex, Writable } from 'node:stream';
import { FlowControl } from '../core/flow.js';
import { jsonlText, toJsonl, type JsonlFormatOptions, type JsonlOptions } from '../sinks/jsonl.js';
import { srtText, toSrt, type SrtOptions } from '../sinks/srt.js';
import type { CaptionOptions } from '../sinks/captions.js';
import type { SinkTarget } from '../sinks/text-sink.js';
import { toVtt, vttText, type VttOptions } from '../sinks/vtt.js';
import { operatorToTransform, toWritable } from './operator-to-transform.js';

const TEXT_OUT = { readableObjectMode: false } as const;

/**
 * Events in, SubRip text out (cues laid out by the caption rules).
 *
 * @param options - caption limits.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for bad limits.
 * @example
 * ```ts
 * await pipeline(events, srtStream(), createWriteStream('a.srt'));
 * ```
 */
export function srtStream(options: CaptionOptions = {}): Duplex {
  return operatorToTransform(srtText(options), TEXT_OUT);
}

/**
 * Events in, WebVTT text out (header first, even for no events).
 *
 * @param options - caption limits and `speakers`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for bad limits.
 * @example
 * ```ts
 * await pipeline(events, vttStream(), createWriteStream('a.vtt'));
 * ```
 */
export function vttStream(options: Omit<VttOptions, 'end' | 'maxQueuedBytes' | 'maxBufferBytes' | 'flow'> = {}): Duplex {
  return operatorToTransform(vttText(options), TEXT_OUT);
}

/**
 * Events in, JSON Lines out (the transcript contract, one event a line).
 *
 * @param options - `finalsOnly`, `latency`.
 * @example
 * ```ts
 * await pipeline(events, jsonlStream({ finalsOnly: true }), process.stdout);
 * ```
 */
export function jsonlStream(options: JsonlFormatOptions = {}): Duplex {
  return operatorToTransform(jsonlText(options), TEXT_OUT);
}

/**
 * A Writable of events that writes an SRT file (or a Writable); `'finish'` after the file is flushed and closed.
 *
 * @param target - a path or a Writable.
 * @param options - caption limits and sink options.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at once; `EARSHOT_SINK_FAILED` destroys the stream.
 * @example
 * ```ts
 * await pipeline(createReadStream('a.wav'), decodeStream(), transcribeStream(local()), srtWritable('a.srt'));
 * ```
 */
export function srtWritable(target: SinkTarget, options: Omit<SrtOptions, 'flow'> = {}): Writable {
  const flow = new FlowControl();
  return toWritable(toSrt(target, { ...options, flow }), { flow });
}

/**
 * A Writable of events that writes a WebVTT file; `'finish'` after the file is flushed and closed.
 *
 * @param target - a path or a Writable.
 * @param options - caption limits, `speakers`, and sink options.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at once; `EARSHOT_SINK_FAILED` destroys the stream.
 * @example
 * ```ts
 * await pipeline(events, vttWritable('a.vtt'));
 * ```
 */
export function vttWritable(target: SinkTarget, options: Omit<VttOptions, 'flow'> = {}): Writable {
  const flow = new FlowControl();
  return toWritable(toVtt(target, { ...options, flow }), { flow });
}

/**
 * A Writable of events that writes a JSONL file; `'finish'` after the file is flushed and closed.
 *
 * @param target - a path or a Writable.
 * @param options - `finalsOnly`, `latency`, and sink options.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at once; `EARSHOT_SINK_FAILED` destroys the stream.
 * @example
 * ```ts
 * await pipeline(events, jsonlWritable('a.jsonl'));
 * ```
 */
export function jsonlWritable(target: SinkTarget, options: Omit<JsonlOptions, 'flow'> = {}): Writable {
  const flow = new FlowControl();
  return toWritable(toJsonl(target, { ...options, flow }), { flow });
}
