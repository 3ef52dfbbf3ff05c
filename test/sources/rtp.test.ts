import { createSocket, type Socket } from 'node:dgram';
import { Subject, firstValueFrom, lastValueFrom, mergeMap, toArray, map, EMPTY } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../src/core/types.js';
import { codecPayloads, fromRtp, parseRtpUrl, rtpStreams, type RtpStream } from '../../src/sources/rtp.js';
import { joinContiguous, packetize, rng, testSignal } from '../rtp/fixtures.js';

const INVALID = expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' });

function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (check()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(t);
        reject(new Error('condition not met in time'));
      }
    }, 5);
  });
}

function bindUdp(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

describe('rtpStreams', () => {
  it('emits one stream per SSRC with its audio, and completes them when the packets complete', async () => {
    const packets$ = new Subject<Uint8Array>();
    const source = rtpStreams(packets$);
    const result = lastValueFrom(source.pipe(mergeMap((s) => s.audio$.pipe(toArray(), map((chunks) => ({ s, chunks })))), toArray()));
    const pcm = testSignal(1600);
    const a = packetize(pcm, { ssrc: 1 });
    const b = packetize(pcm, { ssrc: 2, codec: 'pcma' });
    a.forEach((p, i) => {
      packets$.next(p);
      packets$.next(b[i]!);
    });
    packets$.complete();
    const streams = await result;
    expect(streams.map((x) => [x.s.ssrc, x.s.codec, joinContiguous(x.chunks).length])).toEqual([[1, 'pcmu', 1600], [2, 'pcma', 1600]]);
    expect(source.stats()).toMatchObject({ datagrams: 20, decoded: 20, streams: 2, activeStreams: 0 });
  });

  it('completes at once on empty input', async () => {
    expect(await lastValueFrom(rtpStreams(EMPTY).pipe(toArray()))).toEqual([]);
  });

  it('errors every open stream and the outer Observable when the packets error', async () => {
    const packets$ = new Subject<Uint8Array>();
    let streamError: unknown;
    const outer = firstValueFrom(rtpStreams(packets$).pipe(mergeMap((s) => s.audio$), toArray())).catch((e: unknown) => e);
    rtpStreams(packets$).subscribe({ next: (s) => s.audio$.subscribe({ error: (e: unknown) => (streamError = e) }), error: () => {} });
    for (const p of packetize(testSignal(800))) packets$.next(p);
    const boom = new Error('socket gone');
    packets$.error(boom);
    expect(await outer).toBe(boom);
    expect(streamError).toBe(boom);
  });

  it('stops on early unsubscribe: its streams complete and later packets are ignored', () => {
    const packets$ = new Subject<Uint8Array>();
    const source = rtpStreams(packets$);
    const got: AudioChunk[] = [];
    let completed = false;
    const sub = source.subscribe((s) => s.audio$.subscribe({ next: (c) => got.push(c), complete: () => (completed = true) }));
    const pkts = packetize(testSignal(1600));
    pkts.slice(0, 5).forEach((p) => packets$.next(p));
    sub.unsubscribe();
    pkts.slice(5).forEach((p) => packets$.next(p));
    expect(completed).toBe(true);
    expect(got).toHaveLength(5);
    expect(packets$.observed).toBe(false);
    expect(source.stats().datagrams).toBe(5);
  });

  it('rejects a non-Observable and bad options when built', () => {
    expect(() => rtpStreams(undefined as never)).toThrow(INVALID);
    expect(() => rtpStreams(EMPTY, { payloads: { 300: 'pcmu' } })).toThrow(INVALID);
  });
});

describe('fromRtp', () => {
  it('receives RTP over UDP and closes its socket on unsubscribe', async () => {
    let port = 0;
    const streams: RtpStream[] = [];
    const chunks: AudioChunk[] = [];
    const source = fromRtp({ port: 0, onListening: (a) => (port = a.port) });
    const sub = source.subscribe((s) => {
      streams.push(s);
      s.audio$.subscribe((c) => chunks.push(c));
    });
    await until(() => port > 0);
    const sender = await bindUdp();
    const pcm = testSignal(1600);
    for (const p of packetize(pcm, { ssrc: 99 })) sender.send(p, port, '127.0.0.1');
    sender.send(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 99]), port, '127.0.0.1'); // RTCP on the same port
    await until(() => source.stats().rtcp === 1 && chunks.length === 10);
    expect(streams.map((s) => s.ssrc)).toEqual([99]);
    expect(joinContiguous(chunks).length).toBe(1600);
    sub.unsubscribe();
    // The port is free again.
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(port, '127.0.0.1', () => resolve());
    });
    again.close();
    sender.close();
  });

  it('survives a UDP flood of random and valid datagrams with bounded streams and counters for what it dropped', async () => {
    let port = 0;
    let errored: unknown;
    const source = fromRtp({ port: 0, maxStreams: 8, onListening: (a) => (port = a.port) });
    const sub = source.subscribe({ next: (s) => s.audio$.subscribe(() => {}), error: (e: unknown) => (errored = e) });
    await until(() => port > 0);
    const sender = await bindUdp();
    const rand = rng(5);
    let sent = 0;
    let done = 0;
    for (let burst = 0; burst < 40; burst++) {
      for (let i = 0; i < 500; i++, sent++) {
        let pkt: Buffer;
        if (i % 2 === 0) {
          pkt = Buffer.alloc(1 + Math.floor(rand() * 300));
          for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rand() * 256);
        } else {
          // valid PCMU from 50 sources, in sequence: more sources than maxStreams
          const k = burst * 250 + (i >> 1);
          pkt = packetize(testSignal(160), { ssrc: 1000 + (k % 50), seq0: Math.floor(k / 50), ts0: Math.floor(k / 50) * 160 })[0]!;
        }
        sender.send(pkt, port, '127.0.0.1', () => done++);
      }
      await new Promise((r) => setImmediate(r));
    }
    await until(() => done === sent, 10_000);
    let last = -1;
    await until(() => {
      const n = source.stats().datagrams;
      const settled = n === last && n > 0; // nothing new for one poll: the socket has drained
      last = n;
      return settled;
    }, 10_000);
    const st = source.stats();
    sub.unsubscribe();
    sender.close();
    expect(errored).toBeUndefined();
    expect(st.datagrams).toBeGreaterThan(1000); // the kernel drops much of a flood this fast; what arrives is handled
    expect(st.activeStreams).toBeLessThanOrEqual(8);
    expect(st.droppedOverflow).toBeGreaterThan(0);
    expect(st.malformed + st.unsupported + st.rtcp + st.probationDropped).toBeGreaterThan(0);
  });

  it('errors with EARSHOT_RTP_FAILED when the port is taken', async () => {
    const taken = await bindUdp();
    const err = await lastValueFrom(fromRtp({ port: taken.address().port })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EARSHOT_RTP_FAILED', name: 'InputError' });
    taken.close();
  });

  it('rejects bad options when built', () => {
    expect(() => fromRtp({ port: -1 })).toThrow(INVALID);
    expect(() => fromRtp({ port: 70000 })).toThrow(INVALID);
    expect(() => fromRtp({ port: 5004, host: 'localhost' })).toThrow(INVALID);
    expect(() => fromRtp({ port: 5004, payloads: { 97: 'g722' } })).toThrow(INVALID);
    expect(() => fromRtp(undefined as never)).toThrow(INVALID);
  });
});

