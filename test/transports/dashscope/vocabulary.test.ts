import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHotwords, Vocabularies } from '../../../src/transports/dashscope/vocabulary.js';
import { KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

let h: Harness;
let v: Vocabularies;
beforeEach(async () => {
  h = await startHarness({});
  v = new Vocabularies({ apiKey: KEY, baseUrl: h.url, retry: { baseMs: 5 } });
});
afterEach(async () => {
  await v.close();
  await h.close();
});

describe('parseHotwords', () => {
  it('reads term:weight[:lang] lists with weight 4 by default', () => {
    expect(parseHotwords('Model Studio:5, earshot ,metformin:3:en')).toEqual([
      { text: 'Model Studio', weight: 5 },
      { text: 'earshot', weight: 4 },
      { text: 'metformin', weight: 3, lang: 'en' },
    ]);
  });
  it('refuses empty lists, bad weights and over-long terms', () => {
    for (const bad of ['', ' , ', 'x:0', 'x:6', 'x:2.5', 'a b c d e f g h', '这是一个非常非常非常长的热词不能超过十五个字']) {
      expect(() => parseHotwords(bad)).toThrowError(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
    }
  });
});

describe('Vocabularies', () => {
  it('creates, lists, queries, updates and deletes', async () => {
    const id = await v.create('fun-asr', [{ text: 'Model Studio', weight: 4, lang: 'en' }], { prefix: 'testpfx' });
    expect(id).toMatch(/^vocab-testpfx-[0-9a-f]{32}$/);
    const list = await v.list({ prefix: 'testpfx' });
    expect(list).toEqual([expect.objectContaining({ vocabularyId: id, status: 'OK' })]);
    expect(list[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(await v.query(id)).toMatchObject({ targetModel: 'fun-asr', vocabulary: [{ text: 'Model Studio', weight: 4, lang: 'en' }] });
    await v.update(id, [{ text: 'earshot', weight: 5 }]);
    expect((await v.query(id)).vocabulary).toEqual([{ text: 'earshot', weight: 5 }]);
    await v.delete(id);
    expect(await v.list({ prefix: 'testpfx' })).toEqual([]);
    await expect(v.query(id)).rejects.toMatchObject({ code: 'EARSHOT_REQUEST_FAILED', statusCode: 404 });
  });

  it('checks prefix and words before sending anything', async () => {
    await expect(v.create('fun-asr', [{ text: 'x', weight: 4 }], { prefix: 'Bad-Prefix' })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(v.create('fun-asr', [{ text: 'x', weight: 9 }])).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    await expect(v.create('fun-asr', [])).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
  });

  it('ensureVocabulary reuses an identical list (any order) for the same model, else creates one', async () => {
    const a = await v.ensureVocabulary(parseHotwords('alpha:4,beta:5'), 'fun-asr');
    const b = await v.ensureVocabulary(parseHotwords('beta:5,alpha:4'), 'fun-asr');
    const c = await v.ensureVocabulary(parseHotwords('alpha:4,beta:3'), 'fun-asr');
    const d = await v.ensureVocabulary(parseHotwords('alpha:4,beta:5'), 'paraformer-v2');
    expect(b).toBe(a);
    expect(new Set([a, c, d]).size).toBe(3);
    expect(await v.list({ prefix: 'earshot', pageSize: 50 })).toHaveLength(3);
  });

  it('keeps lists per key, and maps a bad key to EARSHOT_AUTH_FAILED', async () => {
    h.ctx.apiKeys.add('sk-other-key-000001');
    await v.create('fun-asr', [{ text: 'mine', weight: 4 }]);
    const other = new Vocabularies({ apiKey: 'sk-other-key-000001', baseUrl: h.url });
    expect(await other.list()).toEqual([]);
    await other.close();
    const bad = new Vocabularies({ apiKey: 'sk-bad-key-0000001', baseUrl: h.url });
    await expect(bad.list()).rejects.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    await bad.close();
  });
});
