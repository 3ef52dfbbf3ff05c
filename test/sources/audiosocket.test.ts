/**
 * Asterisk AudioSocket, from a client written to the protocol definition (docs.asterisk.org, Channel Drivers →
 * AudioSocket): frames of kind (1 byte) + payload length (2 bytes, big-endian) + payload — 0x01 UUID, 0x10 slin
 * 8 kHz (0x11–0x18 higher rates), 0x03 DTMF, 0x00 hang-up, 0xff error — over a real TCP server on 127.0.0.1.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import type { TranscriptEvent } from '../../src/core/types.js';
import { audioSocketFrame, AudioSocketKind, fromAudioSocket } from '../../src/sources/audiosocket.js';
import type { CallControlEvent, CallSourceOptions, CallStream } from '../../src/sources/call.js';
import { joinSamples } from '../helpers/audio.js';
import { mutateBytes } from '../helpers/fuzz.js';
import { rng } from '../helpers/random.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';
import { expectLikeFile, tcpPair, transcribeFile, transcribeTrack, wavSamples, sharedEngine } from './call-fixtures.js';

const UUID = '40b2a3c1-7d6e-4f3a-9b8c-1e2d3f4a5b6c';
const uuidFrame = (): Buffer => audioSocketFrame(AudioSocketKind.uuid, Buffer.from(UUID.replace(/-/g, ''), 'hex'));
const le = (samples: Int16Array): Buffer => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);

async function acceptSocket(opts: CallSourceOptions = {}): Promise<{ client: Socket; call: CallStream; close(): Promise<void> }> {
  let call!: CallStream;
  const pair = await tcpPair((socket) => (call = fromAudioSocket(socket, opts)));
  while (!call) await new Promise((r) => setImmediate(r));
  return { client: pair.client, call, close: () => pair.close() };
}

function write(client: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => client.write(bytes, (err) => (err ? reject(err) : resolve())));
}

const pool = sharedEngine();

describe('fromAudioSocket', () => {
  it('transcribes a call (UUID, 20 ms slin frames, DTMF, hang-up) like the same audio from a file', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(2, 3), voices: ['awb'], leadMs: 400, gapsMs: [900], sampleRate: 8000 });
    const events: CallControlEvent[] = [];
    const { client, call, close } = await acceptSocket({ onEvent: (e) => events.push(e) });
    let heard: Promise<TranscriptEvent[]> | undefined;
    call.subscribe((t) => (heard = transcribeTrack(t, pool.engine)));
    const pcm = wavSamples(speech.path);
    const frames = [uuidFrame()];
    for (let i = 0; i < pcm.length; i += 160) frames.push(audioSocketFrame(AudioSocketKind.slin, le(pcm.subarray(i, i + 160))));
    frames.splice(40, 0, audioSocketFrame(AudioSocketKind.dtmf, Buffer.from('#')));
    frames.push(audioSocketFrame(AudioSocketKind.hangup));
    // One TCP stream, cut at arbitrary places: frames straddle the segments.
    const all = Buffer.concat(frames);
    for (let i = 0; i < all.length; i += 4097) await write(client, all.subarray(i, i + 4097));
    await lastValueFrom(call, { defaultValue: undefined });
    const info = call.info()!;
    expect(info).toMatchObject({ protocol: 'audiosocket', callId: UUID });
    expect(events).toEqual([{ type: 'dtmf', digit: '#' }]);
    const callFinals = await heard!;
    const fileFinals = await transcribeFile(speech.path, 8000, pool.engine);
    const w = expectLikeFile(expect, speech.text, callFinals, fileFinals);
    console.log(`audiosocket: WER call ${w.call}, file ${w.file}`);
    expect(call.stats()).toMatchObject({ frames: frames.length, malformed: 0, dtmf: 1 });
    await close();
  }, 180_000);

  it('reads every documented rate kind (0x11–0x18) and skips what it cannot use, counting it', async () => {
    const rates = [12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000];
    for (const [i, rate] of rates.entries()) {
      const { client, call, close } = await acceptSocket();
      const tracks = lastValueFrom(call.pipe(toArray()));
      const samples = Int16Array.from({ length: rate / 50 }, (_, k) => k - 100);
      await write(client, Buffer.concat([uuidFrame(), audioSocketFrame(0x11 + i, le(samples)), audioSocketFrame(AudioSocketKind.hangup)]));
      const [t] = await tracks;
      expect(t!.sampleRate).toBe(rate);
      expect(joinSamples(await lastValueFrom(t!.audio$.pipe(toArray())))).toEqual(samples);
      await close();
    }

    const { client, call, close } = await acceptSocket({ maxFrameBytes: 1000 });
    const tracks = lastValueFrom(call.pipe(toArray()));
    await write(
      client,
      Buffer.concat([
        audioSocketFrame(AudioSocketKind.slin, Buffer.alloc(320)), // audio before the UUID
        audioSocketFrame(AudioSocketKind.uuid, Buffer.alloc(5)), // a UUID of the wrong size
        uuidFrame(),
        audioSocketFrame(0x42, Buffer.alloc(10)), // an unknown kind
        audioSocketFrame(AudioSocketKind.dtmf, Buffer.from('!')), // not a DTMF digit
        audioSocketFrame(AudioSocketKind.slin, Buffer.alloc(2000)), // over maxFrameBytes: skipped by its length
        audioSocketFrame(AudioSocketKind.slin, Buffer.alloc(320, 1)),
        audioSocketFrame(0x12, Buffer.alloc(640)), // a second rate
        audioSocketFrame(AudioSocketKind.slin, Buffer.alloc(320, 1)),
      ]),
    );
    client.end();
    const [t] = await tracks;
    expect(joinSamples(await lastValueFrom(t!.audio$.pipe(toArray()))).length).toBe(320);
    expect(call.stats()).toMatchObject({ malformed: 6, oversized: 1, mediaFrames: 2 });
    await close();
  });

  it('ends with EARSHOT_PROTOCOL_ERROR on an Asterisk error frame, completes on 0x01 (the caller hung up)', async () => {
    const a = await acceptSocket();
    const outcome = lastValueFrom(a.call, { defaultValue: undefined }).catch((e: unknown) => e);
    await write(a.client, Buffer.concat([uuidFrame(), audioSocketFrame(AudioSocketKind.error, Buffer.from([0x04]))]));
    expect(await outcome).toMatchObject({ code: 'EARSHOT_PROTOCOL_ERROR', providerCode: '4' });
    await a.close();

    const b = await acceptSocket();
    const done = lastValueFrom(b.call, { defaultValue: undefined });
    await write(b.client, Buffer.concat([uuidFrame(), audioSocketFrame(AudioSocketKind.error, Buffer.from([0x01]))]));
    await expect(done).resolves.toBeUndefined();
    await b.close();
  });

  it('close() sends a hang-up frame (00 00 00) and ends the socket', async () => {
    const { client, call, close } = await acceptSocket();
    const got: Buffer[] = [];
    client.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    await write(client, uuidFrame());
    while (!call.info()) await new Promise((r) => setImmediate(r));
    call.close();
    await ended;
    expect(Buffer.concat(got)).toEqual(Buffer.from([0, 0, 0]));
    await close();
  });

  it('survives 3000 fuzzed frames: no throw, coded outcomes, audio bounded by the bytes sent', async () => {
    const rand = rng(99);
    const valid = [uuidFrame(), audioSocketFrame(AudioSocketKind.slin, Buffer.alloc(320, 5)), audioSocketFrame(AudioSocketKind.dtmf, Buffer.from('5')), audioSocketFrame(0x12, Buffer.alloc(640, 9))];
    for (let round = 0; round < 3; round++) {
      const { client, call, close } = await acceptSocket();
      let samples = 0;
      call.subscribe({ next: (t) => t.audio$.subscribe((c) => (samples += c.samples.length)), error: () => {} });
      const outcome = lastValueFrom(call, { defaultValue: undefined }).then(() => 'complete', (e: unknown) => (e as { code?: string }).code ?? 'uncoded');
      const frames: Buffer[] = [uuidFrame()];
      for (let i = 0; i < 1000; i++) {
        const f = valid[Math.floor(rand() * valid.length)]!;
        frames.push(rand() < 0.3 ? mutateBytes(f, rand) : f);
      }
      const all = Buffer.concat(frames);
      await write(client, all);
      client.end();
      expect(['complete', 'EARSHOT_PROTOCOL_ERROR']).toContain(await outcome);
      expect(samples).toBeLessThanOrEqual(all.length / 2);
      await close();
    }
  });
});
