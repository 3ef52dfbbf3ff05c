import { describe, expect, it } from 'vitest';
import { assertModelSupports, chooseModel, createTransport, formatModelTable, modelInfo, MODELS, modelsJson } from '../../src/transports/catalog.js';

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
});
