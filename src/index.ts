/**
 * earshot: audio to text as RxJS operators and Node streams.
 *
 * Sources → operators → a transport → sinks:
 * `fromFile('talk.mp3').pipe(decode(), resample(16000), vadChunk(), transcribeBatch(local()), toSrt('talk.srt'))`.
 *
 * This root holds what a pipeline is built from. The rest is in subpaths: `earshot/streams` (the Node Streams face),
 * `earshot/rtp` (packets, payload formats, the depacketizer), `earshot/dashscope` (vocabularies, temporary keys, the
 * HTTP client), `earshot/engine` (the engine pool, the VAD), `earshot/testing` (a scripted fake transport, virtual
 * time) and `earshot/emulator` (the offline Qwen Cloud emulator).
 */

// Core types and errors
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
  rememberSecret,
  toEarshotError,
} from './core/errors.js';
export type { ErrorCode, EarshotErrorOptions, InputErrorCode, EngineErrorCode, TransportErrorCode, SinkErrorCode, WrapOptions } from './core/errors.js';
export { FlowControl } from './core/flow.js';
export type { DropInfo, OverflowPolicy, QueueLimits } from './core/backpressure.js';
export { PaceClock } from './core/clock.js';

// Sources
export { fromFile, FileSource } from './sources/file.js';
export type { FromFileOptions } from './sources/file.js';
export { fromReadable } from './sources/readable.js';
export { fromUrl, isHttpUrl } from './sources/url.js';
export { fromPcm } from './sources/pcm.js';
export type { FromPcmOptions } from './sources/pcm.js';
export { fromRtp, rtpStreams, parseRtpUrl } from './sources/rtp.js';
export type { RtpSourceOptions, RtpStreams, RtpStream, RtpStats, RtpStreamStats, DepacketizerOptions } from './sources/rtp.js';
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
export { fixedChunk } from './operators/fixed-chunk.js';
export type { FixedChunkOptions } from './operators/fixed-chunk.js';
export { pace } from './operators/pace.js';
export type { PaceOptions } from './operators/pace.js';
export { transcribe } from './operators/transcribe.js';
export type { TranscribeOptions } from './operators/transcribe.js';
export { transcribeBatch } from './operators/transcribe-batch.js';
export type { TranscribeBatchOptions, SpeculationStats } from './operators/transcribe-batch.js';
export type { RetryPolicy } from './core/retry.js';
export { transcribeRealtime } from './operators/transcribe-realtime.js';
export type { TranscribeRealtimeOptions } from './operators/transcribe-realtime.js';
export type { ReconnectSettings } from './operators/reconnecting-session.js';
export { filterEmotion } from './operators/filter-emotion.js';
export { diarize, splitBySpeaker, type DiarizeOperatorOptions } from './operators/diarize.js';
export { splitChannels, type ChannelTrack } from './operators/split-channels.js';
export { diarize as diarizeAudio, speakerAt, type SpeakerTurn, type DiarizeOptions } from './media/speakers.js';
export type { FilterEmotionOptions } from './operators/filter-emotion.js';

// Transports: the interface, descriptors and the catalog
export { assertCapabilities, assertStreamOptions, cancelCostOf, connectionOf, withCapabilities } from './transports/transport.js';
export type {
  CancelCost,
  Capabilities,
  ChunkJob,
  ClipCallOptions,
  Hotword,
  ModelFeatures,
  ModelSpec,
  RecognitionOptions,
  StreamOptions,
  StreamSession,
  Transport,
  TransportDescriptor,
  TransportOptions,
} from './transports/transport.js';
export { TRANSPORTS, listModels, registerTransport, chooseModel, createTransport, modelInfo, assertModelSupports } from './transports/catalog.js';
export type { ModelInfo, ModelChoice, ModelQuestion, ModelMode, ModelApi, AccuracyBoost, CreateTransportOptions } from './transports/catalog.js';

// Transport factories
export { local } from './transports/local.js';
export type { LocalOptions, LocalTransport } from './transports/local.js';
export { funAsrRealtime } from './transports/dashscope/fun-asr-realtime.js';
export type { FunAsrRealtimeOptions } from './transports/dashscope/fun-asr-realtime.js';
export { qwenAsrRealtime } from './transports/dashscope/qwen-asr-realtime.js';
export type { QwenAsrRealtimeOptions } from './transports/dashscope/qwen-asr-realtime.js';
export { omniRealtime } from './transports/dashscope/omni-realtime.js';
export type { OmniRealtimeOptions, OmniRealtimeModel } from './transports/dashscope/omni-realtime.js';
export { funAsr } from './transports/dashscope/fun-asr.js';
export type { FunAsrOptions, BatchTransport, BatchFileOptions } from './transports/dashscope/fun-asr.js';
export { qwenAsrFiletrans } from './transports/dashscope/qwen-asr-filetrans.js';
export type { QwenAsrFiletransOptions } from './transports/dashscope/qwen-asr-filetrans.js';
export { omni } from './transports/dashscope/omni.js';
export type { OmniOptions, CompatAudioModel } from './transports/dashscope/omni.js';
export type { BatchProgress } from './transports/dashscope/http.js';

// Sinks, and what a new sink format is built from
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
export { textSink } from './sinks/text-sink.js';
export type { SinkOptions, SinkTarget, TextFormat } from './sinks/text-sink.js';

// Call audio from media servers (Twilio-style media streams, FreeSWITCH audio fork, Asterisk, Jambonz)
export { fromTwilioMediaStream, fromTelnyxMediaStream, fromPlivoAudioStream, fromExotelStream } from './sources/twilio.js';
export type { MediaStreamFlavor, MediaStreamOptions } from './sources/twilio.js';
export { fromAudioFork } from './sources/audio-fork.js';
export type { AudioForkOptions, MixType } from './sources/audio-fork.js';
export { fromAudioSocket } from './sources/audiosocket.js';
export { fromAsteriskWebSocket } from './sources/asterisk.js';
export type { AsteriskWebSocketOptions } from './sources/asterisk.js';
export { fromJambonz, fromJambonzStt } from './sources/jambonz.js';
export type { JambonzSttOptions } from './sources/jambonz.js';
export type { CallControlEvent, CallInfo, CallProtocol, CallSourceOptions, CallStats, CallStream, CallTrack } from './sources/call.js';
