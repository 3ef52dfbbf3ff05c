import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { funAsrRealtime } from '../../../src/transports/dashscope/fun-asr-realtime.js';
import { Vocabularies } from '../../../src/transports/dashscope/vocabulary.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { EarshotError } from '../../../src/core/errors.js';
import type { Transport } from '../../../src/transports/transport.js';
import { chunks, speechPcm, until } from '../../emulator/ws/helpers.js';

const KEY = 'sk-test-funasr-0001';
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const SENTENCES = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'];

async function run(transport: ReturnType<typeof funAsrRealtime>, pcm: Int16Array) {
  const events: TranscriptEvent[] = [];
  const errors: Error[] = [];
  const session = await transport.openStream!({ sampleRate: 16000, language: 'en', onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  for (const c of chunks(pcm)) await session.write(c);
  await session.end();
  return { events, errors };
}

describe('funAsrRealtime', () => {
  it('streams through the emulator: partials before finals, word times, times relative to the session', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }, { text: 'please send the report' }] });
    const transport = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    expect(transport.capabilities).toMatchObject({ realtime: true, hotwords: true, emotion: false, wordTimes: true });
    const { events, errors } = await run(transport, speechPcm(SENTENCES, { gapMs: 800 }));
    expect(errors).toEqual([]);
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.map((e) => e.text)).toEqual(['the weather will be cold', 'please send the report']);
    expect(events[0]!.type).toBe('partial');
    expect(finals[0]!.words?.[0]).toMatchObject({ text: 'the' });
    expect(finals[0]!.language).toBe('en');
    expect(finals[1]!.startMs).toBeGreaterThan(finals[0]!.endMs);
  });

  it('reads the key and base URL from the environment (https maps to wss) and throws without a key', () => {
    expect(() => funAsrRealtime({ env: {} })).toThrow(expect.objectContaining({ code: 'EARSHOT_MISSING_API_KEY' }));
    expect(() => funAsrRealtime({ env: { DASHSCOPE_API_KEY: 'k' }, maxSentenceSilence: 50 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    const t = funAsrRealtime({ env: { DASHSCOPE_API_KEY: 'sk-env', DASHSCOPE_BASE_URL: 'https://dashscope-intl.aliyuncs.com' } });
    expect(t.model).toBe('fun-asr-realtime');
  });

  it('maps a wrong key, an unknown model and throttling to coded errors', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const noop = { sampleRate: 16000, onEvent: () => {}, onError: () => {} };
    const wrong = funAsrRealtime({ apiKey: 'sk-wrong-000000', baseUrl: emu.url });
    const e1 = (await wrong.openStream!(noop).catch((e: unknown) => e)) as EarshotError;
    expect(e1).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', statusCode: 401, providerCode: 'InvalidApiKey', retryable: false });
    expect(e1.message).not.toContain('sk-wrong');
    const unknown = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, model: 'fun-asr-nonexistent' });
    await expect(unknown.openStream!(noop)).rejects.toMatchObject({ code: 'EARSHOT_UNKNOWN_MODEL' });
    emu.context.faults.throttleFirst = 1;
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url });
    await expect(t.openStream!(noop)).rejects.toMatchObject({ code: 'EARSHOT_THROTTLED', retryable: true });
    const ok = await t.openStream!(noop);
    ok.close();
  });

  it('reports task-failed as EARSHOT_TASK_FAILED and a dropped socket as retryable EARSHOT_CONNECTION_LOST', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }], faults: { failAfterAudioMs: 300 } });
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url });
    const errors: EarshotError[] = [];
    const s1 = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: (e) => errors.push(e as EarshotError) });
    for (const c of chunks(new Int16Array(8000))) await s1.write(c).catch(() => {});
    await until(() => errors.length > 0, 5000, 'task-failed');
    expect(errors[0]).toMatchObject({ code: 'EARSHOT_TASK_FAILED', providerCode: 'InternalError' });
    await expect(s1.end()).rejects.toMatchObject({ code: 'EARSHOT_TASK_FAILED' });
    emu.context.faults = { dropAfterAudioMs: 300 };
    const s2 = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: (e) => errors.push(e as EarshotError) });
    for (const c of chunks(new Int16Array(8000))) await s2.write(c).catch(() => {});
    await until(() => errors.length > 1, 5000, 'drop');
    expect(errors[1]).toMatchObject({ code: 'EARSHOT_CONNECTION_LOST', retryable: true });
  });

  it('closes at once on close() and on abort', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url });
    const ac = new AbortController();
    const errors: EarshotError[] = [];
    const s = await t.openStream!({ sampleRate: 16000, signal: ac.signal, onEvent: () => {}, onError: (e) => errors.push(e as EarshotError) });
    ac.abort();
    expect(errors[0]).toMatchObject({ code: 'EARSHOT_ABORTED' });
    s.close();
    const aborted = new AbortController();
    aborted.abort();
    await expect(t.openStream!({ sampleRate: 16000, signal: aborted.signal, onEvent: () => {}, onError: () => {} })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
  });

  it('creates a vocabulary for inline hotwords (customization API) and sends its vocabulary_id; an unknown id is refused', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }] });
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, maxSentenceSilence: 400 });
    const events: TranscriptEvent[] = [];
    const s = await t.openStream!({ sampleRate: 16000, hotwords: [{ text: 'weather', weight: 4, lang: 'en' }], onEvent: (e) => events.push(e), onError: () => {} });
    for (const c of chunks(speechPcm(SENTENCES.slice(0, 1), { gapMs: 800 }))) await s.write(c);
    await s.end();
    expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['the weather will be cold']);
    const noop = { sampleRate: 16000, onEvent: () => {}, onError: () => {} };
    await expect(t.openStream!({ ...noop, vocabularyId: 'vocab-nope-00000000000000000000000000000000' })).rejects.toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', providerCode: 'InvalidParameter' });
  });

  it('two runs with the same hotwords create one vocabulary (ensureVocabulary on the shared HTTP client reuses the list)', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }] });
    const hotwords = [{ text: 'weather', weight: 4, lang: 'en' }, { text: 'Model Studio', weight: 5 }];
    const used: string[] = [];
    for (let run = 0; run < 2; run++) {
      // a fresh transport each time, as a new process would make
      const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url });
      const s = await t.openStream!({ sampleRate: 16000, hotwords, onEvent: () => {}, onError: () => {} });
      await s.end();
      await t.close!();
    }
    const vocabularies = new Vocabularies({ apiKey: KEY, baseUrl: emu.url });
    const lists = await vocabularies.list();
    for (const l of lists) used.push((await vocabularies.query(l.vocabularyId)).targetModel);
    await vocabularies.close();
    expect(lists).toHaveLength(1);
    expect(used).toEqual(['fun-asr-realtime']);
  });

  it('vocabulary requests follow the retry policy and a reply that is not JSON is a coded error', async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      req.resume();
      hits++;
      if (hits === 1) res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"code":"Throttling","message":"slow"}');
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const t = funAsrRealtime({ apiKey: KEY, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, retry: { baseMs: 1 } });
      await expect(t.openStream!({ sampleRate: 16000, hotwords: [{ text: 'weather', weight: 4 }], onEvent: () => {}, onError: () => {} })).rejects.toMatchObject({ name: 'TransportError', code: 'EARSHOT_PROTOCOL_ERROR' });
      await t.close!();
      expect(hits).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('write() waits while the socket is above its high-water mark: a stalled engine pushes back through TCP to the client', async () => {
    let open = false;
    const gate: Array<() => void> = [];
    const stalled: Transport = {
      model: 'stalled',
      sampleRate: 16000,
      capabilities: { realtime: true, batch: false, wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] },
      openStream: async () => ({
        write: () => (open ? Promise.resolve() : new Promise<void>((r) => gate.push(r))),
        end: async () => {},
        close: () => {},
      }),
    };
    emu = await startEmulator({ apiKeys: [KEY], recognizer: stalled });
    const t = funAsrRealtime({ apiKey: KEY, baseUrl: emu.url, highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 });
    const s = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: () => {} });
    const second = new Int16Array(16000);
    let sent = 0;
    let blocked: Promise<void> | undefined;
    // Socket buffers (kernel and ws) absorb some seconds; keep writing until a write stays pending.
    while (sent < 600) {
      const w = s.write(second);
      sent++;
      const settled = await Promise.race([w.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
      if (!settled) {
        blocked = w;
        break;
      }
    }
    expect(blocked).toBeDefined();
    let resolved = false;
    void blocked!.then(() => (resolved = true));
    open = true;
    for (const r of gate.splice(0)) r();
    await until(() => resolved, 10_000, 'write to resume');
    s.close();
  });
});
