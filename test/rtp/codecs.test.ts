import { execFileSync } from 'node:child_process';
import OpusScript from 'opusscript';
import { describe, expect, it } from 'vitest';
import {
  ALAW_TABLE, ULAW_TABLE, createPayloadDecoder, linearToAlaw, linearToUlaw, parsePayloadMapping, payloadsFromSdp, resolvePayloads,
} from '../../src/rtp/codecs.js';
import { testSignal } from './fixtures.js';

function ffmpeg(args: string[], input: Buffer): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { input, maxBuffer: 1 << 26 });
}

describe('G.711 tables', () => {
  it('decode the reference values of ITU-T G.711', () => {
    expect([ULAW_TABLE[0xff], ULAW_TABLE[0x7f], ULAW_TABLE[0x00], ULAW_TABLE[0x80]]).toEqual([0, 0, -32124, 32124]);
    expect([ALAW_TABLE[0xd5], ALAW_TABLE[0x55], ALAW_TABLE[0xaa], ALAW_TABLE[0x2a]]).toEqual([8, -8, 32256, -32256]);
  });

  it.each([
    ['pcm_mulaw', 'mulaw', ULAW_TABLE, linearToUlaw],
    ['pcm_alaw', 'alaw', ALAW_TABLE, linearToAlaw],
  ] as const)('decode like ffmpeg %s byte for byte; encode within one quantization step of it', (codec, fmt, table, encode) => {
    const pcm = testSignal(8000);
    const s16 = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    const encoded = ffmpeg(['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-c:a', codec, '-f', fmt, 'pipe:1'], s16);
    // ffmpeg rounds to the nearest code, the G.711 reference truncates: codes may differ by one step at boundaries.
    let same = 0;
    for (let i = 0; i < pcm.length; i++) {
      const mine = encode(pcm[i]!);
      if (mine === encoded[i]) same++;
      else expect(Math.abs(table[mine]! - pcm[i]!)).toBeLessThanOrEqual(Math.abs(table[encoded[i]!]! - pcm[i]!) * 2 + 64);
    }
    expect(same / pcm.length).toBeGreaterThan(0.95);
    const decoded = ffmpeg(['-f', fmt, '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], encoded);
    const mine = Int16Array.from(encoded, (b) => table[b]!);
    expect(Buffer.from(mine.buffer)).toEqual(decoded);
  });
});

describe('createPayloadDecoder', () => {
  it('decodes L16 big-endian and averages stereo to mono', () => {
    const mono = createPayloadDecoder(parsePayloadMapping('L16/16000/1'));
    expect(mono.sampleRate).toBe(16000);
    expect([...mono.decode(Uint8Array.of(0x7f, 0xff, 0x80, 0x00, 0xff, 0xfe))!]).toEqual([32767, -32768, -2]);
    const stereo = createPayloadDecoder(parsePayloadMapping('L16/44100/2'));
    expect([...stereo.decode(Uint8Array.of(0, 100, 0, 200, 0xff, 0xfe, 0, 4, 0))!]).toEqual([150, 1]);
  });

  it('returns null for an empty payload instead of throwing', () => {
    for (const m of ['pcmu', 'pcma', 'l16', 'opus']) {
      const d = createPayloadDecoder(parsePayloadMapping(m));
      expect(d.decode(new Uint8Array(0))).toBeNull();
      d.close();
    }
  });

  it('decodes Opus to 48 kHz or straight to 16 kHz, and rejects garbage and oversize packets', () => {
    const enc = new OpusScript(48000, 1, OpusScript.Application.AUDIO);
    const tone = new Int16Array(960);
    for (let i = 0; i < 960; i++) tone[i] = Math.round(6000 * Math.sin(i / 8));
    const packet = enc.encode(Buffer.from(tone.buffer), 960);
    enc.delete();
    const d48 = createPayloadDecoder(parsePayloadMapping('opus/48000/2'));
    const d16 = createPayloadDecoder(parsePayloadMapping('opus/48000/2'), { opusSampleRate: 16000 });
    expect(d48.sampleRate).toBe(48000);
    expect(d48.decode(packet)!.length).toBe(960);
    expect(d16.sampleRate).toBe(16000);
    expect(d16.decode(packet)!.length).toBe(320);
    expect(d16.decode(Uint8Array.of(0xff, 0xff, 0xff))).toBeNull();
    expect(d16.decode(new Uint8Array(5000))).toBeNull();
    d48.close();
    d16.close();
    d16.close();
    expect(d16.decode(packet)).toBeNull();
  });

  it('rejects an Opus rate other than 16000 or 48000', () => {
    expect(() => createPayloadDecoder(parsePayloadMapping('opus'), { opusSampleRate: 24000 as 16000 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});

describe('payload mappings', () => {
  it('parse codec names, rtpmap strings and objects with defaults', () => {
    expect(parsePayloadMapping('PCMU')).toEqual({ codec: 'pcmu', clockRate: 8000, channels: 1 });
    expect(parsePayloadMapping('opus/48000/2')).toEqual({ codec: 'opus', clockRate: 48000, channels: 2 });
    expect(parsePayloadMapping({ codec: 'l16', clockRate: 16000 })).toEqual({ codec: 'l16', clockRate: 16000, channels: 1 });
  });

  it.each(['g729', 'opus/16000/1', 'L16/abc', 'pcmu/8000/0', ''])('reject %j with EARSHOT_INVALID_ARGUMENT', (m) => {
    expect(() => parsePayloadMapping(m)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('overlay dynamic types on the RFC 3551 static ones', () => {
    const t = resolvePayloads({ 97: 'opus/48000/2', 0: 'pcma' });
    expect(t.get(97)?.codec).toBe('opus');
    expect(t.get(0)?.codec).toBe('pcma');
    expect(t.get(8)?.codec).toBe('pcma');
    expect(t.get(11)).toEqual({ codec: 'l16', clockRate: 44100, channels: 1 });
    expect(() => resolvePayloads({ 128: 'pcmu' })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('read the audio formats from an SDP such as ffmpeg prints', () => {
    const sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 97 0 101\r\nb=AS:64\r\na=rtpmap:97 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\nm=video 5006 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n';
    expect(payloadsFromSdp(sdp)).toEqual({ 0: 'pcmu/8000/1', 97: 'opus/48000/2' });
  });
});
