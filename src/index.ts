/**
 * earshot: audio to text as RxJS operators and Node streams.
 *
 * Sources → operators → a transport → sinks:
 * `fromFile('talk.mp3').pipe(decode(), resample(16000), vadChunk(), transcribeBatch(local()), toSrt('talk.srt'))`.
 */

// Core types, errors and flow control
export type { AudioChunk, AudioSegment, ByteChunk, ByteSource, Emotion, LatencyInfo, TranscriptEvent, Word } from './core/types.js';
export { EMOTIONS, frameCount, frameToMs, isSpeechEdge, shiftEvent } from './core/types.js';
export {
  AbortError,
  CapabilityError,
  EarshotError,
  EngineError,
  InputError,
  InvalidArgumentError,
  SinkError,
  TransportError,
  isRetryable,
  redactSecrets,
  toEarshotError,
} from './core/errors.js';
export type { ErrorCode, EarshotErrorOptions } from './core/errors.js';
export { FlowControl } from './core/flow.js';
export type { DropInfo, OverflowPolicy, QueueLimits } from './core/backpressure.js';
export { PaceClock, clockOf, runVirtual } from './core/clock.js';

// Sources
export { fromFile, FileSource } from './sources/file.js';
export type { FromFileOptions } from './sources/file.js';
export { fromReadable } from './sources/readable.js';
export { fromPcm } from './sources/pcm.js';
export type { FromPcmOptions } from './sources/pcm.js';
export { fromRtp, rtpStreams, parseRtpUrl, codecPayloads } from './sources/rtp.js';
export type { RtpSourceOptions, RtpStreams, RtpStream, RtpStats, RtpStreamStats, DepacketizerOptions } from './sources/rtp.js';
export { RtpDepacketizer } from './rtp/depacketizer.js';
export type { DepacketizerHandlers } from './rtp/depacketizer.js';
export { parseRtp, buildRtp } from './rtp/packet.js';
export type { RtpPacket, RtpPacketInit, RtpParseResult } from './rtp/packet.js';
export { payloadsFromSdp, parsePayloadMapping } from './rtp/codecs.js';
export type { PayloadMapping, PayloadFormat, RtpCodecName } from './rtp/codecs.js';
export { fromMic, defaultMicCommand } from './sources/mic.js';
export type { FromMicOptions } from './sources/mic.js';

// Operators
export { decode } from './operators/decode.js';
export type { DecodeOptions, RawInput } from './operators/decode.js';
export { resample } from './operators/resample.js';
export type { ResampleOptions } from './operators/resample.js';
export { vadChunk } from './operators/vad-chunk.js';
export type { VadChunkOptions } from './operators/vad-chunk.js';
export { nearRealtime, Provisional } from './operators/near-realtime.js';
export type { NearRealtimeOptions, WindowSegment, ProvisionalState } from './operators/near-realtime.js';
export { loadVad, openVad, Vad } from './media/vad.js';
export type { VadOptions, VadMode, VadFrameMs, VadSampleRate } from './media/vad.js';
export { fixedChunk } from './operators/fixed-chunk.js';
export type { FixedChunkOptions } from './operators/fixed-chunk.js';
export { pace } from './operators/pace.js';
export type { PaceOptions } from './operators/pace.js';
export { transcribe } from './operators/transcribe.js';
export type { TranscribeOptions } from './operators/transcribe.js';
export { transcribeBatch } from './operators/transcribe-batch.js';
export type { TranscribeBatchOptions, RetryOptions } from './operators/transcribe-batch.js';
export { transcribeRealtime } from './operators/transcribe-realtime.js';
export type { TranscribeRealtimeOptions } from './operators/transcribe-realtime.js';
export type { ReconnectSettings } from './operators/reconnecting-session.js';
export { filterEmotion } from './operators/filter-emotion.js';
export type { FilterEmotionOptions } from './operators/filter-emotion.js';

