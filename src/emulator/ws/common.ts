/**
 * Pieces shared by the emulator's WebSocket protocol handlers.
 */
import { WebSocket } from 'ws';
import type { EmulatorContext } from '../context.js';

/** What a protocol handler gets besides its socket. */
export interface WsEnv {
  ctx: EmulatorContext;
  /** True when this request must be refused as throttled (consumes one of `faults.throttleFirst`). */
  throttle(): boolean;
}

/** Send one JSON frame if the socket is open. */
export function sendJson(ws: WebSocket, message: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

/**
 * Turns byte frames into s16le samples, carrying an odd trailing byte to the next frame and copying only when the
 * bytes are not 2-aligned.
 */
export class PcmReader {
  #odd: number | undefined;

  read(bytes: Buffer): Int16Array {
    let buf = bytes;
    if (this.#odd !== undefined) {
      buf = Buffer.concat([Buffer.from([this.#odd]), bytes]);
      this.#odd = undefined;
    }
    if (buf.length % 2 === 1) {
      this.#odd = buf[buf.length - 1];
      buf = buf.subarray(0, buf.length - 1);
    }
    if (buf.byteOffset % 2 !== 0) buf = Buffer.from(buf);
    return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
  }
}

/** Milliseconds of audio in `frames` at `rate`. */
export function framesToMs(frames: number, rate: number): number {
  return (frames * 1000) / rate;
}
