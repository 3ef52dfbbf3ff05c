/**
 * Asterisk `chan_websocket` (Asterisk 20.16 / 21.11 / 22.6 / 23.0 on): `Dial(WebSocket/<connection>/c(<codec>))` or
 * ARI `externalMedia?transport=websocket&encapsulation=none&format=<codec>`. Media flows in BINARY frames (raw codec
 * bytes, one Asterisk frame each: 160 bytes every 20 ms for µ-law); control goes in TEXT frames, plain text
 * (`MEDIA_START connection_id:<id> channel:<name> format:ulaw optimal_frame_size:160 ptime:20`) or, with the `json`
 * control format, JSON (`{"event":"MEDIA_START","connection_id","channel","channel_id","format","optimal_frame_size","ptime","channel_variables":{…}}`).
 * Other notifications: `DTMF_END digit:<d>`, `MEDIA_XOFF` / `MEDIA_XON` (the queue of media *sent to* Asterisk),
 * `STATUS …`, `MEDIA_BUFFERING_COMPLETED`, `QUEUE_DRAINED`. Closing the WebSocket (or the `HANGUP` command) hangs up.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { InputError, InvalidArgumentError } from '../core/errors.js';
import { createPayloadDecoder, parsePayloadMapping, type PayloadDecoder } from '../rtp/codecs.js';
import {
  bindWebSocket,
  createCallStream,
  numberField,
  objectField,
  parseJsonObject,
  PcmTracks,
  stringField,
  stringRecord,
  type CallContext,
  type CallSourceOptions,
  type CallStream,
  type TrackState,
} from './call.js';

/** Options of {@link fromAsteriskWebSocket}. */
export interface AsteriskWebSocketOptions extends CallSourceOptions {
  /** Codec to assume if media comes before `MEDIA_START` (or it names none). Default: wait for `MEDIA_START`. */
  format?: string;
}

/** Sample rate of each signed-linear Asterisk format (host byte order: little-endian on x86 and ARM). */
const SLIN_RATES: Readonly<Record<string, number>> = { slin: 8000, slin12: 12000, slin16: 16000, slin24: 24000, slin32: 32000, slin44: 44100, slin48: 48000, slin96: 96000, slin192: 192000 };

/** Whether earshot decodes an Asterisk format name. */
function knownFormat(format: string): boolean {
  return format === 'ulaw' || format === 'alaw' || format === 'opus' || SLIN_RATES[format] !== undefined;
}

/** `MEDIA_START key:value key:value` → its fields (values may hold colons; keys may not). */
function parsePlain(text: string): { event: string; fields: Record<string, string> } {
  const [event = '', ...parts] = text.trim().split(/\s+/);
  const fields: Record<string, string> = {};
  for (const p of parts) {
    const i = p.indexOf(':');
    if (i > 0) fields[p.slice(0, i)] = p.slice(i + 1);
    else if (fields['id'] === undefined) fields['id'] = p; // MEDIA_BUFFERING_COMPLETED <id>
  }
  return { event, fields };
}

/**
 * Read an Asterisk `chan_websocket` media WebSocket as a call: one `inbound` track (channel 0) of the channel's
 * audio in the `MEDIA_START` format (`ulaw`, `alaw`, `slin`…`slin192`, or `opus` in passthrough mode), appended in
 * arrival order (Asterisk sends a frame every `ptime` ms). The call id is `channel_id` (JSON control) or the
 * `connection_id`; the channel name, `optimal_frame_size`, `ptime` and channel variables are in `metadata`.
 * `DTMF_END` goes to `onEvent` as DTMF, `MEDIA_XOFF`/`MEDIA_XON` as flow events. The stream completes when the
 * socket closes. `close()` sends `HANGUP` (in the control format Asterisk used) and closes. `reply()` is a no-op.
 *
 * @param ws - a `ws` WebSocket your server accepted (Asterisk connects with the `websocket_client.conf` client), or
 *   one your app opened to Asterisk's `/media/<connection id>`.
 * @param options - `format` if media may precede `MEDIA_START`; limits; `signal`; `onEvent`.
 * @returns the call.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for an unknown `format`. At run time a format earshot
 *   cannot decode ends the stream with EARSHOT_UNSUPPORTED_FORMAT.
 * @example
 * ```ts
 * // extensions.conf: exten => 100,1,Dial(WebSocket/earshot/c(slin16))
 * wss.on('connection', (ws) => fromAsteriskWebSocket(ws).subscribe((t) => t.audio$.pipe(transcribe(local())).subscribe(console.log)));
 * ```
 */