// Transports
export { assertCapabilities, assertStreamOptions } from './transports/transport.js';
export type { Capabilities, ChunkJob, Hotword, RecognitionOptions, StreamOptions, StreamSession, Transport } from './transports/transport.js';
export { local, LOCAL_CAPABILITIES } from './transports/local.js';
export type { LocalOptions, LocalTransport } from './transports/local.js';
export { EnginePool } from './engine/pool.js';
export type { EnginePoolOptions, PoolSession, PoolSessionHandlers } from './engine/pool.js';
export { DEFAULT_MODEL_DIR } from './engine/pocketsphinx.js';
export type { DecoderConfig, ModelPaths } from './engine/pocketsphinx.js';
export type { StreamRecognizerOptions } from './engine/recognizer.js';
export { resolveDashScope } from './transports/dashscope/config.js';
export type { DashScopeOptions, DashScopeEndpoints } from './transports/dashscope/config.js';
export { funAsrRealtime } from './transports/dashscope/fun-asr-realtime.js';
export type { FunAsrRealtimeOptions } from './transports/dashscope/fun-asr-realtime.js';
export { qwenAsrRealtime, QWEN_ASR_LANGUAGES } from './transports/dashscope/qwen-asr-realtime.js';
export type { QwenAsrRealtimeOptions } from './transports/dashscope/qwen-asr-realtime.js';
export { omniRealtime, OMNI_MAX_SESSION_MS } from './transports/dashscope/omni-realtime.js';
export type { OmniRealtimeOptions, OmniRealtimeModel } from './transports/dashscope/omni-realtime.js';
export { funAsr } from './transports/dashscope/fun-asr.js';
export type { FunAsrOptions, BatchTransport, BatchFileOptions } from './transports/dashscope/fun-asr.js';
export { qwenAsrFiletrans } from './transports/dashscope/qwen-asr-filetrans.js';
export type { QwenAsrFiletransOptions } from './transports/dashscope/qwen-asr-filetrans.js';
export { omni } from './transports/dashscope/omni.js';
export type { OmniOptions, CompatAudioModel } from './transports/dashscope/omni.js';
export { Vocabularies, parseHotwords, validateHotword } from './transports/dashscope/vocabulary.js';
export { createTemporaryKey, type TemporaryKey, type TemporaryKeyOptions } from './transports/dashscope/temporary-key.js';
export { DashScopeHttp } from './transports/dashscope/http.js';
export type { BatchProgress } from './transports/dashscope/http.js';
export type { VocabulariesOptions, VocabularySummary, VocabularyDetails } from './transports/dashscope/vocabulary.js';
export { MODELS, chooseModel, createTransport, modelInfo, assertModelSupports, formatModelTable, modelsJson } from './transports/catalog.js';
export type { ModelInfo, ModelChoice, ModelQuestion, ModelMode, ModelApi, AccuracyBoost, CreateTransportOptions } from './transports/catalog.js';

// Sinks
export { toSrt, srtText } from './sinks/srt.js';
export type { SrtOptions } from './sinks/srt.js';
export { toVtt, vttText } from './sinks/vtt.js';
export type { VttOptions } from './sinks/vtt.js';
export { toJsonl, jsonlText } from './sinks/jsonl.js';
export type { JsonlOptions } from './sinks/jsonl.js';
export { toConsole } from './sinks/console.js';
export type { ConsoleOptions } from './sinks/console.js';
export { buildCues, captions } from './sinks/captions.js';
export type { CaptionOptions, Cue } from './sinks/captions.js';
export type { SinkTarget } from './sinks/text-sink.js';

// The Node Streams face (wraps the operators and sinks above)
export { operatorToTransform, toWritable } from './streams/operator-to-transform.js';
export type { TransformOptions } from './streams/operator-to-transform.js';
export { toReadable, toAsyncIterable } from './streams/to-readable.js';
export type { ToReadableOptions } from './streams/to-readable.js';
export { fromAsyncIterable } from './streams/from-async-iterable.js';
export { decodeStream, resampleStream, vadChunkStream, transcribeStream, transcribeBatchStream } from './streams/operator-streams.js';
export { srtStream, vttStream, jsonlStream, srtWritable, vttWritable, jsonlWritable } from './streams/sink-streams.js';
