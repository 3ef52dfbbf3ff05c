import { describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { RawClient, emulatorPerTest, until } from './ws/helpers.js';

const KEY = 'sk-test-server-0001';
const emulator = emulatorPerTest();
let emu: Emulator;

const client = (path: string, headers: Record<string, string>): RawClient => emulator.client(path, headers);

describe('startEmulator', () => {
  it('listens on a free port and answers unknown HTTP paths with 404 JSON', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }] });
    expect(emu.port).toBeGreaterThan(0);
    expect(emu.url).toBe(`http://127.0.0.1:${emu.port}`);
    expect(emu.context.baseUrl).toBe(emu.url);
    const res = await fetch(`${emu.url}/no/such/path`, { headers: { Authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; request_id: string };
    expect(body.code).toBe('NotFound');
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a handshake without a key or with a wrong key: 401 InvalidApiKey, key never echoed', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }] });
    const none = client('/api-ws/v1/inference', {});
    const wrong = client('/api-ws/v1/realtime?model=qwen3-asr-flash-realtime', { Authorization: 'Bearer sk-wrong-key-123456' });
    await until(() => none.rejected && wrong.rejected, 5000, 'rejections');
    for (const c of [none, wrong]) {
      expect(c.rejected!.status).toBe(401);
      const body = JSON.parse(c.rejected!.body) as { code: string; message: string; request_id: string };
      expect(body.code).toBe('InvalidApiKey');
      expect(c.rejected!.body).not.toContain('sk-wrong');
    }
  });

  it('accepts the key as ?api_key= (browser form) and any key when no keys are configured', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }] });
    const viaQuery = client(`/api-ws/v1/realtime?model=qwen3-asr-flash-realtime&api_key=${KEY}`, {});
    await viaQuery.ready();
    await viaQuery.waitFor('session.created');
    await emu.close();
    emu = await emulator.start({ script: [{ text: 'hello' }] });
    const any = client('/api-ws/v1/inference', { Authorization: 'Bearer sk-anything' });
    await any.ready();
  });

  it('answers unknown WebSocket paths with 404 and unknown realtime models with 404 ModelNotFound', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }] });
    const path = client('/api-ws/v1/nothing', { Authorization: `Bearer ${KEY}` });
    const model = client('/api-ws/v1/realtime?model=qwen9-unknown', { Authorization: `Bearer ${KEY}` });
    await until(() => path.rejected && model.rejected, 5000, 'rejections');
    expect(path.rejected!.status).toBe(404);
    expect(model.rejected!.status).toBe(404);
    expect(JSON.parse(model.rejected!.body)).toMatchObject({ code: 'ModelNotFound' });
  });

  it('throttles realtime handshakes with 429 while faults.throttleFirst lasts', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }], faults: { throttleFirst: 1 } });
    const first = client('/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime', { Authorization: `Bearer ${KEY}` });
    await until(() => first.rejected, 5000, 'throttle');
    expect(first.rejected!.status).toBe(429);
    expect(JSON.parse(first.rejected!.body)).toMatchObject({ code: 'Throttling.RateQuota' });
    const second = client('/api-ws/v1/realtime?model=qwen3.5-omni-plus-realtime', { Authorization: `Bearer ${KEY}` });
    await second.ready();
  });

  it('rejects a bad port at once and closes twice safely', async () => {
    await expect(startEmulator({ port: 70000, script: [{ text: 'x' }] })).rejects.toMatchObject({ code: 'EARSHOT_INVALID_ARGUMENT' });
    emu = await emulator.start({ script: [{ text: 'x' }] });
    await emu.close();
    await emu.close();
  });
});

describe('startEmulator default recognizer', () => {
  it('loads the embedded engine when neither a recognizer nor a script is given, and releases it on close', async () => {
    const e = await startEmulator();
    try {
      expect(e.context.recognizer?.model).toBe('local');
      expect(e.context.script).toBeUndefined();
    } finally {
      await e.close();
    }
  });
});
