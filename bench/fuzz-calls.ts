/**
 * Call-protocol fuzz: 10,000 mutated frames per protocol (Twilio, Telnyx, Plivo, Exotel, audio fork, Jambonz listen,
 * Jambonz STT, Asterisk chan_websocket over real `ws` sockets; AudioSocket over real TCP), from a fixed seed, spread
 * over calls of 500 frames. Every call must end by completing or with a coded error, nothing may throw out of a
 * socket handler (an uncaught exception fails the run), and memory must stay bounded: the heap after all calls is
 * compared with the heap before (both after a GC when `--expose-gc` is given).
 *
 * Run alone: `npx tsx bench/fuzz-calls.ts` (or `node --expose-gc dist/bench/fuzz-calls.js`); `npm run bench -- fuzz-calls`.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { fromAsteriskWebSocket } from '../src/sources/asterisk.js';
import { audioSocketFrame, fromAudioSocket } from '../src/sources/audiosocket.js';
import { fromAudioFork } from '../src/sources/audio-fork.js';
import type { CallStream } from '../src/sources/call.js';
import { fromJambonz, fromJambonzStt } from '../src/sources/jambonz.js';
import { fromTwilioMediaStream, type MediaStreamFlavor } from '../src/sources/twilio.js';
import { mutateBytes, mutateJson } from '../test/helpers/fuzz.js';
import { rng } from '../test/helpers/random.js';

type Row = Record<string, string | number>;
type Frame = string | Buffer;

const FRAMES = 10_000;
const PER_CALL = 500;
const b64 = (n: number, fill: number): string => Buffer.alloc(n, fill).toString('base64');

/** Valid frames of each protocol (the first is its opening message), to be mutated. */
const VALID: Record<string, Frame[]> = {
  twilio: [
    JSON.stringify({ event: 'start', sequenceNumber: '1', start: { streamSid: 'MZ1', callSid: 'CA1', tracks: ['inbound', 'outbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } }, streamSid: 'MZ1' }),
    JSON.stringify({ event: 'media', sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '20', payload: b64(160, 0x7f) }, streamSid: 'MZ1' }),
    JSON.stringify({ event: 'media', sequenceNumber: '3', media: { track: 'outbound', chunk: '1', timestamp: '40', payload: b64(160, 0x6f) }, streamSid: 'MZ1' }),
    JSON.stringify({ event: 'dtmf', sequenceNumber: '4', dtmf: { track: 'inbound_track', digit: '1' }, streamSid: 'MZ1' }),
    JSON.stringify({ event: 'mark', sequenceNumber: '5', mark: { name: 'x' }, streamSid: 'MZ1' }),
  ],
  telnyx: [
    JSON.stringify({ event: 'start', sequence_number: '1', stream_id: 'S1', start: { call_control_id: 'v3:1', media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 } } }),
    JSON.stringify({ event: 'media', sequence_number: '2', media: { track: 'inbound', chunk: '2', timestamp: '20', payload: b64(160, 0x7f) }, stream_id: 'S1' }),
    JSON.stringify({ event: 'media', sequence_number: '3', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: b64(160, 0x7e) }, stream_id: 'S1' }),
  ],
  plivo: [
    JSON.stringify({ event: 'start', sequenceNumber: 1, start: { callId: 'c1', streamId: 's1', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000 } }, extra_headers: 'a=1;b=2' }),
    JSON.stringify({ event: 'media', sequenceNumber: 2, streamId: 's1', media: { track: 'inbound', timestamp: '1705312200020', chunk: 1, payload: b64(640, 3) } }),
  ],
  exotel: [
    JSON.stringify({ event: 'start', sequence_number: '1', stream_sid: 'MZ1', start: { stream_sid: 'MZ1', call_sid: 'CA1', media_format: { encoding: 'audio/x-raw', sample_rate: '8000', bit_rate: '16' } } }),
    JSON.stringify({ event: 'media', sequence_number: '2', stream_sid: 'MZ1', media: { chunk: '1', timestamp: '100', payload: b64(1600, 5) } }),
  ],
  'audio-fork': [JSON.stringify({ callId: 'u1', mixType: 'stereo', sampleRate: 16000 }), Buffer.alloc(1280, 3), 'send_text'],
  jambonz: [JSON.stringify({ callSid: 'c1', sampleRate: 8000, mixType: 'mixed', metadata: { a: 1 } }), Buffer.alloc(320, 2), JSON.stringify({ event: 'dtmf', dtmf: '1' })],
  'jambonz-stt': [JSON.stringify({ type: 'start', language: 'en-US', format: 'raw', encoding: 'LINEAR16', interimResults: true, sampleRateHz: 8000, options: {} }), Buffer.alloc(320, 2)],
  asterisk: ['MEDIA_START connection_id:c1 channel:WebSocket/c1 format:ulaw optimal_frame_size:160 ptime:20', Buffer.alloc(160, 0xff), 'DTMF_END digit:5', 'MEDIA_XOFF'],
};