describe('parseRtpUrl and codecPayloads (the CLI)', () => {
  it('turn rtp://host:port and --codec into fromRtp options', () => {
    expect(parseRtpUrl('rtp://127.0.0.1:5004')).toEqual({ host: '127.0.0.1', port: 5004 });
    const opus = parseRtpUrl('rtp://0.0.0.0:6000', { codec: 'opus' });
    expect(opus.payloads?.[97]).toBe('opus/48000/2');
    expect(Object.keys(opus.payloads!)).toHaveLength(32);
    expect(parseRtpUrl('rtp://[::1]:5004?codec=opus&pt=111&opusRate=16000')).toEqual({ host: '::1', port: 5004, payloads: { 111: 'opus/48000/2' }, opusSampleRate: 16000 });
    expect(parseRtpUrl('rtp://127.0.0.1:5004?codec=l16&rate=48000&pt=96').payloads).toEqual({ 96: 'l16/48000/1' });
    expect(codecPayloads('l16')[100]).toBe('l16/16000/1');
    expect(codecPayloads('pcmu', 0)).toEqual({ 0: 'pcmu/8000/1' });
  });

  it.each(['http://127.0.0.1:5004', 'rtp://127.0.0.1', 'rtp://example.com:5004', 'not a url', 'rtp://127.0.0.1:5004?pt=97'])('rejects %s', (url) => {
    expect(() => parseRtpUrl(url)).toThrow(INVALID);
  });

  it('rejects an unknown --codec', () => {
    expect(() => parseRtpUrl('rtp://127.0.0.1:5004', { codec: 'g729' })).toThrow(INVALID);
  });
});
