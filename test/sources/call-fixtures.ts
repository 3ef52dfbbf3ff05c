/**
 * Shared pieces of the call-protocol tests: a real `ws` server on 127.0.0.1:0 and a client connected to it,
 * flite speech at telephone rates, the reference transcription of the same audio from a file, and a seeded fuzzer.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { lastValueFrom, tap, toArray, type MonoTypeOperatorFunction } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import type { TranscriptEvent } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { fixedChunk } from '../../src/operators/fixed-chunk.js';
import { resample } from '../../src/operators/resample.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { fromFile } from '../../src/sources/file.js';
import type { CallStream, CallTrack } from '../../src/sources/call.js';
import type { Transport } from '../../src/transports/transport.js';
import { local, type LocalTransport } from '../../src/transports/local.js';
import { afterAll, beforeAll } from 'vitest';
import { wer } from '../helpers/speech.js';

/** A WebSocket server on 127.0.0.1:0 and one client connected to it; `accepted` is the server side. */
export interface WsPair {
  client: WebSocket;
  accepted: WebSocket;
  server: WebSocketServer;
  /** Every message the client received, from the handshake on. */
  received: Buffer[];
  /** The close code the client saw. */
  closed: Promise<number>;
  close(): Promise<void>;
}

/** Open a ws server, connect one client (with `protocols`/`headers`), resolve once both sides are open. */
export async function wsPair(options: { protocols?: string | string[]; headers?: Record<string, string>; onAccept?: (ws: WebSocket, request: IncomingMessage) => void } = {}): Promise<WsPair> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const acceptedP = new Promise<WebSocket>((resolve) =>
    server.once('connection', (ws, request) => {
      options.onAccept?.(ws, request); // attach a source synchronously, as a host would
      resolve(ws);
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, options.protocols, options.headers ? { headers: options.headers } : {});
  // Listen before the handshake ends: a server may answer at once.
  const received: Buffer[] = [];
  client.on('message', (m: Buffer) => received.push(m));
  const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
  await once(client, 'open');
  const accepted = await acceptedP;
  return {
    client,
    accepted,
    server,
    received,
    closed,
    async close() {
      client.terminate();
      for (const c of server.clients) c.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server on 127.0.0.1:0 that hands each accepted socket to `onSocket`, and a client connected to it. */
export async function tcpPair(onSocket: (socket: Socket) => void): Promise<{ client: Socket; server: Server; close(): Promise<void> }> {
  const server = createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const { connect } = await import('node:net');
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  return {
    client,
    server,
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Send every frame (strings as text, Buffers as binary); resolves once the last has been written out. */
export function sendAll(ws: WebSocket, frames: ReadonlyArray<string | Buffer>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (frames.length === 0) return resolve();
    frames.forEach((f, i) => {
      const last = i === frames.length - 1;
      ws.send(f, { binary: typeof f !== 'string' }, last ? (err) => (err ? reject(err) : resolve()) : undefined);
    });
  });
}

/** The data chunk of a WAV file (any chunk layout). */
export function wavData(path: string): Buffer {
  const b = readFileSync(path);
  let pos = 12;
  while (pos + 8 <= b.length) {
    const id = b.toString('ascii', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    if (id === 'data') return b.subarray(pos + 8, Math.min(b.length, pos + 8 + size));
    pos += 8 + size + (size & 1);
  }
  throw new Error(`no data chunk in ${path}`);
}

/** Mono s16le WAV samples. */
export function wavSamples(path: string): Int16Array {
  const d = Buffer.from(wavData(path));
  return new Int16Array(d.buffer, d.byteOffset, d.length >> 1);
}

/**
 * Both paths hand the engine the same 100 ms writes: the embedded engine's endpointing moves by a frame with the
 * write size (a word can flip on a borderline pause), and these tests compare the audio and its clock, not that.
 */
const SAME_WRITES = fixedChunk({ chunkMs: 100 });

/** Final events of a file transcribed at `rate` then resampled to 16 kHz: the reference for a call's audio. */
export function transcribeFile(path: string, rate: number, engine: Transport): Promise<TranscriptEvent[]> {
  return lastValueFrom(fromFile(path).pipe(decode({ sampleRate: rate }), resample(16000), SAME_WRITES, transcribe(engine), toArray())).then(finals);
}

/** Final events of one call track, resampled to 16 kHz; `tap` sees every event as it comes (to reply). */
export function transcribeTrack(track: CallTrack, engine: Transport, tap?: (e: TranscriptEvent) => void): Promise<TranscriptEvent[]> {
  const audio = track.sampleRate === 16000 ? track.audio$ : track.audio$.pipe(resample(16000));
  return lastValueFrom(audio.pipe(SAME_WRITES, transcribe(engine), tapEvents(tap), toArray())).then(finals);
}

function tapEvents(f: ((e: TranscriptEvent) => void) | undefined): MonoTypeOperatorFunction<TranscriptEvent> {
  return tap((e) => f?.(e));
}

export function finals(events: TranscriptEvent[]): TranscriptEvent[] {
  return events.filter((e) => e.type === 'final' && e.text.trim() !== '');
}

export function text(events: TranscriptEvent[]): string {
  return events.map((e) => e.text).join(' ');
}

/**
 * The call's finals say what the file's say: WER within 2 points of the file's against `reference`, the same
 * number of utterances, each `shiftMs` later (± 40 ms). Returns both WERs.
 */
export function expectLikeFile(
  expect: (v: unknown) => { toBeLessThanOrEqual(n: number): void; toBe(v: unknown): void },
  reference: string,
  call: TranscriptEvent[],
  file: TranscriptEvent[],
  shiftMs: (fileStartMs: number) => number = () => 0,
): { call: number; file: number } {
  const result = { call: wer(reference, text(call)), file: wer(reference, text(file)) };
  if (Math.abs(result.call - result.file) > 0.02) console.log(`call: ${text(call)}\nfile: ${text(file)}\n${JSON.stringify(call.map((e) => [e.startMs, e.endMs]))}\n${JSON.stringify(file.map((e) => [e.startMs, e.endMs]))}`);
  expect(Math.abs(result.call - result.file)).toBeLessThanOrEqual(0.02);
  expect(call.length).toBe(file.length);
  call.forEach((e, i) => {
    const ref = file[i]!;
    expect(Math.abs(e.startMs - ref.startMs - shiftMs(ref.startMs))).toBeLessThanOrEqual(40);
    expect(Math.abs(e.endMs - ref.endMs - shiftMs(ref.startMs))).toBeLessThanOrEqual(40);
  });
  return result;
}

/** Interleave mono channels into s16le frames (stereo when two are given), padding the shorter with silence. */
export function interleaveLE(channels: Int16Array[]): Buffer {
  const frames = Math.max(...channels.map((c) => c.length));
  const out = Buffer.alloc(frames * channels.length * 2);
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels.length; c++) out.writeInt16LE(channels[c]![f] ?? 0, (f * channels.length + c) * 2);
  return out;
}

/** Cut bytes into pieces of `size` (the last may be shorter). */
export function slices(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, Math.min(bytes.length, i + size)));
  return out;
}

/** Re-exported: the one polling helper of the tests. */
export { until } from '../sinks/helpers.js';

/** One call accepted on a real ws server: the client side, the source, and the client's view of the socket. */
export interface AcceptedCall {
  client: WebSocket;
  call: CallStream;
  /** Every message the client received. */
  received: Buffer[];
  /** The close code the client saw. */
  closed: Promise<number>;
  close(): Promise<void>;
}

/**
 * Accept one connection on a ws server on 127.0.0.1:0 and attach `source` to it synchronously, as a host would.
 * @param source - builds the call from the accepted socket and its upgrade request.
 * @param options - the client's subprotocols and headers.
 */
export async function acceptCall(source: (ws: WebSocket, request: IncomingMessage) => CallStream, options: { protocols?: string; headers?: Record<string, string> } = {}): Promise<AcceptedCall> {
  let call!: CallStream;
  const pair = await wsPair({ ...options, onAccept: (ws, request) => (call = source(ws, request)) });
  return { client: pair.client, call, received: pair.received, closed: pair.closed, close: () => pair.close() };
}

/** One engine pool of 2 for a test file: opened before its tests, closed after them. Call at the top of the file. */
export function sharedEngine(): { readonly engine: LocalTransport } {
  let engine: LocalTransport | undefined;
  beforeAll(() => {
    engine = local({ size: 2 });
  });
  afterAll(async () => {
    await engine?.close();
  });
  return {
    get engine(): LocalTransport {
      if (!engine) throw new Error('sharedEngine() is used before its beforeAll ran');
      return engine;
    },
  };
}
