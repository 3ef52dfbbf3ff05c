/** Temporary API keys (§1.9) in the emulator: minting, use over HTTP and WebSocket handshakes, expiry, refusals. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Emulator } from '../../../src/emulator/server.js';
import { emulatorPerTest, until, type RawClient } from '../ws/helpers.js';

const KEY = 'sk-test-tokens-0001';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const emulator = emulatorPerTest();
let emu: Emulator;
afterEach(() => {
  vi.useRealTimers();
});

async function post(path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${emu.url}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function mint(key: string, query = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  return post(`/api/v1/tokens${query}`, key);
}

const listVocabularies = (key: string) => post('/api/v1/services/audio/asr/customization', key, { model: 'speech-biasing', input: { action: 'list_vocabulary' } });

/** Open a handshake and wait until it is either accepted or refused. */
async function handshake(c: RawClient): Promise<RawClient> {
  await until(() => c.opened || c.rejected, 5000, 'handshake');
  return c;
}

const refusedShape = { code: 'InvalidApiKey', message: 'Invalid API-key provided.', request_id: expect.stringMatching(UUID) };

describe('POST /api/v1/tokens', () => {
  it('mints st- keys (60 s by default, up to 1800 s) that act for the key that made them over HTTP', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const before = Math.floor(Date.now() / 1000);
    const short = await mint(KEY);
    expect(short.status).toBe(200);
    expect(short.body).toEqual({ token: expect.stringMatching(/^st-[0-9a-f]{32}$/), expires_at: expect.any(Number) });
    expect(short.body.expires_at).toBeGreaterThanOrEqual(before + 59);
    expect(short.body.expires_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 60);
    const long = await mint(KEY, '?expire_in_seconds=1800');
    expect(long.body.expires_at).toBeGreaterThanOrEqual(before + 1799);
    expect(long.body.token).not.toBe(short.body.token);

    const created = await post('/api/v1/services/audio/asr/customization', KEY, { model: 'speech-biasing', input: { action: 'create_vocabulary', target_model: 'fun-asr', prefix: 'tok', vocabulary: [{ text: 'earshot', weight: 4 }] } });
    expect(created.status).toBe(200);
    const listed = await listVocabularies(short.body.token as string);
    expect(listed.status).toBe(200);
    // The temporary key sees the owner's vocabularies: it carries the owner's permissions and state.
    expect(listed.body.output).toEqual({ vocabulary_list: [expect.objectContaining({ vocabulary_id: (created.body.output as { vocabulary_id: string }).vocabulary_id })] });
  });

  it('is accepted in WebSocket handshakes, as a bearer header or ?api_key=', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const token = (await mint(KEY)).body.token as string;
    const realtime = emulator.client('/api-ws/v1/realtime?model=qwen3-asr-flash-realtime', { Authorization: `Bearer ${token}` });
    const [created] = await realtime.waitFor('session.created');
    expect(created!.session).toMatchObject({ model: 'qwen3-asr-flash-realtime' });
    const inference = await handshake(emulator.client(`/api-ws/v1/inference/?api_key=${token}`));
    expect(inference.opened).toBe(true);
  });

  it('stops working when it expires, over HTTP and WebSocket, in the wrong-key shape', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const issued = Date.now();
    const token = (await mint(KEY, '?expire_in_seconds=5')).body.token as string;
    const minted = Date.now();
    vi.setSystemTime(issued + 4_500);
    expect((await listVocabularies(token)).status).toBe(200);
    // Minted between `issued` and `minted`: it expires by `minted + 5 s` at the latest.
    vi.setSystemTime(minted + 5_000);
    expect(await listVocabularies(token)).toEqual({ status: 401, body: refusedShape });
    const ws = await handshake(emulator.client('/api-ws/v1/realtime?model=qwen3-asr-flash-realtime', { Authorization: `Bearer ${token}` }));
    expect(ws.opened).toBe(false);
    expect(ws.rejected?.status).toBe(401);
    expect(JSON.parse(ws.rejected!.body)).toEqual(refusedShape);
    // The real key is unaffected.
    expect((await listVocabularies(KEY)).status).toBe(200);
  });

  it('refuses unknown st- keys like wrong keys, even when the emulator accepts any key', async () => {
    emu = await emulator.start({ script: [{ text: 'x' }] });
    const forged = 'st-0123456789abcdef0123456789abcdef';
    expect(await listVocabularies(forged)).toEqual({ status: 401, body: refusedShape });
    expect((await listVocabularies('sk-anything-goes')).status).toBe(200);
    const ws = await handshake(emulator.client(`/api-ws/v1/inference?api_key=${forged}`));
    expect(ws.rejected?.status).toBe(401);
    expect(JSON.parse(ws.rejected!.body)).toEqual(refusedShape);
    // In accept-any mode a minted key still works, and acts for the key that made it.
    const token = (await mint('sk-anything-goes')).body.token as string;
    expect((await listVocabularies(token)).status).toBe(200);
  });

  it('refuses a wrong or missing key, a temporary key minting another, and a bad expire_in_seconds', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    expect(await mint('sk-wrong-key-000')).toEqual({ status: 401, body: refusedShape });
    expect((await post('/api/v1/tokens', undefined)).status).toBe(401);
    const token = (await mint(KEY)).body.token as string;
    expect(await mint(token)).toEqual({ status: 403, body: { code: 'AccessDenied', message: expect.stringMatching(/temporary/), request_id: expect.stringMatching(UUID) } });
    for (const bad of ['0', '1801', '1.5', '-5', 'abc', '', '60s']) {
      const reply = await mint(KEY, `?expire_in_seconds=${bad}`);
      expect(reply, bad).toEqual({ status: 400, body: { code: 'InvalidParameter', message: expect.stringMatching(/expire_in_seconds/), request_id: expect.stringMatching(UUID) } });
    }
    expect((await mint(KEY, '?expire_in_seconds=1')).status).toBe(200);
    expect((await fetch(`${emu.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404);
  });
});
