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
export { fromFile, FileSource, type FromFileOptions } from './sources/file.js';
export { fromReadable } from './sources/readable.js';
export { fromUrl, isHttpUrl } from './sources/url.js';
export { fromPcm, type FromPcmOptions } from './sources/pcm.js';
export { fromRtp, rtpStreams, parseRtpUrl, type RtpSourceOptions, type RtpStreams, type RtpStream, type RtpStats, type RtpStreamStats, type DepacketizerOptions } from './sources/rtp.js';
export { ssrcName } from './rtp/packet.js';
export { fromMic, defaultMicCommand, type FromMicOptions } from './sources/mic.js';

// Operators
export { decode, type DecodeOptions, type RawInput } from './operators/decode.js';
export { resample, type ResampleOptions } from './operators/resample.js';
export { vadChunk, type VadChunkOptions } from './operators/vad-chunk.js';
export { nearRealtime, Provisional, type NearRealtimeOptions, type WindowSegment, type ProvisionalState } from './operators/near-realtime.js';
export { decodesWindowsLive, nearRealtimeLive, transcribeNearRealtime, type NearRealtimeLiveOptions, type TranscribeNearRealtimeOptions } from './operators/near-realtime-live.js';
export { transcribeMode, type Mode, type TranscribeModeOptions } from './operators/transcribe-mode.js';
export { fixedChunk, type FixedChunkOptions } from './operators/fixed-chunk.js';
export { pace, type PaceOptions } from './operators/pace.js';
export { transcribe, type TranscribeOptions } from './operators/transcribe.js';
export { transcribeBatch, type TranscribeBatchOptions, type SpeculationStats } from './operators/transcribe-batch.js';
export type { RetryPolicy } from './core/retry.js';
export { transcribeRealtime, type TranscribeRealtimeOptions } from './operators/transcribe-realtime.js';
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
export { TRANSPORTS, listModels, registerTransport, chooseModel, createTransport, modelInfo, assertModelSupports, type ModelInfo, type ModelChoice, type ModelQuestion, type ModelMode, type ModelApi, type AccuracyBoost, type CreateTransportOptions } from './transports/catalog.js';

// Transport factories
export { local, type LocalOptions, type LocalTransport } from './transports/local.js';
export { funAsrRealtime, type FunAsrRealtimeOptions } from './transports/dashscope/fun-asr-realtime.js';
export { qwenAsrRealtime, type QwenAsrRealtimeOptions } from './transports/dashscope/qwen-asr-realtime.js';
export { omniRealtime, type OmniRealtimeOptions, type OmniRealtimeModel } from './transports/dashscope/omni-realtime.js';
export { funAsr, type FunAsrOptions, type BatchTransport, type BatchFileOptions } from './transports/dashscope/fun-asr.js';
export { qwenAsrFiletrans, type QwenAsrFiletransOptions } from './transports/dashscope/qwen-asr-filetrans.js';
export { omni, type OmniOptions, type CompatAudioModel } from './transports/dashscope/omni.js';
export type { BatchProgress } from './transports/dashscope/http.js';

// Sinks, and what a new sink format is built from
export { toSrt, srtText, type SrtOptions } from './sinks/srt.js';
export { toVtt, vttText, type VttOptions } from './sinks/vtt.js';
export { toJsonl, jsonlText, type JsonlOptions } from './sinks/jsonl.js';
export { toConsole, type ConsoleOptions } from './sinks/console.js';
export { buildCues, captions, type CaptionOptions, type Cue } from './sinks/captions.js';
export { textSink, type SinkOptions, type SinkTarget, type TextFormat } from './sinks/text-sink.js';

// Call audio from media servers (Twilio-style media streams, FreeSWITCH audio fork, Asterisk, Jambonz)
export { fromTwilioMediaStream, fromTelnyxMediaStream, fromPlivoAudioStream, fromExotelStream, type MediaStreamFlavor, type MediaStreamOptions } from './sources/twilio.js';
export { fromAudioFork, type AudioForkOptions, type MixType } from './sources/audio-fork.js';
export { fromAudioSocket } from './sources/audiosocket.js';
export { fromAsteriskWebSocket, type AsteriskWebSocketOptions } from './sources/asterisk.js';
export { fromJambonz, fromJambonzStt, type JambonzSttOptions } from './sources/jambonz.js';
export type { CallControlEvent, CallInfo, CallProtocol, CallSourceOptions, CallStats, CallStream, CallTrack } from './sources/call.js';