export function fromAsteriskWebSocket(ws: WebSocket, options: AsteriskWebSocketOptions = {}): CallStream {
  if (options.format !== undefined && !knownFormat(options.format)) throw new InvalidArgumentError(`unsupported Asterisk format "${options.format}" (ulaw, alaw, slin…slin192, opus)`);
  return createCallStream('asterisk', options, (ctx) => {
    const parser = new AsteriskParser(ctx, options.format);
    const socket = bindWebSocket(ws, ctx, parser);
    return {
      close(code, reason) {
        if (!ctx.ended) socket.send(parser.json ? JSON.stringify({ command: 'HANGUP' }) : 'HANGUP');
        socket.close(code, reason);
      },
      finish: () => parser.finish(),
    };
  });
}

class AsteriskParser {
  json = false;
  #track: TrackState | undefined;
  #pcm: PcmTracks | undefined;
  #decode: ((payload: Buffer) => Int16Array | null) | undefined;
  #opus: PayloadDecoder | undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly defaultFormat: string | undefined,
  ) {}

  text(text: string): void {
    const ctx = this.ctx;
    const obj = text.trimStart().startsWith('{') ? parseJsonObject(text) : undefined;
    let event: string;
    let fields: Record<string, unknown>;
    if (obj) {
      this.json = true;
      event = stringField(obj, 'event') ?? '';
      fields = obj;
    } else {
      ({ event, fields } = parsePlain(text));
    }
    switch (event) {
      case 'MEDIA_START':
        return this.#start(fields);
      case 'DTMF_END': {
        const digit = stringField(fields, 'digit');
        if (!digit) return ctx.malformed();
        return ctx.event({ type: 'dtmf', digit });
      }
      case 'MEDIA_XOFF':
        return ctx.event({ type: 'flow', state: 'xoff' });
      case 'MEDIA_XON':
        return ctx.event({ type: 'flow', state: 'xon' });
      case 'STATUS':
      case 'MEDIA_BUFFERING_COMPLETED':
      case 'QUEUE_DRAINED':
      case 'DTMF_BEGIN':
        return;
      default:
        return ctx.malformed();
    }
  }

  binary(data: Buffer): void {
    if (!this.#track && !(this.defaultFormat && this.#open(this.defaultFormat))) return this.ctx.malformed();
    if (this.#pcm) return this.#pcm.push(data);
    const samples = this.#decode!(data);
    if (!samples || samples.length === 0) return this.ctx.malformed();
    this.ctx.stats.mediaFrames++;
    this.#track!.place(samples);
  }

  finish(): void {
    this.#opus?.close();
    this.#opus = undefined;
  }

  #start(fields: Record<string, unknown>): void {
    const ctx = this.ctx;
    if (ctx.call) return ctx.malformed();
    const callId = stringField(fields, 'channel_id') ?? stringField(fields, 'connection_id') ?? stringField(fields, 'channel');
    if (!callId) return ctx.malformed();
    const metadata: Record<string, unknown> = { ...fields };
    delete metadata['event'];
    for (const k of ['optimal_frame_size', 'ptime']) {
      const n = numberField(fields, k);
      if (n !== undefined) metadata[k] = n;
    }
    ctx.begin({ callId, customParameters: stringRecord(objectField(fields, 'channel_variables')), metadata });
    const format = stringField(fields, 'format') ?? this.defaultFormat;
    if (!format || !this.#open(format)) {
      ctx.end(new InputError('EARSHOT_UNSUPPORTED_FORMAT', `asterisk: cannot decode the channel's format ${format ?? '(none named)'}`, { details: { protocol: 'asterisk', format } }));
    }
  }

  #open(format: string): boolean {
    const ctx = this.ctx;
    if (!knownFormat(format)) return false;
    if (!ctx.call) ctx.begin({ callId: randomUUID(), customParameters: {}, metadata: { format } });
    const slin = SLIN_RATES[format];
    if (slin !== undefined) {
      this.#track = ctx.openTrack('inbound', 0, slin);
      this.#pcm = new PcmTracks([this.#track], ctx.stats);
      return true;
    }
    if (format === 'opus') {
      const opus = createPayloadDecoder(parsePayloadMapping('opus/48000/2'));
      this.#opus = opus; // native memory: released in finish()
      this.#track = ctx.openTrack('inbound', 0, opus.sampleRate);
      this.#decode = (p) => opus.decode(p);
      return true;
    }
    const g711 = createPayloadDecoder(parsePayloadMapping(format === 'ulaw' ? 'pcmu' : 'pcma'));
    this.#track = ctx.openTrack('inbound', 0, g711.sampleRate);
    this.#decode = (p) => g711.decode(p);
    return true;
  }
}
