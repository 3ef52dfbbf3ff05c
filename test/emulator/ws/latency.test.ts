/**
 * The emulator as a latency stand-in (issue 19): a real WebSocket client on 127.0.0.1:0 sends paced speech to each
 * realtime protocol in engine mode (the real embedded engine; the emulator's default, stateless decoding), and every
 * final must arrive within the protocol's documented silence (qwen3-asr / Omni `silence_duration_ms` 800, fun-asr
 * `max_sentence_silence` 1300) plus {@link MARGIN_MS} after the end of speech, and not before that silence has
 * passed; no event may place a time past the audio received; every time field the protocol defines as integer
 * milliseconds is an integer.
 *
 * The pace is a virtual clock in lockstep with the engine: 100 ms of audio is sent, and the clock moves on only once
 * the emulator has read it, the engine has decoded it and every event it caused has reached the client (a ping's
 * pong). Latency is measured on that clock, so a loaded machine slows the test down but does not change its figures;
 * what is measured is what the emulator adds to the documented silence, not how fast this machine decodes.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { local, type LocalTransport } from '../../../src/transports/local.js';
import type { StreamSession, Transport } from '../../../src/transports/transport.js';
import { synthRaw } from '../../helpers/speech.js';
import { until } from './helpers.js';

const KEY = 'sk-latency-0001';
/**
 * What a final may take beyond the documented silence, on the engine's clock: the engine's own end of utterance
 * (pocketsphinx leaves speech ~500 ms after the last voiced frame, seen in 100 ms steps), one 100 ms chunk of pacing,
 * and 100 ms of word-boundary slack.
 */
const MARGIN_MS = 700;
const SENTENCES = ['please send the report to my office'];
const LEAD_MS = 300;
/** Longer than either documented silence, so each sentence is a turn of its own. */
const GAP_MS = 1600;

/** The speech, and where each sentence is last audible (|sample| > 300, as the bench measures it), ms. */
function speech(): { pcm: Int16Array; ends: number[] } {
  const parts = SENTENCES.map((s) => synthRaw(s, 'slt'));
  const total = LEAD_MS * 16 + parts.reduce((n, p) => n + p.length / 2 + GAP_MS * 16, 0);
  const pcm = new Int16Array(total);
  const ends: number[] = [];
  let at = LEAD_MS * 16;
  for (const p of parts) {
    pcm.set(new Int16Array(p.buffer, p.byteOffset, p.length / 2), at);
    const samples = new Int16Array(p.buffer, p.byteOffset, p.length / 2);
    let last = samples.length - 1;
    while (last > 0 && Math.abs(samples[last]!) <= 300) last--;
    ends.push((at + last) / 16);
    at += p.length / 2 + GAP_MS * 16;
  }
  return { pcm, ends };
}

/** The engine behind a counter of work in progress (streams opening, audio not yet decoded): the lockstep's probe. */
function probed(engine: LocalTransport): { transport: Transport; busy(): boolean } {
  let pending = 0;
  const track = async <T>(p: Promise<T>): Promise<T> => {
    pending++;
    try {
      return await p;
    } finally {
      pending--;
    }
  };
  const transport: Transport = {
    ...engine,
    openStream: async (options) => {
      const session = await track(engine.openStream(options));
      const wrapped: StreamSession = { write: (pcm) => track(session.write(pcm)), end: () => track(session.end()), close: () => session.close() };
      return wrapped;
    },
  };
  return { transport, busy: () => pending > 0 };
}

