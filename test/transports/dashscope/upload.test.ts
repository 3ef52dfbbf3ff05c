import { writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EarshotError } from '../../../src/core/errors.js';
import { DashScopeHttp } from '../../../src/transports/dashscope/http.js';
import { checkFileLimits, encodeWav, resolveSource, uploadFile } from '../../../src/transports/dashscope/upload.js';
import { CACHE_DIR, makeSpeech, SENTENCES } from '../../helpers/speech.js';
import { KEY, startHarness, type Harness } from '../../emulator/http/harness.js';

let h: Harness | undefined;
let stop: (() => void) | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  stop?.();
  stop = undefined;
});

describe('upload', () => {
  it('uploads to the emulated storage and returns an oss:// URL under the policy directory', async () => {
    h = await startHarness({});
    const http = new DashScopeHttp({ apiKey: KEY });
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 1) });
    const url = await uploadFile(http, `${h.url}/api/v1`, 'fun-asr', speech.path);
    expect(url).toMatch(/^oss:\/\/dashscope-instant\/[0-9a-f]{32}\/\d{4}-\d\d-\d\d\/[0-9a-f]{12}\/speech-[0-9a-f]+\.wav$/);
    const { stateOf } = await import('../../../src/emulator/http/state.js');
    expect(stateOf(h.ctx).objects.get(url.slice(6))?.model).toBe('fun-asr');
    expect(await resolveSource(http, `${h.url}/api/v1`, 'fun-asr', 'https://example.com/a.mp3')).toEqual({ url: 'https://example.com/a.mp3', oss: false });
    await http.close();
  });

  it('re-encodes a file over the policy size to 16 kHz Opus before uploading', async () => {
    const got: { name: string; size: number }[] = [];
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/uploads')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ request_id: 'r', data: { policy: 'p', signature: 's', upload_dir: 'dir', upload_host: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oss`, expire_in_seconds: 300, max_file_size_mb: 1, oss_access_key_id: 'id', x_oss_object_acl: 'private', x_oss_forbid_overwrite: 'true' } }));
        return;
      }
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        void new Response(new Uint8Array(Buffer.concat(parts)), { headers: { 'content-type': req.headers['content-type']! } }).formData().then((form) => {
          const file = form.get('file') as File;
          got.push({ name: String(form.get('key')), size: file.size });
          res.writeHead(200).end();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stop = () => server.close();
    const speech = makeSpeech({ sentences: SENTENCES, voices: ['rms'], gapsMs: [1500] });
    expect(speech.durationMs * 32).toBeGreaterThan(1024 * 1024);
    const http = new DashScopeHttp({ apiKey: KEY });
    const url = await uploadFile(http, `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`, 'fun-asr', speech.path);
    await http.close();
    expect(url).toMatch(/\.ogg$/);
    expect(got).toHaveLength(1);
    expect(got[0]!.size).toBeLessThan(1024 * 1024);
  });

  it('checks files before sending: missing, unreadable', async () => {
    await expect(checkFileLimits('/nonexistent/file.wav')).rejects.toMatchObject({ code: 'EARSHOT_FILE_NOT_FOUND' });
    mkdirSync(CACHE_DIR, { recursive: true });
    const junk = join(CACHE_DIR, 'junk.bin');
    writeFileSync(junk, 'this is not audio at all');
    // ffprobe's failure goes through the one ffmpeg classification (media/ffmpeg.ts): not media at all is corrupt input
    const err = await checkFileLimits(junk).catch((e: unknown) => e as EarshotError);
    // The path is shown as it was given (issue 19: a user must see which file), nothing else of the machine's.
    expect(err).toMatchObject({ code: 'EARSHOT_CORRUPT_INPUT', message: expect.stringContaining(`ffprobe could not read ${junk}`) });
    const ok = await checkFileLimits(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path);
    expect(ok.durationMs).toBeGreaterThan(1000);
  });

  it('encodes mono PCM as a WAV file', () => {
    const wav = encodeWav(Int16Array.from([1, -2, 3]), 8000);
    expect(wav.length).toBe(50);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(24)).toBe(8000);
    expect(wav.readInt16LE(46)).toBe(-2);
  });
});
