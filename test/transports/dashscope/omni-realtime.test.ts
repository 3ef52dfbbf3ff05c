import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { omniRealtime } from '../../../src/transports/dashscope/omni-realtime.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { EarshotError } from '../../../src/core/errors.js';
import { chunks, speechPcm, until } from '../../emulator/ws/helpers.js';

const KEY = 'sk-test-omni-0002';
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});
const SENTENCES = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'];

describe('omniRealtime', () => {
  for (const model of ['qwen3.5-omni-plus-realtime', 'qwen3.5-omni-flash-realtime', 'qwen3-omni-flash-realtime'] as const) {
    it(`${model}: transcribes the user's speech with the context sent as instructions`, async () => {
      emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }, { text: 'please send the report' }] });
      const t = omniRealtime(model, { apiKey: KEY, baseUrl: emu.url, silenceDurationMs: 400 });
      expect(t.capabilities).toMatchObject({ context: true, emotion: false, maxDurationMs: 120 * 60 * 1000 });
      const events: TranscriptEvent[] = [];
      const errors: Error[] = [];
      const s = await t.openStream!({ sampleRate: 16000, context: 'A weather report.', onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
      for (const c of chunks(speechPcm(SENTENCES, { gapMs: 800 }))) await s.write(c);
      await s.end();
      expect(errors).toEqual([]);
      expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['the weather will be cold', 'please send the report']);
      if (model.startsWith('qwen3.5')) expect(events[0]!.type).toBe('partial');
    });
  }

  it('maps a session cap close to a retryable connection loss', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }], faults: { sessionCapMs: 200 } });
    const errors: EarshotError[] = [];
    await omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: emu.url }).openStream!({ sampleRate: 16000, onEvent: () => {}, onError: (e) => errors.push(e as EarshotError) });
    await until(() => errors.length > 0, 5000, 'cap');
    expect(errors[0]).toMatchObject({ code: 'EARSHOT_CONNECTION_LOST', retryable: true, providerCode: 'session_expired' });
  });

  it('rejects a wrong key and an empty model', async () => {
    expect(() => omniRealtime('', { apiKey: 'k' })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'x' }] });
    await expect(omniRealtime('qwen3-omni-flash-realtime', { apiKey: 'sk-bad-00000000', baseUrl: emu.url }).openStream!({ sampleRate: 16000, onEvent: () => {}, onError: () => {} })).rejects.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
  });
});
