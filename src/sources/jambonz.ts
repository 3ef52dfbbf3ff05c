/**
 * Jambonz, two ways in:
 *
 * - the `listen` verb: Jambonz opens a WebSocket (subprotocol `audio.jambonz.org`), sends one JSON text frame with
 *   the call's attributes (`callSid`, `from`, `to`, …) plus `sampleRate`, `mixType` and the verb's `metadata`, then
 *   binary frames of 16-bit little-endian PCM (two interleaved channels for `stereo`);
 * - the custom speech vendor (STT) API: Jambonz opens a WebSocket with `Authorization: Bearer <apiKey>`, sends
 *   `{"type":"start","language","format":"raw","encoding":"LINEAR16","sampleRateHz","interimResults","options":{"hints","hintsBoost"}}`,
 *   binary LINEAR16 audio, then `{"type":"stop"}`; the vendor answers
 *   `{"type":"transcription","is_final","alternatives":[{"transcript","confidence"}],"language","channel"}` or
 *   `{"type":"error","error"}`, and closes the socket after `stop`.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { EarshotError, InvalidArgumentError } from '../core/errors.js';
import type { TranscriptEvent } from '../core/types.js';
import { forkParser, forkRate, type MixType } from './audio-fork.js';
import {
  bindWebSocket,
  createCallStream,
  numberField,
  objectField,
  parseJsonObject,
  PcmTracks,
  stringField,
  stringRecord,
  type CallSourceOptions,
  type CallStream,
} from './call.js';

/**
 * Read a Jambonz `listen` WebSocket as a call: `mono` → one `caller` track, `mixed` → one `mixed` track, `stereo` →
 * `caller` (channel 0) and `callee` (channel 1), 16-bit PCM at the verb's `sampleRate`, appended in arrival order.
 * The call id is `callSid`; the verb's `metadata` becomes `customParameters`. DTMF sent with `passDtmf`
 * (`{"event":"dtmf","dtmf":"5"}`) goes to `onEvent`. `reply()` is a no-op (listen takes no transcripts back).
 *
 * @param ws - a `ws` WebSocket your server accepted (accept the subprotocol `audio.jambonz.org`).
 * @param options - limits, `signal`, `onEvent`.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option. A socket error ends the stream with
 *   EARSHOT_CONNECTION_LOST.
 * @example
 * ```ts
 * // { "verb": "listen", "url": "wss://captions.example.com/jambonz/listen", "mixType": "stereo", "sampleRate": 16000 }
 * wss.on('connection', (ws) => fromJambonz(ws).subscribe((t) => t.audio$.subscribe((c) => console.log(t.track, c.offset))));
 * ```
 */
export function fromJambonz(ws: WebSocket, options: CallSourceOptions = {}): CallStream {
  return createCallStream('jambonz', options, (ctx) => {
    const parser = forkParser(
      ctx,
      (attrs) => {
        if (!attrs) return undefined; // the call attributes come first, as JSON
        const mix = stringField(attrs, 'mixType') ?? 'mono';
        const sampleRate = forkRate(numberField(attrs, 'sampleRate') ?? 8000);
        if (!['mono', 'mixed', 'stereo'].includes(mix) || sampleRate === undefined) return undefined;
        const callId = stringField(attrs, 'callSid') ?? stringField(attrs, 'call_sid') ?? randomUUID();
        return { callId, mixType: mix as MixType, sampleRate, customParameters: stringRecord(objectField(attrs, 'metadata')), metadata: attrs };
      },
      (text) => {
        const msg = parseJsonObject(text);
        const kind = stringField(msg, 'event') ?? stringField(msg, 'type');
        if (!msg || !kind) return ctx.malformed();
        if (kind === 'dtmf') {
          const digit = stringField(msg, 'dtmf') ?? stringField(msg, 'digit');
          if (!digit) return ctx.malformed();
          ctx.event({ type: 'dtmf', digit });
        }
      },
    );
    const socket = bindWebSocket(ws, ctx, parser);
    return { close: (code, reason) => socket.close(code, reason) };
  });
}

