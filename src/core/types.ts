/**
 * The shared vocabulary of earshot: audio chunks that flow between sources and operators, and
 * transcript events that flow from transports to sinks.
 *
 * Audio time is always counted from the start of the input, never wall-clock.
 */
import type { FlowControl } from './flow.js';

/** Raw bytes from a source, before decoding (a file, a socket, stdin). */
export interface ByteChunk {
  readonly kind: 'bytes';
  readonly data: Buffer;
  /** Flow control of the source that produced this chunk (cold sources only). */
  readonly flow?: FlowControl;
  /**
   * Where the bytes come from, when a later stage may read it again itself: `fromFile()` sets `{ path }`, so
   * `decode()` lets ffmpeg open the file (MP4/M4A need to seek) whatever operators sit between them. An operator
   * that changes the bytes (rather than passing chunks on) must drop this field.
   */
  readonly source?: ByteSource;
}

/** The origin of a byte stream, carried on its chunks (see {@link ByteChunk.source}). */
export interface ByteSource {
  /** A file a later stage may open itself. */
  readonly path: string;
}

/**
 * Interleaved signed 16-bit PCM with its position on the input's time line.
 *
 * `offset` counts sample frames (one sample per channel) at `sampleRate` from the start of the input,
 * so `offset / sampleRate` seconds is exact and survives any chunking.
 */
export interface AudioChunk {
  readonly kind: 'audio';
  readonly samples: Int16Array;
  readonly sampleRate: number;
  readonly channels: number;
  /** Index of the first frame of this chunk on the input's time line, in frames at `sampleRate`. */
  readonly offset: number;
  /** Flow control of the source that produced the audio (cold sources only). */
  readonly flow?: FlowControl;
}

/** A contiguous stretch of speech (or a window of it) cut from a stream, ready to send as one request. */
export interface AudioSegment extends AudioChunk {
  /** Why the segment was closed: a pause, its maximum length, or the end of the input. */
  readonly cut: 'pause' | 'max-length' | 'end';
  /** Audio time (ms) at which the speech in this segment ended, if known (latency accounting). */
  readonly speechEndMs?: number;
  /** Wall-clock (performance.now()) at which the segment was closed, for added-latency figures. */
  readonly closedAt?: number;
}

/** A recognised word with its times in milliseconds of audio time. */
export interface Word {
  text: string;
  startMs: number;
  endMs: number;
}

/** Latency figures that a final event may carry (definitions in THE-BAR.md). */
export interface LatencyInfo {
  /** Wall ms from the end of the speech (on a real-time paced input) to this event leaving the pipeline. */
  endOfSpeechMs?: number;
  /** Wall ms from the transport delivering the result to this event leaving the pipeline. */
  addedMs?: number;
}

/**
 * One transcript event: the JSONL contract.
 * `{"type":"partial"|"final"|"speech-start"|"speech-end","text","startMs","endMs","words"?,"speaker"?,"channel"?,"emotion"?,"language"?}`
 *
 * `speech-start` / `speech-end` (from realtime transports whose service detects speech) mark an instant: `text` is
 * empty and `startMs` = `endMs` = when speech started or stopped, on the input's time line. They alternate.
 * Sinks ignore them unless asked (`toJsonl(path, { speechEvents: true })`).
 */
export interface TranscriptEvent {
  type: 'partial' | 'final' | 'speech-start' | 'speech-end';
  text: string;
  startMs: number;
  endMs: number;
  words?: Word[];
  speaker?: string;
  /** The input channel (0-based) or call track the event was heard on, when the audio had more than one. */
  channel?: number;
  emotion?: Emotion | string;
  language?: string;
  latency?: LatencyInfo;
}

/** True for `speech-start` / `speech-end` events (speech edges, no text). */
export function isSpeechEdge(event: Pick<TranscriptEvent, 'type'>): boolean {
  return event.type === 'speech-start' || event.type === 'speech-end';
}

/** Emotion labels reported by the Qwen ASR and Omni models. */
export type Emotion = 'surprised' | 'neutral' | 'happy' | 'sad' | 'disgusted' | 'angry' | 'fearful';
export const EMOTIONS: readonly Emotion[] = ['surprised', 'neutral', 'happy', 'sad', 'disgusted', 'angry', 'fearful'];

/** Milliseconds of audio time at a frame offset. */
export function frameToMs(offset: number, sampleRate: number): number {
  return (offset * 1000) / sampleRate;
}

/** Number of frames in an audio chunk. */
export function frameCount(chunk: Pick<AudioChunk, 'samples' | 'channels'>): number {
  return chunk.samples.length / chunk.channels;
}

/** Shift every time in an event by `deltaMs` (a clip's position on the input's time line). Returns a new event. */
export function shiftEvent(event: TranscriptEvent, deltaMs: number): TranscriptEvent {
  if (deltaMs === 0) return event;
  const out: TranscriptEvent = { ...event, startMs: event.startMs + deltaMs, endMs: event.endMs + deltaMs };
  if (event.words) out.words = event.words.map((w) => ({ text: w.text, startMs: w.startMs + deltaMs, endMs: w.endMs + deltaMs }));
  return out;
}

/**
 * Samples of several pieces, one after another, in a new array (always a copy: the pieces stay usable).
 *
 * @param pieces - mono s16 pieces in order.
 * @example
 * ```ts
 * concatSamples([new Int16Array([1, 2]), new Int16Array([3])]); // Int16Array [1, 2, 3]
 * ```
 */
export function concatSamples(pieces: readonly Int16Array[]): Int16Array {
  let total = 0;
  for (const p of pieces) total += p.length;
  const out = new Int16Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
