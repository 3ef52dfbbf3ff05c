/** examples/media-server.ts run as a user would: two participants send RTP with ffmpeg, captions come out per SSRC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { built } from '../helpers/dist.js';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { senderArgs, type SenderCodec } from './live.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function waitFor(read: () => string, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = read().match(pattern);
      if (m) {
        clearInterval(t);
        resolve(m);
      } else if (Date.now() > deadline) {
        clearInterval(t);
        reject(new Error(`no ${pattern} in:\n${read()}`));
      }
    }, 20);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

describe('examples/media-server', () => {
  it('captions two participants (PCMU and Opus) to the console and one WebVTT each, and stops cleanly on SIGINT', async () => {
    const example = built('examples/media-server.js');
    const out = mkdtempSync(join(tmpdir(), 'earshot-media-'));
    const a = makeSpeech({ sentences: SENTENCES.slice(4, 6), voices: ['slt'], leadMs: 300 });
    const b = makeSpeech({ sentences: SENTENCES.slice(6, 8), voices: ['rms'], leadMs: 300 });
    const server = spawn(process.execPath, [example, 'rtp://127.0.0.1:0?codec=opus', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let stdout = '';
    let stderr = '';
    server.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const port = Number((await waitFor(() => stderr, /listening for RTP on 127\.0\.0\.1:(\d+)/, 20_000))[1]);

    const send = (path: string, codec: SenderCodec): ChildProcess => {
      const c = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', path, ...senderArgs(codec), '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=172`], { stdio: 'ignore' });
      children.push(c);
      return c;
    };
    await Promise.all([exited(send(a.path, 'pcmu')), exited(send(b.path, 'opus'))]);
    // Both go idle; each participant's track ends after the idle timeout and its last captions (the engine may be
    // slow on a loaded machine), then Ctrl-C.
    await waitFor(() => stderr, /left:[\s\S]*left:/, 150_000);
    server.kill('SIGINT');
    expect(await exited(server)).toBe(0);

    const joined = [...stderr.matchAll(/\+ (ssrc-0x[0-9a-f]{8}) joined \((\w+), (\d+) Hz\)/g)].map((m) => [m[1]!, m[2]!, Number(m[3])] as const);
    expect(joined.map(([, codec, rate]) => `${codec}/${rate}`).sort()).toEqual(['opus/48000', 'pcmu/8000']);
    const textOf = (name: string): string => stdout.split('\n').filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2)).join(' ');
    const byCodec = Object.fromEntries(joined.map(([name, codec]) => [codec, name]));
    const werPcmu = wer(a.text, textOf(byCodec.pcmu!));
    const werOpus = wer(b.text, textOf(byCodec.opus!));
    console.log(`media-server example: WER pcmu ${werPcmu}, opus ${werOpus}`);
    expect(werPcmu).toBeLessThanOrEqual(0.6); // 8 kHz narrowband is hard for this wideband model: ~0.4 from a file too
    expect(werOpus).toBeLessThanOrEqual(0.3);

    const files = readdirSync(out).sort();
    expect(files).toEqual(joined.map(([name]) => `${name}.vtt`).sort());
    for (const f of files) {
      const vtt = readFileSync(join(out, f), 'utf8');
      expect(vtt.startsWith('WEBVTT')).toBe(true);
      expect(vtt).toMatch(/\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d/);
      expect(vtt).toContain(`<v ${f.replace('.vtt', '')}>`);
    }
    expect(stderr).toMatch(/stopped: \{"received":\d+/);
  }, 300_000);
});