/** Options of {@link fromJambonzStt}. */
export interface JambonzSttOptions extends CallSourceOptions {
  /** The api key set for the custom speech vendor in the Jambonz portal; checked against `Authorization: Bearer`. */
  apiKey?: string;
  /** The HTTP upgrade request (the `ws` server's second `connection` argument): needed with `apiKey`. */
  request?: IncomingMessage;
  /** After `stop`, close the socket at the latest this long later, ms (once the host's finals are sent, `close()` earlier). Default 10000. */
  stopGraceMs?: number;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Be a Jambonz custom speech vendor: read the STT WebSocket as a call with one `mono` track (LINEAR16 at
 * `sampleRateHz`), and answer in Jambonz's shape. `reply(event)` sends
 * `{"type":"transcription","is_final","alternatives":[{"transcript","confidence"}],"language","channel"}` (partials
 * only when the start message asked for `interimResults`; `channel` is 1-based, as Jambonz counts). earshot's events
 * carry no confidence: 1 is sent. The start message (language, interimResults, options.hints) is the call's
 * `metadata`; hints are in `customParameters.hints` (comma-joined).
 *
 * On `stop` the track completes (the pipeline flushes its finals, which may still be replied) and the socket is
 * closed by `close()` or, at the latest, `stopGraceMs` later. Bad input gets `{"type":"error","error":"…"}`: a frame
 * it cannot read is counted and the recognition goes on; a start it cannot serve (not LINEAR16, a bad rate), audio
 * before start, or a wrong api key end the call (EARSHOT_PROTOCOL_ERROR, EARSHOT_AUTH_FAILED).
 *
 * @param ws - the WebSocket Jambonz opened to your vendor URL.
 * @param options - `apiKey` with the upgrade `request` to check it, `stopGraceMs`, limits, `signal`.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for `apiKey` without `request`, or a bad option.
 * @example
 * ```ts
 * wss.on('connection', (ws, request) => {
 *   const call = fromJambonzStt(ws, { apiKey: process.env.JAMBONZ_STT_KEY, request });
 *   call.subscribe((t) => t.audio$.pipe(resample(16000), transcribe(local())).subscribe({
 *     next: (e) => call.reply(e, t),
 *     complete: () => call.close(),
 *   }));
 * });
 * ```
 */
export function fromJambonzStt(ws: WebSocket, options: JambonzSttOptions = {}): CallStream {
  const { apiKey, request, stopGraceMs = 10_000 } = options;
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey === '')) throw new InvalidArgumentError('apiKey must be a non-empty string');
  if (apiKey !== undefined && !request) throw new InvalidArgumentError('fromJambonzStt needs the upgrade request to check the api key');
  if (typeof stopGraceMs !== 'number' || !(stopGraceMs >= 0)) throw new InvalidArgumentError('stopGraceMs must be zero or more');
  return createCallStream('jambonz-stt', options, (ctx) => {
    let reader: PcmTracks | undefined;
    let interim = false;
    let language: string | undefined;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const sendError = (error: string): void => {
      socket.send(JSON.stringify({ type: 'error', error }));
    };
    const fatal = (code: 'EARSHOT_PROTOCOL_ERROR' | 'EARSHOT_AUTH_FAILED', message: string, wsCode: number): void => {
      sendError(message);
      socket.close(wsCode, message);
      ctx.end(new EarshotError(code, `jambonz-stt: ${message}`, { details: { protocol: 'jambonz-stt' }, ...(code === 'EARSHOT_AUTH_FAILED' ? { statusCode: 401 } : {}) }));
    };
    const start = (msg: Record<string, unknown>): void => {
      const encoding = stringField(msg, 'encoding') ?? 'LINEAR16';
      const format = stringField(msg, 'format') ?? 'raw';
      const rate = numberField(msg, 'sampleRateHz') ?? 8000;
      if (encoding !== 'LINEAR16' || format !== 'raw') return fatal('EARSHOT_PROTOCOL_ERROR', `unsupported audio ${format}/${encoding} (raw LINEAR16 only)`, 1003);
      if (forkRate(rate) === undefined) return fatal('EARSHOT_PROTOCOL_ERROR', `unsupported sampleRateHz ${rate}`, 1003);
      interim = msg['interimResults'] === true;
      language = stringField(msg, 'language');
      const opts = objectField(msg, 'options');
      const hints = opts?.['hints'];
      const hintList = Array.isArray(hints) ? hints.map((h) => (typeof h === 'string' ? h : stringField(h as Record<string, unknown>, 'phrase'))).filter((h): h is string => !!h) : [];
      const customParameters: Record<string, string> = hintList.length ? { hints: hintList.join(',') } : {};
      if (language) customParameters['language'] = language;
      const boost = numberField(opts, 'hintsBoost');
      if (boost !== undefined) customParameters['hintsBoost'] = String(boost);
      ctx.begin({ callId: randomUUID(), customParameters, metadata: msg });
      reader = new PcmTracks([ctx.openTrack('mono', 0, rate)], ctx.stats);
    };
    const stop = (): void => {
      ctx.end();
      grace = setTimeout(() => socket.close(1000, 'recognition complete'), stopGraceMs);
      grace.unref();
    };
    const socket = bindWebSocket(ws, ctx, {
      text(t) {
        const msg = parseJsonObject(t);
        const type = stringField(msg, 'type');
        if (!msg || !type) {
          ctx.malformed();
          return sendError('unreadable control message');
        }
        if (type === 'start') {
          if (reader) {
            ctx.malformed();
            return sendError('start after start');
          }
          return start(msg);
        }
        if (type === 'stop') return reader ? stop() : fatal('EARSHOT_PROTOCOL_ERROR', 'stop before start', 1002);
        ctx.malformed();
        sendError(`unknown message type ${type.slice(0, 40)}`);
      },
      binary(b) {
        if (!reader) return fatal('EARSHOT_PROTOCOL_ERROR', 'audio before start', 1002);
        reader.push(b);
      },
    });
    if (apiKey !== undefined) {
      const auth = request?.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
      if (!m || !sameSecret(m[1]!, apiKey)) fatal('EARSHOT_AUTH_FAILED', 'unauthorized', 1008);
    }
    return {
      reply(event: TranscriptEvent, track) {
        if (event.type === 'partial' && !interim) return false;
        const channel = (track?.channel ?? event.channel ?? 0) + 1;
        const lang = event.language ?? language;
        return socket.send(
          JSON.stringify({
            type: 'transcription',
            is_final: event.type === 'final',
            alternatives: [{ transcript: event.text, confidence: 1 }],
            ...(lang ? { language: lang } : {}),
            channel,
          }),
        );
      },
      close(code, reason) {
        if (grace) clearTimeout(grace);
        socket.close(code, reason);
      },
    };
  });
}
