import { describe, expect, it } from 'vitest';
import type { EarshotError } from '../../../src/core/errors.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import { funAsrRealtime } from '../../../src/transports/dashscope/fun-asr-realtime.js';
import { createTemporaryKey } from '../../../src/transports/dashscope/temporary-key.js';
import { Vocabularies } from '../../../src/transports/dashscope/vocabulary.js';
import { chunks, emulatorPerTest, speechPcm } from '../../emulator/ws/helpers.js';

const KEY = 'sk-test-tempkey-0001';
const emulator = emulatorPerTest();

describe('createTemporaryKey', () => {
  it('mints a key that streams through funAsrRealtime and sees the owner vocabularies', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }] });
    const before = Date.now();
    const { token, expiresAt } = await createTemporaryKey({ env: { DASHSCOPE_API_KEY: KEY, DASHSCOPE_BASE_URL: emu.url }, expireInSeconds: 120 });
    expect(token).toMatch(/^st-/);
    expect(expiresAt.getTime()).toBeGreaterThan(before + 118_000);
    expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 120_000);

    const events: TranscriptEvent[] = [];
    const errors: Error[] = [];
    const session = await funAsrRealtime({ apiKey: token, baseUrl: emu.url }).openStream!({ sampleRate: 16000, language: 'en', onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
    for (const c of chunks(speechPcm(['the weather will be cold and windy tomorrow morning']))) await session.write(c);
    await session.end();
    expect(errors).toEqual([]);
    expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['the weather will be cold']);

    const owner = new Vocabularies({ apiKey: KEY, baseUrl: emu.url });
    const id = await owner.create('fun-asr', [{ text: 'earshot', weight: 4 }]);
    await owner.close();
    const guest = new Vocabularies({ apiKey: token, baseUrl: emu.url });
    expect((await guest.list()).map((v) => v.vocabularyId)).toEqual([id]);
    await guest.close();
  });

  it('uses 60 s by default and takes the key and base URL as options', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const before = Date.now();
    const { expiresAt } = await createTemporaryKey({ apiKey: KEY, baseUrl: `${emu.url}/api/v1`, env: {} });
    expect(expiresAt.getTime()).toBeGreaterThan(before + 58_000);
    expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('throws EARSHOT_MISSING_API_KEY without a key and EARSHOT_INVALID_ARGUMENT for a bad expiry, before any request', async () => {
    await expect(createTemporaryKey({ env: {} })).rejects.toMatchObject({ code: 'EARSHOT_MISSING_API_KEY' });
    // Port 9 on 127.0.0.1 (discard) has nothing listening: a request would fail with a connection error instead.
    for (const expireInSeconds of [0, 1801, 1.5, Number.NaN, -1]) {
      await expect(createTemporaryKey({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9', expireInSeconds })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    }
  });

  it('maps a wrong key and a temporary key to EARSHOT_AUTH_FAILED without leaking either', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const wrong = (await createTemporaryKey({ apiKey: 'sk-wrong-key-7777', baseUrl: emu.url }).catch((e: unknown) => e)) as EarshotError;
    expect(wrong).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', statusCode: 401, providerCode: 'InvalidApiKey', retryable: false });
    expect(`${wrong.message} ${wrong.stack ?? ''}`).not.toContain('sk-wrong-key-7777');
    const { token } = await createTemporaryKey({ apiKey: KEY, baseUrl: emu.url });
    const nested = (await createTemporaryKey({ apiKey: token, baseUrl: emu.url }).catch((e: unknown) => e)) as EarshotError;
    expect(nested).toMatchObject({ code: 'EARSHOT_AUTH_FAILED', statusCode: 403, providerCode: 'AccessDenied' });
    expect(nested.message).not.toContain(token);
  });

  it('rejects with EARSHOT_ABORTED when the signal is already aborted', async () => {
    const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    await expect(createTemporaryKey({ apiKey: KEY, baseUrl: emu.url, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
  });
});
