import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../../src/emulator/server.js';
import { RawClient, chunks, emulatorPerTest, speechPcm, until } from './helpers.js';

const KEY = 'sk-test-inference-0001';
const emulator = emulatorPerTest();
let emu: Emulator;

const client = (path = '/api-ws/v1/inference', key = KEY): RawClient => emulator.client(path, { Authorization: `bearer ${key}` });

const runTask = (taskId: string, model = 'fun-asr-realtime', parameters: Record<string, unknown> = { format: 'pcm', sample_rate: 16000, max_sentence_silence: 400 }) => ({
  header: { action: 'run-task', task_id: taskId, streaming: 'duplex' },
  payload: { task_group: 'audio', task: 'asr', function: 'recognition', model, parameters, input: {} },
});
const finishTask = (taskId: string) => ({ header: { action: 'finish-task', task_id: taskId, streaming: 'duplex' }, payload: { input: {} } });

describe('inference duplex protocol (§2)', () => {
  it('runs a task: task-started, interim and final result-generated with words, task-finished; then a second task on the same socket', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }, { text: 'please send the report' }] });
    const c = client('/api-ws/v1/inference/');
    await c.ready();
    c.send(runTask('2bf83b9a-baeb-4fda-8d9a-4b5c6d7e8f90'));
    await c.waitFor('task-started');
    const pcm = speechPcm(['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], { gapMs: 800 });
    for (const chunk of chunks(pcm)) c.ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    c.send(finishTask('2bf83b9a-baeb-4fda-8d9a-4b5c6d7e8f90'));
    await c.waitFor('task-finished');
    const results = c.of('result-generated').map((f) => f.payload.output.sentence);
    const finals = results.filter((s) => s.sentence_end);
    expect(finals.map((s) => s.text)).toEqual(['the weather will be cold', 'please send the report']);
    expect(finals.map((s) => s.sentence_id)).toEqual([1, 2]);
    const firstInterim = results.findIndex((s) => !s.sentence_end);
    expect(firstInterim).toBeGreaterThanOrEqual(0);
    expect(firstInterim).toBeLessThan(results.indexOf(finals[0]));
    const interim = results[firstInterim];
    expect(interim.end_time).toBeNull();
    expect(c.of('result-generated')[firstInterim]!.payload.usage).toBeNull();
    expect(finals[0].begin_time).toBeGreaterThan(200);
    expect(finals[0].end_time).toBeGreaterThan(finals[0].begin_time);
    expect(finals[1].begin_time).toBeGreaterThan(finals[0].end_time);
    expect(finals[0].words.map((w: { text: string }) => w.text.trim())).toEqual(['the', 'weather', 'will', 'be', 'cold']);
    expect(finals[0].words[1].text).toBe(' weather');
    const usage = c.of('result-generated').filter((f) => f.payload.output.sentence.sentence_end).map((f) => f.payload.usage.duration);
    expect(usage[1]).toBeGreaterThanOrEqual(usage[0]);
    // Connection reuse with a new task id.
    c.send(runTask('second-task'));
    await c.waitFor('task-started', 2);
    c.send(finishTask('second-task'));
    await c.waitFor('task-finished', 2);
    expect(c.closed).toBeUndefined();
  });

  it('fails a reused task_id on the same connection and closes the socket', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const c = client();
    await c.ready();
    c.send(runTask('t1'));
    await c.waitFor('task-started');
    c.send(finishTask('t1'));
    await c.waitFor('task-finished');
    c.send(runTask('t1'));
    const [failed] = await c.waitFor('task-failed');
    expect(failed!.header.error_code).toBe('InvalidParameter');
    await until(() => c.closed, 5000, 'close');
  });

  it('refuses an unknown model and missing parameters with task-failed InvalidParameter', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const a = client();
    await a.ready();
    a.send(runTask('t1', 'no-such-model'));
    const [f1] = await a.waitFor('task-failed');
    expect(f1!.header).toMatchObject({ task_id: 't1', error_code: 'InvalidParameter' });
    expect(f1!.header.error_message).toMatch(/model/i);
    await until(() => a.closed, 5000, 'close');
    const b = client();
    await b.ready();
    b.send(runTask('t2', 'fun-asr-realtime', { sample_rate: 16000 }));
    const [f2] = await b.waitFor('task-failed');
    expect(f2!.header.error_code).toBe('InvalidParameter');
  });

  it('fails the task after the no-audio timer and closes an idle connection', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], timers: { noAudioMs: 150, idleMs: 200 } });
    const a = client();
    await a.ready();
    a.send(runTask('t1'));
    const [failed] = await a.waitFor('task-failed');
    expect(failed!.header).toMatchObject({ error_code: 'CLIENT_ERROR' });
    expect(failed!.header.error_message).toMatch(/request timeout after/);
    const b = client();
    await b.ready();
    await until(() => b.closed, 5000, 'idle close');
    expect(b.closed!.code).toBe(1000);
  });

  it('injects throttling, task-failed and a dropped socket', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], faults: { throttleFirst: 1 } });
    const a = client();
    await a.ready();
    a.send(runTask('t1'));
    const [throttled] = await a.waitFor('task-failed');
    expect(throttled!.header.error_code).toBe('Throttling.RateQuota');
    emu.context.faults.failAfterAudioMs = 500;
    const b = client();
    await b.ready();
    b.send(runTask('t2'));
    await b.waitFor('task-started');
    for (const chunk of chunks(new Int16Array(16000))) b.ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const [failed] = await b.waitFor('task-failed');
    expect(failed!.header.error_code).toBe('InternalError');
    delete emu.context.faults.failAfterAudioMs;
    emu.context.faults.dropAfterAudioMs = 300;
    const c = client();
    await c.ready();
    c.send(runTask('t3'));
    await c.waitFor('task-started');
    for (const chunk of chunks(new Int16Array(16000))) c.ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    await until(() => c.closed, 5000, 'drop');
    expect(c.closed!.code).toBe(1006);
    expect(c.of('task-failed')).toHaveLength(0);
  });

  it('slows results down (faults.resultDelayMs, scripted delayMs) and keeps their order, task-finished last', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'first one', delayMs: 150 }, { text: 'second one' }], faults: { resultDelayMs: 100 } });
    const c = client();
    await c.ready();
    c.send(runTask('slow'));
    await c.waitFor('task-started');
    const pcm = speechPcm(['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], { gapMs: 800 });
    for (const chunk of chunks(pcm)) c.ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const sentAt = Date.now();
    c.send(finishTask('slow'));
    await c.waitFor('task-finished');
    // The first final was due as the audio arrived; it waited resultDelayMs + its own delayMs.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(250);
    const events = c.frames.map((f) => (f.header as { event: string }).event);
    expect(events[events.length - 1]).toBe('task-finished');
    const texts = c.of('result-generated').filter((f) => f.payload.output.sentence.sentence_end).map((f) => f.payload.output.sentence.text);
    expect(texts).toEqual(['first one', 'second one']);
  });
});

