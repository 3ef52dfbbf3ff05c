import { describe, expect, it } from 'vitest';
import { assertModelSupports, chooseModel, createTransport, formatModelTable, listModels, modelInfo, modelsJson, registerTransport, TRANSPORTS } from '../../src/transports/catalog.js';
import type { TransportDescriptor } from '../../src/transports/transport.js';
import { fakeTransport } from '../../src/testing/fake-transport.js';

const MODELS = listModels();

const conn = { apiKey: 'sk-test-catalog-0001', baseUrl: 'http://127.0.0.1:9' };

describe('catalog', () => {
  it('lists every speech-to-text model with its mode, API, boost and limits', () => {
    const ids = MODELS.map((m) => m.id);
    for (const id of ['local', 'fun-asr', 'paraformer-v2', 'qwen3-asr-flash-filetrans', 'qwen3-asr-flash', 'qwen3.5-omni-plus', 'qwen3.5-omni-flash', 'qwen3-omni-flash', 'fun-asr-realtime', 'paraformer-realtime-v2', 'qwen3-asr-flash-realtime', 'qwen3.5-omni-plus-realtime', 'qwen3.5-omni-flash-realtime', 'qwen3-omni-flash-realtime']) {
      expect(ids).toContain(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(modelInfo('fun-asr')).toMatchObject({ mode: 'batch', api: 'async-task', accuracyBoost: 'hotwords', diarization: true, maxDurationMs: 12 * 3600_000 });
    expect(modelInfo('qwen3-asr-flash-filetrans')).toMatchObject({ accuracyBoost: 'context', emotion: true, diarization: false });
    expect(modelInfo('qwen3.5-omni-flash')).toMatchObject({ mode: 'batch', api: 'compatible-chat', accuracyBoost: 'context', maxDurationMs: 20 * 60_000 });
    expect(modelInfo('qwen3-asr-flash-realtime')).toMatchObject({ mode: 'realtime', emotion: true });
    expect(() => modelInfo('whisper-9')).toThrowError(expect.objectContaining({ code: 'EARSHOT_UNKNOWN_MODEL' }) as Error);
  });

  it('names the closest model id to a typo, and none when nothing is close', () => {
    const wrong = (id: string): Record<string, unknown> => {
      try {
        modelInfo(id);
      } catch (err) {
        return err as Record<string, unknown>;
      }
      throw new Error(`${id} was found`);
    };
    expect(wrong('fun-asr-realtme')).toMatchObject({ code: 'EARSHOT_UNKNOWN_MODEL', details: { model: 'fun-asr-realtme', suggestion: 'fun-asr-realtime' } });
    expect(wrong('Qwen3.5-Omni-Flash')).toMatchObject({ details: { suggestion: 'qwen3.5-omni-flash' } });
    expect(wrong('qwen3-asr-flash-realtim').message).toContain('(did you mean "qwen3-asr-flash-realtime"?)');
    expect(wrong('lcoal')).toMatchObject({ details: { suggestion: 'local' } });
    expect(wrong('whisper-9').details).toEqual({ model: 'whisper-9' });
  });

  it("states the same capabilities as each model's transport", async () => {
    for (const m of MODELS) {
      const t = createTransport(m.id, { ...conn, local: { size: 1 } });
      const { languages: a, ...caps } = t.capabilities;
      const { languages: b, ...rowCaps } = m.capabilities;
      expect({ id: m.id, ...caps }).toEqual({ id: m.id, ...rowCaps });
      expect([...a].sort()).toEqual([...b].sort());
      expect(t.model).toBe(m.id);
      await t.close?.();
    }
  });

  it('answers: results while speaking or after, domain terms, diarization, emotion, language', () => {
    expect(chooseModel({ when: 'after', diarization: true, domainTerms: 'hotwords' }).model.id).toBe('fun-asr');
    expect(chooseModel({ when: 'after', emotion: true, domainTerms: true }).model.id).toBe('qwen3-asr-flash-filetrans');
    expect(chooseModel({ when: 'while-speaking' }).model.id).toBe('fun-asr-realtime');
    expect(chooseModel({ when: 'while-speaking', emotion: true }).model.id).toBe('qwen3-asr-flash-realtime');
    expect(chooseModel({ when: 'while-speaking', domainTerms: 'context', language: 'es' }).model.mode).toBe('realtime');
    expect(chooseModel({ when: 'while-speaking', offline: true }).model.id).toBe('local');
    expect(chooseModel({ offline: true }).model.id).toBe('local');
    const choice = chooseModel({ when: 'after' });
    expect(choice.reasons).toContain('results after the audio');
    expect(choice.alternatives.map((m) => m.id)).toContain('local');
    expect(() => chooseModel({ when: 'while-speaking', diarization: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => chooseModel({ offline: true, emotion: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
  });

  it('refuses what a model lacks before any request', () => {
    expect(() => assertModelSupports('fun-asr-realtime', { diarize: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => createTransport('qwen3.5-omni-flash-realtime', { ...conn, diarize: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => createTransport('qwen3.5-omni-plus', { ...conn, hotwords: [{ text: 'etcd', weight: 4 }] })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => createTransport('fun-asr', { ...conn, context: 'a meeting' })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => createTransport('local', { language: 'fr' })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
    expect(() => createTransport('fun-asr', { env: {} })).toThrowError(expect.objectContaining({ code: 'EARSHOT_MISSING_API_KEY' }) as Error);
  });

  it('prints the table and JSON for `earshot models`', () => {
    const table = formatModelTable();
    for (const m of MODELS) expect(table).toContain(m.id);
    expect(table.split('\n')[0]).toMatch(/^model\s+mode\s+api\s+boost\s+emotion\s+speakers\s+words\s+max\s+languages$/);
    const json = JSON.parse(modelsJson()) as { id: string; maxDurationMs: number | null; capabilities?: unknown }[];
    expect(json).toHaveLength(MODELS.length);
    expect(json.find((m) => m.id === 'local')?.maxDurationMs).toBeNull();
    expect(json[0]?.capabilities).toBeUndefined();
  });

  it('is the list of descriptors: every model once, realtime/batch read from the methods of its transport', () => {
    expect(MODELS.map((m) => m.id)).toEqual(TRANSPORTS.flatMap((d) => Object.keys(d.models)));
    for (const d of TRANSPORTS) {
      for (const [id, spec] of Object.entries(d.models)) {
        const row = modelInfo(id);
        expect(row).toMatchObject({ provider: d.provider, api: d.api, summary: spec.summary });
        expect(row.capabilities).toMatchObject(spec.capabilities);
        expect(Object.keys(spec.capabilities)).not.toContain('realtime');
        expect(Object.keys(spec.capabilities)).not.toContain('batch');
      }
    }
    expect(modelInfo('local')).toMatchObject({ mode: 'both', provider: 'local' });
    expect(modelInfo('local').capabilities.offline).toBe(true);
    expect(MODELS.filter((m) => m.capabilities.offline).map((m) => m.id)).toEqual(['local']);
    // The Omni realtime models share one declaration of their languages.
    const omniRealtime = MODELS.filter((m) => m.id.endsWith('omni-plus-realtime') || m.id.endsWith('omni-flash-realtime'));
    expect(omniRealtime).toHaveLength(3);
    expect(new Set(omniRealtime.map((m) => m.languages)).size).toBe(1);
  });

  it('takes a registered descriptor like a built-in one, and lets it go again', async () => {
    const script = [{ type: 'final' as const, text: 'hello there', startMs: 100, endMs: 900 }];
    const descriptor: TransportDescriptor = {
      provider: 'fake-cloud',
      api: 'http-json',
      models: {
        'fake-asr': { summary: 'A fake cloud model.', capabilities: { wordTimes: false, emotion: true, diarization: false, hotwords: false, context: true, maxDurationMs: 60_000, languages: ['en', 'fr'] } },
      },
      create: (id) => fakeTransport({ model: id, serves: 'clips', script, capabilities: { emotion: true, context: true, maxDurationMs: 60_000, languages: ['en', 'fr'] } }),
    };
    const unregister = registerTransport(descriptor);
    try {
      expect(registerTransport(descriptor)).toBeTypeOf('function'); // the same descriptor again: no change
      expect(listModels().map((m) => m.id).filter((id) => id === 'fake-asr')).toHaveLength(1);
      expect(modelInfo('fake-asr')).toMatchObject({ mode: 'batch', api: 'http-json', provider: 'fake-cloud', accuracyBoost: 'context', emotion: true, maxDurationMs: 60_000 });
      expect(chooseModel({ when: 'after', emotion: true, language: 'fr', domainTerms: 'context' }).model.id).toBe('qwen3-asr-flash-filetrans');
      expect(chooseModel({ when: 'after', emotion: true, language: 'fr', domainTerms: 'context' }).alternatives.map((m) => m.id)).toContain('fake-asr');
      expect(() => createTransport('fake-asr', { language: 'de' })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
      expect(() => createTransport('fake-asr', { diarize: true })).toThrowError(expect.objectContaining({ code: 'EARSHOT_CAPABILITY_MISSING' }) as Error);
      const t = createTransport('fake-asr', { language: 'fr' });
      expect(t.model).toBe('fake-asr');
      expect(t.capabilities).toMatchObject({ realtime: false, batch: true, emotion: true });
      const events = await t.transcribeClip!({ samples: new Int16Array(16000), sampleRate: 16000, startMs: 0 });
      expect(events).toEqual(script);
      expect(formatModelTable()).toContain('fake-asr');
      expect((JSON.parse(modelsJson()) as { id: string; mode: string }[]).find((m) => m.id === 'fake-asr')).toMatchObject({ mode: 'batch', provider: 'fake-cloud' });
    } finally {
      unregister();
    }
    expect(listModels().map((m) => m.id)).not.toContain('fake-asr');
    expect(() => createTransport('fake-asr')).toThrowError(expect.objectContaining({ code: 'EARSHOT_UNKNOWN_MODEL' }) as Error);
  });

  it('refuses a descriptor whose ids clash, that has no models, or whose transport has neither method', () => {
    const caps = { wordTimes: false, emotion: false, diarization: false, hotwords: false, context: false, maxDurationMs: Infinity, languages: ['en'] };
    const clash: TransportDescriptor = { provider: 'x', api: 'x', models: { 'fun-asr': { summary: 'x', capabilities: caps } }, create: () => fakeTransport() };
    expect(() => registerTransport(clash)).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT', message: expect.stringContaining('fun-asr') as string }) as Error);
    expect(() => registerTransport({ provider: 'x', api: 'x', models: {}, create: () => fakeTransport() })).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
    const mute: TransportDescriptor = { provider: 'x', api: 'x', models: { mute: { summary: 'x', capabilities: caps } }, create: (id) => ({ model: id, sampleRate: 16000, capabilities: { ...caps, realtime: false, batch: false } }) };
    expect(() => registerTransport(mute)).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
    // realtime/batch written by hand, and wrong: the transport has no openStream.
    const liar: TransportDescriptor = { provider: 'x', api: 'x', models: { liar: { summary: 'x', capabilities: caps } }, create: (id) => ({ ...fakeTransport({ model: id, serves: 'clips' }), capabilities: { ...caps, realtime: true, batch: true } }) };
    expect(() => registerTransport(liar)).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT', message: expect.stringContaining('withCapabilities') as string }) as Error);
    expect(listModels().map((m) => m.id)).not.toContain('mute');
    expect(listModels().map((m) => m.id)).not.toContain('liar');
  });
});
