/**
 * Shared pieces of the call-protocol tests: a real `ws` server on 127.0.0.1:0 and a client connected to it,
 * flite speech at telephone rates, the reference transcription of the same audio from a file, and a seeded fuzzer.
 */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import type { TranscriptEvent } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { resample } from '../../src/operators/resample.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { fromFile } from '../../src/sources/file.js';
import type { CallTrack } from '../../src/sources/call.js';
import type { Transport } from '../../src/transports/transport.js';

/** A WebSocket server on 127.0.0.1:0 and one client connected to it; `accepted` is the server side. */
export interface WsPair {
  client: WebSocket;
  accepted: WebSocket;
  server: WebSocketServer;
  close(): Promise<void>;
}

/** Open a ws server, connect one client (with `protocols`/`headers`), resolve once both sides are open. */
export async function wsPair(options: { protocols?: string | string[]; headers?: Record<string, string>; onAccept?: (ws: WebSocket) => void } = {}): Promise<WsPair> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const acceptedP = new Promise<WebSocket>((resolve) =>
    server.once('connection', (ws) => {
      options.onAccept?.(ws); // attach a source synchronously, as a host would
      resolve(ws);
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, options.protocols, options.headers ? { headers: options.headers } : {});
  await once(client, 'open');
  const accepted = await acceptedP;
  return {
    client,
    accepted,
    server,
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

/** Final events of a file transcribed at `rate` then resampled to 16 kHz: the reference for a call's audio. */
export function transcribeFile(path: string, rate: number, engine: Transport): Promise<TranscriptEvent[]> {
  return lastValueFrom(fromFile(path).pipe(decode({ sampleRate: rate }), resample(16000), transcribe(engine), toArray())).then(finals);
}

/** Final events of one call track, resampled to 16 kHz. */
export function transcribeTrack(track: CallTrack, engine: Transport): Promise<TranscriptEvent[]> {
  const audio = track.sampleRate === 16000 ? track.audio$ : track.audio$.pipe(resample(16000));
  return lastValueFrom(audio.pipe(transcribe(engine), toArray())).then(finals);
}

export function finals(events: TranscriptEvent[]): TranscriptEvent[] {
  return events.filter((e) => e.type === 'final' && e.text.trim() !== '');
}

export function text(events: TranscriptEvent[]): string {
  return events.map((e) => e.text).join(' ');
}

/** A seeded PRNG (mulberry32): the fuzz is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mutate bytes: flip, insert, delete, truncate, or duplicate a slice; never returns the input object. */
export function mutateBytes(input: Uint8Array, rand: () => number): Buffer {
  const b = Buffer.from(input);
  const op = Math.floor(rand() * 6);
  const at = Math.floor(rand() * Math.max(1, b.length));
  switch (op) {
    case 0:
      for (let i = 0; i < 1 + rand() * 4; i++) if (b.length) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b;
    case 1:
      return b.subarray(0, at);
    case 2:
      return Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), b.subarray(at)]);
    case 3:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 8)))]);
    case 4:
      return Buffer.concat([b, b.subarray(at)]);
    default: {
      const junk = Buffer.alloc(Math.floor(rand() * 64));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
      return junk;
    }
  }
}

/** Mutate a JSON message: change a field's value or type, drop a field, or fall back to byte mutation. */
export function mutateJson(message: string, rand: () => number): string {
  const r = rand();
  if (r < 0.3) return mutateBytes(Buffer.from(message), rand).toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(message);
  } catch {
    return message;
  }
  const values: unknown[] = [null, -1, 1e308, '', 'x', '-5', '1e999', [], {}, true, 'NaN', '99999999999999', 'not base64!', 0];
  const visit = (o: unknown, depth: number): void => {
    if (!o || typeof o !== 'object' || depth > 3) return;
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec);
    if (keys.length === 0) return;
    const k = keys[Math.floor(rand() * keys.length)]!;
    const p = rand();
    if (p < 0.25) delete rec[k];
    else if (p < 0.6) rec[k] = values[Math.floor(rand() * values.length)];
    else visit(rec[k], depth + 1);
  };
  visit(obj, 0);
  return JSON.stringify(obj);
}