describe('inference protocol, exact both ways', () => {
  const createVocabulary = async (key: string, targetModel: string): Promise<string> => {
    const res = await fetch(`${emu.url}/api/v1/services/audio/asr/customization`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'speech-biasing', input: { action: 'create_vocabulary', target_model: targetModel, prefix: 'emu', vocabulary: [{ text: 'earshot', weight: 4 }] } }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { output: { vocabulary_id: string } }).output.vocabulary_id;
  };

  it('§4.1 a vocabulary_id works only with the model it was created for, and only for its account', async () => {
    const OTHER = 'sk-test-inference-0002';
    emu = await emulator.start({ apiKeys: [KEY, OTHER], script: [{ text: 'x' }] });
    const forBatch = await createVocabulary(KEY, 'fun-asr');
    const forRealtime = await createVocabulary(KEY, 'fun-asr-realtime');
    const wrongModel = client();
    await wrongModel.ready();
    wrongModel.send(runTask('t-1', 'fun-asr-realtime', { format: 'pcm', sample_rate: 16000, vocabulary_id: forBatch }));
    const [failed] = await wrongModel.waitFor('task-failed');
    expect(failed!.header).toMatchObject({ error_code: 'InvalidParameter' });
    expect(failed!.header.error_message).toMatch(/target_model fun-asr does not match model fun-asr-realtime/);
    const otherAccount = client('/api-ws/v1/inference', OTHER);
    await otherAccount.ready();
    otherAccount.send(runTask('t-2', 'fun-asr-realtime', { format: 'pcm', sample_rate: 16000, vocabulary_id: forRealtime }));
    const [notFound] = await otherAccount.waitFor('task-failed');
    expect(notFound!.header.error_message).toMatch(/not found/);
    const ok = client();
    await ok.ready();
    ok.send(runTask('t-3', 'fun-asr-realtime', { format: 'pcm', sample_rate: 16000, vocabulary_id: forRealtime }));
    await ok.waitFor('task-started');
  });

  it('§2.8 heartbeat: true brings heartbeat sentences (sentence_id 0, heartbeat true) through silence; heartbeat false none', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], timers: { heartbeatMs: 400 } });
    const silence = Buffer.alloc(3200);
    for (const heartbeat of [true, false]) {
      const c = client();
      await c.ready();
      c.send(runTask(`hb-${heartbeat}`, 'fun-asr-realtime', { format: 'pcm', sample_rate: 16000, heartbeat }));
      await c.waitFor('task-started');
      for (let i = 0; i < 13; i++) c.ws.send(silence);
      c.send(finishTask(`hb-${heartbeat}`));
      await c.waitFor('task-finished');
      const beats = c.of('result-generated').map((f) => f.payload.output.sentence).filter((s) => s.heartbeat === true);
      if (!heartbeat) expect(beats).toEqual([]);
      else {
        expect(beats.map((s) => s.begin_time)).toEqual([400, 800, 1200]);
        expect(beats.every((s) => s.sentence_id === 0 && s.text === '' && s.sentence_end === false)).toBe(true);
      }
    }
  });

  it('§2.2 wav: the RIFF header is parsed, whatever its length (ffmpeg writes 78 bytes) or framing; a non-PCM wav fails the task', async () => {
    // 999.4 ms of audio, and a fault at 1000 ms: 34 header bytes (17 samples) taken as audio would trip it.
    // Frame sizes relaxed: the header goes alone in a 20-byte frame.
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], faults: { failAfterAudioMs: 1000 }, limits: { frameBytes: { min: 0, max: 16384 } } });
    const toWav = (args: string[]): Buffer =>
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', 'pipe:0', ...args, '-f', 'wav', 'pipe:1'], { input: Buffer.alloc((16000 - 10) * 2) });
    const wav = toWav([]);
    expect(wav.indexOf('data') + 8).toBe(78);
    const c = client();
    await c.ready();
    c.send(runTask('wav-1', 'fun-asr-realtime', { format: 'wav', sample_rate: 16000 }));
    await c.waitFor('task-started');
    // The header split across frames (20 bytes, then the rest with the audio).
    c.ws.send(wav.subarray(0, 20));
    for (let i = 20; i < wav.length; i += 3200) c.ws.send(wav.subarray(i, i + 3200));
    c.send(finishTask('wav-1'));
    await c.waitFor('task-finished');
    expect(c.of('task-failed')).toEqual([]);
    const mulaw = client();
    await mulaw.ready();
    mulaw.send(runTask('wav-2', 'fun-asr-realtime', { format: 'wav', sample_rate: 16000 }));
    await mulaw.waitFor('task-started');
    mulaw.ws.send(toWav(['-c:a', 'pcm_mulaw']));
    const [failed] = await mulaw.waitFor('task-failed');
    expect(failed!.header.error_code).toBe('NO_VALID_AUDIO_ERROR');
  });

  it('§2.2 binary frames of 1–16 KB: a 64 KiB frame, or 640-byte frames, fail the task; 100 ms frames and a short last one pass', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const run = async (id: string, sizes: number[]): Promise<RawClient> => {
      const c = client();
      await c.ready();
      c.send(runTask(id));
      await c.waitFor('task-started');
      for (const n of sizes) c.ws.send(Buffer.alloc(n));
      c.send(finishTask(id));
      await until(() => c.of('task-finished').length > 0 || c.of('task-failed').length > 0, 10_000, id);
      return c;
    };
    const big = await run('big', [65536]);
    expect(big.of('task-failed')[0]!.header).toMatchObject({ error_code: 'InvalidParameter', error_message: expect.stringMatching(/65536 bytes is larger than 16384/) });
    const tiny = await run('tiny', [640, 640, 640]);
    expect(tiny.of('task-failed')[0]!.header.error_message).toMatch(/640 bytes is smaller than 1024/);
    const ok = await run('ok', [3200, 3200, 16384, 1024, 100]);
    expect(ok.of('task-failed')).toEqual([]);
    expect(ok.of('task-finished')).toHaveLength(1);
  });
});
