import { afterEach, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { fromMic, defaultMicCommand } from '../../src/sources/mic.js';
import { makeSpeech, wer } from '../helpers/speech.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { funAsrRealtime } from '../../src/transports/dashscope/fun-asr-realtime.js';
import { transcribeRealtime } from '../../src/operators/transcribe-realtime.js';
import { until } from '../emulator/ws/helpers.js';

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const speech = () => makeSpeech({ sentences: ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon'], leadMs: 300, gapsMs: [800] });
const substitute = (path: string, realtime = true) => ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', ...(realtime ? ['-re'] : []), '-i', path, '-f', 's16le', '-ar', '16000', '-ac', '1', '-'];

describe('fromMic', () => {
  it('captures from a substitute command: 100 ms mono chunks with contiguous offsets, completes when it exits', async () => {
    const file = speech();
    const chunks = await lastValueFrom(fromMic({ command: substitute(file.path, false) }).pipe(toArray()));
    expect(chunks.length).toBeGreaterThan(10);
    let offset = 0;
    for (const c of chunks.slice(0, -1)) {
      expect(c).toMatchObject({ kind: 'audio', sampleRate: 16000, channels: 1, offset });
      expect(c.samples.length).toBe(1600);
      expect(c.flow).toBeUndefined();
      offset += c.samples.length;
    }
    const frames = chunks.reduce((n, c) => n + c.samples.length, 0);
    expect(Math.abs((frames / 16) - file.durationMs)).toBeLessThan(20);
  });

  it('feeds real-time speech through transcribeRealtime to the emulator (scripted), partials before finals', async () => {
    const file = speech();
    emu = await startEmulator({ script: [{ text: 'the weather will be cold and windy tomorrow morning' }, { text: 'please send the report to my office before noon' }] });
    const events = await lastValueFrom(fromMic({ command: substitute(file.path) }).pipe(transcribeRealtime(funAsrRealtime({ apiKey: 'sk-mic', baseUrl: emu.url, maxSentenceSilence: 400 })), toArray()));
    expect(events[0]!.type).toBe('partial');
    expect(wer(file.text, events.filter((e) => e.type === 'final').map((e) => e.text).join(' '))).toBe(0);
  }, 20_000);

  it('fails with EARSHOT_MIC_FAILED for a missing program, an error exit, or no audio', async () => {
    await expect(lastValueFrom(fromMic({ command: ['/nonexistent/arecord-x'] }))).rejects.toMatchObject({ code: 'EARSHOT_MIC_FAILED', message: expect.stringMatching(/not found/) });
    await expect(lastValueFrom(fromMic({ command: ['sh', '-c', 'echo "no such device: hw:9" >&2; exit 3'] }))).rejects.toMatchObject({ code: 'EARSHOT_MIC_FAILED', message: expect.stringMatching(/code 3: no such device/) });
    await expect(lastValueFrom(fromMic({ command: ['sleep', '5'], startTimeoutMs: 100 }))).rejects.toMatchObject({ code: 'EARSHOT_MIC_FAILED', message: expect.stringMatching(/no audio/) });
    await expect(lastValueFrom(fromMic({ command: ['true'] }).pipe(toArray()))).resolves.toEqual([]);
    expect(() => fromMic({ chunkMs: 0 })).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });

  it('stops the capture process on unsubscribe', async () => {
    const file = speech();
    const got: number[] = [];
    const sub = fromMic({ command: ['sh', '-c', `echo $$ >&2; exec ${substitute(file.path).join(' ')}`] }).subscribe((c) => got.push(c.offset));
    await until(() => got.length >= 2, 5000, 'audio');
    sub.unsubscribe();
    const { execFileSync } = await import('node:child_process');
    await until(() => !execFileSync('ps', ['-eo', 'args']).toString().includes(file.path), 5000, 'process gone');
  });

  it('stops cleanly on its signal: every sample delivered, the last partial chunk included, then complete (issue 19)', async () => {
    // 1.4 chunks of audio at once, then a capture that would go on (like a microphone when Ctrl-C comes).
    const stop = new AbortController();
    const chunks: Array<{ samples: Int16Array; offset: number }> = [];
    const done = new Promise<void>((resolve, reject) =>
      fromMic({ command: ['sh', '-c', 'head -c 4468 /dev/urandom; exec sleep 30'], signal: stop.signal }).subscribe({ next: (c) => chunks.push(c), error: reject, complete: resolve }),
    );
    await until(() => chunks.length >= 1, 5000, 'first chunk');
    // The rest of the 4468 bytes came in the same pipe write; give the reader a moment, then stop.
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop.abort();
    await done;
    expect(chunks.map((c) => c.samples.length)).toEqual([1600, 634]);
    expect(chunks[1]!.offset).toBe(1600);
    // Already aborted: nothing captured, a clean end.
    await expect(lastValueFrom(fromMic({ command: ['sleep', '30'], signal: stop.signal }).pipe(toArray()))).resolves.toEqual([]);
  });

  it('picks arecord, then ffmpeg with PulseAudio or ALSA on Linux; AVFoundation on macOS', () => {
    expect(defaultMicCommand({}, 'linux', (n) => n === 'arecord')[0]).toBe('arecord');
    expect(defaultMicCommand({ device: 'hw:1,0' }, 'linux', (n) => n === 'arecord')).toContain('hw:1,0');
    expect(defaultMicCommand({}, 'linux', (n) => n === 'pactl')).toEqual(expect.arrayContaining(['ffmpeg', 'pulse']));
    expect(defaultMicCommand({}, 'linux', () => false)).toEqual(expect.arrayContaining(['ffmpeg', 'alsa']));
    expect(defaultMicCommand({}, 'darwin', () => false)).toEqual(expect.arrayContaining(['avfoundation']));
    expect(() => defaultMicCommand({}, 'win32', () => false)).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
