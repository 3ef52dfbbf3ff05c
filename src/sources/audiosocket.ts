/**
 * Asterisk AudioSocket: the dialplan's `AudioSocket(<uuid>,<host>:<port>)` (or the AudioSocket channel, or ARI
 * `externalMedia` with `encapsulation=audiosocket`) connects to a TCP server and sends frames of a 1-byte kind, a
 * 2-byte big-endian payload length and the payload:
 *
 * | kind | payload |
 * |---|---|
 * | `0x00` | hang-up (no payload) |
 * | `0x01` | the call's UUID, 16 bytes |
 * | `0x03` | one DTMF digit, ASCII |
 * | `0x10` | signed linear 16-bit mono PCM, little-endian, 8 kHz |
 * | `0x11`–`0x18` | the same at 12, 16, 24, 32, 44.1, 48, 96 and 192 kHz |
 * | `0xff` | an error; payload an optional code (Asterisk: `0x01` the caller hung up, `0x02` frame forwarding, `0x04` memory) |
 */
import type { Socket } from 'node:net';
import { EarshotError, InputError } from '../core/errors.js';
import { listen } from '../core/listen.js';
import { createCallStream, PcmTracks, type CallContext, type CallSourceOptions, type CallStream } from './call.js';

/** Sample rate of each AudioSocket audio kind. */
export const AUDIOSOCKET_RATES: Readonly<Record<number, number>> = Object.freeze({
  0x10: 8000,
  0x11: 12000,
  0x12: 16000,
  0x13: 24000,
  0x14: 32000,
  0x15: 44100,
  0x16: 48000,
  0x17: 96000,
  0x18: 192000,
});

/** AudioSocket frame kinds. */
export const AudioSocketKind = Object.freeze({ hangup: 0x00, uuid: 0x01, dtmf: 0x03, slin: 0x10, error: 0xff });

/**
 * Build one AudioSocket frame (for tests, and hosts that send audio or a hang-up back).
 * @param kind - the frame kind (0x00–0xff).
 * @param payload - at most 65535 bytes.
 * @returns the frame bytes.
 * @example
 * ```ts
 * socket.write(audioSocketFrame(AudioSocketKind.hangup)); // 00 00 00
 * ```
 */
export function audioSocketFrame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const n = Math.min(payload.length, 0xffff);
  const out = Buffer.alloc(3 + n);
  out[0] = kind & 0xff;
  out.writeUInt16BE(n, 1);
  out.set(payload.subarray(0, n), 3);
  return out;
}

function uuidText(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Read an Asterisk AudioSocket connection as a call: one `inbound` track (channel 0) of the channel's audio at the
 * rate its frames' kind names (8 kHz for `0x10`), appended in arrival order (Asterisk sends a frame every 20 ms,
 * silence included). The call id is the UUID of the first frame; DTMF goes to `onEvent`. The stream completes on a
 * hang-up frame or when the socket closes; an error frame from Asterisk ends it with EARSHOT_PROTOCOL_ERROR (its
 * code in `providerCode`), except `0x01` (the caller hung up), which completes it.
 *
 * Frames are parsed across TCP segment boundaries with at most one frame held. A frame of an unknown kind, a
 * UUID of the wrong size, audio before the UUID, audio at a second rate or a frame over `maxFrameBytes` is counted
 * and skipped (its length still tells where the next frame starts). `reply()` is a no-op.
 *
 * @param socket - a `net.Socket` your TCP server accepted.
 * @param options - limits, `signal`, `onEvent`.
 * @returns the call; `close()` sends a hang-up frame and ends the socket.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for a bad option. A socket error ends the stream with
 *   EARSHOT_CONNECTION_LOST.
 * @example
 * ```ts
 * // extensions.conf: same => n,AudioSocket(${UUID()},127.0.0.1:9092)
 * createServer((socket) => fromAudioSocket(socket).subscribe((t) => t.audio$.subscribe((c) => console.log(c.offset)))).listen(9092, '127.0.0.1');
 * ```
 */
