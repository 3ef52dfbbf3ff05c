/** The HTTP routes mounted in the emulator's own server (startEmulator), next to its WebSocket protocols. */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { funAsr } from '../../../src/transports/dashscope/fun-asr.js';
import { omni } from '../../../src/transports/dashscope/omni.js';
import { Vocabularies } from '../../../src/transports/dashscope/vocabulary.js';
import { makeSpeech, SENTENCES } from '../../helpers/speech.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('HTTP routes in startEmulator()', () => {
  it('serves uploads, tasks, results, vocabularies and compatible mode on the one port', async () => {
    emu = await startEmulator({ script: [{ text: 'served by the real emulator server', emotion: 'neutral', language: 'en' }], apiKeys: ['sk-server-test-0001'] });
    const env = { DASHSCOPE_API_KEY: 'sk-server-test-0001', DASHSCOPE_BASE_URL: emu.url };
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1) });
    const batch = funAsr({ env, pollMs: 20, hotwords: [{ text: 'emulator', weight: 4 }] });
    expect((await batch.transcribeFile(speech.path))[0]?.text).toBe('served by the real emulator server');
    await batch.close();
    const chat = omni('qwen3.5-omni-flash', { env });
    expect((await chat.transcribeFile(speech.path))[0]?.text).toBe('served by the real emulator server');
    await chat.close();
    const vocabularies = new Vocabularies({ env });
    expect(await vocabularies.list()).toHaveLength(1);
    await vocabularies.close();
    expect((await fetch(`${emu.url}/api/v1/not-a-route`, { headers: { authorization: 'Bearer sk-server-test-0001' } })).status).toBe(404);
  });
});
