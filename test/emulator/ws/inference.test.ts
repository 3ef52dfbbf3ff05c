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
