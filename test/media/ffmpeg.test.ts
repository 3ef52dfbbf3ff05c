import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { lastValueFrom } from 'rxjs';
import { probeDurationMs, runFfmpegTool, transcodeFile } from '../../src/media/ffmpeg.js';
import { decode } from '../../src/operators/decode.js';
import { fromFile } from '../../src/sources/file.js';
import { makeSpeech, SENTENCES } from '../helpers/speech.js';

const DIR = resolve(process.cwd(), '.tmp/test-ffmpeg/hidden-dir');
mkdirSync(DIR, { recursive: true });

describe('media/ffmpeg tools', () => {
  it('re-encodes a file and probes its duration (real ffmpeg and ffprobe)', async () => {
    const sp = makeSpeech({ sentences: SENTENCES.slice(0, 1) });
    const out = join(DIR, 'small.ogg');
    await transcodeFile(sp.path, out, ['-ac', '1', '-ar', '16000', '-c:a', 'libopus', '-b:a', '24k']);
    expect(readFileSync(out).subarray(0, 4).toString('latin1')).toBe('OggS');
    expect(Math.abs((await probeDurationMs(out)) - sp.durationMs)).toBeLessThan(100);
  });

  it('classifies failures once: missing program, corrupt input, named by the path given', async () => {
    await expect(runFfmpegTool(join(DIR, 'no-such-ffprobe'), ['-v', 'error'], { path: 'x', action: 'read' })).rejects.toMatchObject({
      code: 'EARSHOT_FFMPEG_MISSING',
      message: expect.stringContaining('cannot run no-such-ffprobe'),
    });
    const junk = join(DIR, 'junk.mp3');
    writeFileSync(junk, 'not audio, only words '.repeat(50));
    for (const run of [() => probeDurationMs(junk), () => transcodeFile(junk, join(DIR, 'out.ogg'), ['-c:a', 'libopus'])]) {
      const err = await run().then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; details: unknown },
      );
      expect(err?.code).toBe('EARSHOT_CORRUPT_INPUT');
      expect(err!.message).toContain(`could not ${err!.message.includes('re-encode') ? 're-encode' : 'read'} ${junk}: not audio, or damaged: `);
    }
  });

  it('a video without sound is said to have no audio stream, not to be in a format ffmpeg cannot decode', async () => {
    const video = join(DIR, 'silent-video.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=5', '-t', '1', video]);
    await expect(lastValueFrom(fromFile(video).pipe(decode()))).rejects.toMatchObject({
      code: 'EARSHOT_UNSUPPORTED_FORMAT',
      message: expect.stringMatching(/^ffmpeg could not decode .*silent-video\.mp4: it has no audio stream/),
    });
  });

  it('kills the tool and rejects with EARSHOT_ABORTED on abort', async () => {
    const controller = new AbortController();
    // ffmpeg reading an endless generated input never ends on its own.
    const run = runFfmpegTool('ffmpeg', ['-hide_banner', '-nostdin', '-f', 'lavfi', '-i', 'anoisesrc', '-f', 'null', '-'], { path: 'anoisesrc', action: 'encode', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(run).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
    const aborted = AbortSignal.abort();
    await expect(runFfmpegTool('ffmpeg', ['-version'], { path: 'x', action: 'run', signal: aborted })).rejects.toMatchObject({ code: 'EARSHOT_ABORTED' });
  });
});