const WS_SOURCES: Record<string, (ws: WebSocket) => CallStream> = {
  ...Object.fromEntries((['twilio', 'telnyx', 'plivo', 'exotel'] as MediaStreamFlavor[]).map((flavor) => [flavor, (ws: WebSocket) => fromTwilioMediaStream(ws, { flavor, maxFrameBytes: 64 * 1024 })])),
  'audio-fork': (ws) => fromAudioFork(ws, { maxFrameBytes: 64 * 1024 }),
  jambonz: (ws) => fromJambonz(ws, { maxFrameBytes: 64 * 1024 }),
  'jambonz-stt': (ws) => fromJambonzStt(ws, { maxFrameBytes: 64 * 1024, stopGraceMs: 10 }),
  asterisk: (ws) => fromAsteriskWebSocket(ws, { maxFrameBytes: 64 * 1024 }),
};

/** `n` frames: the opening message (mutated in one call of four), then valid and mutated frames half and half. */
function mutated(valid: Frame[], rand: () => number, n: number): Frame[] {
  const mutate = (f: Frame): Frame => (typeof f === 'string' ? mutateJson(f, rand) : mutateBytes(f, rand));
  const out: Frame[] = [rand() < 0.25 ? mutate(valid[0]!) : valid[0]!];
  while (out.length < n) {
    const f = valid[Math.floor(rand() * valid.length)]!;
    out.push(rand() < 0.5 ? f : mutate(f));
  }
  return out;
}

/** Watch one call: its outcome (`complete` or the error's code) and the audio it gave out. */
function watch(call: CallStream): { outcome: Promise<string>; samples: () => number } {
  let samples = 0;
  const outcome = new Promise<string>((resolve) =>
    call.subscribe({
      next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)),
      error: (e: unknown) => resolve((e as { code?: string }).code ?? 'uncoded'),
      complete: () => resolve('complete'),
    }),
  );
  return { outcome, samples: () => samples };
}

async function fuzzWebSocket(protocol: string, rand: () => number, outcomes: Map<string, number>): Promise<number> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  let sent = 0;
  for (let c = 0; c < FRAMES / PER_CALL; c++) {
    const accepted = new Promise<ReturnType<typeof watch>>((resolve) => server.once('connection', (ws) => resolve(watch(WS_SOURCES[protocol]!(ws)))));
    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    client.on('error', () => undefined);
    await once(client, 'open');
    const w = await accepted;
    for (const f of mutated(VALID[protocol]!, rand, PER_CALL)) {
      if (client.readyState !== WebSocket.OPEN) break;
      client.send(f, { binary: typeof f !== 'string' });
      sent++;
    }
    client.close();
    const o = await w.outcome;
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return sent;
}

async function fuzzAudioSocket(rand: () => number, outcomes: Map<string, number>): Promise<number> {
  const valid = [audioSocketFrame(0x01, Buffer.alloc(16, 0xab)), audioSocketFrame(0x10, Buffer.alloc(320, 1)), audioSocketFrame(0x03, Buffer.from('7')), audioSocketFrame(0x12, Buffer.alloc(640, 2))];
  let current: ((s: Socket) => void) | undefined;
  const server = createServer((s) => current?.(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let sent = 0;
  for (let c = 0; c < FRAMES / PER_CALL; c++) {
    const accepted = new Promise<ReturnType<typeof watch>>((resolve) => (current = (s) => resolve(watch(fromAudioSocket(s)))));
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    const w = await accepted;
    const frames = mutated(valid, rand, PER_CALL) as Buffer[];
    sent += frames.length;
    client.end(Buffer.concat(frames));
    const o = await w.outcome;
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return sent;
}

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Fuzz every call protocol with 10,000 mutated frames each.
 * @returns one row per protocol: frames sent, calls and their outcomes, frames per second, heap growth.
 */
export async function benchFuzzCalls(): Promise<Row[]> {
  const rows: Row[] = [];
  let uncaught = 0;
  const onUncaught = (): void => void uncaught++;
  process.on('uncaughtException', onUncaught);
  try {
    for (const protocol of [...Object.keys(WS_SOURCES), 'audiosocket']) {
      const rand = rng(0xca11 + protocol.length);
      const outcomes = new Map<string, number>();
      gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      const sent = protocol === 'audiosocket' ? await fuzzAudioSocket(rand, outcomes) : await fuzzWebSocket(protocol, rand, outcomes);
      const seconds = (performance.now() - started) / 1000;
      gc?.();
      const heapAfter = process.memoryUsage().heapUsed;
      rows.push({
        protocol,
        frames: sent,
        calls: FRAMES / PER_CALL,
        outcomes: [...outcomes].map(([k, v]) => `${k} ${v}`).join(', '),
        'frames/s': Math.round(sent / seconds),
        'heap Δ (MB)': ((heapAfter - heapBefore) / 1e6).toFixed(1),
        'rss (MB)': (process.memoryUsage().rss / 1e6).toFixed(0),
      });
    }
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  if (uncaught > 0) throw new Error(`${uncaught} exceptions escaped a socket handler`);
  const bad = rows.filter((r) => /uncoded/.test(String(r['outcomes'])));
  if (bad.length) throw new Error(`uncoded outcomes: ${bad.map((r) => r['protocol']).join(', ')}`);
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await benchFuzzCalls());
}
