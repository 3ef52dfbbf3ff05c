/**
 * What `npm run fuzz` attacks. Each target turns a case number and a seeded generator into one malformed input and
 * runs it through the real code: the WAV parser, `decode()`, the RTP parser and depacketizer, the emulator's HTTP
 * routes and WebSocket messages (a real emulator on 127.0.0.1), the media-server call protocols (`calls.ts`), and the DashScope client against a real server on
 * 127.0.0.1 that misbehaves (malformed JSON, cut SSE, huge fields, wrong types, mutated realtime events).
 *
 * A case ends as `'result'` (a value or a served reply), `'coded'` (an `EarshotError` with a code, or the service's
 * own coded error from the emulator), or throws (counted as uncaught by the runner).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, of, toArray } from 'rxjs';
import { Agent, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { EarshotError } from '../../src/core/errors.js';
import type { ByteChunk } from '../../src/core/types.js';
import { startEmulator } from '../../src/emulator/server.js';
import { parseWavHead } from '../../src/media/wav.js';
import { decode } from '../../src/operators/decode.js';
import { RtpDepacketizer } from '../../src/rtp/depacketizer.js';
import { buildRtp, parseRtp } from '../../src/rtp/packet.js';
import { createTransport } from '../../src/transports/catalog.js';
import { errorFromResponse, protocolError } from '../../src/transports/dashscope/errors.js';
import type { Transport } from '../../src/transports/transport.js';
import { callsTarget } from './calls.js';
import { mutateBytes, mutateJsonText, mutateRtp, pick } from './mutate.js';

/** How one case ended (a throw is the runner's "uncaught"). */
export type Outcome = 'result' | 'coded';

/** A fuzz target. */
export interface FuzzTarget {
  name: string;
  /** Longest a case may take before it counts as a hang, ms. */
  boundMs: number;
  /** How many cases may run at once (default 1): the network targets wait on sockets more than they compute. */
  concurrency?: number;
  /** Run case `n`. */
  run(n: number, rand: () => number): Promise<Outcome> | Outcome;
  close?(): Promise<void>;
}

/** Map a thrown value: an `EarshotError` with a code is an outcome; anything else is re-thrown (uncaught). */
function coded(err: unknown): Outcome {
  if (err instanceof EarshotError && typeof err.code === 'string' && err.code.startsWith('EARSHOT_')) return 'coded';
  throw err;
}

