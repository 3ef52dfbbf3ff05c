import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../../src/emulator/server.js';
import { RawClient, appendPcm, emulatorPerTest, speechPcm, until } from './helpers.js';

const KEY = 'sk-test-qwenasr-0001';
const emulator = emulatorPerTest();
let emu: Emulator;

const client = (model = 'qwen3-asr-flash-realtime'): RawClient =>
  emulator.client(`/api-ws/v1/realtime?model=${model}`, { Authorization: `Bearer ${KEY}`, 'OpenAI-Beta': 'realtime=v1' });


describe('qwen3-asr-flash-realtime protocol (§5)', () => {
  it('server VAD: session events, speech_started/stopped, committed, item.created, text/stash partials, completed with language and emotion', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'the weather will be cold', emotion: 'happy' }, { text: 'please send the report' }] });
    const c = client();
    const [created] = await c.waitFor('session.created');
    expect(created!.event_id).toMatch(/^event_[A-Za-z0-9]{21}$/);
    expect(created!.session).toMatchObject({ object: 'realtime.session', model: 'qwen3-asr-flash-realtime', modalities: ['text'], input_audio_format: 'pcm16', turn_detection: { type: 'server_vad', threshold: 0.2, silence_duration_ms: 800 } });
    expect(created!.session.id).toMatch(/^sess_[A-Za-z0-9]{21}$/);
    c.send({ event_id: 'event_1', type: 'session.update', session: { input_audio_format: 'pcm', sample_rate: 16000, input_audio_transcription: { language: 'en', corpus: { text: 'weather words' } }, turn_detection: { type: 'server_vad', threshold: 0.0, silence_duration_ms: 400 }, modalities: ['text'], voice: null } });
    const [updated] = await c.waitFor('session.updated');
    expect(updated!.session).toMatchObject({ input_audio_transcription: { language: 'en', corpus: { text: 'weather words' } }, turn_detection: { threshold: 0, silence_duration_ms: 400 } });
    appendPcm(c, speechPcm(['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], { gapMs: 800 }));
    c.send({ event_id: 'event_2', type: 'session.finish' });
    await c.waitFor('session.finished');
    const completed = c.of('conversation.item.input_audio_transcription.completed');
    expect(completed.map((e) => e.transcript)).toEqual(['the weather will be cold', 'please send the report']);
    expect(completed.map((e) => e.emotion)).toEqual(['happy', 'neutral']);
    expect(completed.every((e) => e.language === 'en')).toBe(true);
    const types = c.frames.map((f) => f.type);
    const first = types.indexOf('input_audio_buffer.speech_started');
    expect(types.slice(first, first + 2)).toEqual(['input_audio_buffer.speech_started', 'conversation.item.input_audio_transcription.text']);
    const stop = types.indexOf('input_audio_buffer.speech_stopped');
    expect(types.slice(stop, stop + 5)).toEqual([
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.created',
      'conversation.item.input_audio_transcription.text',
      'conversation.item.input_audio_transcription.completed',
    ]);
    const started = c.of('input_audio_buffer.speech_started');
    const stopped = c.of('input_audio_buffer.speech_stopped');
    expect(started[0]!.audio_start_ms).toBeGreaterThan(200);
    expect(stopped[0]!.audio_end_ms).toBeGreaterThan(started[0]!.audio_start_ms);
    expect(started[1]!.audio_start_ms).toBeGreaterThan(stopped[0]!.audio_end_ms);
    const committed = c.of('input_audio_buffer.committed');
    expect(committed[1]!.previous_item_id).toBe(committed[0]!.item_id);
    const partials = c.of('conversation.item.input_audio_transcription.text');
    expect(partials.some((p) => p.stash !== '')).toBe(true);
    expect(c.of('conversation.item.created')[0]!.item).toMatchObject({ object: 'realtime.item', type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] });
  });

  it('manual mode: commit → committed, item.created, completed; empty commit and commit in VAD mode are errors', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'one two three' }] });
    const vad = client();
    await vad.waitFor('session.created');
    vad.send({ event_id: 'event_x', type: 'input_audio_buffer.commit' });
    const [e1] = await vad.waitFor('error');
    expect(e1!.error).toMatchObject({ type: 'invalid_request_error', event_id: 'event_x' });
    const c = client();
    await c.waitFor('session.created');
    c.send({ type: 'session.update', session: { turn_detection: null } });
    const [updated] = await c.waitFor('session.updated');
    expect(updated!.session.turn_detection).toBeNull();
    c.send({ event_id: 'event_empty', type: 'input_audio_buffer.commit' });
    const [empty] = await c.waitFor('error');
    expect(empty!.error.code).toBe('input_audio_buffer_commit_empty');
    appendPcm(c, speechPcm(['the train to the city leaves every hour'], { gapMs: 200 }));
    c.send({ type: 'input_audio_buffer.commit' });
    const [done] = await c.waitFor('conversation.item.input_audio_transcription.completed');
    expect(done!.transcript).toBe('one two three');
    expect(c.of('input_audio_buffer.speech_started')).toHaveLength(0);
    const types = c.frames.map((f) => f.type).filter((t) => t !== 'error');
    expect(types.slice(2)).toEqual(['input_audio_buffer.committed', 'conversation.item.created', 'conversation.item.input_audio_transcription.text', 'conversation.item.input_audio_transcription.completed']);
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
  });

  it('rejects out-of-range session values with an error event and keeps the session', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const c = client();
    await c.waitFor('session.created');
    c.send({ event_id: 'event_9', type: 'session.update', session: { turn_detection: { type: 'server_vad', threshold: 3 } } });
    c.send({ event_id: 'event_10', type: 'session.update', session: { input_audio_transcription: { language: 'xx' } } });
    c.send({ event_id: 'event_11', type: 'no.such.event' });
    const errors = await c.waitFor('error', 3);
    expect(errors.map((e) => e.error.param)).toEqual(['session.turn_detection.threshold', 'session.input_audio_transcription.language', 'type']);
    expect(c.closed).toBeUndefined();
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
  });

  it('§5.2 session.finish: session.finished, then the server closes the socket (1000)', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }] });
    const c = client();
    await c.waitFor('session.created');
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
    await until(() => c.closed, 5000, 'close');
    expect(c.closed!.code).toBe(1000);
    expect(c.frames.at(-1)!.type).toBe('session.finished');
  });

  it('§5.2 input_audio_format opus: an Ogg Opus stream in the appends is decoded and transcribed (echoed as opus)', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'the opus stream was heard' }] });
    const c = client();
    await c.waitFor('session.created');
    c.send({ type: 'session.update', session: { input_audio_format: 'opus', sample_rate: 16000 } });
    const [updated] = await c.waitFor('session.updated');
    expect(updated!.session.input_audio_format).toBe('opus');
    const pcm = speechPcm(['the opus stream was heard clearly'], { gapMs: 1200 });
    const ogg = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', 'pipe:0', '-c:a', 'libopus', '-b:a', '32k', '-page_duration', '100000', '-f', 'ogg', 'pipe:1'], { input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength) });
    for (let i = 0; i < ogg.length; i += 1000) c.send({ type: 'input_audio_buffer.append', audio: ogg.subarray(i, i + 1000).toString('base64') });
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
    expect(c.of('error')).toEqual([]);
    const [started] = c.of('input_audio_buffer.speech_started');
    expect(started!.audio_start_ms).toBeGreaterThan(150);
    expect(c.of('conversation.item.input_audio_transcription.completed').map((e) => e.transcript)).toEqual(['the opus stream was heard']);
  });

  it('§5.2 manual mode: more than 60 s buffered before a commit is refused with an error (the append is dropped), then a commit works', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'a long turn' }] });
    const c = client();
    await c.waitFor('session.created');
    c.send({ type: 'session.update', session: { turn_detection: null } });
    await c.waitFor('session.updated');
    const second = Buffer.alloc(32000).toString('base64');
    for (let i = 0; i < 60; i++) c.send({ event_id: `event_${i}`, type: 'input_audio_buffer.append', audio: second });
    c.send({ event_id: 'event_over', type: 'input_audio_buffer.append', audio: second });
    const [err] = await c.waitFor('error');
    expect(err!.error).toMatchObject({ type: 'invalid_request_error', param: 'audio', event_id: 'event_over' });
    c.send({ type: 'input_audio_buffer.commit' });
    await c.waitFor('conversation.item.input_audio_transcription.completed');
    expect(c.of('error')).toHaveLength(1);
    // After the commit the buffer starts again from zero.
    c.send({ type: 'input_audio_buffer.append', audio: second });
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
    expect(c.of('error')).toHaveLength(1);
  });

  it('caps the session when faults.sessionCapMs is set, and drops / fails on audio faults', async () => {
    emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'x' }], faults: { sessionCapMs: 150 } });
    const c = client();
    await until(() => c.closed, 5000, 'cap');
    expect(c.of('error')[0]!.error.code).toBe('session_expired');
    emu.context.faults = { failAfterAudioMs: 200 };
    const d = client();
    await d.waitFor('session.created');
    appendPcm(d, new Int16Array(8000));
    await until(() => d.closed, 5000, 'fail');
    expect(d.closed!.code).toBe(1011);
    expect(d.of('error')[0]!.error).toMatchObject({ type: 'server_error' });
  });
});
