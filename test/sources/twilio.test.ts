/**
 * Twilio Media Streams, from a client written to Twilio's "Media Streams - WebSocket Messages" page: `connected`,
 * `start` (streamSid, callSid, tracks, customParameters, mediaFormat audio/x-mulaw 8000 mono), `media` (track, chunk,
 * timestamp in ms since the stream started, base64 µ-law payload, 20 ms each, counters as strings), `dtmf`, `mark`,
 * `stop`, over a real ws server on 127.0.0.1, carrying flite speech.
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { AudioChunk } from '../../src/core/types.js';
import { fromTwilioMediaStream } from '../../src/sources/twilio.js';
import type { CallControlEvent, CallTrack } from '../../src/sources/call.js';
import { mutateJson } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { acceptCall, expectLikeFile, sendAll, transcribeFile, transcribeTrack, wavData, sharedEngine } from './call-fixtures.js';

const STREAM_SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';
const CALL_SID = 'CA9bce1c2e1c0b4e1a8c1d2e3f4a5b6c7d';
const ACCOUNT_SID = 'AC25e16e9a716a4a1786a7c83f58e30482';

/** A Twilio-side client: numbers every message as Twilio does (sequenceNumber as a string, from 1). */
class TwilioClient {
  #seq = 0;
  #chunk = new Map<string, number>();
  connected(): string {
    return JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }
  start(tracks: string[], customParameters: Record<string, string> = {}, encoding = 'audio/x-mulaw'): string {
    return JSON.stringify({
      event: 'start',
      sequenceNumber: String(++this.#seq),
      start: { accountSid: ACCOUNT_SID, streamSid: STREAM_SID, callSid: CALL_SID, tracks, customParameters, mediaFormat: { encoding, sampleRate: 8000, channels: 1 } },
      streamSid: STREAM_SID,
    });
  }
  media(track: string, timestampMs: number, ulaw: Uint8Array): string {
    const chunk = (this.#chunk.get(track) ?? 0) + 1;
    this.#chunk.set(track, chunk);
    return JSON.stringify({
      event: 'media',
      sequenceNumber: String(++this.#seq),
      media: { track, chunk: String(chunk), timestamp: String(timestampMs), payload: Buffer.from(ulaw).toString('base64') },
      streamSid: STREAM_SID,
    });
  }
  dtmf(digit: string): string {
    return JSON.stringify({ event: 'dtmf', streamSid: STREAM_SID, sequenceNumber: String(++this.#seq), dtmf: { track: 'inbound_track', digit } });
  }
  mark(name: string): string {
    return JSON.stringify({ event: 'mark', sequenceNumber: String(++this.#seq), streamSid: STREAM_SID, mark: { name } });
  }
  stop(): string {
    return JSON.stringify({ event: 'stop', sequenceNumber: String(++this.#seq), stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID }, streamSid: STREAM_SID });
  }
}

/** 20 ms µ-law frames (160 bytes) with their times from the start. */
function frames20(ulaw: Buffer): Array<{ ms: number; bytes: Buffer }> {
  const out: Array<{ ms: number; bytes: Buffer }> = [];
  for (let i = 0; i + 160 <= ulaw.length; i += 160) out.push({ ms: i / 8, bytes: ulaw.subarray(i, i + 160) });
  return out;
}

/** Accept one call on a real ws server, attaching the source as a host would (synchronously on connection). */
const acceptTwilio = (opts: Parameters<typeof fromTwilioMediaStream>[1] = {}) => acceptCall((ws) => fromTwilioMediaStream(ws, opts));

const pool = sharedEngine();

describe('fromTwilioMediaStream', () => {
  it('transcribes a call as well as the same audio from a file, placing audio by media.timestamp (a 2 s gap shifts later words by 2 s; suppressed silence keeps times)', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt', 'rms'], leadMs: 500, gapsMs: [900], format: 'ulaw.wav' });
    const seg = speech.segments;
    const quietFrom = seg[0]!.endMs + 100;
    const quietTo = seg[1]!.startMs - 100;
    const cutMs = (seg[1]!.endMs + seg[2]!.startMs) / 2;
    const GAP = 2000;

    const { client, call, close } = await acceptTwilio();
    const tracks: CallTrack[] = [];
    const heard: Array<Promise<Awaited<ReturnType<typeof transcribeTrack>>>> = [];
    call.subscribe((t) => {
      tracks.push(t);
      heard.push(transcribeTrack(t, pool.engine));
    });
    const done = lastValueFrom(call, { defaultValue: undefined });
    const tw = new TwilioClient();
    const msgs = [tw.connected(), tw.start(['inbound'], { FirstName: 'Jane', RemoteParty: 'Bob' })];
    let skipped = 0;
    for (const f of frames20(wavData(speech.path))) {
      if (f.ms >= quietFrom && f.ms + 20 <= quietTo) {
        skipped++; // Twilio does not always send silence
        continue;
      }
      msgs.push(tw.media('inbound', f.ms >= cutMs ? f.ms + GAP : f.ms, f.bytes));
    }
    msgs.push(tw.mark('greeting'), tw.stop());
    await sendAll(client, msgs);
    await done;
    expect(skipped).toBeGreaterThan(10);

    expect(tracks).toHaveLength(1);
    const t = tracks[0]!;
    expect({ track: t.track, channel: t.channel, sampleRate: t.sampleRate }).toEqual({ track: 'inbound', channel: 0, sampleRate: 8000 });
    expect(t.call).toMatchObject({ protocol: 'twilio', callId: CALL_SID, streamId: STREAM_SID, customParameters: { FirstName: 'Jane', RemoteParty: 'Bob' } });
    expect(t.call.metadata).toMatchObject({ accountSid: ACCOUNT_SID, tracks: ['inbound'] });
    expect(call.info()).toBe(t.call);

    const w = expectLikeFile(expect, speech.text, await heard[0]!, await transcribeFile(speech.path, 8000, pool.engine), (startMs) => (startMs >= cutMs ? GAP : 0));
    console.log(`twilio: WER call ${w.call}, file ${w.file}`);
    const stats = call.stats();
    expect(stats).toMatchObject({ malformed: 0, oversized: 0, lateDropped: 0, discontinuities: 0 });
    expect(stats.gapsFilled).toBe(2);
    expect(stats.silenceMs).toBeGreaterThanOrEqual(GAP + skipped * 20 - 1);
    expect(stats.frames).toBe(msgs.length);
    await close();
  }, 180_000);

  it('splits both_tracks into an inbound and an outbound track on one clock', async () => {
    const a = makeSpeech({ sentences: SENTENCES.slice(4, 5), voices: ['slt'], leadMs: 300, gapsMs: [800], format: 'ulaw.wav' });
    const b = makeSpeech({ sentences: SENTENCES.slice(6, 7), voices: ['rms'], leadMs: 300, gapsMs: [800], format: 'ulaw.wav' });
    const OUT_START = 400; // the outbound track begins 400 ms into the stream
    const { client, call, close } = await acceptTwilio();
    const heard = new Map<string, Promise<Awaited<ReturnType<typeof transcribeTrack>>>>();
    const channels = new Map<string, number>();
    call.subscribe((t) => {
      channels.set(t.track, t.channel);
      heard.set(t.track, transcribeTrack(t, pool.engine));
    });
    const done = lastValueFrom(call, { defaultValue: undefined });
    const tw = new TwilioClient();
    const fa = frames20(wavData(a.path));
    const fb = frames20(wavData(b.path));
    const msgs = [tw.connected(), tw.start(['inbound', 'outbound'])];
    for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
      if (fa[i]) msgs.push(tw.media('inbound', fa[i]!.ms, fa[i]!.bytes));
      if (fb[i]) msgs.push(tw.media('outbound', fb[i]!.ms + OUT_START, fb[i]!.bytes));
    }
    msgs.push(tw.stop());
    await sendAll(client, msgs);
    await done;
    expect(Object.fromEntries(channels)).toEqual({ inbound: 0, outbound: 1 });
    const [inb, outb] = await Promise.all([heard.get('inbound')!, heard.get('outbound')!]);
    const [refA, refB] = await Promise.all([transcribeFile(a.path, 8000, pool.engine), transcribeFile(b.path, 8000, pool.engine)]);
    expectLikeFile(expect, a.text, inb, refA);
    expectLikeFile(expect, b.text, outb, refB, () => OUT_START);
    await close();
  }, 180_000);

  it('counts malformed frames and goes on; reports DTMF and marks; reply() is a no-op', async () => {
    const events: CallControlEvent[] = [];
    const { client, call, close } = await acceptTwilio({ onEvent: (e) => events.push(e), maxFrameBytes: 4096 });
    const chunks: AudioChunk[] = [];
    call.subscribe((t) => t.audio$.subscribe((c) => chunks.push(c)));
    const done = lastValueFrom(call, { defaultValue: undefined });
    const tw = new TwilioClient();
    const tone = Buffer.alloc(160, 0x7f);
    await sendAll(client, [
      tw.media('inbound', 0, tone), // before start: no format yet
      tw.connected(),
      tw.start(['inbound']),
      'not json',
      '[1,2]',
      JSON.stringify({ event: 'media', media: { track: 'inbound', timestamp: '20', payload: '%%%' } }),
      JSON.stringify({ event: 'media', media: { track: 'sideways', timestamp: '20', payload: tone.toString('base64') } }),
      Buffer.from([1, 2, 3]),
      'x'.repeat(5000),
      tw.media('inbound', 0, tone),
      tw.dtmf('7'),
      tw.media('inbound', 20, tone),
      tw.mark('end-of-prompt'),
      JSON.stringify({ event: 'something-new' }),
      tw.stop(),
    ]);
    await done;
    call.reply({ type: 'final', text: 'hello', startMs: 0, endMs: 100 });
    expect(chunks.reduce((n, c) => n + c.samples.length, 0)).toBe(320);
    expect(events).toEqual([{ type: 'dtmf', digit: '7', track: 'inbound_track' }, { type: 'mark', name: 'end-of-prompt' }]);
    expect(call.stats()).toMatchObject({ malformed: 7, oversized: 1, mediaFrames: 2, dtmf: 1, replies: 0 });
    await close();
  });

  it('ends with EARSHOT_UNSUPPORTED_FORMAT for an encoding it cannot decode, keeping the call info', async () => {
    const { client, call, close } = await acceptTwilio();
    const result = lastValueFrom(call, { defaultValue: undefined }).catch((e: unknown) => e);
    const tw = new TwilioClient();
    await sendAll(client, [tw.connected(), tw.start(['inbound'], {}, 'audio/x-g729')]);
    expect(await result).toMatchObject({ code: 'EARSHOT_UNSUPPORTED_FORMAT' });
    expect(call.info()?.callId).toBe(CALL_SID);
    await close();
  });

  it('completes when the socket closes without stop, and close() / an abort signal hang up from this side', async () => {
    const first = await acceptTwilio();
    const ended = lastValueFrom(first.call.pipe(toArray()));
    const tw = new TwilioClient();
    await sendAll(first.client, [tw.connected(), tw.start(['inbound']), tw.media('inbound', 0, Buffer.alloc(160, 0xff))]);
    first.client.close();
    expect((await ended).map((t) => t.track)).toEqual(['inbound']);
    await first.close();

    const abort = new AbortController();
    const second = await acceptTwilio({ signal: abort.signal });
    const closed = new Promise<number>((resolve) => second.client.once('close', (code) => resolve(code)));
    const done = lastValueFrom(second.call, { defaultValue: undefined });
    abort.abort();
    await done;
    expect(await closed).toBe(1000);
    await second.close();

    const third = await acceptTwilio();
    const closed3 = new Promise<number>((resolve) => third.client.once('close', (code) => resolve(code)));
    third.call.close(4000, 'too many calls');
    expect(await closed3).toBe(4000);
    await third.close();
  });

  it('ends an idle call with EARSHOT_TIMEOUT (close code 1001), keeping the audio it had', async () => {
    const pair = await acceptTwilio({ idleTimeoutMs: 200 });
    const call = pair.call;
    let samples = 0;
    call.subscribe({ next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)), error: () => {} });
    const outcome = lastValueFrom(call, { defaultValue: undefined }).catch((e: unknown) => e);
    const tw = new TwilioClient();
    await sendAll(pair.client, [tw.connected(), tw.start(['inbound']), tw.media('inbound', 0, Buffer.alloc(160, 0x7f))]);
    expect(await outcome).toMatchObject({ code: 'EARSHOT_TIMEOUT' });
    expect(await pair.closed).toBe(1001);
    expect(samples).toBe(160);
    await pair.close();
  });

  it('keeps preSubscribeMs of audio for a track subscribed late, dropping the oldest (counted)', async () => {
    const { client, call, close } = await acceptTwilio({ preSubscribeMs: 100 });
    const tracks: CallTrack[] = [];
    call.subscribe((t) => tracks.push(t));
    const done = lastValueFrom(call, { defaultValue: undefined });
    const tw = new TwilioClient();
    const msgs = [tw.connected(), tw.start(['inbound'])];
    for (let i = 0; i < 20; i++) msgs.push(tw.media('inbound', i * 20, Buffer.alloc(160, 0x7f - i)));
    msgs.push(tw.stop());
    await sendAll(client, msgs);
    await done;
    const late = await lastValueFrom(tracks[0]!.audio$.pipe(toArray()));
    expect(late.map((c) => c.offset)).toEqual([15, 16, 17, 18, 19].map((i) => i * 160));
    expect(call.stats().overflowDropped).toBe(15);
    await close();
  });

  it('survives 3000 fuzzed frames: no throw, only coded errors, bounded state', async () => {
    const rand = rng(12);
    const tw = new TwilioClient();
    const valid = [tw.connected(), tw.start(['inbound', 'outbound'], { a: 'b' })];
    for (let i = 0; i < 50; i++) valid.push(tw.media(i % 2 ? 'outbound' : 'inbound', i * 20, Buffer.alloc(160, i)));
    valid.push(tw.dtmf('1'), tw.mark('m'), tw.stop());
    let frames = 0;
    let outcomes = 0;
    for (let round = 0; round < 6; round++) {
      const { client, call, close } = await acceptTwilio({ maxGapMs: 5000 });
      let samples = 0;
      call.subscribe({ next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)), error: () => {} });
      const outcome = lastValueFrom(call, { defaultValue: undefined }).then(
        () => 'complete',
        (e: unknown) => (e as { code?: string }).code ?? 'uncoded',
      );
      const msgs: string[] = [];
      for (let i = 0; i < 500; i++) {
        const base = valid[Math.min(valid.length - 2, Math.floor(rand() * valid.length))]!;
        msgs.push(rand() < 0.8 ? mutateJson(base, rand) : base);
      }
      msgs.push(tw.stop());
      frames += msgs.length;
      await sendAll(client, msgs);
      client.close();
      const o = await outcome;
      expect(['complete', 'EARSHOT_UNSUPPORTED_FORMAT', 'EARSHOT_PROTOCOL_ERROR']).toContain(o);
      outcomes++;
      // At most maxGapMs of silence per frame, plus its audio.
      expect(samples).toBeLessThanOrEqual(msgs.length * (5000 * 8 + 4000));
      expect(call.stats().frames).toBeLessThanOrEqual(msgs.length);
      await close();
    }
    expect(frames).toBeGreaterThanOrEqual(3000);
    expect(outcomes).toBe(6);
  }, 60_000);
});
