/**
 * Helpers for the emulator's WebSocket tests: flite speech as PCM, a raw protocol client that records frames, and
 * waiting on a condition with a deadline (no sleeps).
 */
import WebSocket from 'ws';
import { afterEach } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator/server.js';
import { synthRaw, type Voice } from '../../helpers/speech.js';

/** Mono s16le 16 kHz speech: `leadMs` of silence, then each sentence followed by `gapMs` of silence. */
export function speechPcm(sentences: readonly string[], options: { gapMs?: number; leadMs?: number; voice?: Voice; rate?: number } = {}): Int16Array {
  const rate = options.rate ?? 16000;
  const gap = Math.round(((options.gapMs ?? 1000) * rate) / 1000);
  const lead = Math.round(((options.leadMs ?? 300) * rate) / 1000);
  const parts = sentences.map((s) => synthRaw(s, options.voice ?? 'slt', rate));
  const total = lead + parts.reduce((n, p) => n + p.length / 2 + gap, 0);
  const out = new Int16Array(total);
  let at = lead;
  for (const p of parts) {
    out.set(new Int16Array(p.buffer, p.byteOffset, p.length / 2), at);
    at += p.length / 2 + gap;
  }
  return out;
}

/** 100 ms chunks of `pcm` (at `rate`). */
export function* chunks(pcm: Int16Array, rate = 16000, ms = 100): Generator<Int16Array> {
  const n = Math.round((rate * ms) / 1000);
  for (let i = 0; i < pcm.length; i += n) yield pcm.subarray(i, Math.min(pcm.length, i + n));
}

/** Send `pcm` on a realtime session as base64 `input_audio_buffer.append` events of 100 ms. */
export function appendPcm(c: RawClient, pcm: Int16Array): void {
  for (const chunk of chunks(pcm)) c.send({ event_id: 'event_append', type: 'input_audio_buffer.append', audio: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64') });
}

/**
 * An emulator per test and the raw clients opened on it, all closed after each test (registers an `afterEach`).
 *
 * @example
 * const emulator = emulatorPerTest();
 * const emu = await emulator.start({ apiKeys: [KEY], script: [{ text: 'hello' }] });
 * const c = emulator.client('/api-ws/v1/inference', { Authorization: `bearer ${KEY}` });
 */
export function emulatorPerTest(): { start(options?: EmulatorOptions): Promise<Emulator>; client(path: string, headers?: Record<string, string>): RawClient } {
  let emu: Emulator | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await emu?.close();
    emu = undefined;
  });
  return {
    async start(options = {}) {
      await emu?.close();
      emu = await startEmulator(options);
      return emu;
    },
    client(path, headers = {}) {
      if (!emu) throw new Error('start the emulator first');
      const c = new RawClient(`${emu.url.replace('http', 'ws')}${path}`, headers);
      clients.push(c);
      return c;
    },
  };
}

/** Resolves when `check()` returns a value other than undefined/false; rejects after `timeoutMs`. */
export async function until<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw WebSocket client that records every JSON frame it gets. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: Array<Record<string, unknown>> = [];
  closed?: { code: number; reason: string };
  rejected?: { status: number; body: string };
  opened = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on('open', () => (this.opened = true));
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>);
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (this.rejected = { status: res.statusCode ?? 0, body }));
    });
    this.ws.on('error', () => {});
  }

  ready(): Promise<true> {
    return until(
      () => {
        if (this.rejected) throw new Error(`handshake rejected with ${this.rejected.status}`);
        return this.opened;
      },
      5000,
      'open',
    );
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Frames whose `header.event` (inference) or `type` (realtime) is `name`. */
  of(name: string): Array<Record<string, any>> {
    return this.frames.filter((f) => (f.header as { event?: string } | undefined)?.event === name || f.type === name) as Array<Record<string, any>>;
  }

  waitFor(name: string, count = 1, timeoutMs = 10_000): Promise<Array<Record<string, any>>> {
    return until(() => (this.of(name).length >= count ? this.of(name) : undefined), timeoutMs, name);
  }

  close(): void {
    this.ws.terminate();
  }
}
