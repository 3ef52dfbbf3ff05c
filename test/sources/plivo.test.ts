/**
 * Plivo audio streams, from a client written to Plivo's Audio Streaming reference: `start` (callId, streamId,
 * accountId, tracks, mediaFormat {encoding audio/x-l16 or audio/x-mulaw, sampleRate}, extra_headers), `media`
 * (track, Unix-ms timestamp as a string, chunk, base64 payload), `dtmf`; the stream ends when the socket closes.
 * The audio is flite speech; what comes out must be the file's samples, on Plivo's clock.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { ULAW_TABLE } from '../../src/rtp/codecs.js';
import type { CallControlEvent, CallStream, CallTrack } from '../../src/sources/call.js';
import { fromPlivoAudioStream } from '../../src/sources/twilio.js';
import { joinSamples } from '../helpers/audio.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { sendAll, slices, wavData, wavSamples, wsPair } from './call-fixtures.js';

const CALL_ID = '12345678-1234-1234-1234-123456789abc';
const STREAM_ID = '87654321-4321-4321-4321-cba987654321';
const EPOCH = 1705312200000;

class PlivoClient {
  #seq = 0;
  #chunk = 0;
  start(encoding: string, sampleRate: number): string {
    return JSON.stringify({
      event: 'start',
      sequenceNumber: ++this.#seq,
      start: { callId: CALL_ID, streamId: STREAM_ID, accountId: 'MAXXXXXXXXXXXXXXXXXX', tracks: ['inbound'], mediaFormat: { encoding, sampleRate } },
      extra_headers: 'userId=12345;sessionId=abc-xyz',
    });
  }
  media(timestampMs: number, payload: Uint8Array): string {
    return JSON.stringify({
      event: 'media',
      sequenceNumber: ++this.#seq,
      streamId: STREAM_ID,
      media: { track: 'inbound', timestamp: String(timestampMs), chunk: ++this.#chunk, payload: Buffer.from(payload).toString('base64') },
      extra_headers: 'userId=12345;sessionId=abc-xyz',
    });
  }
  dtmf = (digit: string): string => JSON.stringify({ event: 'dtmf', sequenceNumber: ++this.#seq, streamId: STREAM_ID, dtmf: { digit } });
}

async function run(frames: (c: PlivoClient) => string[], onEvent?: (e: CallControlEvent) => void): Promise<{ call: CallStream; track: CallTrack; samples: Int16Array }> {
  let call!: CallStream;
  const pair = await wsPair({ onAccept: (ws) => (call = fromPlivoAudioStream(ws, onEvent ? { onEvent } : {})) });
  let track!: CallTrack;
  let audio!: Promise<Int16Array>;
  call.subscribe((t) => {
    track = t;
    audio = lastValueFrom(t.audio$.pipe(toArray())).then(joinSamples);
  });
  await sendAll(pair.client, frames(new PlivoClient()));
  pair.client.close(); // Plivo sends no stop: the socket closes
  await lastValueFrom(call, { defaultValue: undefined });
  const samples = await audio;
  await pair.close();
  return { call, track, samples };
}

describe('fromPlivoAudioStream', () => {
  it('places L16 16 kHz speech by Unix-ms timestamps relative to the first frame: a 1 s gap becomes 1 s of silence', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(3, 4), voices: ['slt'], sampleRate: 16000 });
    const pcm = wavSamples(speech.path);
    const bytes = Buffer.from(wavData(speech.path));
    const half = Math.floor(pcm.length / 2 / 320) * 320; // a 20 ms boundary near the middle
    const events: CallControlEvent[] = [];
    const { call, track, samples } = await run(
      (c) => [
        c.start('audio/x-l16;rate=16000', 16000),
        ...slices(bytes, 640).map((b, i) => c.media(EPOCH + i * 20 + (i * 320 >= half ? 1000 : 0), b)),
        c.dtmf('2'),
      ],
      (e) => events.push(e),
    );
    expect([track.track, track.sampleRate]).toEqual(['inbound', 16000]);
    expect(track.call).toMatchObject({ protocol: 'plivo', callId: CALL_ID, streamId: STREAM_ID, customParameters: { userId: '12345', sessionId: 'abc-xyz' } });
    expect(samples.subarray(0, half)).toEqual(pcm.subarray(0, half));
    expect(samples.subarray(half, half + 16000)).toEqual(new Int16Array(16000));
    expect(samples.subarray(half + 16000)).toEqual(pcm.subarray(half));
    expect(call.stats()).toMatchObject({ gapsFilled: 1, silenceMs: 1000, malformed: 0 });
    expect(events).toEqual([{ type: 'dtmf', digit: '2' }]);
  });

  it('decodes µ-law 8 kHz speech', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(4, 5), voices: ['rms'], format: 'ulaw.wav' });
    const ulaw = wavData(speech.path);
    const { samples } = await run((c) => [c.start('audio/x-mulaw', 8000), ...slices(ulaw, 160).map((b, i) => c.media(EPOCH + i * 20, b))]);
    expect(samples).toEqual(Int16Array.from(ulaw, (b) => ULAW_TABLE[b]!));
  });
});
