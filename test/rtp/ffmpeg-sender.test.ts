/**
 * RTP end to end with real speech and the embedded engine:
 * - ffmpeg as a real RTP sender (`-re … -f rtp`) in PCMU, PCMA and Opus → fromRtp → transcribe(local()), compared
 *   with the same encoding transcribed from a file;
 * - reordered, lost and duplicated packets injected at known rates: word times stay within 100 ms.
 */
import { pathToFileURL } from 'node:url';
import { Subject, filter, lastValueFrom, mergeMap, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { local } from '../../src/transports/local.js';
import { payloadsFromSdp } from '../../src/rtp/codecs.js';
import { rtpStreams } from '../../src/sources/rtp.js';
import { joinContiguous, packetize, rng } from './fixtures.js';
import { encodeFile, ffmpegPcm, finalsOf, nearestWordDiffs, sendAndTranscribe, toFinals, transcribeFile, wordTimeDiffs, type SenderCodec } from './live.js';

// The engine's worker threads run compiled code (a worker thread cannot load .ts sources under vitest).
const engine = local({ workerUrl: pathToFileURL(built('src/engine/worker.js')) });
afterAll(() => engine.close());

const speech = makeSpeech({ sentences: SENTENCES.slice(0, 2), voices: ['slt'], leadMs: 300, gapsMs: [600] });

describe('RTP with real speech', () => {
  it('ffmpeg -re -f rtp in PCMU, PCMA, Opus: WER within 3 points of the file, word times within 100 ms', async () => {
    const codecs: SenderCodec[] = ['pcmu', 'pcma', 'opus'];
    const rates = { pcmu: 8000, pcma: 8000, opus: 48000 };
    const t0 = Date.now();
    const live = Promise.all(codecs.map((c) => sendAndTranscribe(speech.path, c, engine, c === 'opus' ? { 97: 'opus/48000/2' } : {})));
    const files = await Promise.all(codecs.map((c) => transcribeFile(encodeFile(speech.path, c), engine, rates[c])));
    const streams = await live;
    const rows = codecs.map((codec, i) => {
      const file = files[i]!;
      const rtp = streams[i]!;
      const diffs = wordTimeDiffs(file.words, rtp.words);
      return {
        codec,
        werFile: wer(speech.text, file.text),
        werRtp: wer(speech.text, rtp.text),
        seconds: rtp.frames / rtp.sampleRate,
        maxWordDiffMs: diffs.length ? Math.max(...diffs.map(Math.abs)) : Infinity,
        matched: diffs.length,
        words: file.words.length,
        stats: rtp.stats,
      };
    });
    console.log(`wall ${Date.now() - t0} ms for ${speech.durationMs} ms of speech: ${JSON.stringify(rows)}`);
    for (const [i, r] of rows.entries()) {
      expect(Math.abs(r.werRtp - r.werFile), r.codec).toBeLessThanOrEqual(0.03);
      expect(Math.abs(r.seconds * 1000 - speech.durationMs), r.codec).toBeLessThan(100);
      expect(r.matched, r.codec).toBeGreaterThanOrEqual(r.words * 0.9);
      expect(r.maxWordDiffMs, r.codec).toBeLessThanOrEqual(100);
      expect(r.stats, r.codec).toMatchObject({ lost: 0, malformed: 0, late: 0, decodeErrors: 0, streams: 1 });
      expect(r.stats.rtcp, r.codec).toBeGreaterThan(0); // ffmpeg's sender reports arrive on the same port, ignored
      if (r.codec !== 'opus') {
        // G.711 over RTP is lossless against the same file: every sample, at its place from the first packet.
        const got = joinContiguous(streams[i]!.audio);
        expect(got).toEqual(ffmpegPcm(encodeFile(speech.path, r.codec), 8000).subarray(0, got.length));
      }
    }
    expect(payloadsFromSdp(streams[2]!.sdp)).toEqual({ 97: 'opus/48000/2' });
  }, 300_000);

  it('keeps word times within 100 ms of the clean stream under 3 % loss, 10 % reordering, 3 % duplicates; counts each', async () => {
    const pcm = ffmpegPcm(speech.path, 16000);
    const packets = packetize(pcm, { codec: 'l16', frames: 320, payloadType: 96, ssrc: 0xc0ffee, seq0: 65000, ts0: 0xfffff000 });
    const rand = rng(11);
    const order: Array<{ at: number; i: number }> = [];
    let lost = 0;
    let duplicated = 0;
    packets.forEach((_, i) => {
      const r = i < 2 || i === packets.length - 1 ? 1 : rand();
      if (r < 0.03) return void lost++;
      const delayed = r < 0.13;
      order.push({ at: delayed ? i + 1.5 + Math.floor(rand() * 2) : i, i });
      if (rand() < 0.03) {
        duplicated++;
        order.push({ at: i + 0.7, i });
      }
    });
    order.sort((a, b) => a.at - b.at);
    const run = async (list: number[], conceal: 'silence' | 'repeat' = 'silence') => {
      const packets$ = new Subject<Uint8Array>();
      const source = rtpStreams(packets$, { payloads: { 96: 'L16/16000/1' }, conceal });
      const done = lastValueFrom(source.pipe(mergeMap((s) => s.audio$.pipe(toFinals(engine))), filter((e) => e.type === 'final'), toArray()));
      for (const i of list) packets$.next(packets[i]!);
      packets$.complete();
      return { ...finalsOf(await done), stats: source.stats() };
    };
    const impairedOrder = order.map((o) => o.i);
    const [clean, impaired, repeated] = await Promise.all([run(packets.map((_, i) => i)), run(impairedOrder), run(impairedOrder, 'repeat')]);
    // Loss punches 20 ms holes into speech, which costs this engine words (WER is reported, not asserted);
    // what must hold is time: every word both transcripts have sits where it sat in the clean stream.
    const diffs = nearestWordDiffs(clean.words, impaired.words);
    const repeatDiffs = nearestWordDiffs(clean.words, repeated.words);
    const report = { lost, duplicated, werClean: wer(speech.text, clean.text), werImpaired: wer(speech.text, impaired.text), werConcealRepeat: wer(speech.text, repeated.text), maxWordDiffRepeatMs: Math.max(...repeatDiffs.map(Math.abs)), matched: diffs.length, words: clean.words.length, maxWordDiffMs: Math.max(...diffs.map(Math.abs)), stats: impaired.stats };
    console.log(`impaired: ${JSON.stringify(report)}`);
    expect(impaired.stats).toMatchObject({ lost, duplicates: duplicated, late: 0, streams: 1 });
    expect(impaired.stats.concealedMs).toBe(lost * 20);
    expect(report.matched).toBeGreaterThanOrEqual(report.words * 0.7);
    expect(report.maxWordDiffMs).toBeLessThanOrEqual(100);
    expect(report.maxWordDiffRepeatMs).toBeLessThanOrEqual(100);
    expect(repeated.stats).toMatchObject({ lost, concealedMs: lost * 20 });
  }, 300_000);
});
