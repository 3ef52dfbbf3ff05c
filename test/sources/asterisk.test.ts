/**
 * Asterisk chan_websocket, from a client written to docs.asterisk.org (Channel Drivers → WebSocket): a TEXT
 * `MEDIA_START` (plain `key:value` or JSON), BINARY media frames of the codec (160 bytes of µ-law every 20 ms;
 * slin16 640 bytes), `DTMF_END`, `MEDIA_XOFF`/`MEDIA_XON`; hang-up closes the socket.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { WebSocket } from 'ws';
import type { TranscriptEvent } from '../../src/core/types.js';
import { fromAsteriskWebSocket, type AsteriskWebSocketOptions } from '../../src/sources/asterisk.js';
import type { CallControlEvent } from '../../src/sources/call.js';
import { joinSamples } from '../helpers/audio.js';
import { mutateBytes, mutateJson } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { acceptCall, expectLikeFile, sendAll, slices, transcribeFile, transcribeTrack, until, wavData, wavSamples, sharedEngine } from './call-fixtures.js';

const acceptMedia = (opts: AsteriskWebSocketOptions = {}) => acceptCall((ws) => fromAsteriskWebSocket(ws, opts));

const JSON_START = (format: string, frame: number) =>
  JSON.stringify({
    event: 'MEDIA_START',
    connection_id: 'media_connection1',
    channel: 'WebSocket/media_connection1/0x5140001a0040',
    channel_id: '1761245643.1',
    format,
    optimal_frame_size: frame,
    ptime: 20,
    channel_variables: { DIALEDPEERNUMBER: `media_connection1/c(${format})`, MEDIA_WEBSOCKET_CONNECTION_ID: 'media_connection1', MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE: String(frame) },
  });

const pool = sharedEngine();

describe('fromAsteriskWebSocket', () => {
  it('transcribes a µ-law channel (plain-text MEDIA_START, 160-byte frames) like the same audio from a file', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(5, 6), voices: ['slt'], leadMs: 300, gapsMs: [900], format: 'ulaw.wav' });
    const events: CallControlEvent[] = [];
    const { client, call, close } = await acceptMedia({ onEvent: (e) => events.push(e) });
    let heard: Promise<TranscriptEvent[]> | undefined;
    call.subscribe((t) => (heard = transcribeTrack(t, pool.engine)));
    const frames: Array<string | Buffer> = ['MEDIA_START connection_id:e226e283-c90a-4ea9-9e37-389000b9ef47 channel:WebSocket/connection1/0x7f00 format:ulaw optimal_frame_size:160 ptime:20'];
    frames.push(...slices(wavData(speech.path), 160));
    frames.splice(30, 0, 'DTMF_END digit:5', 'MEDIA_XOFF', 'MEDIA_XON', 'STATUS queue_length:43 xon_level:800 xoff_level:900 queue_full:false bulk_media:true media_paused:false');
    await sendAll(client, frames);
    client.close(); // Asterisk hangs up by closing the socket
    await lastValueFrom(call, { defaultValue: undefined });
    expect(call.info()).toMatchObject({ protocol: 'asterisk', callId: 'e226e283-c90a-4ea9-9e37-389000b9ef47', metadata: { channel: 'WebSocket/connection1/0x7f00', format: 'ulaw', optimal_frame_size: 160, ptime: 20 } });
    expect(events).toEqual([{ type: 'dtmf', digit: '5' }, { type: 'flow', state: 'xoff' }, { type: 'flow', state: 'xon' }]);
    const w = expectLikeFile(expect, speech.text, await heard!, await transcribeFile(speech.path, 8000, pool.engine));
    console.log(`asterisk: WER call ${w.call}, file ${w.file}`);
    expect(call.stats().malformed).toBe(0);
    await close();
  }, 180_000);

  it('reads JSON control (MEDIA_START with channel_id and variables) and slin16 audio bit-exact', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'], sampleRate: 16000 });
    const { client, call, close } = await acceptMedia();
    const tracks = lastValueFrom(call.pipe(toArray()));
    let audio: Promise<Int16Array> | undefined;
    call.subscribe((t) => (audio = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples)));
    await sendAll(client, [JSON_START('slin16', 640), ...slices(Buffer.from(wavData(speech.path)), 640), JSON.stringify({ event: 'DTMF_END', channel_id: '1761245643.1', digit: '1' })]);
    client.close();
    const [t] = await tracks;
    expect([t!.track, t!.channel, t!.sampleRate]).toEqual(['inbound', 0, 16000]);
    expect(t!.call).toMatchObject({ callId: '1761245643.1', customParameters: { MEDIA_WEBSOCKET_CONNECTION_ID: 'media_connection1' } });
    expect(await audio).toEqual(wavSamples(speech.path));
    expect(call.stats().dtmf).toBe(1);
    await close();
  });

  it('close() sends HANGUP in the control format Asterisk used; an undecodable format ends with EARSHOT_UNSUPPORTED_FORMAT', async () => {
    const a = await acceptMedia();
    const got = new Promise<string>((resolve) => a.client.once('message', (m) => resolve(m.toString())));
    await sendAll(a.client, [JSON_START('ulaw', 160)]);
    await until(() => a.call.info() !== undefined);
    a.call.close();
    expect(JSON.parse(await got)).toEqual({ command: 'HANGUP' });
    await a.close();

    const b = await acceptMedia();
    const outcome = lastValueFrom(b.call, { defaultValue: undefined }).catch((e: unknown) => e);
    await sendAll(b.client, ['MEDIA_START connection_id:x channel:WebSocket/x format:g729 optimal_frame_size:20 ptime:20']);
    expect(await outcome).toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
    await b.close();
    expect(() => fromAsteriskWebSocket({} as WebSocket, { format: 'gsm' })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
  });

  it('survives 3000 fuzzed frames: no throw, coded outcomes, audio bounded by what was sent', async () => {
    const rand = rng(5);
    const base: Array<string | Buffer> = [JSON_START('slin16', 640), 'MEDIA_START connection_id:abc channel:WebSocket/abc format:ulaw optimal_frame_size:160', Buffer.alloc(640, 7), Buffer.alloc(160, 0xff), 'DTMF_END digit:9', 'MEDIA_XOFF'];
    for (let round = 0; round < 3; round++) {
      const { client, call, close } = await acceptMedia({ maxFrameBytes: 4096 });
      let samples = 0;
      call.subscribe({ next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)), error: () => {} });
      const outcome = lastValueFrom(call, { defaultValue: undefined }).then(() => 'complete', (e: unknown) => (e as { code?: string }).code ?? 'uncoded');
      const frames: Array<string | Buffer> = [];
      let bytes = 0;
      for (let i = 0; i < 1000; i++) {
        const f = base[Math.floor(rand() * base.length)]!;
        const m = rand() < 0.5 ? f : typeof f === 'string' ? mutateJson(f, rand) : mutateBytes(f, rand);
        bytes += Buffer.byteLength(m);
        frames.push(m);
      }
      await sendAll(client, frames);
      client.close();
      expect(['complete', 'EARSHOT_UNSUPPORTED_FORMAT']).toContain(await outcome);
      expect(samples).toBeLessThanOrEqual(bytes); // at most one sample per byte (µ-law)
      await close();
    }
  });
});