function wav(rate: number, channels: number, bits: number, tag: number, frames: number, extra?: Buffer): Buffer {
  const block = (channels * bits) / 8;
  const data = Buffer.alloc(frames * block);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0);
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(tag, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * block, 16);
  fmt.writeUInt16LE(block, 20);
  fmt.writeUInt16LE(bits, 22);
  const head = Buffer.alloc(8);
  head.write('data', 0);
  head.writeUInt32LE(data.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE'), fmt, extra ?? Buffer.alloc(0), head, data]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0);
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

function listChunk(): Buffer {
  const b = Buffer.alloc(8 + 14);
  b.write('LIST', 0);
  b.writeUInt32LE(14, 4);
  b.write('INFOISFT\u0006\u0000\u0000\u0000earsh', 8, 'latin1');
  return b;
}

/** Valid WAVs to mutate: PCM 8/16/24/32-bit, float, mono/stereo, with a LIST chunk before `data`. */
const WAV_SEEDS = [wav(16000, 1, 16, 1, 800), wav(8000, 1, 8, 1, 400), wav(44100, 2, 16, 1, 441), wav(48000, 2, 24, 1, 480), wav(22050, 1, 32, 3, 220), wav(16000, 1, 16, 1, 800, listChunk()), wav(96000, 6, 32, 1, 96)];

function wavTarget(): FuzzTarget {
  return {
    name: 'wav',
    boundMs: 200,
    run(_n, rand) {
      const input = mutateBytes(WAV_SEEDS[pick(rand, WAV_SEEDS.length)]!, rand);
      try {
        parseWavHead(input, rand() < 0.5);
        return 'result';
      } catch (err) {
        return coded(err);
      }
    },
  };
}

function decodeTarget(): FuzzTarget {
  return {
    name: 'decode',
    boundMs: 10_000,
    async run(n, rand) {
      const input = mutateBytes(WAV_SEEDS[pick(rand, WAV_SEEDS.length)]!, rand);
      // The input arrives in pieces of any size; one case in 500 goes through ffmpeg (a process per case).
      const chunks: ByteChunk[] = [];
      for (let at = 0; at < input.length; ) {
        const len = 1 + pick(rand, 600);
        chunks.push({ kind: 'bytes', data: input.subarray(at, at + len) });
        at += len;
      }
      const decoder = n % 500 === 499 ? 'auto' : 'native';
      try {
        await lastValueFrom(of(...chunks).pipe(decode({ sampleRate: 16000, decoder }), toArray()));
        return 'result';
      } catch (err) {
        return coded(err);
      }
    },
  };
}

function rtpTarget(): FuzzTarget {
  const seeds: Buffer[] = [];
  for (let k = 0; k < 20; k++) {
    const payload = Buffer.alloc(160, k);
    seeds.push(buildRtp({ payloadType: 0, sequence: k, timestamp: k * 160, ssrc: 1, payload }));
    seeds.push(buildRtp({ payloadType: 96, sequence: k, timestamp: k * 320, ssrc: 2, payload: Buffer.alloc(640, k), marker: k === 0 }));
  }
  const clock = { now: 0 };
  const depack = new RtpDepacketizer(
    { now: () => clock.now, payloads: { 96: 'L16/16000/1' }, maxStreams: 16, idleTimeoutMs: 2000 },
    { onStream: (s) => void s.audio$.subscribe() },
  );
  return {
    name: 'rtp',
    boundMs: 200,
    run(n, rand) {
      clock.now += rand() * 2;
      const pkt = mutateRtp(seeds, rand, n);
      const parsed = parseRtp(pkt);
      depack.push(pkt);
      if (n % 50 === 0) depack.poll();
      // The parser refuses by value (a typed 'malformed' with a reason), not by throwing: counted with the coded errors.
      return parsed.kind === 'malformed' ? 'coded' : 'result';
    },
    async close() {
      depack.close();
    },
  };
}

const KEY = 'sk-fuzz-key-0000';

/** A valid clip for the audio-bearing routes (0.1 s, 16 kHz mono WAV) as a data URI. */
const CLIP_URI = `data:audio/wav;base64,${wav(16000, 1, 16, 1, 1600).toString('base64')}`;
/** A loopback URL that refuses the connection: the emulator answers its coded download error without decoding. */
const REFUSED_URL = 'http://127.0.0.1:1/a.wav';

/**
 * Valid bodies of the emulator's HTTP routes, to mutate, given where their audio is: the valid clip in one case of
 * 20 (decoded by ffmpeg — ffprobe and ffmpeg, two processes — and recognised, so mutated recognition parameters
 * reach the reply), else the refused URL (the route's parsing and checks, without two processes per case: the
 * emulator spent most of this target's time in ffmpeg refusing the same few bytes).
 */
const HTTP_SEEDS: Array<{ path: string; headers?: Record<string, string>; body: (audio: string) => unknown }> = [
  { path: '/api/v1/services/audio/asr/transcription', headers: { 'x-dashscope-async': 'enable' }, body: (audio) => ({ model: 'fun-asr', input: { file_urls: [audio] }, parameters: { diarization_enabled: true, speaker_count: 2, language_hints: ['en'] } }) },
  { path: '/api/v1/services/audio/asr/transcription', headers: { 'x-dashscope-async': 'enable' }, body: (audio) => ({ model: 'qwen3-asr-flash-filetrans', input: { file_url: audio }, parameters: { channel_id: [0] } }) },
  { path: '/api/v1/services/audio/asr/customization', body: () => ({ model: 'speech-biasing', input: { action: 'create_vocabulary', target_model: 'fun-asr', prefix: 'fz', vocabulary: [{ text: 'earshot', weight: 4, lang: 'en' }] } }) },
  { path: '/compatible-mode/v1/chat/completions', body: (audio) => ({ model: 'qwen3-asr-flash', stream: false, messages: [{ role: 'system', content: [{ text: 'ctx' }] }, { role: 'user', content: [{ type: 'input_audio', input_audio: { data: audio } }] }], asr_options: { language: 'en' } }) },
  { path: '/api/v1/services/aigc/multimodal-generation/generation', body: (audio) => ({ model: 'qwen3-asr-flash', input: { messages: [{ role: 'user', content: [{ audio }] }] }, parameters: { asr_options: { enable_itn: true } } }) },
  { path: '/api/v1/tokens?expire_in_seconds=60', body: () => ({}) },
  { path: '/api/v1/tasks/00000000-0000-0000-0000-000000000000', body: () => ({}) },
];

async function emulatorHttpTarget(): Promise<FuzzTarget> {
  const emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'fuzz' }] });
  // One emulator and one keep-alive agent for every case; a connection per concurrent case.
  const concurrency = 8;
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
  return {
    name: 'emulator-http',
    boundMs: 10_000,
    concurrency,
    async run(_n, rand) {
      const seed = HTTP_SEEDS[pick(rand, HTTP_SEEDS.length)]!;
      const body = mutateJsonText(seed.body(rand() < 0.05 ? CLIP_URI : REFUSED_URL), rand);
      const res = await request(`${emu.url}${seed.path}`, { method: 'POST', dispatcher: agent, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...(seed.headers ?? {}) }, body });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return 'result';
      const reply = JSON.parse(text) as { code?: unknown; error?: { code?: unknown } };
      // A 500 means a route threw: the fuzz found a hole.
      if (res.statusCode >= 500) throw new Error(`HTTP ${res.statusCode} ${text.slice(0, 200)}`);
      if (typeof reply.code === 'string' || typeof reply.error?.code === 'string') return 'coded';
      throw new Error(`HTTP ${res.statusCode} without a coded body: ${text.slice(0, 200)}`);
    },
    async close() {
      await agent.close();
      await emu.close();
    },
  };
}

