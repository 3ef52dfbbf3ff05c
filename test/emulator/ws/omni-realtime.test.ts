import { describe, expect, it } from 'vitest';
import { RawClient, appendPcm, emulatorPerTest, speechPcm } from './helpers.js';

const KEY = 'sk-test-omni-0001';
const emulator = emulatorPerTest();

const client = (model: string): RawClient => emulator.client(`/api-ws/v1/realtime?model=${model}`, { Authorization: `Bearer ${KEY}` });
const SPEECH = ['she opened the door and walked into the room'];

describe('Omni realtime protocol (§8)', () => {
  it('VAD turn: transcription completed, then a text response whose text is the transcript, in the documented order', async () => {
    await emulator.start({ apiKeys: [KEY], script: [{ text: 'she opened the door' }] });
    const c = client('qwen3-omni-flash-realtime');
    const [created] = await c.waitFor('session.created');
    expect(created!.session).toMatchObject({ model: 'qwen3-omni-flash-realtime', modalities: ['text', 'audio'], voice: 'Cherry', input_audio_format: 'pcm16', output_audio_format: 'pcm24', input_audio_transcription: { model: 'gummy-realtime-v1' }, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 800, create_response: true, interrupt_response: true } });
    c.send({ type: 'session.update', session: { modalities: ['text'], instructions: 'You transcribe hotel calls.', input_audio_transcription: { model: 'gummy-realtime-v1' }, turn_detection: { type: 'server_vad', silence_duration_ms: 400 } } });
    const [updated] = await c.waitFor('session.updated');
    expect(updated!.session).toMatchObject({ modalities: ['text'], instructions: 'You transcribe hotel calls.' });
    appendPcm(c, speechPcm(SPEECH, { gapMs: 800 }));
    await c.waitFor('response.done');
    const types = c.frames.map((f) => f.type);
    const from = types.indexOf('input_audio_buffer.speech_started');
    expect(types.slice(from).filter((t, i, a) => a.indexOf(t) === i)).toEqual([
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.created',
      'conversation.item.input_audio_transcription.completed',
      'response.created',
      'response.output_item.added',
      'response.content_part.added',
      'response.text.delta',
      'response.text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.done',
    ]);
    // qwen3-omni-flash has no partial transcription events.
    expect(c.of('conversation.item.input_audio_transcription.text')).toHaveLength(0);
    expect(c.of('conversation.item.input_audio_transcription.completed')[0]!.transcript).toBe('she opened the door');
    expect(c.of('response.text.delta').map((d) => d.delta).join('')).toBe('she opened the door');
    const done = c.of('response.done')[0]!.response;
    expect(done).toMatchObject({ status: 'completed', object: 'realtime.response' });
    expect(done.id).toMatch(/^resp_/);
    expect(done.usage.total_tokens).toBeGreaterThan(0);
    c.send({ type: 'session.finish' });
    await c.waitFor('session.finished');
  });

  it('qwen3.5 models stream .text partials; audio modality sends audio_transcript deltas', async () => {
    await emulator.start({ apiKeys: [KEY], script: [{ text: 'she opened the door' }] });
    const c = client('qwen3.5-omni-plus-realtime');
    await c.waitFor('session.created');
    c.send({ type: 'session.update', session: { input_audio_format: 'pcm', turn_detection: { type: 'semantic_vad', silence_duration_ms: 400 } } });
    await c.waitFor('session.updated');
    appendPcm(c, speechPcm(SPEECH, { gapMs: 800 }));
    await c.waitFor('response.done');
    const types = c.frames.map((f) => f.type);
    expect(types.indexOf('conversation.item.input_audio_transcription.text')).toBeLessThan(types.indexOf('conversation.item.input_audio_transcription.completed'));
    expect(c.of('response.audio_transcript.delta').map((d) => d.delta).join('')).toBe('she opened the door');
    expect(c.of('response.audio.delta')).toHaveLength(1);
  });

  it('manual mode: commit, then response.create; clear; bad modalities is an error', async () => {
    await emulator.start({ apiKeys: [KEY], script: [{ text: 'she opened the door' }] });
    const c = client('qwen3.5-omni-flash-realtime');
    await c.waitFor('session.created');
    c.send({ event_id: 'event_bad', type: 'session.update', session: { modalities: ['audio'] } });
    const [bad] = await c.waitFor('error');
    expect(bad!.error).toMatchObject({ code: 'invalid_value', param: 'session.modalities', event_id: 'event_bad' });
    c.send({ type: 'session.update', session: { modalities: ['text'], turn_detection: null } });
    await c.waitFor('session.updated');
    appendPcm(c, new Int16Array(1600));
    c.send({ type: 'input_audio_buffer.clear' });
    await c.waitFor('input_audio_buffer.cleared');
    appendPcm(c, speechPcm(SPEECH, { gapMs: 300 }));
    c.send({ type: 'input_audio_buffer.commit' });
    await c.waitFor('conversation.item.input_audio_transcription.completed');
    expect(c.of('response.created')).toHaveLength(0);
    c.send({ type: 'response.create' });
    await c.waitFor('response.done');
    expect(c.of('response.text.done')[0]!.text).toBe('she opened the door');
  });

  it('§8.2 input rates other than 16 kHz (nested audio.input.format.sample_rate 8k/16k/24k/48k): 48 kHz speech is heard on its own time line; 22050 is refused', async () => {
    await emulator.start({ apiKeys: [KEY], script: [{ text: 'she opened the door' }] });
    const c = client('qwen3.5-omni-flash-realtime');
    await c.waitFor('session.created');
    c.send({ event_id: 'event_bad', type: 'session.update', session: { audio: { input: { format: { type: 'pcm', sample_rate: 22050 } } } } });
    const [bad] = await c.waitFor('error');
    expect(bad!.error).toMatchObject({ code: 'invalid_value', param: 'session.audio.input.format.sample_rate' });
    c.send({ type: 'session.update', session: { modalities: ['text'], audio: { input: { format: { type: 'pcm', sample_rate: 48000 } } }, turn_detection: { type: 'server_vad', silence_duration_ms: 400 } } });
    await c.waitFor('session.updated');
    const pcm = speechPcm(SPEECH, { gapMs: 800, leadMs: 500, rate: 48000 });
    for (let i = 0; i < pcm.length; i += 4800) c.send({ type: 'input_audio_buffer.append', audio: Buffer.from(pcm.buffer, pcm.byteOffset + i * 2, Math.min(4800, pcm.length - i) * 2).toString('base64') });
    await c.waitFor('response.done');
    expect(c.of('conversation.item.input_audio_transcription.completed')[0]!.transcript).toBe('she opened the door');
    const [started] = c.of('input_audio_buffer.speech_started');
    const [stopped] = c.of('input_audio_buffer.speech_stopped');
    const totalMs = (pcm.length * 1000) / 48000;
    expect(started!.audio_start_ms).toBeGreaterThan(300);
    expect(stopped!.audio_end_ms).toBeLessThanOrEqual(totalMs);
  });
});
