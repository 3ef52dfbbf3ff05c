/**
 * `earshot/engine`: the engines behind `local()` and `vadChunk()` — the pool of decoders running the embedded
 * recogniser off the main thread (for monitoring or sharing it), its model paths and decoder settings, and the
 * voice-activity detector.
 *
 * @example
 * ```ts
 * import { EnginePool } from 'earshot/engine';
 * const pool = new EnginePool({ size: 2 });
 * ```
 */
export { EnginePool } from './pool.js';
export type { EnginePoolOptions, PoolSession, PoolSessionHandlers } from './pool.js';
export { DEFAULT_MODEL_DIR } from './pocketsphinx.js';
export type { DecoderConfig, ModelPaths } from './pocketsphinx.js';
export type { StreamRecognizerOptions } from './recognizer.js';
export { loadVad, openVad, Vad } from '../media/vad.js';
export type { VadOptions, VadMode, VadFrameMs, VadSampleRate } from '../media/vad.js';
