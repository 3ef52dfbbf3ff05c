/**
 * Telnyx media streaming, from a client written to Telnyx's "Stream call media over WebSocket" AsyncAPI page:
 * `connected`, `start` (snake_case: stream_id, call_control_id, media_format {encoding, sample_rate, channels},
 * custom_parameters), `media` (track, chunk, timestamp, base64 RTP payload without headers), `dtmf`, `stop`; media
 * frame order is not guaranteed, so earshot reorders by `media.chunk`.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { TranscriptEvent } from '../../src/core/types.js';
import { linearToAlaw } from '../../src/rtp/codecs.js';
import { fromTelnyxMediaStream, type MediaStreamOptions } from '../../src/sources/twilio.js';
import { joinSamples } from '../helpers/audio.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { acceptCall, expectLikeFile, sendAll, slices, transcribeFile, transcribeTrack, wavData, wavSamples, sharedEngine } from './call-fixtures.js';

const STREAM_ID = '32DE0DEA-53CB-4B21-89A4-9E1819C043BC';
const CALL_CONTROL_ID = 'v2:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ';

class TelnyxClient {
  #seq = 0;
  #chunk = 0;
  connected = (): string => JSON.stringify({ event: 'connected', version: '1.0.0' });
  start(encoding: string, sampleRate: number): string {
    return JSON.stringify({
      event: 'start',
      sequence_number: String(++this.#seq),
      stream_id: STREAM_ID,
      start: {
        user_id: '3E6F995F-85F7-4705-9741-53B116D28237',
        call_control_id: CALL_CONTROL_ID,
        call_session_id: 'ff55a038-6f5d-11ef-9692-02420aeffb1f',
        from: '+13122010094',
        to: '+13122123456',
        tags: ['TAG1', 'TAG2'],
        client_state: 'aGF2ZSBhIG5pY2UgZGF5ID1d',
        custom_parameters: { customer_id: 'customer_123' },
        media_format: { encoding, sample_rate: sampleRate, channels: 1 },
      },
    });
  }
  media(timestampMs: number, payload: Uint8Array, track = 'inbound'): string {
    return JSON.stringify({ event: 'media', sequence_number: String(++this.#seq), media: { track, chunk: String(++this.#chunk), timestamp: String(timestampMs), payload: Buffer.from(payload).toString('base64') }, stream_id: STREAM_ID });
  }
  dtmf = (digit: string): string => JSON.stringify({ event: 'dtmf', stream_id: STREAM_ID, occurred_at: '2024-09-10T12:00:00.000Z', sequence_number: String(++this.#seq), dtmf: { digit } });
  stop = (): string => JSON.stringify({ event: 'stop', sequence_number: String(++this.#seq), stop: { user_id: '3E6F995F-85F7-4705-9741-53B116D28237', call_control_id: CALL_CONTROL_ID }, stream_id: STREAM_ID });
}

/** Swap neighbours and repeat some: what a network does to frames (the first frame arrives first). */
function disorder(frames: string[]): string[] {
  const out = [...frames];
  for (let i = 1; i + 1 < out.length; i += 7) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  for (let i = 3; i < out.length; i += 50) out.splice(i, 0, out[i]!);
  return out;
}

const acceptTelnyx = (opts: Omit<MediaStreamOptions, 'flavor'> = {}) => acceptCall((ws) => fromTelnyxMediaStream(ws, opts));

const pool = sharedEngine();

describe('fromTelnyxMediaStream', () => {
  it('reorders PCMU frames that arrive out of order and transcribes the call like the same audio from a file', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(9, 10), voices: ['rms'], leadMs: 300, gapsMs: [900], format: 'ulaw.wav' });
    const { client, call, close } = await acceptTelnyx();
    let heard: Promise<TranscriptEvent[]> | undefined;
    call.subscribe((t) => (heard = transcribeTrack(t, pool.engine)));
    const tx = new TelnyxClient();
    const media = slices(wavData(speech.path), 160).map((b, i) => tx.media(i * 20, b));
    await sendAll(client, [tx.connected(), tx.start('PCMU', 8000), ...disorder(media), tx.dtmf('9'), tx.stop()]);
    await lastValueFrom(call, { defaultValue: undefined });
    expect(call.info()).toMatchObject({ protocol: 'telnyx', callId: CALL_CONTROL_ID, streamId: STREAM_ID, customParameters: { customer_id: 'customer_123' }, metadata: { from: '+13122010094', tags: ['TAG1', 'TAG2'] } });
    const w = expectLikeFile(expect, speech.text, await heard!, await transcribeFile(speech.path, 8000, pool.engine));
    console.log(`telnyx: WER call ${w.call}, file ${w.file}`);
    expect(call.stats()).toMatchObject({ malformed: 0, gapsFilled: 0, dtmf: 1, lateDropped: Math.ceil((media.length - 3) / 50) }); // the repeats
    await close();
  }, 180_000);

  it('decodes L16 (big-endian RTP payload) at 16 kHz and PCMA bit-exact, placing a late-starting frame by its timestamp', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1), voices: ['slt'], sampleRate: 16000 });
    const pcm = wavSamples(speech.path);
    const be = Buffer.alloc(pcm.length * 2);
    pcm.forEach((v, i) => be.writeInt16BE(v, i * 2));
    const { client, call, close } = await acceptTelnyx();
    let audio: Promise<Int16Array> | undefined;
    call.subscribe((t) => (audio = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples)));
    const tx = new TelnyxClient();
    await sendAll(client, [tx.connected(), tx.start('L16', 16000), ...disorder(slices(be, 640).map((b, i) => tx.media(500 + i * 20, b))), tx.stop()]);
    await lastValueFrom(call, { defaultValue: undefined });
    const got = await audio!;
    expect(got.subarray(0, 8000)).toEqual(new Int16Array(8000)); // the first frame is at 500 ms
    expect(got.subarray(8000)).toEqual(pcm);
    await close();

    const alaw = await acceptTelnyx();
    let a: Promise<Int16Array> | undefined;
    alaw.call.subscribe((t) => (a = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples)));
    const bytes = Buffer.from(Array.from({ length: 320 }, (_, i) => linearToAlaw(Math.round(8000 * Math.sin(i / 5)))));
    const t2 = new TelnyxClient();
    await sendAll(alaw.client, [t2.connected(), t2.start('PCMA', 8000), t2.media(0, bytes.subarray(0, 160)), t2.media(20, bytes.subarray(160)), t2.stop()]);
    await lastValueFrom(alaw.call, { defaultValue: undefined });
    expect((await a!).length).toBe(320);
    await alaw.close();
  });

  it('flushes what the reorder window holds when the socket closes without stop, and ends G722 as unsupported', async () => {
    const { client, call, close } = await acceptTelnyx({ reorderWindowMs: 10_000 });
    let audio: Promise<Int16Array> | undefined;
    call.subscribe((t) => (audio = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples)));
    const tx = new TelnyxClient();
    await sendAll(client, [tx.connected(), tx.start('PCMU', 8000), tx.media(0, Buffer.alloc(160, 0xfe)), tx.media(40, Buffer.alloc(160, 0xfe)), tx.media(20, Buffer.alloc(160, 0xfe))]);
    client.close();
    await lastValueFrom(call, { defaultValue: undefined });
    expect((await audio!).length).toBe(480);
    await close();

    const g722 = await acceptTelnyx();
    const outcome = lastValueFrom(g722.call, { defaultValue: undefined }).catch((e: unknown) => e);
    await sendAll(g722.client, [tx.connected(), tx.start('G722', 16000)]);
    expect(await outcome).toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
    await g722.close();
  });
});
