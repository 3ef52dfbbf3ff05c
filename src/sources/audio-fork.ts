/**
 * FreeSWITCH `mod_audio_fork` (and `mod_audio_stream`, which speaks the same way): after
 * `uuid_audio_fork <uuid> start <wss-url> <mix-type> <sampling-rate> <metadata>` FreeSWITCH opens a WebSocket
 * (subprotocol `audio.drachtio.org`), sends `<metadata>` as one text frame, then binary frames of 16-bit
 * little-endian PCM at the sampling rate: one channel for `mono` (the caller) and `mixed` (both parties mixed), two
 * interleaved for `stereo` (left the caller, right the callee). The server may send JSON text back; FreeSWITCH turns
 * `{"type":"transcription","data":{…}}` into a `mod_audio_fork::transcription` event for the application.
 *
 * The mix type and rate are arguments of the FreeSWITCH command, not part of the stream: pass them as options,
 * or put them in the metadata JSON (`{"mixType":"stereo","sampleRate":16000,"callId":"<uuid>"}`).
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { InvalidArgumentError } from '../core/errors.js';
import type { TranscriptEvent } from '../core/types.js';
import {
  bindWebSocket,
  createCallStream,
  numberField,
  parseJsonObject,
  PcmTracks,
  stringField,
  stringRecord,
  type CallContext,
  type CallProtocol,
  type CallSourceOptions,
  type CallStream,
  type CallTrack,
} from './call.js';

/** How the media server lays out a forked call's channels. */
export type MixType = 'mono' | 'mixed' | 'stereo';

/** Options of {@link fromAudioFork}. */
export interface AudioForkOptions extends CallSourceOptions {
  /** The `<mix-type>` of the fork command. Default: the metadata's `mixType`, else `mono`. */
  mixType?: MixType;
  /** The `<sampling-rate>` of the fork command, Hz (`8k` → 8000); any multiple of 8000 up to 64000. Default: the metadata's `sampleRate`, else 8000. */
  sampleRate?: number;
  /** The call's id. Default: the metadata's `uuid`/`callId`/`callSid`, else a random UUID. */
  callId?: string;
}

const MIX_TYPES: readonly MixType[] = ['mono', 'mixed', 'stereo'];
const CALL_ID_KEYS = ['callId', 'call_id', 'uuid', 'callSid', 'call_sid', 'channelId', 'channel_id'];

/** Validate a sample rate: a multiple of 8000 from 8000 to 64000 (what FreeSWITCH and Jambonz produce). */
export function forkRate(rate: number | undefined): number | undefined {
  return rate !== undefined && Number.isInteger(rate) && rate >= 8000 && rate <= 64000 && rate % 8000 === 0 ? rate : undefined;
}

function checkOptions(options: AudioForkOptions): void {
  if (options.mixType !== undefined && !MIX_TYPES.includes(options.mixType)) throw new InvalidArgumentError(`mixType must be mono, mixed or stereo, not ${String(options.mixType)}`);
  if (options.sampleRate !== undefined && forkRate(options.sampleRate) === undefined) throw new InvalidArgumentError(`sampleRate must be a multiple of 8000 up to 64000, not ${String(options.sampleRate)}`);
}

/** What a fork's first text frame tells, once a protocol has read it. */
export interface ForkStart {
  callId: string;
  mixType: MixType;
  sampleRate: number;
  customParameters: Record<string, string>;
  metadata: Record<string, unknown>;
}

/**
 * The parser shared by the fork-style protocols (audio fork, Jambonz listen): one metadata text frame, then binary
 * L16 little-endian audio, one or two interleaved channels. `read` turns the metadata into the call; later text
 * frames go to `later` (DTMF, pass-through text).
 */
