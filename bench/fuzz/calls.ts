/**
 * The media-server protocols as a fuzz target: each case is one call of a protocol (Twilio, Telnyx, Plivo, Exotel
 * Media Streams, the FreeSWITCH audio fork, Jambonz listen, Jambonz STT, Asterisk chan_websocket over a real `ws`
 * socket; AudioSocket over real TCP) carrying its opening message (mutated in one call of four) and then valid and
 * mutated frames half and half. A call must end by completing (a result) or with a coded error; nothing may throw
 * out of a socket handler (the runner counts it as uncaught).
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { fromAsteriskWebSocket } from '../../src/sources/asterisk.js';
import { audioSocketFrame, fromAudioSocket } from '../../src/sources/audiosocket.js';
import { fromAudioFork } from '../../src/sources/audio-fork.js';
import type { CallStream } from '../../src/sources/call.js';
import { fromJambonz, fromJambonzStt } from '../../src/sources/jambonz.js';
import { fromTwilioMediaStream, type MediaStreamFlavor } from '../../src/sources/twilio.js';
import { mutateBytes, mutateJsonText, pick } from './mutate.js';
import type { FuzzTarget, Outcome } from './targets.js';

type Frame = string | Buffer;

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
  audiosocket: [audioSocketFrame(0x01, Buffer.alloc(16, 0xab)), audioSocketFrame(0x10, Buffer.alloc(320, 1)), audioSocketFrame(0x03, Buffer.from('7')), audioSocketFrame(0x12, Buffer.alloc(640, 2))],
};

const MAX_FRAME = 64 * 1024;
const WS_SOURCES: Record<string, (ws: WebSocket) => CallStream> = {
  ...Object.fromEntries((['twilio', 'telnyx', 'plivo', 'exotel'] as MediaStreamFlavor[]).map((flavor) => [flavor, (ws: WebSocket) => fromTwilioMediaStream(ws, { flavor, maxFrameBytes: MAX_FRAME })])),
  'audio-fork': (ws) => fromAudioFork(ws, { maxFrameBytes: MAX_FRAME }),
  jambonz: (ws) => fromJambonz(ws, { maxFrameBytes: MAX_FRAME }),
  'jambonz-stt': (ws) => fromJambonzStt(ws, { maxFrameBytes: MAX_FRAME, stopGraceMs: 10 }),
  asterisk: (ws) => fromAsteriskWebSocket(ws, { maxFrameBytes: MAX_FRAME }),
};

/** Every protocol the target speaks. */
export const CALL_PROTOCOLS: readonly string[] = [...Object.keys(WS_SOURCES), 'audiosocket'];

function mutate(f: Frame, rand: () => number): Frame {
  if (typeof f !== 'string') return mutateBytes(f, rand);
  if (f.startsWith('{')) return mutateJsonText(JSON.parse(f), rand);
  return mutateBytes(Buffer.from(f), rand).toString('utf8');
}

/** `n` frames: the opening message (mutated in one call of four), then valid and mutated frames half and half. */
function frames(valid: Frame[], rand: () => number, n: number): Frame[] {
  const out: Frame[] = [rand() < 0.25 ? mutate(valid[0]!, rand) : valid[0]!];
  while (out.length < n) {
    const f = valid[pick(rand, valid.length)]!;
    out.push(rand() < 0.5 ? f : mutate(f, rand));
  }
  return out;
}

/** How one call ended: complete (a result), a coded error, or thrown (uncoded) for the runner. */
function watch(call: CallStream): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) =>
    call.subscribe({
      next: (t) => t.audio$.subscribe({ error: () => undefined }),
      error: (e: unknown) => {
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('EARSHOT_')) resolve('coded');
        else reject(e instanceof Error ? e : new Error(String(e)));
      },
      complete: () => resolve('result'),
    }),
  );
}

/**
 * The `calls` fuzz target: case `n` is one call of `protocols[n % length]` with `framesPerCall` frames.
 *
 * @param protocols - which protocols (default all of {@link CALL_PROTOCOLS}).
 * @param framesPerCall - frames of each call, the opening one included (default 20).
 */
export async function callsTarget(protocols: readonly string[] = CALL_PROTOCOLS, framesPerCall = 20): Promise<FuzzTarget> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_FRAME });
  await once(wss, 'listening');
  const wsPort = (wss.address() as AddressInfo).port;
  let onWs: ((ws: WebSocket) => void) | undefined;
  wss.on('connection', (ws) => onWs?.(ws));
  let onTcp: ((s: Socket) => void) | undefined;
  const tcp: Server = createServer((s) => onTcp?.(s));
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  const tcpPort = (tcp.address() as AddressInfo).port;

  return {
    name: protocols.length === CALL_PROTOCOLS.length ? 'calls' : `calls (${protocols.join(', ')})`,
    boundMs: 10_000,
    async run(n, rand) {
      const protocol = protocols[n % protocols.length]!;
      const sent = frames(VALID[protocol]!, rand, framesPerCall);
      if (protocol === 'audiosocket') {
        // (The outcome is wrapped: a promise resolved with a promise would wait for the call to end.)
        const accepted = new Promise<{ outcome: Promise<Outcome> }>((resolve) => (onTcp = (s) => resolve({ outcome: watch(fromAudioSocket(s)) })));
        const client = connect(tcpPort, '127.0.0.1');
        client.on('error', () => undefined);
        await once(client, 'connect');
        const { outcome } = await accepted;
        client.end(Buffer.concat(sent as Buffer[]));
        return outcome;
      }
      const accepted = new Promise<{ outcome: Promise<Outcome> }>((resolve) => (onWs = (ws) => resolve({ outcome: watch(WS_SOURCES[protocol]!(ws)) })));
      const client = new WebSocket(`ws://127.0.0.1:${wsPort}/`);
      client.on('error', () => undefined);
      await once(client, 'open');
      const { outcome } = await accepted;
      for (const f of sent) {
        if (client.readyState !== WebSocket.OPEN) break;
        client.send(f, { binary: typeof f !== 'string' });
      }
      client.close();
      return outcome;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
