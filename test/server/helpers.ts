/** Shared pieces of the server tests: SSE and metrics clients, µ-law audio from test speech, polling. */
import { execFileSync } from 'node:child_process';
import { request, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import type { TranscriptEvent } from '../../src/core/types.js';
import { decode } from '../../src/operators/decode.js';
import { fixedChunk } from '../../src/operators/fixed-chunk.js';
import { resample } from '../../src/operators/resample.js';
import { transcribe } from '../../src/operators/transcribe.js';
import { fromFile } from '../../src/sources/file.js';
import type { Transport } from '../../src/transports/transport.js';

/** µ-law 8 kHz mono bytes of any audio file (through ffmpeg). */
export function ulawOf(path: string): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, '-ar', '8000', '-ac', '1', '-f', 'mulaw', '-']);
}

/** An HTTP GET: status, headers and body text. */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A Server-Sent Events subscription: the events so far, and a promise of the stream's end. */
export interface SseClient {
  status: number;
  events: Array<{ event: string; data: Record<string, unknown> }>;
  ended: Promise<void>;
  close(): void;
}

/** Subscribe to an SSE URL; resolves once the response headers are in. */
export function sse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseClient['events'] = [];
      let buffer = '';
      res.setEncoding('utf8');
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      res.on('data', (d: string) => {
        buffer += d;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      });
      resolve({ status: res.statusCode ?? 0, events, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parse the Prometheus text exposition format strictly: every line is a `# HELP`/`# TYPE` comment or
 * `name{label="value",…} number`; anything else throws.
 */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.]+(?:e[+-]?\d+)?|\+Inf|NaN))$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one metric sample (0 when absent), matching every given label. */
export function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

/** Poll until `check` returns a truthy value (or throw after `ms`). */
export async function waitFor<T>(check: () => T | Promise<T>, ms = 30_000, what = 'a condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The events of a JSONL file (whole lines only). */
export function readJsonl(path: string): TranscriptEvent[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TranscriptEvent);
}

/** The text of the final events. */
export function finalsText(events: ReadonlyArray<{ type?: unknown; text?: unknown }>): string {
  return events.filter((e) => e.type === 'final').map((e) => String(e.text)).join(' ');
}

/**
 * The reference for a call's text: the same 8 kHz audio from its file, fed as a media server feeds it (20 ms pieces,
 * resampled to 16 kHz, into a live session) — the embedded engine's endpointing moves with the write size, and these
 * tests compare the transport of the audio, not that.
 */
export function transcribeLikeACall(path: string, engine: Transport): Promise<TranscriptEvent[]> {
  return lastValueFrom(fromFile(path).pipe(decode({ sampleRate: 8000, channels: 1 }), fixedChunk({ chunkMs: 20 }), resample(16000), transcribe(engine), toArray()));
}
