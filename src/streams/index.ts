/**
 * `earshot/streams`: the Node Streams face of earshot — every stage as a `Duplex` wrapping the RxJS operator of the
 * same name (backpressure both ways), sinks as streams, and converters between Observables and streams.
 *
 * @example
 * ```ts
 * import { decodeStream, resampleStream, transcribeStream, srtStream } from 'earshot/streams';
 * await pipeline(createReadStream('a.mp3'), decodeStream(), resampleStream(16000), transcribeStream(local()), srtStream(), createWriteStream('a.srt'));
 * ```
 */
export { operatorToTransform, toWritable } from './operator-to-transform.js';
export type { TransformOptions } from './operator-to-transform.js';
export { toReadable, toAsyncIterable } from './to-readable.js';
export type { ToReadableOptions } from './to-readable.js';
export { fromAsyncIterable } from './from-async-iterable.js';
export { decodeStream, resampleStream, vadChunkStream, transcribeStream, transcribeBatchStream } from './operator-streams.js';
export { srtStream, vttStream, jsonlStream, srtWritable, vttWritable, jsonlWritable } from './sink-streams.js';