/** Valid client messages of the emulator's WebSocket protocols, to mutate. */
const INFERENCE_RUN = { header: { action: 'run-task', task_id: 'fuzz-task', streaming: 'duplex' }, payload: { model: 'fun-asr-realtime', task_group: 'audio', task: 'asr', function: 'recognition', parameters: { format: 'pcm', sample_rate: 16000, semantic_punctuation_enabled: false }, input: {} } };
const REALTIME_SEEDS = [
  { event_id: 'e1', type: 'session.update', session: { modalities: ['text'], input_audio_format: 'pcm', sample_rate: 16000, input_audio_transcription: { language: 'en' }, turn_detection: { type: 'server_vad', threshold: 0.2, silence_duration_ms: 800 } } },
  { event_id: 'e2', type: 'input_audio_buffer.append', audio: Buffer.alloc(3200).toString('base64') },
  { event_id: 'e3', type: 'input_audio_buffer.commit' },
  { event_id: 'e4', type: 'session.finish' },
];

/** One socket per case: open, send a few mutated messages, see the protocol answer (or not), close. */
async function emulatorWsTarget(): Promise<FuzzTarget> {
  const emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'fuzz' }], timers: { noAudioMs: 2000, idleMs: 2000, silenceMs: 2000 } });
  const wsBase = emu.url.replace('http://', 'ws://');
  return {
    name: 'emulator-ws',
    boundMs: 10_000,
    concurrency: 8,
    async run(_n, rand) {
      const inference = rand() < 0.5;
      const url = inference ? `${wsBase}/api-ws/v1/inference` : `${wsBase}/api-ws/v1/realtime?model=${rand() < 0.5 ? 'qwen3-asr-flash-realtime' : 'qwen3.5-omni-flash-realtime'}`;
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${KEY}` } });
      const frames: Array<Record<string, any>> = [];
      let closeCode = 0;
      ws.on('message', (d: Buffer, binary: boolean) => {
        if (!binary) frames.push(JSON.parse(d.toString('utf8')) as Record<string, any>);
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => ws.once('close', (code) => ((closeCode = code), resolve())));
      ws.on('error', () => {});
      const count = 1 + pick(rand, 4);
      for (let i = 0; i < count; i++) {
        if (inference) {
          if (rand() < 0.3) ws.send(mutateBytes(Buffer.alloc(3200), rand));
          else ws.send(mutateJsonText(i === 0 ? INFERENCE_RUN : { header: { action: rand() < 0.5 ? 'finish-task' : 'continue-task', task_id: 'fuzz-task', streaming: 'duplex' }, payload: { input: {} } }, rand));
        } else ws.send(mutateJsonText(REALTIME_SEEDS[pick(rand, REALTIME_SEEDS.length)]!, rand));
      }
      // A ping round trip: every message sent before it has been handled when the pong comes back.
      await new Promise<void>((resolve) => {
        if (ws.readyState !== WebSocket.OPEN) return resolve();
        ws.once('pong', () => resolve());
        ws.ping();
        void closed.then(resolve);
      });
      ws.terminate();
      await closed;
      if (closeCode === 1011) throw new Error('the emulator closed with 1011 (internal error)');
      const failed = frames.some((f) => f.type === 'error' || f.header?.event === 'task-failed');
      return failed ? 'coded' : 'result';
    },
    async close() {
      await emu.close();
    },
  };
}

/** A valid reply per client call, served mutated by the misbehaving server. */
interface Misbehaviour {
  status: number;
  contentType: string;
  body: string;
}

function sseBody(rand: () => number): string {
  const chunks = ['{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen3-asr-flash","choices":[{"index":0,"delta":{"role":"assistant","content":"hello "},"finish_reason":null}]}', '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen3-asr-flash","choices":[{"index":0,"delta":{"content":"world","annotations":[{"type":"audio_info","language":"en","emotion":"neutral"}]},"finish_reason":"stop"}]}'];
  const events = chunks.map((c) => `data: ${rand() < 0.5 ? mutateJsonText(JSON.parse(c), rand) : c}\n\n`).join('');
  const all = `${events}data: [DONE]\n\n`;
  return rand() < 0.3 ? all.slice(0, pick(rand, all.length)) : all;
}

/**
 * One lane of the misbehaving server: a path prefix (`/lane<k>/…`, which the clients keep in their `baseUrl`) with
 * its own reply script and its own clients, so that cases run side by side. A case takes a free lane (or makes one)
 * and gives it back when it ends; a connection keeps the script of the case that opened it.
 */
interface Lane {
  next: (req: IncomingMessage) => Misbehaviour;
  wsScript: (ws: WebSocket) => void;
  compat: Transport;
  realtimeAsr: Transport;
  funRealtime: Transport;
}

/** The DashScope client against a server that answers each request with a mutated reply. */
async function clientTarget(realtime: boolean): Promise<FuzzTarget> {
  const lanes: Lane[] = [];
  const free: Lane[] = [];
  const laneOf = (req: IncomingMessage): Lane | undefined => lanes[Number(/^\/lane(\d+)\//.exec(req.url ?? '')?.[1] ?? -1)];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const m = laneOf(req)?.next(req) ?? { status: 404, contentType: 'text/plain', body: '' };
    res.writeHead(m.status, { 'content-type': m.contentType }).end(m.body);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      const lane = laneOf(req);
      if (lane) lane.wsScript(ws);
      else ws.close();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const lane = (): Lane => {
    // Short deadlines, through the clients' own options: a mutated `task-started` / `session.created` leaves the
    // session opening until openTimeoutMs (before it existed such a case never ended: the hangs this target used
    // to report), an unanswered finish waits finishTimeoutMs. Each is still a coded EARSHOT_TIMEOUT, only sooner
    // than the defaults (15 s, 20 s).
    const options = { apiKey: KEY, baseUrl: `${base}/lane${lanes.length}`, retry: { attempts: 1 }, realtime: { openTimeoutMs: 500, finishTimeoutMs: 2000 } } as Parameters<typeof createTransport>[1];
    const made: Lane = {
      next: () => ({ status: 500, contentType: 'text/plain', body: '' }),
      wsScript: (ws) => ws.close(),
      compat: createTransport('qwen3-asr-flash', options),
      realtimeAsr: createTransport('qwen3-asr-flash-realtime', options),
      funRealtime: createTransport('fun-asr-realtime', options),
    };
    lanes.push(made);
    return made;
  };
  const clip = { samples: new Int16Array(1600), sampleRate: 16000, startMs: 0 };

  const stream = async (t: Transport): Promise<void> => {
    let failure: Error | undefined;
    const s = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: (e) => (failure = e) });
    await s.write(new Int16Array(1600));
    await s.end();
    if (failure) throw failure;
  };

  const one = async (rand: () => number, lane: Lane): Promise<Outcome> => {
    const kind = realtime ? 3 + pick(rand, 2) : pick(rand, 3);
    try {
      if (kind === 0) {
        // Error replies: any status, a mutated native or compatible error body, a lying Retry-After.
        const status = [400, 401, 403, 404, 408, 413, 429, 500, 502, 503][pick(rand, 10)]!;
        const body = rand() < 0.5 ? mutateJsonText({ request_id: 'r', code: 'Throttling.RateQuota', message: 'slow down' }, rand) : mutateJsonText({ error: { code: 'limit_requests', message: 'x', type: 'requests', param: null } }, rand);
        const retry = [undefined, '1', '-1', 'soon', '1e309', 'Wed, 21 Oct 2015 07:28:00 GMT'][pick(rand, 6)];
        throw rand() < 0.5 ? errorFromResponse(status, body, retry ? { 'retry-after': retry } : {}) : protocolError(body.slice(0, 64), body);
      }
      if (kind === 1 || kind === 2) {
        // Compatible-mode chat: a mutated JSON reply or a cut/mutated SSE stream.
        lane.next = () => (rand() < 0.5 ? { status: 200, contentType: 'text/event-stream', body: sseBody(rand) } : { status: 200, contentType: 'application/json', body: mutateJsonText({ id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hello world', annotations: [{ type: 'audio_info', language: 'en', emotion: 'neutral' }] }, finish_reason: 'stop' }], usage: { seconds: 1 } }, rand) });
        await lane.compat.transcribeClip!(clip);
        return 'result';
      }
      // Realtime: the server answers each client message with mutated events.
      const inference = kind === 3;
      lane.wsScript = (ws) => {
        if (!inference) ws.send(mutateJsonText({ event_id: 'e0', type: 'session.created', session: { id: 'sess_1', model: 'qwen3-asr-flash-realtime' } }, rand));
        ws.on('message', (data: Buffer, binary: boolean) => {
          if (binary) return;
          const m = JSON.parse(data.toString('utf8')) as { type?: string; header?: { action?: string; task_id?: string } };
          const reply = inference
            ? m.header?.action === 'run-task'
              ? [{ header: { event: 'task-started', task_id: m.header.task_id, attributes: {} }, payload: {} }]
              : [{ header: { event: 'result-generated', task_id: m.header?.task_id, attributes: {} }, payload: { output: { sentence: { begin_time: 0, end_time: 100, text: 'hello', sentence_end: true, words: [{ begin_time: 0, end_time: 100, text: 'hello', punctuation: '' }] } }, usage: { duration: 1 } } }, { header: { event: 'task-finished', task_id: m.header?.task_id, attributes: {} }, payload: {} }]
            : m.type === 'session.update'
              ? [{ event_id: 'e1', type: 'session.updated', session: { id: 'sess_1' } }]
              : m.type === 'session.finish'
                ? [{ event_id: 'e2', type: 'conversation.item.input_audio_transcription.completed', item_id: 'i1', content_index: 0, transcript: 'hello', language: 'en', emotion: 'neutral' }, { event_id: 'e3', type: 'session.finished' }]
                : [];
          // The terminal event goes intact: without it the client rightly waits out its 20 s finish timer
          // (the fault matrix's "server silent" row), which would make 10⁵ cases take days.
          for (const r of reply) {
            const terminal = (r as { type?: string }).type === 'session.finished' || (r as { header?: { event?: string } }).header?.event === 'task-finished';
            ws.send(!terminal && rand() < 0.5 ? mutateJsonText(r, rand) : JSON.stringify(r));
          }
          if (rand() < 0.1) ws.terminate();
        });
      };
      await stream(inference ? lane.funRealtime : lane.realtimeAsr);
      return 'result';
    } catch (err) {
      return coded(err);
    }
  };

  return {
    name: realtime ? 'client-realtime' : 'client',
    boundMs: 10_000,
    // The realtime cases mostly wait (a socket, a deadline): 32 side by side. The others compute: one at a time.
    concurrency: realtime ? 32 : 1,
    async run(_n, rand) {
      const taken = free.pop() ?? lane();
      try {
        return await one(rand, taken);
      } finally {
        free.push(taken);
      }
    },
    async close() {
      await Promise.all(lanes.flatMap((l) => [l.compat.close?.(), l.realtimeAsr.close?.(), l.funRealtime.close?.()]));
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Every target by name, made on demand (the network ones start servers). */
export const TARGETS: Record<string, () => Promise<FuzzTarget> | FuzzTarget> = {
  wav: wavTarget,
  decode: decodeTarget,
  rtp: rtpTarget,
  'emulator-http': emulatorHttpTarget,
  'emulator-ws': emulatorWsTarget,
  client: () => clientTarget(false),
  calls: () => callsTarget(),
  'client-realtime': () => clientTarget(true),
};

/** The targets `npm run fuzz` runs when none is named: all of them. */
export const DEFAULT_TARGETS = Object.keys(TARGETS);
