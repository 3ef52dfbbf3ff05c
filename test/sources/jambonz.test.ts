/**
 * Jambonz, from clients written to its docs: the `listen` verb (subprotocol `audio.jambonz.org`, one JSON text frame
 * of call attributes with `sampleRate` and `mixType`, then binary L16) and the custom speech vendor STT API
 * (`Authorization: Bearer <apiKey>`, `start` → binary LINEAR16 → `stop`; `transcription` / `error` answers; the
 * vendor closes the socket after `stop`).
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { WebSocket } from 'ws';
import type { TranscriptEvent } from '../../src/core/types.js';
import type { CallControlEvent, CallSourceOptions, CallTrack } from '../../src/sources/call.js';
import { fromJambonz, fromJambonzStt, type JambonzSttOptions } from '../../src/sources/jambonz.js';
import { mutateBytes, mutateJson } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { acceptCall, expectLikeFile, interleaveLE, sendAll, slices, text, transcribeFile, transcribeTrack, until, wavSamples, sharedEngine } from './call-fixtures.js';

const CALL_SID = 'b6f8c2d4-1a3e-4f5b-8c7d-9e0f1a2b3c4d';
const API_KEY = 'foobarbazzle';

/** The attributes Jambonz sends first on a listen socket (those of its call webhooks, plus sampleRate and mixType). */
function listenAttributes(mixType: string, sampleRate: number): string {
  return JSON.stringify({
    callSid: CALL_SID,
    direction: 'inbound',
    from: '+15083084809',
    to: '+15083728299',
    callId: '2a4e3d8c@10.0.0.7',
    sipStatus: 200,
    callStatus: 'in-progress',
    accountSid: 'ed649e33-e771-403a-8c99-1780eabbc803',
    applicationSid: '0ce6fd4e-9a1d-4f4e-8b2f-3c5d6e7f8a9b',
    sampleRate,
    mixType,
    metadata: { campaign: 'spring', agentId: 42 },
  });
}

const acceptListen = (opts: CallSourceOptions = {}) => acceptCall((ws) => fromJambonz(ws, opts), { protocols: 'audio.jambonz.org' });

const pool = sharedEngine();

describe('fromJambonz (listen)', () => {
  it('splits a stereo listen stream into caller and callee with the call attributes and metadata', async () => {
    const events: CallControlEvent[] = [];
    const { client, call, close } = await acceptListen({ onEvent: (e) => events.push(e) });
    const left = Int16Array.from({ length: 1600 }, (_, i) => i);
    const right = Int16Array.from({ length: 1600 }, (_, i) => -i);
    const audio: Array<Promise<Int16Array>> = [];
    const tracks: CallTrack[] = [];
    call.subscribe((t) => {
      tracks.push(t);
      audio.push(lastValueFrom(t.audio$.pipe(toArray())).then((c) => Int16Array.from(c.flatMap((x) => [...x.samples]))));
    });
    await sendAll(client, [listenAttributes('stereo', 8000), ...slices(interleaveLE([left, right]), 640), JSON.stringify({ event: 'dtmf', dtmf: '4', duration: '1600' })]);
    client.close();
    await lastValueFrom(call, { defaultValue: undefined });
    expect(tracks.map((t) => [t.track, t.channel, t.sampleRate])).toEqual([['caller', 0, 8000], ['callee', 1, 8000]]);
    expect(tracks[0]!.call).toMatchObject({ protocol: 'jambonz', callId: CALL_SID, customParameters: { campaign: 'spring', agentId: '42' }, metadata: { from: '+15083084809', direction: 'inbound' } });
    const [l, r] = await Promise.all(audio);
    expect(l).toEqual(left);
    expect(r).toEqual(right);
    expect(events).toEqual([{ type: 'dtmf', digit: '4' }]);
    await close();
  });

  it('transcribes a mono 16 kHz listen stream like the same audio from a file', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(1, 2), voices: ['rms'], leadMs: 300, gapsMs: [900] });
    const { client, call, close } = await acceptListen();
    let heard: Promise<TranscriptEvent[]> | undefined;
    call.subscribe((t) => (heard = transcribeTrack(t, pool.engine)));
    await sendAll(client, [listenAttributes('mono', 16000), ...slices(interleaveLE([wavSamples(speech.path)]), 640)]);
    client.close();
    await lastValueFrom(call, { defaultValue: undefined });
    const w = expectLikeFile(expect, speech.text, await heard!, await transcribeFile(speech.path, 16000, pool.engine));
    console.log(`jambonz listen: WER call ${w.call}, file ${w.file}`);
    await close();
  }, 180_000);

  it('counts a first frame that is not the call attributes and audio before them', async () => {
    const { client, call, close } = await acceptListen();
    await sendAll(client, [Buffer.alloc(320), 'hello', JSON.stringify({ callSid: 'x', sampleRate: 11025 }), listenAttributes('mixed', 8000), Buffer.alloc(320)]);
    client.close();
    const tracks = await lastValueFrom(call.pipe(toArray()));
    expect(tracks.map((t) => t.track)).toEqual(['mixed']);
    expect(call.stats().malformed).toBe(3);
    await close();
  });
});