/** One paced session: frames received, each stamped with the audio sent (ms) when it arrived. */
async function paced(emu: Emulator, busy: () => boolean, path: string, start: (ws: WebSocket) => Promise<void>, sendChunk: (ws: WebSocket, chunk: Int16Array) => void, finish: (ws: WebSocket) => void, pcm: Int16Array): Promise<Array<{ at: number; frame: Record<string, any> }>> {
  const ws = new WebSocket(`${emu.url.replace('http', 'ws')}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
  const got: Array<{ at: number; frame: Record<string, any> }> = [];
  let sentMs = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) got.push({ at: sentMs, frame: JSON.parse(data.toString('utf8')) as Record<string, any> });
  });
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const roundTrip = () => new Promise<void>((resolve) => ws.once('pong', () => resolve()).ping());
  await start(ws);
  for (let i = 0; i < pcm.length; i += 1600) {
    const chunk = pcm.subarray(i, Math.min(pcm.length, i + 1600));
    sentMs = (i + chunk.length) / 16;
    sendChunk(ws, chunk);
    await roundTrip(); // the emulator has read the chunk and handed it to the engine
    await until(() => !busy(), 30_000, 'the engine');
    await roundTrip(); // whatever the engine's events made the emulator send has arrived
  }
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  finish(ws);
  await closed;
  return got;
}

/** Every integer-millisecond time field of the protocols, wherever it sits in a frame. */
const TIME_FIELDS = new Set(['begin_time', 'end_time', 'audio_start_ms', 'audio_end_ms']);
function timeFields(value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const v of value) timeFields(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (TIME_FIELDS.has(k) && v !== null) out.push(v as number);
      else timeFields(v, out);
    }
  }
  return out;
}

/** Latency of each sentence's final on the pace clock: when it arrived minus where the sentence's voice ended. */
function latencies(finals: Array<{ at: number; endMs: number }>, ends: number[]): number[] {
  return ends.map((end) => {
    const hit = finals.find((f) => f.endMs >= end - 300);
    expect(hit, `a final for the speech ending at ${end} ms`).toBeDefined();
    return hit!.at - end;
  });
}

/** Latencies printed for the record (the report quotes them). */
function note(label: string, ms: number[]): void {
  console.log(`${label}: end of speech → final ${ms.map((x) => Math.round(x)).join(', ')} ms (pace clock)`);
}

describe('the emulator as a latency stand-in (engine mode, paced)', () => {
  let engine: LocalTransport;
  let probe: ReturnType<typeof probed>;
  let emu: Emulator;
  const { pcm, ends } = speech();

  beforeAll(async () => {
    // maxInFlightMs 1: a write resolves once the engine has decoded it, so the probe sees the engine's progress.
    engine = local({ size: 1, maxInFlightMs: 1 });
    probe = probed(engine);
    emu = await startEmulator({ recognizer: probe.transport, apiKeys: [KEY] });
  });
  afterAll(async () => {
    await emu?.close();
    await engine?.close();
  });

  // The two realtime protocols (§5, §8): silence_duration_ms defaults to 800 on both.
  for (const model of ['qwen3-asr-flash-realtime', 'qwen3.5-omni-flash-realtime']) {
    it(`${model}: finals within silence_duration_ms + margin of the end of speech, times inside the audio, integers`, async () => {
      const got = await paced(
        emu,
        probe.busy,
        `/api-ws/v1/realtime?model=${model}`,
        async () => {},
        (ws, chunk) => ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64') })),
        (ws) => ws.send(JSON.stringify({ type: 'session.finish' })),
        pcm,
      );
      const stopped = got.filter((g) => g.frame.type === 'input_audio_buffer.speech_stopped');
      const completed = got.filter((g) => g.frame.type === 'conversation.item.input_audio_transcription.completed');
      expect(completed).toHaveLength(SENTENCES.length);
      // speech_stopped and completed come together, both on time.
      const finals = stopped.map((g, k) => ({ at: completed[k]!.at, endMs: g.frame.audio_end_ms as number }));
      const ms = latencies(finals, ends);
      note(model, ms);
      for (const x of ms) expect(x).toBeLessThanOrEqual(800 + MARGIN_MS);
      // Not before the documented silence has passed after the end the emulator itself reports.
      for (const f of finals) expect(f.at).toBeGreaterThanOrEqual(f.endMs + 800);
      for (const g of got.filter((x) => x.frame.type === 'input_audio_buffer.speech_started')) expect(g.frame.audio_start_ms).toBeLessThanOrEqual(g.at);
      for (const g of stopped) expect(g.frame.audio_end_ms).toBeLessThanOrEqual(g.at);
      const times = got.flatMap((g) => timeFields(g.frame));
      expect(times.length).toBe(2 * SENTENCES.length);
      for (const t of times) expect(Number.isInteger(t), `${t} is an integer`).toBe(true);
    });
  }

  it('fun-asr-realtime: finals within max_sentence_silence (1300 ms) + margin; interim words never past the audio received; integers', async () => {
    const taskId = 'latency-task-0001';
    const got = await paced(
      emu,
      probe.busy,
      '/api-ws/v1/inference',
      async (ws) => {
        const started = new Promise<void>((resolve) => ws.on('message', (d: Buffer) => String(d).includes('task-started') && resolve()));
        ws.send(JSON.stringify({ header: { action: 'run-task', task_id: taskId, streaming: 'duplex' }, payload: { task_group: 'audio', task: 'asr', function: 'recognition', model: 'fun-asr-realtime', parameters: { format: 'pcm', sample_rate: 16000 }, input: {} } }));
        await started;
      },
      (ws, chunk) => ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
      (ws) => {
        ws.on('message', (d: Buffer) => String(d).includes('task-finished') && ws.close());
        ws.send(JSON.stringify({ header: { action: 'finish-task', task_id: taskId, streaming: 'duplex' }, payload: { input: {} } }));
      },
      pcm,
    );
    const results = got.filter((g) => g.frame.header?.event === 'result-generated').map((g) => ({ at: g.at, sentence: g.frame.payload.output.sentence }));
    const finals = results.filter((r) => r.sentence.sentence_end).map((r) => ({ at: r.at, endMs: r.sentence.end_time as number }));
    expect(finals).toHaveLength(SENTENCES.length);
    const fun = latencies(finals, ends);
    note('fun-asr-realtime', fun);
    for (const ms of fun) expect(ms).toBeLessThanOrEqual(1300 + MARGIN_MS);
    for (const f of finals) expect(f.at).toBeGreaterThanOrEqual(f.endMs + 1300);
    const interims = results.filter((r) => !r.sentence.sentence_end);
    expect(interims.length).toBeGreaterThan(0);
    for (const r of interims) {
      expect(r.sentence.begin_time).toBeLessThanOrEqual(r.at);
      for (const w of r.sentence.words) expect(w.end_time).toBeLessThanOrEqual(r.at);
    }
    const times = got.flatMap((g) => timeFields(g.frame));
    expect(times.length).toBeGreaterThan(10);
    for (const t of times) expect(Number.isInteger(t), `${t} is an integer`).toBe(true);
  });
});
