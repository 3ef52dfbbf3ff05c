/**
 * FreeSWITCH mod_audio_fork / mod_audio_stream, from a client written to the module's README: after
 * `uuid_audio_fork <uuid> start <url> <mix-type> <sampling-rate> <metadata>`, one text frame with the metadata, then
 * binary L16 little-endian frames (stereo: caller left, callee right); JSON text back from the server
 * (`{"type":"transcription","data":{…}}`).
 */
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { WebSocket } from 'ws';
import { fromAudioFork, type AudioForkOptions } from '../../src/sources/audio-fork.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import type { CallControlEvent, CallTrack } from '../../src/sources/call.js';
import { joinSamples } from '../helpers/audio.js';
import { mutateBytes } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { acceptCall, expectLikeFile, interleaveLE, sendAll, slices, transcribeFile, transcribeTrack, until, wavSamples, sharedEngine } from './call-fixtures.js';

const CHANNEL_UUID = 'a8d3c2f0-5b7e-4c61-9f0e-2d3c4b5a6978';

const acceptFork = (opts: AudioForkOptions = {}) => acceptCall((ws) => fromAudioFork(ws, opts), { protocols: 'audio.drachtio.org' });

const pool = sharedEngine();

describe('fromAudioFork', () => {
  it('splits a stereo 16 kHz fork into caller and callee, transcribes each like its file, and sends transcriptions back', async () => {
    const caller = makeSpeech({ sentences: SENTENCES.slice(8, 10), voices: ['slt'], leadMs: 300, gapsMs: [800] });
    const callee = makeSpeech({ sentences: SENTENCES.slice(10, 12), voices: ['rms'], leadMs: 1200, gapsMs: [800] });
    const { client, call, close } = await acceptFork();
    const received: unknown[] = [];
    client.on('message', (m) => received.push(JSON.parse(m.toString())));
    const heard = new Map<string, Promise<TranscriptEvent[]>>();
    const tracks: CallTrack[] = [];
    call.subscribe((t) => {
      tracks.push(t);
      heard.set(
        t.track,
        transcribeTrack(t, pool.engine, (e) => e.type === 'final' && call.reply(e, t)),
      );
    });
    // uuid_audio_fork <uuid> start ws://… stereo 16k {"callId":…,"mixType":"stereo","sampleRate":16000,"agent":"7"}
    const metadata = JSON.stringify({ callId: CHANNEL_UUID, mixType: 'stereo', sampleRate: 16000, agent: '7' });
    const pcm = interleaveLE([wavSamples(caller.path), wavSamples(callee.path)]);
    await sendAll(client, [metadata, ...slices(pcm, 1280), 'DTMF 5']); // 20 ms frames, as FreeSWITCH sends them
    // The first sentence of each side ends in a pause: its final comes back while FreeSWITCH is still connected.
    await until(() => new Set(received.map((r) => (r as { data: { track: string } }).data.track)).size === 2, 120_000);
    client.close();
    await lastValueFrom(call, { defaultValue: undefined });

    expect(tracks.map((t) => [t.track, t.channel, t.sampleRate])).toEqual([['caller', 0, 16000], ['callee', 1, 16000]]);
    expect(tracks[0]!.call).toMatchObject({ protocol: 'audio-fork', callId: CHANNEL_UUID, customParameters: { agent: '7', callId: CHANNEL_UUID } });
    const [a, b] = await Promise.all([heard.get('caller')!, heard.get('callee')!]);
    const [refA, refB] = await Promise.all([transcribeFile(caller.path, 16000, pool.engine), transcribeFile(callee.path, 16000, pool.engine)]);
    const wa = expectLikeFile(expect, caller.text, a, refA);
    const wb = expectLikeFile(expect, callee.text, b, refB);
    console.log(`audio fork: WER caller ${wa.call} (file ${wa.file}), callee ${wb.call} (file ${wb.file})`);
    for (const r of received) expect(r).toMatchObject({ type: 'transcription', data: { type: 'final', text: expect.any(String), channel: expect.any(Number), track: expect.any(String) } });
    expect(received.map((r) => (r as { data: { text: string } }).data.text)).toEqual(expect.arrayContaining([a[0]!.text, b[0]!.text]));
    expect(call.stats()).toMatchObject({ malformed: 0, gapsFilled: 0 });
    await close();
  }, 180_000);

  it('replies {"type":"transcription","data":{…}} with the track, and passes later text frames to onEvent', async () => {
    const events: CallControlEvent[] = [];
    const { client, call, close } = await acceptFork({ mixType: 'mixed', sampleRate: 8000, onEvent: (e) => events.push(e) });
    const got = new Promise<unknown>((resolve) => client.once('message', (m) => resolve(JSON.parse(m.toString()))));
    const tracks: CallTrack[] = [];
    call.subscribe((t) => tracks.push(t));
    await sendAll(client, ['plain text metadata, not JSON', Buffer.alloc(320), '{"event":"dtmf","digit":"3"}']);
    await until(() => events.length === 1);
    expect(tracks.map((t) => [t.track, t.channel, t.sampleRate])).toEqual([['mixed', 0, 8000]]);
    expect(tracks[0]!.call.metadata).toEqual({ text: 'plain text metadata, not JSON' });
    call.reply({ type: 'final', text: 'hello there', startMs: 120, endMs: 900, words: [{ text: 'hello', startMs: 120, endMs: 400 }, { text: 'there', startMs: 450, endMs: 900 }] }, tracks[0]);
    expect(await got).toEqual({
      type: 'transcription',
      data: { type: 'final', text: 'hello there', startMs: 120, endMs: 900, words: [{ text: 'hello', startMs: 120, endMs: 400 }, { text: 'there', startMs: 450, endMs: 900 }], channel: 0, track: 'mixed' },
    });
    expect(events).toEqual([{ type: 'text', text: '{"event":"dtmf","digit":"3"}' }]);
    expect(call.stats()).toMatchObject({ replies: 1, mediaFrames: 1 });
    const audio = lastValueFrom(tracks[0]!.audio$.pipe(toArray()));
    client.close();
    expect((await audio).reduce((n, c) => n + c.samples.length, 0)).toBe(160);
    await close();
  });

  it('carries partial sample frames across messages: audio cut at odd byte counts arrives bit-exact', async () => {
    const left = Int16Array.from({ length: 4000 }, (_, i) => (i * 37) % 65536 - 32768);
    const right = Int16Array.from({ length: 4000 }, (_, i) => -((i * 91) % 32768));
    const { client, call, close } = await acceptFork({ mixType: 'stereo', sampleRate: 8000 });
    const tracks: Array<Promise<Int16Array>> = [];
    call.subscribe((t) => tracks.push(lastValueFrom(t.audio$.pipe(toArray())).then((chunks) => joinSamples(chunks))));
    await sendAll(client, ['{}', ...slices(interleaveLE([left, right]), 1001)]);
    client.close();
    await lastValueFrom(call, { defaultValue: undefined });
    const [l, r] = await Promise.all(tracks);
    expect(l).toEqual(left);
    expect(r).toEqual(right);
    await close();
  });

  it('starts with the defaults (mono 8 kHz, a random call id) when FreeSWITCH sends no metadata', async () => {
    const { client, call, close } = await acceptFork();
    const tracks = lastValueFrom(call.pipe(toArray()));
    await sendAll(client, [Buffer.alloc(320, 1), Buffer.alloc(3, 1), Buffer.alloc(1, 1)]);
    client.close();
    const [t] = await tracks;
    expect([t!.track, t!.sampleRate]).toEqual(['caller', 8000]);
    expect(t!.call.callId).toMatch(/^[0-9a-f-]{36}$/);
    await close();
  });

  it('rejects a bad option when built', () => {
    expect(() => fromAudioFork({} as WebSocket, { sampleRate: 11025 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
    expect(() => fromAudioFork({} as WebSocket, { mixType: 'quad' as 'mono' })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }) as Error);
  });

  it('survives 3000 fuzzed frames: no throw, audio bounded by what was sent', async () => {
    const rand = rng(7);
    const base = [JSON.stringify({ callId: CHANNEL_UUID, mixType: 'stereo', sampleRate: 16000 }), Buffer.alloc(1280, 3)];
    for (let round = 0; round < 3; round++) {
      const { client, call, close } = await acceptFork({ maxFrameBytes: 8192 });
      let samples = 0;
      call.subscribe({ next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)), error: () => {} });
      const outcome = lastValueFrom(call, { defaultValue: undefined }).then(() => 'complete', (e: unknown) => (e as { code?: string }).code ?? 'uncoded');
      const frames: Array<string | Buffer> = [];
      let bytes = 0;
      for (let i = 0; i < 1000; i++) {
        const pick = base[Math.floor(rand() * base.length)]!;
        const f = rand() < 0.5 ? mutateBytes(Buffer.from(pick), rand) : Buffer.from(pick);
        const frame = rand() < 0.3 ? f.toString('latin1') : f;
        bytes += Buffer.byteLength(frame);
        frames.push(frame);
      }
      await sendAll(client, frames);
      client.close();
      expect(await outcome).toBe('complete');
      expect(samples).toBeLessThanOrEqual(bytes / 2);
      await close();
    }
  });
});
