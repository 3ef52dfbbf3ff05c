/**
 * The stream face of the audio operators: each is {@link operatorToTransform} around the very operator the RxJS
 * face uses, so both faces decode, resample, cut and transcribe with the same code.
 *
 * ```ts
 * await pipeline(createReadStream('a.mp3'), decodeStream(), resampleStream(16000), transcribeStream(local()),
 *   srtStream(), createWriteStream('a.srt'));
 * ```
 */
import type { Duplex } from 'node:stream';
import { decode, type DecodeOptions } from '../operators/decode.js';
import { resample, type ResampleOptions } from '../operators/resample.js';
import { transcribe, type TranscribeOptions } from '../operators/transcribe.js';
import { transcribeBatch, type TranscribeBatchOptions } from '../operators/transcribe-batch.js';
import { vadChunk, type VadChunkOptions } from '../operators/vad-chunk.js';
import type { Transport } from '../transports/transport.js';
import { operatorToTransform, type TransformOptions } from './operator-to-transform.js';
import type { toReadable } from './to-readable.js';

/**
 * `decode()` as a Duplex: bytes (any format ffmpeg reads, or WAV/raw PCM in-process) in, `AudioChunk`s out.
 * The bytes reach ffmpeg through its stdin, so formats whose index sits at the end of the file (MP4/M4A) cannot
 * be decoded this way: read those with `fromFile(path).pipe(decode())` and {@link toReadable}.
 *
 * @param options - as {@link decode}.
 * @param stream - buffer sizes of the adapter.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for bad options; at run time the stream is destroyed
 *   with decode's codes (`EARSHOT_DECODE_FAILED`, `EARSHOT_EMPTY_INPUT`, `EARSHOT_FFMPEG_MISSING`, …).
 * @example
 * ```ts
 * await pipeline(createReadStream('talk.mp3'), decodeStream(), resampleStream(16000), consumer);
 * ```
 */
export function decodeStream(options: DecodeOptions = {}, stream: TransformOptions = {}): Duplex {
  return operatorToTransform(decode(options), stream);
}

/**
 * `resample(rate)` as a Duplex: `AudioChunk`s in, `AudioChunk`s at `rate` out.
 *
 * @param rate - output sample rate in Hz.
 * @param options - as {@link resample}.
 * @param stream - buffer sizes of the adapter.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad rate or quality.
 * @example
 * ```ts
 * await pipeline(createReadStream('talk.wav'), decodeStream(), resampleStream(16000), consumer);
 * ```
 */
export function resampleStream(rate: number, options: ResampleOptions = {}, stream: TransformOptions = {}): Duplex {
  return operatorToTransform(resample(rate, options), stream);
}

/**
 * `vadChunk()` as a Duplex: `AudioChunk`s in, speech `AudioSegment`s out.
 *
 * @param options - as {@link vadChunk}.
 * @param stream - buffer sizes of the adapter.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for bad options.
 * @example
 * ```ts
 * await pipeline(createReadStream('talk.wav'), decodeStream(), vadChunkStream(), transcribeBatchStream(local()), consumer);
 * ```
 */
export function vadChunkStream(options: VadChunkOptions = {}, stream: TransformOptions = {}): Duplex {
  return operatorToTransform(vadChunk(options), stream);
}

/**
 * `transcribe(transport)` as a Duplex: 16 kHz mono `AudioChunk`s in, `TranscriptEvent`s out (live session).
 *
 * @param transport - a streaming transport, e.g. `local()`.
 * @param options - as {@link transcribe}.
 * @param stream - buffer sizes of the adapter.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when the transport cannot stream;
 *   CapabilityError (`EARSHOT_CAPABILITY_MISSING`) for options it lacks.
 * @example
 * ```ts
 * await pipeline(createReadStream('a.mp3'), decodeStream(), resampleStream(16000), transcribeStream(local()), srtStream(), createWriteStream('a.srt'));
 * ```
 */
export function transcribeStream(transport: Transport, options: TranscribeOptions = {}, stream: TransformOptions = {}): Duplex {
  return operatorToTransform(transcribe(transport, options), stream);
}

/**
 * `transcribeBatch(transport)` as a Duplex: `AudioSegment`s in, `TranscriptEvent`s out, one request a segment.
 *
 * @param transport - a transport with `transcribeClip`.
 * @param options - as {@link transcribeBatch}.
 * @param stream - buffer sizes of the adapter.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) / CapabilityError (`EARSHOT_CAPABILITY_MISSING`).
 * @example
 * ```ts
 * await pipeline(createReadStream('a.wav'), decodeStream(), vadChunkStream(), transcribeBatchStream(local()), jsonlStream(), process.stdout);
 * ```
 */
export function transcribeBatchStream(transport: Transport, options: TranscribeBatchOptions = {}, stream: TransformOptions = {}): Duplex {
  return operatorToTransform(transcribeBatch(transport, options), stream);
}