describe('fromJambonzStt (custom speech vendor)', () => {
  /** A server that wires each connection to fromJambonzStt, passing the upgrade request as a host would. */
  async function sttServer(opts: Omit<JambonzSttOptions, 'request'>, key: string | undefined = API_KEY) {
    const accepted = await acceptCall((ws, request) => fromJambonzStt(ws, { ...opts, request }), key === undefined ? {} : { headers: { Authorization: `Bearer ${key}` } });
    return {
      ...accepted,
      get received(): Array<Record<string, unknown>> {
        return accepted.received.map((m) => JSON.parse(m.toString()) as Record<string, unknown>);
      },
    };
  }

  const start = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ type: 'start', language: 'en-US', format: 'raw', encoding: 'LINEAR16', interimResults: true, sampleRateHz: 8000, options: { hints: ['station', 'coffee'], hintsBoost: 10 }, ...extra });

  it('answers start → audio → stop with transcription messages (interim and final) like the file, then closes', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(6, 7), voices: ['slt'], leadMs: 300, gapsMs: [900], sampleRate: 8000 });
    // The audio goes in faster than real time and the pool.engine may lag on a busy machine: a long grace after stop.
    const s = await sttServer({ apiKey: API_KEY, stopGraceMs: 120_000 });
    let heard: Promise<TranscriptEvent[]> | undefined;
    s.call.subscribe((t) =>
      (heard = transcribeTrack(t, pool.engine, (e) => s.call.reply(e, t)).then((f) => {
        s.call.close(); // every final has been answered: close, as the protocol asks of the vendor
        return f;
      })),
    );
    await sendAll(s.client, [start(), ...slices(interleaveLE([wavSamples(speech.path)]), 320), JSON.stringify({ type: 'stop' })]);
    expect(await s.closed).toBe(1000);
    const finalsBack = s.received.filter((m) => m['is_final'] === true);
    const interims = s.received.filter((m) => m['is_final'] === false);
    for (const m of s.received) expect(m).toEqual({ type: 'transcription', is_final: expect.any(Boolean), alternatives: [{ transcript: expect.any(String), confidence: 1 }], language: 'en', channel: 1 }); // the language recognised
    expect(interims.length).toBeGreaterThan(0);
    const callText = finalsBack.map((m) => (m['alternatives'] as Array<{ transcript: string }>)[0]!.transcript).join(' ');
    const fileFinals = await transcribeFile(speech.path, 8000, pool.engine);
    expect(Math.abs(wer(speech.text, callText) - wer(speech.text, text(fileFinals)))).toBeLessThanOrEqual(0.02);
    expect((await heard!).length).toBe(finalsBack.length);
    expect(s.call.info()).toMatchObject({ protocol: 'jambonz-stt', customParameters: { hints: 'station,coffee', language: 'en-US', hintsBoost: '10' } });
    await s.close();
  }, 180_000);

  it('sends no interim results when the start did not ask for them, and closes by itself after stopGraceMs', async () => {
    const s = await sttServer({ stopGraceMs: 50 }, undefined);
    s.call.subscribe((t) => t.audio$.subscribe());
    await sendAll(s.client, [start({ interimResults: false }), Buffer.alloc(640), JSON.stringify({ type: 'stop' })]);
    await until(() => s.call.info() !== undefined);
    const track = { channel: 0 } as CallTrack;
    s.call.reply({ type: 'partial', text: 'hel', startMs: 0, endMs: 100 }, track);
    s.call.reply({ type: 'final', text: 'hello', startMs: 0, endMs: 300 }, track);
    expect(await s.closed).toBe(1000);
    expect(s.received).toEqual([{ type: 'transcription', is_final: true, alternatives: [{ transcript: 'hello', confidence: 1 }], language: 'en-US', channel: 1 }]);
    await s.close();
  });

  it('refuses a wrong api key, audio before start and an unsupported start with {"type":"error"} and a coded end', async () => {
    const wrong = await sttServer({ apiKey: API_KEY, signal: new AbortController().signal }, 'not-the-key');
    await expect(lastValueFrom(wrong.call, { defaultValue: undefined })).rejects.toMatchObject({ code: 'EARSHOT_AUTH_FAILED' });
    expect(await wrong.closed).toBe(1008);
    expect(wrong.received).toEqual([{ type: 'error', error: 'unauthorized' }]);
    await wrong.close();

    const early = await sttServer({});
    const earlyEnd = lastValueFrom(early.call, { defaultValue: undefined }).catch((e: unknown) => e);
    await sendAll(early.client, [Buffer.alloc(320)]);
    expect(await earlyEnd).toMatchObject({ code: 'EARSHOT_PROTOCOL_ERROR' });
    expect(await early.closed).toBe(1002);
    expect(early.received).toEqual([{ type: 'error', error: 'audio before start' }]);
    await early.close();

    const mulaw = await sttServer({});
    const mulawEnd = lastValueFrom(mulaw.call, { defaultValue: undefined }).catch((e: unknown) => e);
    await sendAll(mulaw.client, ['{not json', start({ encoding: 'MULAW' })]);
    expect(await mulawEnd).toMatchObject({ code: 'EARSHOT_PROTOCOL_ERROR' });
    expect(await mulaw.closed).toBe(1003);
    expect(mulaw.received.map((m) => m['type'])).toEqual(['error', 'error']);
    expect(mulaw.call.stats().malformed).toBe(1);
    await mulaw.close();

    expect(() => fromJambonzStt({} as WebSocket, { apiKey: API_KEY })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
  });

  it('survives 3000 fuzzed frames across both Jambonz protocols: no throw, coded outcomes', async () => {
    const rand = rng(31);
    const listenBase: Array<string | Buffer> = [listenAttributes('stereo', 16000), Buffer.alloc(1280, 1), JSON.stringify({ event: 'dtmf', dtmf: '1' })];
    const sttBase: Array<string | Buffer> = [start(), Buffer.alloc(320, 2), JSON.stringify({ type: 'stop' })];
    for (const [kind, base] of [['listen', listenBase], ['stt', sttBase], ['listen', listenBase]] as const) {
      const s = kind === 'listen' ? await acceptListen() : await sttServer({ stopGraceMs: 10 }, undefined);
      s.call.subscribe({ next: (t) => t.audio$.subscribe(), error: () => {} });
      const outcome = lastValueFrom(s.call, { defaultValue: undefined }).then(() => 'complete', (e: unknown) => (e as { code?: string }).code ?? 'uncoded');
      const frames: Array<string | Buffer> = [base[0]!];
      for (let i = 0; i < 1000; i++) {
        const f = base[Math.floor(rand() * base.length)]!;
        frames.push(rand() < 0.5 ? f : typeof f === 'string' ? mutateJson(f, rand) : mutateBytes(f, rand));
      }
      await sendAll(s.client, frames).catch(() => undefined); // the STT server may close first
      s.client.close();
      expect(['complete', 'EARSHOT_PROTOCOL_ERROR']).toContain(await outcome);
      await s.close();
    }
  });
});
