/**
 * Exotel Stream / Voicebot applets, from a client written to Exotel's AgentStream WebSocket protocol page:
 * `connected`, `start` (snake_case: stream_sid, call_sid, account_sid, from, to, custom_parameters, media_format
 * {encoding, sample_rate as a string, bit_rate}), `media` (chunk and timestamp as strings, base64 16-bit PCM, ~100 ms
 * each), `dtmf` {digit, duration}, `stop`. The audio is flite speech; what comes out must be the file's samples.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { CallStream, CallTrack } from '../../src/sources/call.js';
import { fromExotelStream } from '../../src/sources/twilio.js';
import { joinSamples } from '../helpers/audio.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { sendAll, slices, wavData, wavSamples, wsPair } from './call-fixtures.js';

const STREAM_SID = 'MZ0123456789abcdef0123456789abcd';
const CALL_SID = 'CA0123456789abcdef0123456789abcd';

class ExotelClient {
  #seq = 0;
  #chunk = 0;
  connected = (): string => JSON.stringify({ event: 'connected' });
  start(sampleRate: string): string {
    return JSON.stringify({
      event: 'start',
      sequence_number: String(++this.#seq),
      stream_sid: STREAM_SID,
      start: {
        stream_sid: STREAM_SID,
        call_sid: CALL_SID,
        account_sid: 'AC0123456789abcdef0123456789abcd',
        from: '+919876543210',
        to: '+918047491899',
        custom_parameters: { key1: 'value1' },
        media_format: { encoding: 'audio/x-raw', sample_rate: sampleRate, bit_rate: '16' },
      },
    });
  }
  media(payload: Uint8Array, chunkMs: number): string {
    const chunk = ++this.#chunk;
    return JSON.stringify({ event: 'media', sequence_number: String(++this.#seq), stream_sid: STREAM_SID, media: { chunk: String(chunk), timestamp: String(chunk * chunkMs), payload: Buffer.from(payload).toString('base64') } });
  }
  dtmf = (digit: string): string => JSON.stringify({ event: 'dtmf', sequence_number: String(++this.#seq), stream_sid: STREAM_SID, dtmf: { digit, duration: '100' } });
  stop = (): string => JSON.stringify({ event: 'stop', sequence_number: String(++this.#seq), stream_sid: STREAM_SID, stop: { call_sid: CALL_SID, account_sid: 'AC0123456789abcdef0123456789abcd', reason: 'callended' } });
}

describe('fromExotelStream', () => {
  it('reads 100 ms frames of 16-bit PCM at the stream rate, bit-exact, on the stream clock', async () => {
    for (const rate of [8000, 16000]) {
      const speech = makeSpeech({ sentences: SENTENCES.slice(7, 8), voices: ['slt'], sampleRate: rate });
      let call!: CallStream;
      const pair = await wsPair({ onAccept: (ws) => (call = fromExotelStream(ws)) });
      let track!: CallTrack;
      let audio!: Promise<Int16Array>;
      call.subscribe((t) => {
        track = t;
        audio = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples);
      });
      const ex = new ExotelClient();
      const frames = slices(Buffer.from(wavData(speech.path)), rate / 5); // 100 ms
      await sendAll(pair.client, [ex.connected(), ex.start(String(rate)), ...frames.map((f) => ex.media(f, 100)), ex.dtmf('5'), ex.stop()]);
      await lastValueFrom(call, { defaultValue: undefined });
      expect([track.track, track.channel, track.sampleRate]).toEqual(['inbound', 0, rate]);
      expect(track.call).toMatchObject({ protocol: 'exotel', callId: CALL_SID, streamId: STREAM_SID, customParameters: { key1: 'value1' }, metadata: { from: '+919876543210' } });
      expect(await audio).toEqual(wavSamples(speech.path));
      expect(call.stats()).toMatchObject({ gapsFilled: 0, malformed: 0, dtmf: 1 });
      await pair.close();
    }
  });
});
