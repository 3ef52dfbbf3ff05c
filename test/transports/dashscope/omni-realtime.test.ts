import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { omniRealtime } from '../../../src/transports/dashscope/omni-realtime.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { EarshotError } from '../../../src/core/errors.js';
import { chunks, speechPcm, until } from '../../emulator/ws/helpers.js';
import { expectSpeechEdges, transcripts } from '../../helpers/events.js';

const KEY = 'sk-test-omni-0002';
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});
const SENTENCES = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'];

describe('omniRealtime', () => {
  for (const model of ['qwen3.5-omni-plus-realtime', 'qwen3.5-omni-flash-realtime', 'qwen3-omni-flash-realtime'] as const) {
    it(`${model}: §8 the reply to the transcription instructions (context, emotion tag) is the final, the input transcription its partial`, async () => {
      emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold', emotion: 'sad' }, { text: 'please send the report' }] });
      const t = omniRealtime(model, { apiKey: KEY, baseUrl: emu.url, silenceDurationMs: 400 });
      expect(t.capabilities).toMatchObject({ context: true, emotion: true, maxDurationMs: 120 * 60 * 1000 });
      const events: TranscriptEvent[] = [];
      const errors: Error[] = [];
      const s = await t.openStream!({ sampleRate: 16000, context: 'A weather report.', onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
      for (const c of chunks(speechPcm(SENTENCES, { gapMs: 800 }))) await s.write(c);
      await s.end();
      expect(errors).toEqual([]);
      const finals = events.filter((e) => e.type === 'final');
      expect(finals.map((e) => e.text)).toEqual(['the weather will be cold', 'please send the report']);
      expect(finals.map((e) => e.emotion)).toEqual(['sad', 'neutral']);
      // The input transcription comes first, as a partial of the same turn; no reply is thrown away.
      const partials = events.filter((e) => e.type === 'partial');
      expect(partials.map((e) => e.text)).toEqual(expect.arrayContaining(['the weather will be cold', 'please send the report']));
      expect(partials.every((p) => !p.text.includes('[emotion'))).toBe(true);
      expect(transcripts(events)[0]!.type).toBe('partial');
      expect(events[0]!.type).toBe('speech-start');
      expectSpeechEdges(events);
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

  describe('a server that never answers session.finish', () => {
    /** Realtime server that opens sessions, optionally transcribes the first utterance, and then says nothing. */
    async function muteServer(answerFirst: boolean): Promise<{ url: string; close: () => Promise<void> }> {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await new Promise<void>((resolve) => wss.once('listening', resolve));
      wss.on('connection', (ws: WebSocket) => {
        const send = (e: object) => ws.send(JSON.stringify({ event_id: 'event_1', ...e }));
        send({ type: 'session.created', session: {} });
        let answered = false;
        ws.on('message', (data) => {
          const e = JSON.parse(String(data)) as { type: string };
          if (e.type === 'session.update') send({ type: 'session.updated', session: {} });
          if (e.type === 'session.finish' && answerFirst && !answered) {
            answered = true;
            send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 500, item_id: 'item_1' });
            send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 60_000, item_id: 'item_1' });
            send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_1', transcript: 'all of it' });
          }
        });
      });
      const { port } = wss.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((resolve) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => resolve());
          }),
      };
    }

    const run = async (server: { url: string }, pcm: Int16Array) => {
      const t = omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: server.url, finishTimeoutMs: 300 });
      const events: TranscriptEvent[] = [];
      const s = await t.openStream!({ sampleRate: 16000, onEvent: (e) => events.push(e), onError: () => {} });
      for (const c of chunks(pcm)) await s.write(c);
      return { ended: s.end(), events };
    };

    it('speech sent and never transcribed: the end is a retryable timeout, not a silent loss', async () => {
      const server = await muteServer(false);
      try {
        const { ended } = await run(server, speechPcm(SENTENCES.slice(0, 1)));
        await expect(ended).rejects.toMatchObject({ code: 'EARSHOT_TIMEOUT', retryable: true });
      } finally {
        await server.close();
      }
    });

    it('only silence sent, or every utterance answered: the session closes cleanly after the wait', async () => {
      const server = await muteServer(true);
      try {
        await expect((await run(server, new Int16Array(16000))).ended).resolves.toBeUndefined();
        const answered = await run(server, speechPcm(SENTENCES.slice(0, 1)));
        await expect(answered.ended).resolves.toBeUndefined();
        expect(transcripts(answered.events).filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['all of it']);
        // No reply came: the input transcription (a partial first) is the turn's final when the session ends.
        expect(answered.events.filter((e) => e.type !== 'final').map((e) => [e.type, e.startMs])).toEqual([
          ['speech-start', 500],
          ['speech-end', 60_000],
          ['partial', 500],
        ]);
      } finally {
        await server.close();
      }
    });
  });

  it('an error event after session.finish with speech unanswered ends in that coded error, not a clean end without text', async () => {
    // Found by the fault matrix (§8 error event, then close 1011): the session used to end as if finished, losing the turn.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws: WebSocket) => {
      const send = (e: object) => ws.send(JSON.stringify({ event_id: 'event_1', ...e }));
      send({ type: 'session.created', session: {} });
      ws.on('message', (data) => {
        const e = JSON.parse(String(data)) as { type: string };
        if (e.type === 'session.update') send({ type: 'session.updated', session: {} });
        if (e.type === 'session.finish') {
          send({ type: 'error', error: { type: 'server_error', code: 'InternalError', message: 'internal error' } });
          ws.close(1011, 'internal error');
        }
      });
    });
    try {
      const { port } = wss.address() as AddressInfo;
      const t = omniRealtime('qwen3.5-omni-flash-realtime', { apiKey: KEY, baseUrl: `http://127.0.0.1:${port}`, finishTimeoutMs: 5000 });
      const s = await t.openStream!({ sampleRate: 16000, onEvent: () => {}, onError: () => {} });
      for (const c of chunks(speechPcm(SENTENCES.slice(0, 1)))) await s.write(c);
      await expect(s.end()).rejects.toMatchObject({ providerCode: 'InternalError', retryable: true });
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
