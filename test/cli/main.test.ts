/**
 * The real `earshot` binary (dist/, built by `npm test`), spawned as a user would, on real audio with the
 * embedded engine.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSpeech, SENTENCES, wer } from '../helpers/speech.js';
import { ROOT } from '../helpers/dist.js';
import { runCli as run, spawnCli } from '../helpers/cli.js';
import { parseVtt } from '../sinks/parse-captions.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-cli-'));

describe('earshot transcribe', () => {
  it('prints the text of the bundled sample and writes SRT, WebVTT and JSONL', async () => {
    const srt = join(dir, 'a.srt');
    const vtt = join(dir, 'a.vtt');
    const jsonl = join(dir, 'a.jsonl');
    const r = await run(['transcribe', 'samples/sample.wav', '--srt', srt, '--vtt', vtt, '--jsonl', jsonl]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const reference = readFileSync(join(ROOT, 'samples/sample.txt'), 'utf8');
    expect(wer(reference, r.stdout)).toBeLessThanOrEqual(0.2);
    expect(readFileSync(srt, 'utf8')).toMatch(/^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n/);
    expect(readFileSync(vtt, 'utf8')).toMatch(/^WEBVTT\n/);
    const events = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; text: string; startMs: number; endMs: number });
    expect(events.filter((e) => e.type === 'final').length).toBeGreaterThan(0);
    for (const e of events) expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
  });

  it('transcribes an mp3 in near-realtime mode with the same words', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(0, 3), voices: ['slt', 'rms'], leadMs: 400, gapsMs: [700], format: 'mp3' });
    const r = await run(['transcribe', speech.path, '--mode', 'near-realtime', '--window', '5s']);
    expect(r.code).toBe(0);
    expect(wer(speech.text, r.stdout)).toBeLessThanOrEqual(0.15);
  });

  it('ends a missing file with a one-line coded error and exit code 1', async () => {
    const r = await run(['transcribe', join(dir, 'nope.mp3')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^EARSHOT_FILE_NOT_FOUND: /);
  });

  it('ends text renamed .wav with a coded error, no hang', async () => {
    const fake = join(dir, 'notes.wav');
    writeFileSync(fake, 'these are my meeting notes, not audio at all\n'.repeat(50));
    const r = await run(['transcribe', fake, '--srt', join(dir, 'fake.srt')], {}, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^EARSHOT_(DECODE_FAILED|UNSUPPORTED_FORMAT|CORRUPT_INPUT): /);
    expect(readFileSync(join(dir, 'fake.srt'), 'utf8')).toBe('');
  });

  it('keeps what was transcribed before a truncated file ends', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(3, 7), voices: ['slt'], gapsMs: [600], format: 'mp3' });
    const whole = readFileSync(speech.path);
    const cut = join(dir, 'cut.mp3');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const jsonl = join(dir, 'cut.jsonl');
    const r = await run(['transcribe', cut, '--jsonl', jsonl]);
    const finals = readFileSync(jsonl, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; text: string }).filter((e) => e.type === 'final');
    const firstTwo = SENTENCES.slice(3, 5).join(' ');
    expect(wer(firstTwo, finals.map((e) => e.text).join(' ').split(' ').slice(0, firstTwo.split(' ').length).join(' '))).toBeLessThanOrEqual(0.2);
    if (r.code !== 0) expect(r.stderr).toMatch(/^EARSHOT_[A-Z_]+: /);
  });

  it('refuses misuse with exit code 2 and help that names every command', async () => {
    const bad = await run(['transcribe', 'x.wav', '--mode', 'sideways']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^EARSHOT_INVALID_ARGUMENT: /);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const word of ['transcribe', 'models', 'emulator', '--mode', '--srt', '--vtt', '--jsonl', 'DASHSCOPE_API_KEY']) expect(help.stdout).toContain(word);
  });

  it('asks for a key before any request when a cloud model has none, without leaking anything', async () => {
    const r = await run(['transcribe', 'samples/sample.wav', '--model', 'fun-asr'], { DASHSCOPE_API_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^EARSHOT_MISSING_API_KEY: /);
  });
});

describe('earshot models', () => {
  it('prints the catalog as a table and as JSON', async () => {
    const table = await run(['models']);
    expect(table.code).toBe(0);
    for (const id of ['local', 'fun-asr', 'fun-asr-realtime', 'qwen3-asr-flash-realtime', 'qwen3-asr-flash-filetrans', 'qwen3.5-omni-plus', 'qwen3-omni-flash-realtime']) expect(table.stdout).toContain(id);
    const json = await run(['models', '--json']);
    const models = JSON.parse(json.stdout) as Array<{ id: string }>;
    expect(models.map((m) => m.id)).toContain('qwen3.5-omni-flash');
  });
});

describe('earshot with cloud models against the emulator', () => {
  it('transcribes with fun-asr (batch), qwen3.5-omni-flash (near-realtime) and fun-asr-realtime (realtime)', async () => {
    const { startEmulator } = await import('../../src/emulator/server.js');
    const emulator = await startEmulator({ apiKeys: ['sk-cli-test-key'] });
    try {
      const env = { DASHSCOPE_API_KEY: 'sk-cli-test-key', DASHSCOPE_BASE_URL: emulator.url };
      const reference = readFileSync(join(ROOT, 'samples/sample.txt'), 'utf8');
      for (const args of [
        ['--model', 'fun-asr'],
        ['--model', 'qwen3.5-omni-flash', '--mode', 'near-realtime', '--context', 'a demo of a speech toolkit'],
        ['--model', 'fun-asr-realtime', '--mode', 'realtime'],
      ]) {
        const jsonl = join(dir, `cloud-${args[1]}.jsonl`);
        const r = await run(['transcribe', 'samples/sample.wav', ...args, '--jsonl', jsonl], env);
        expect(r.stderr, args.join(' ')).toBe('');
        expect(r.code).toBe(0);
        expect(wer(reference, r.stdout), args.join(' ')).toBeLessThanOrEqual(0.25);
        expect(readFileSync(jsonl, 'utf8')).not.toContain('sk-cli-test-key');
      }
      const wrong = await run(['transcribe', 'samples/sample.wav', '--model', 'fun-asr'], { ...env, DASHSCOPE_API_KEY: 'sk-wrong-key-123456' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^EARSHOT_AUTH_FAILED: /);
      expect(wrong.stderr).not.toContain('sk-wrong-key-123456');
      // transcribe labels speakers itself when the model does not (diarize()); a live session cannot, so it refuses.
      const lacking = await run(['live', '--mic', '--model', 'qwen3.5-omni-flash', '--diarize'], env);
      expect(lacking.code).toBe(2);
      expect(lacking.stderr).toMatch(/^EARSHOT_CAPABILITY_MISSING: /);
    } finally {
      await emulator.close();
    }
  });
});

describe('earshot transcribe --emotion', () => {
  it('keeps the Omni events with that emotion (scripted through the emulator); on a model without emotion it is a capability error before any request', async () => {
    const { startEmulator } = await import('../../src/emulator/server.js');
    const { httpStats } = await import('../../src/emulator/http/index.js');
    const emulator = await startEmulator({ apiKeys: ['sk-cli-test-key'], script: [{ text: 'how dare you', emotion: 'angry' }] });
    try {
      const env = { DASHSCOPE_API_KEY: 'sk-cli-test-key', DASHSCOPE_BASE_URL: emulator.url };
      const angry = await run(['transcribe', 'samples/sample.wav', '--model', 'qwen3.5-omni-flash', '--emotion', 'angry'], env);
      expect(angry.stderr).toBe('');
      expect(angry.stdout).toContain('how dare you');
      expect(angry.stdout).not.toContain('[emotion');
      const sad = await run(['transcribe', 'samples/sample.wav', '--model', 'qwen3.5-omni-flash', '--emotion', 'sad'], env);
      expect(sad.code).toBe(0);
      expect(sad.stdout.trim()).toBe('');
      const before = httpStats(emulator.context).requests;
      const lacking = await run(['transcribe', 'samples/sample.wav', '--model', 'fun-asr', '--emotion', 'angry'], env);
      expect(lacking.code).toBe(2);
      expect(lacking.stderr).toMatch(/^EARSHOT_CAPABILITY_MISSING: model fun-asr does not support emotion/);
      expect(httpStats(emulator.context).requests).toBe(before);
    } finally {
      await emulator.close();
    }
  });
});

describe('earshot transcribe https://… (an http(s) input)', () => {
  it('async-task models get the URL itself (the service downloads it, nothing uploaded); other models read it through ffmpeg as it downloads', async () => {
    const { createServer } = await import('node:http');
    const { startEmulator } = await import('../../src/emulator/server.js');
    const { stateOf } = await import('../../src/emulator/http/state.js');
    const wav = readFileSync(join(ROOT, 'samples/sample.wav'));
    let hits = 0;
    const files = createServer((req, res) => {
      hits++;
      if (req.url !== '/calls/sample.wav') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length }).end(wav);
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
    const emulator = await startEmulator({ apiKeys: ['sk-cli-test-key'], script: [{ text: 'heard from the url' }] });
    try {
      const env = { DASHSCOPE_API_KEY: 'sk-cli-test-key', DASHSCOPE_BASE_URL: emulator.url };
      const batch = await run(['transcribe', `${base}/calls/sample.wav`, '--model', 'fun-asr'], env);
      expect(batch.stderr).toBe('');
      expect(batch.stdout).toContain('heard from the url');
      expect(hits).toBe(1);
      expect(stateOf(emulator.context).objects.size).toBe(0);
      const near = await run(['transcribe', `${base}/calls/sample.wav`, '--model', 'qwen3.5-omni-flash', '--mode', 'near-realtime'], env);
      expect(near.stderr).toBe('');
      expect(near.stdout).toContain('heard from the url');
      expect(hits).toBe(2);
      const missing = await run(['transcribe', `${base}/calls/none.wav`, '--model', 'qwen3.5-omni-flash', '--mode', 'near-realtime'], env);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/^EARSHOT_FILE_NOT_FOUND: fetching http:\/\/127\.0\.0\.1:\d+\/… gave HTTP 404/);
    } finally {
      await emulator.close();
      files.closeAllConnections();
      await new Promise<void>((resolve) => files.close(() => resolve()));
    }
  });
});

describe('earshot transcribe rtp://', () => {
  it('captions a live PCMU stream from ffmpeg until Ctrl-C, flushing its outputs; a participant joining later is placed when it joined', async () => {
    const speech = makeSpeech({ sentences: SENTENCES.slice(7, 9), voices: ['rms'], leadMs: 300, gapsMs: [500] });
    const late = makeSpeech({ sentences: SENTENCES.slice(1, 2), voices: ['slt'], leadMs: 300 });
    const vtt = join(dir, 'rtp.vtt');
    const jsonl = join(dir, 'rtp.jsonl');
    const child = spawnCli(['transcribe', 'rtp://127.0.0.1:0', '--codec', 'pcmu', '--vtt', vtt, '--jsonl', jsonl]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    const port = await new Promise<number>((resolvePort, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        const m = /listening for RTP on [\d.]+:(\d+)/.exec(stderr);
        if (m) resolvePort(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`earshot exited early: ${stderr}`)));
    });
    const send = (path: string, ssrc: number) => {
      const sender = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', path, '-ar', '8000', '-ac', '1', '-c:a', 'pcm_mulaw', '-ssrc', String(ssrc), '-f', 'rtp', `rtp://127.0.0.1:${port}`], { stdio: 'ignore' });
      return new Promise((r) => sender.once('exit', r));
    };
    const first = send(speech.path, 0x12345678);
    await new Promise((r) => setTimeout(r, 2000));
    await Promise.all([first, send(late.path, 0xbeef)]);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(0);
    const lines = (name: string): string => stdout.split('\n').filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2)).join(' ');
    expect(wer(speech.text, lines('ssrc-0x12345678'))).toBeLessThanOrEqual(0.5);
    expect(wer(late.text, lines('ssrc-0x0000beef'))).toBeLessThanOrEqual(0.5);
    const text = readFileSync(vtt, 'utf8');
    expect(text).toMatch(/^WEBVTT\n[\s\S]*-->/);
    // The participants are named by their SSRC in hex, as RTP tools (Wireshark) show them and the README says.
    expect(stdout.trim().split('\n').every((l) => /^ssrc-0x(12345678|0000beef): /.test(l))).toBe(true);
    expect(text).toContain('<v ssrc-0x12345678>');
    // The late one's speech sits where it was heard (2 s in, at least), not at its own 0; the file in start order.
    const finals = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; startMs: number; speaker: string }).filter((e) => e.type === 'final');
    const lateStart = finals.find((e) => e.speaker === 'ssrc-0x0000beef')!.startMs;
    expect(lateStart).toBeGreaterThan(1800);
    expect(lateStart).toBeLessThan(5000); // 2 s, its 300 ms lead, and ffmpeg's start-up on a loaded machine
    const cues = parseVtt(text);
    expect(cues.find((c) => c.voice === 'ssrc-0x0000beef')!.startMs).toBe(lateStart); // its caption at its own time
    expect(cues.map((c) => c.startMs)).toEqual([...cues.map((c) => c.startMs)].sort((a, b) => a - b));
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('`ssrc-0x3bd0e7c5: …`');
  });
});

describe('earshot live --mic', () => {
  it('captions a capture command that speaks at real time, until it stops', async () => {
    const jsonl = join(dir, 'live.jsonl');
    const capture = `ffmpeg -hide_banner -loglevel error -re -i ${join(ROOT, 'samples/sample.wav')} -f s16le -ar 16000 -ac 1 -`;
    const r = await run(['live', '--mic', '--mic-command', capture, '--jsonl', jsonl]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(wer(readFileSync(join(ROOT, 'samples/sample.txt'), 'utf8'), r.stdout)).toBeLessThanOrEqual(0.2);
    const events = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.findIndex((e) => e.type === 'partial')).toBeLessThan(events.findIndex((e) => e.type === 'final'));
  });
});

describe('earshot with a model from a transport module (EARSHOT_TRANSPORTS)', () => {
  it('lists a descriptor-only fake cloud model and transcribes with it, nothing else changed', async () => {
    const requests: Array<{ auth: string | undefined; context: string | undefined; ms: number }> = [];
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const ms = Buffer.concat(parts).length / 32; // s16le at 16 kHz: 32 bytes a ms
        const context = req.headers['x-context'];
        requests.push({ auth: req.headers.authorization, context: typeof context === 'string' ? decodeURIComponent(context) : undefined, ms });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ events: [{ type: 'final', text: `heard ${ms} ms`, startMs: 0, endMs: ms }] }));
      });
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    try {
      const { port } = server.address() as AddressInfo;
      const env = { EARSHOT_TRANSPORTS: 'test/fixtures/fake-cloud-transport.mjs', FAKE_CLOUD_URL: `http://127.0.0.1:${port}`, FAKE_CLOUD_KEY: 'fake-key-0001' };

      const table = await run(['models'], env);
      expect(table.stderr).toBe('');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^fake-cloud-asr\s+after\s+http-json\s+context\s/m);
      const json = JSON.parse((await run(['models', '--json'], env)).stdout) as Array<{ id: string; mode: string; provider: string; summary: string }>;
      expect(json.at(-1)).toMatchObject({ id: 'fake-cloud-asr', mode: 'batch', provider: 'fake-cloud', summary: expect.stringContaining('fake cloud model') as string });
      expect(json.map((m) => m.id)).toContain('local');

      const jsonl = join(dir, 'fake-cloud.jsonl');
      const r = await run(['transcribe', 'samples/sample.wav', '--model', 'fake-cloud-asr', '--context', 'a speech toolkit', '--jsonl', jsonl], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(requests.length).toBeGreaterThan(0);
      for (const q of requests) expect(q).toMatchObject({ auth: 'Bearer fake-key-0001', context: 'a speech toolkit' });
      const finals = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; text: string; startMs: number; endMs: number });
      expect(finals.map((e) => e.text).sort()).toEqual(requests.map((q) => `heard ${q.ms} ms`).sort());
      const fileMs = (statSync(join(ROOT, 'samples/sample.wav')).size - 44) / 32;
      let lastEnd = 0;
      for (const e of finals) {
        expect(e.type).toBe('final');
        expect(e.startMs).toBeGreaterThanOrEqual(lastEnd);
        expect(e.endMs - e.startMs).toBe(Number(/heard ([\d.]+) ms/.exec(e.text)![1]));
        lastEnd = e.endMs;
      }
      expect(lastEnd).toBeLessThanOrEqual(fileMs + 1);
      expect(requests.reduce((sum, q) => sum + q.ms, 0)).toBeGreaterThan(fileMs / 2);
      for (const line of r.stdout.trim().split('\n')) expect(line).toMatch(/heard [\d.]+ ms/);

      // Its capabilities come from its descriptor and transport: it has no openStream, so it cannot stream; it declares
      // no emotion and no hotwords, so both are refused before any request.
      const before = requests.length;
      const stream = await run(['transcribe', 'samples/sample.wav', '--model', 'fake-cloud-asr', '--mode', 'realtime'], env);
      expect(stream.code).toBe(2);
      expect(stream.stderr).toMatch(/^EARSHOT_INVALID_ARGUMENT: model fake-cloud-asr cannot stream/);
      for (const flag of [['--emotion', 'angry'], ['--hotwords', 'earshot']]) {
        const refused = await run(['transcribe', 'samples/sample.wav', '--model', 'fake-cloud-asr', ...flag], env);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/^EARSHOT_CAPABILITY_MISSING: model fake-cloud-asr does not support /);
      }
      expect(requests.length).toBe(before);
    } finally {
      await new Promise((resolveClose) => server.close(resolveClose));
    }
    // Without the module the model is unknown; a module that cannot be loaded is a one-line usage error.
    const unknown = await run(['transcribe', 'samples/sample.wav', '--model', 'fake-cloud-asr']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^EARSHOT_UNKNOWN_MODEL: /);
    const missing = await run(['models'], { EARSHOT_TRANSPORTS: join(dir, 'no-such-module.mjs') });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/^EARSHOT_INVALID_ARGUMENT: EARSHOT_TRANSPORTS: cannot load /);
  });
});
