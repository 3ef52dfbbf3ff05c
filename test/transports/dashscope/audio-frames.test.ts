import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator/server.js';
import { AudioFrames } from '../../../src/transports/dashscope/audio-frames.js';
import { funAsrRealtime } from '../../../src/transports/dashscope/fun-asr-realtime.js';
import { qwenAsrRealtime } from '../../../src/transports/dashscope/qwen-asr-realtime.js';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { Transport } from '../../../src/transports/transport.js';
import { speechPcm } from '../../emulator/ws/helpers.js';
import { startTrafficProxy, type TrafficProxy } from '../../helpers/traffic-proxy.js';

const KEY = 'sk-test-frames-0001';
let emu: Emulator | undefined;
let proxy: TrafficProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await emu?.close();
  proxy = emu = undefined;
});

/** Write `pcm` to a stream of `transport` in pieces of `piece` samples. */
async function stream(transport: Transport, pcm: Int16Array, piece: number): Promise<{ events: TranscriptEvent[]; errors: Error[] }> {
  const events: TranscriptEvent[] = [];
  const errors: Error[] = [];
  const session = await transport.openStream!({ sampleRate: 16000, onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  for (let i = 0; i < pcm.length; i += piece) await session.write(pcm.subarray(i, Math.min(pcm.length, i + piece)));
  await session.end();
  return { events, errors };
}

describe('AudioFrames (§2.2, §5.2: ~100 ms frames)', () => {
  it('cuts big chunks into 3,200-byte frames at 16 kHz (1,600 at 8 kHz) and gathers small ones; the bytes are unchanged', () => {
    const pcm = Int16Array.from({ length: 40_000 }, (_, i) => i % 30_000);
    const frames = new AudioFrames(16000);
    expect(frames.frameBytes).toBe(3200);
    const out = [...frames.push(pcm.subarray(0, 32768)), ...frames.push(pcm.subarray(32768))];
    const rest = frames.flush();
    expect(out.map((b) => b.length)).toEqual(new Array(25).fill(3200));
    expect(rest).toBeUndefined();
    expect(Buffer.concat(out).equals(Buffer.from(pcm.buffer))).toBe(true);
    const rtp = new AudioFrames(8000);
    const sent: Buffer[] = [];
    for (let i = 0; i < 8480; i += 160) {
      const got = rtp.push(pcm.subarray(i, i + 160));
      // A frame goes out as soon as it is full: never more than one frame is held back.
      expect(got.length).toBe((i + 160) % 800 === 0 ? 1 : 0);
      sent.push(...got);
    }
    expect(sent.map((b) => b.length)).toEqual(new Array(10).fill(1600));
    expect(rtp.flush()!.length).toBe(960);
    expect(rtp.flush()).toBeUndefined();
  });
});

describe('realtime transports send ~100 ms frames whatever the upstream chunks', () => {
  const SPEECH = speechPcm(['the weather will be cold and windy tomorrow morning'], { gapMs: 900 });

  it('fun-asr-realtime: 64 KiB chunks and 20 ms RTP-sized chunks both go out as 3,200-byte binary frames (the last shorter), accepted by the emulator', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }] });
    proxy = await startTrafficProxy(emu.url);
    const transport = funAsrRealtime({ apiKey: KEY, baseUrl: proxy.url, maxSentenceSilence: 400 });
    for (const piece of [32768, 320]) {
      proxy.records.length = 0;
      const { events, errors } = await stream(transport, SPEECH, piece);
      expect(errors).toEqual([]);
      expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['the weather will be cold']);
      const sizes = proxy.records.filter((r) => r.kind === 'ws-out' && r.binary).map((r) => r.bytes);
      expect(sizes.slice(0, -1).every((n) => n === 3200)).toBe(true);
      expect(sizes.at(-1)).toBeLessThanOrEqual(3200);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(SPEECH.byteLength);
    }
  });

  it('qwen3-asr-flash-realtime: appends of 3,200 bytes of audio (the last shorter), from 64 KiB chunks', async () => {
    emu = await startEmulator({ apiKeys: [KEY], script: [{ text: 'the weather will be cold' }] });
    proxy = await startTrafficProxy(emu.url);
    const { events, errors } = await stream(qwenAsrRealtime({ apiKey: KEY, baseUrl: proxy.url, silenceDurationMs: 400 }), SPEECH, 32768);
    expect(errors).toEqual([]);
    expect(events.filter((e) => e.type === 'final').map((e) => e.text)).toEqual(['the weather will be cold']);
    const appends = proxy.records.filter((r) => r.event === 'input_audio_buffer.append').map((r) => r.audioBytes!);
    expect(appends.slice(0, -1).every((n) => n === 3200)).toBe(true);
    expect(appends.reduce((a, b) => a + b, 0)).toBe(SPEECH.byteLength);
  });
});