export function forkParser(
  ctx: CallContext,
  read: (metadata: Record<string, unknown> | undefined, text: string | undefined) => ForkStart | undefined,
  later: (text: string) => void,
): { text(t: string): void; binary(b: Buffer): void } {
  let reader: PcmTracks | undefined;
  const begin = (metadata: Record<string, unknown> | undefined, text: string | undefined): boolean => {
    const start = read(metadata, text);
    if (!start) return false;
    ctx.begin({ callId: start.callId, customParameters: start.customParameters, metadata: start.metadata });
    const names = start.mixType === 'stereo' ? ['caller', 'callee'] : [start.mixType === 'mixed' ? 'mixed' : 'caller'];
    reader = new PcmTracks(names.map((n, i) => ctx.openTrack(n, i, start.sampleRate)), ctx.stats);
    return true;
  };
  return {
    text(t) {
      if (reader) return later(t);
      if (!begin(parseJsonObject(t), t)) ctx.malformed();
    },
    binary(b) {
      if (!reader && !begin(undefined, undefined)) return ctx.malformed();
      reader!.push(b);
    },
  };
}

/**
 * Read a FreeSWITCH `mod_audio_fork` / `mod_audio_stream` WebSocket as a call: one track for `mono` (`caller`) or
 * `mixed` (`mixed`), two for `stereo` (`caller` channel 0 = left, `callee` channel 1 = right), 16-bit PCM at the
 * fork's rate, appended in arrival order (FreeSWITCH sends audio continuously, silence included).
 *
 * `reply(event, track)` sends `{"type":"transcription","data":{…event, "track", "channel"}}` back, which FreeSWITCH
 * raises as a `mod_audio_fork::transcription` event. Text frames after the metadata go to `onEvent` as
 * `{ type: 'text' }`. The stream completes when the socket closes (`uuid_audio_fork <uuid> stop` or hang-up).
 *
 * @param ws - a `ws` WebSocket your server accepted (accept the subprotocol `audio.drachtio.org`).
 * @param options - `mixType`, `sampleRate`, `callId` when the metadata does not carry them; limits; `signal`.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option. A socket error ends the stream with
 *   EARSHOT_CONNECTION_LOST (EARSHOT_PROTOCOL_ERROR for a WebSocket protocol violation).
 * @example
 * ```ts
 * // uuid_audio_fork <uuid> start ws://127.0.0.1:8080/audio-fork stereo 16k {"callId":"<uuid>"}
 * wss.on('connection', (ws) => {
 *   const call = fromAudioFork(ws, { mixType: 'stereo', sampleRate: 16000 });
 *   call.subscribe((track) => track.audio$.pipe(transcribe(local())).subscribe((e) => call.reply(e, track)));
 * });
 * ```
 */
export function fromAudioFork(ws: WebSocket, options: AudioForkOptions = {}): CallStream {
  checkOptions(options);
  return forkStream('audio-fork', ws, options, (metadata, text) => {
    const mixText = stringField(metadata, 'mixType') ?? stringField(metadata, 'mix_type');
    const mixType = options.mixType ?? (MIX_TYPES.includes(mixText as MixType) ? (mixText as MixType) : 'mono');
    const sampleRate = options.sampleRate ?? forkRate(numberField(metadata, 'sampleRate') ?? numberField(metadata, 'sample_rate')) ?? 8000;
    let callId = options.callId;
    for (const k of CALL_ID_KEYS) callId ??= stringField(metadata, k);
    return {
      callId: callId ?? randomUUID(),
      mixType,
      sampleRate,
      customParameters: stringRecord(metadata),
      metadata: metadata ?? (text === undefined ? {} : { text }),
    };
  });
}

/** A fork-style source on a WebSocket, with the audio fork's transcription reply. */
function forkStream(protocol: CallProtocol, ws: WebSocket, options: CallSourceOptions, read: Parameters<typeof forkParser>[1]): CallStream {
  return createCallStream(protocol, options, (ctx) => {
    const parser = forkParser(ctx, read, (text) => ctx.event({ type: 'text', text }));
    const socket = bindWebSocket(ws, ctx, parser);
    return {
      reply: (event, track) => socket.send(JSON.stringify({ type: 'transcription', data: forkTranscription(event, track) })),
      close: (code, reason) => socket.close(code, reason),
    };
  });
}

/** The `data` of an audio-fork transcription: earshot's event (the JSONL contract) with the track it was heard on. */
function forkTranscription(event: TranscriptEvent, track: CallTrack | undefined): Record<string, unknown> {
  const { latency: _latency, ...rest } = event;
  return track ? { ...rest, channel: track.channel, track: track.track } : rest;
}
