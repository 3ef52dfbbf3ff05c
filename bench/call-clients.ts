/**
 * Simulated media servers for the server's benchmark and tests, and a script for the fake transport.
 *
 * - {@link twilioCall}: a Twilio Media Streams client written from Twilio's "Media Streams - WebSocket Messages"
 *   page: `connected`, `start` (accountSid, streamSid, callSid, tracks, customParameters, mediaFormat
 *   audio/x-mulaw 8000 mono), `media` (track, chunk, timestamp in ms since the stream started, base64 µ-law, 20 ms
 *   each; every counter a string), `stop`; paced at any speed, with gaps (frames not sent, timestamps jump) and
 *   malformed frames on demand.
 * - {@link utteranceScript}: what `fakeTransport()` (`earshot/testing`) "recognises" in a call: a final every few
 *   seconds of audio, at almost no cost.
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { TranscriptEvent } from '../src/core/types.js';

/** Settings of one simulated Twilio call. */
export interface TwilioCallOptions {
  /** `ws://host:port/twilio`. */
  url: string;
  /** µ-law 8 kHz mono audio of the call (inbound track). */
  ulaw: Uint8Array;
  callSid?: string;
  streamSid?: string;
  customParameters?: Record<string, string>;
  headers?: Record<string, string>;
  /** Audio seconds per wall second (default 1, real time); `Infinity` sends as fast as the socket drains. */
  speed?: number;
  /** Stretches of audio not sent (Twilio suppressing silence): the next frame's timestamp jumps over them. */
  gaps?: ReadonlyArray<{ fromMs: number; toMs: number }>;
  /** Frames sent as is after the `start` message and before media (e.g. malformed ones), and every `everyFrames` after. */
  junk?: { frames: ReadonlyArray<string | Buffer>; everyFrames: number };
  /** Called after `start` is sent, before the first media frame (subscribe to SSE there). */
  afterStart?: () => Promise<void>;
  /** Send `stop` and close the socket at the end, as Twilio does (default true); false leaves it open (idle). */
  hangUp?: boolean;
}

/** How a simulated call ended, from the client's side. */
export interface TwilioCallResult {
  closeCode: number;
  closeReason: string;
  /** Text frames the server sent back. */
  received: string[];
  /** Media frames sent. */
  mediaFrames: number;
}

const FRAME_BYTES = 160; // 20 ms of 8 kHz µ-law

/**
 * Play one call to an earshot (or any Twilio Media Streams) server; resolves when the socket is closed (by the
 * server, or after `stop`).
 *
 * @example
 * const r = await twilioCall({ url: `ws://127.0.0.1:${port}/twilio`, ulaw, speed: 4 });
 */
export async function twilioCall(o: TwilioCallOptions): Promise<TwilioCallResult> {
  const callSid = o.callSid ?? `CA${randomHex(32)}`;
  const streamSid = o.streamSid ?? `MZ${randomHex(32)}`;
  const accountSid = 'AC25e16e9a716a4a1786a7c83f58e30482';
  const ws = new WebSocket(o.url, o.headers ? { headers: o.headers } : {});
  const received: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.push(data.toString());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  const opened = await Promise.race([once(ws, 'open').then(() => true), closed.then(() => false)]);
  if (!opened) {
    const c = await closed;
    return { closeCode: c.code, closeReason: c.reason, received, mediaFrames: 0 };
  }

  let seq = 0;
  const send = (msg: unknown): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  };
  send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  send({
    event: 'start',
    sequenceNumber: String(++seq),
    start: {
      accountSid,
      streamSid,
      callSid,
      tracks: ['inbound'],
      customParameters: o.customParameters ?? {},
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
    streamSid,
  });
  await o.afterStart?.();

  const speed = o.speed ?? 1;
  const total = Math.floor(o.ulaw.length / FRAME_BYTES);
  const t0 = performance.now();
  let chunk = 0;
  let sent = 0;
  for (let i = 0; i < total && ws.readyState === WebSocket.OPEN; i++) {
    const ms = i * 20;
    if (o.gaps?.some((g) => ms >= g.fromMs && ms < g.toMs)) continue;
    if (o.junk && sent % o.junk.everyFrames === 0) for (const j of o.junk.frames) send(j);
    const payload = Buffer.from(o.ulaw.buffer, o.ulaw.byteOffset + i * FRAME_BYTES, FRAME_BYTES).toString('base64');
    send({ event: 'media', sequenceNumber: String(++seq), media: { track: 'inbound', chunk: String(++chunk), timestamp: String(ms), payload }, streamSid });
    sent++;
    if (Number.isFinite(speed)) {
      const due = t0 + ms / speed;
      const wait = due - performance.now();
      if (wait > 4) await new Promise((r) => setTimeout(r, wait));
    } else if (ws.bufferedAmount > 1 << 20) {
      while (ws.bufferedAmount > 1 << 18 && ws.readyState === WebSocket.OPEN) await new Promise((r) => setTimeout(r, 2));
    }
  }
  if (o.hangUp !== false && ws.readyState === WebSocket.OPEN) {
    send({ event: 'stop', sequenceNumber: String(++seq), stop: { accountSid, callSid }, streamSid });
    ws.close(1000); // Twilio closes the socket after its stop message
  }
  const { code, reason } = await closed;
  return { closeCode: code, closeReason: reason, received, mediaFrames: sent };
}

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

/**
 * A script for `fakeTransport()` (`earshot/testing`): a final `utterance N` for each `everyMs` of the first `seconds`
 * of audio. The fake hears nothing and keeps a few counters per session, so the cost and memory measured around it
 * are the pipeline's, not a speech engine's.
 *
 * @example
 * await serve({ transport: fakeTransport({ script: utteranceScript(3600, 3000) }) });
 */
export function utteranceScript(seconds: number, everyMs = 3000): TranscriptEvent[] {
  const out: TranscriptEvent[] = [];
  for (let n = 1; n * everyMs <= seconds * 1000; n++) out.push({ type: 'final', text: `utterance ${n}`, startMs: (n - 1) * everyMs, endMs: n * everyMs });
  return out;
}