export function fromAudioSocket(socket: Socket, options: CallSourceOptions = {}): CallStream {
  return createCallStream('audiosocket', options, (ctx) => {
    const parser = new AudioSocketParser(ctx);
    const onData = (data: Buffer): void => {
      if (ctx.ended) return;
      try {
        parser.push(data);
      } catch {
        ctx.malformed(); // never out of the socket handler
      }
    };
    const onEnd = (): void => {
      detach();
      ctx.end();
    };
    const onError = (err: Error): void => {
      detach();
      ctx.end(new InputError('EARSHOT_CONNECTION_LOST', `audiosocket connection failed: ${err.message}`, { cause: err, details: { protocol: 'audiosocket' } }));
    };
    const detach = listen(socket, { data: onData, end: onEnd, close: onEnd, error: onError });
    if (socket.destroyed) queueMicrotask(onEnd);
    parser.onHangup = () => {
      detach();
      socket.end();
    };
    return {
      close() {
        detach();
        if (!socket.destroyed && socket.writable) socket.end(audioSocketFrame(AudioSocketKind.hangup));
        else socket.destroy();
      },
    };
  });
}

/** Incremental frame parser: header state, a payload being collected, or bytes being skipped. */
class AudioSocketParser {
  onHangup: () => void = () => {};
  readonly #header = Buffer.alloc(3);
  #headerHave = 0;
  #kind = 0;
  #payload: Buffer | undefined;
  #payloadHave = 0;
  #skip = 0;
  #reader: PcmTracks | undefined;
  #rateKind = -1;

  constructor(private readonly ctx: CallContext) {}

  push(data: Buffer): void {
    const { stats } = this.ctx;
    let pos = 0;
    while (pos < data.length && !this.ctx.ended) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length - pos);
        this.#skip -= n;
        pos += n;
        continue;
      }
      if (this.#payload) {
        const n = Math.min(this.#payload.length - this.#payloadHave, data.length - pos);
        data.copy(this.#payload, this.#payloadHave, pos, pos + n);
        this.#payloadHave += n;
        pos += n;
        if (this.#payloadHave === this.#payload.length) {
          const payload = this.#payload;
          this.#payload = undefined;
          this.#frame(this.#kind, payload);
        }
        continue;
      }
      const n = Math.min(3 - this.#headerHave, data.length - pos);
      data.copy(this.#header, this.#headerHave, pos, pos + n);
      this.#headerHave += n;
      pos += n;
      if (this.#headerHave < 3) continue;
      this.#headerHave = 0;
      this.#kind = this.#header[0]!;
      const length = this.#header.readUInt16BE(1);
      stats.frames++;
      stats.bytes += 3 + length;
      if (3 + length > this.ctx.limits.maxFrameBytes) {
        stats.oversized++;
        this.ctx.malformed();
        this.#skip = length;
        continue;
      }
      if (length === 0) this.#frame(this.#kind, Buffer.alloc(0));
      else {
        this.#payload = Buffer.allocUnsafe(length);
        this.#payloadHave = 0;
      }
    }
  }

  #frame(kind: number, payload: Buffer): void {
    const ctx = this.ctx;
    if (kind === AudioSocketKind.hangup) {
      ctx.end();
      this.onHangup();
      return;
    }
    if (kind === AudioSocketKind.uuid) {
      if (payload.length !== 16 || ctx.call) return ctx.malformed();
      ctx.begin({ callId: uuidText(payload), customParameters: {}, metadata: {} });
      return;
    }
    if (kind === AudioSocketKind.dtmf) {
      if (payload.length !== 1 || !/^[0-9A-D*#]$/i.test(String.fromCharCode(payload[0]!))) return ctx.malformed();
      ctx.event({ type: 'dtmf', digit: String.fromCharCode(payload[0]!) });
      return;
    }
    if (kind === AudioSocketKind.error) {
      const code = payload.length > 0 ? payload[0]! : undefined;
      if (code === 0x01) return ctx.end();
      ctx.end(new EarshotError('EARSHOT_PROTOCOL_ERROR', `audiosocket: Asterisk reported error ${code === undefined ? '(no code)' : `0x${code.toString(16).padStart(2, '0')}`}`, { ...(code === undefined ? {} : { providerCode: String(code) }), details: { protocol: 'audiosocket' } }));
      return;
    }
    const rate = AUDIOSOCKET_RATES[kind];
    if (rate === undefined || !ctx.call) return ctx.malformed();
    if (!this.#reader) {
      this.#rateKind = kind;
      this.#reader = new PcmTracks([ctx.openTrack('inbound', 0, rate)], ctx.stats);
    } else if (kind !== this.#rateKind) return ctx.malformed();
    this.#reader.push(payload);
  }
}
