/**
 * Test harness: the emulator's HTTP routes mounted on a plain node:http server on 127.0.0.1:0, with a fake
 * recogniser that "hears" a fixed sentence with evenly spaced word times (so protocol tests need no engine).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TranscriptEvent } from '../../../src/core/types.js';
import type { EmulatorContext } from '../../../src/emulator/context.js';
import { handleHttp } from '../../../src/emulator/http/index.js';
import type { ChunkJob, Transport } from '../../../src/transports/transport.js';

export interface Harness {
  ctx: EmulatorContext;
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A recogniser that returns `text` spread over the clip (one event), and remembers the jobs it got. */
export function fakeRecognizer(text = 'hello world from the emulator'): Transport & { jobs: ChunkJob[] } {
  const jobs: ChunkJob[] = [];
  return {
    model: 'fake',
    sampleRate: 16000,
    jobs,
    capabilities: { realtime: false, batch: true, wordTimes: true, emotion: false, diarization: false, hotwords: true, context: true, maxDurationMs: Infinity, languages: ['en'] },
    async transcribeClip(job: ChunkJob): Promise<TranscriptEvent[]> {
      jobs.push(job);
      const durationMs = (job.samples.length * 1000) / job.sampleRate;
      const words = text.split(' ');
      const step = durationMs / words.length;
      return [{ type: 'final', text, startMs: 0, endMs: durationMs, words: words.map((w, i) => ({ text: w, startMs: i * step, endMs: (i + 1) * step })) }];
    },
  };
}

/** Start the routes on 127.0.0.1:0. */
export async function startHarness(ctx: Partial<EmulatorContext> = {}): Promise<Harness> {
  const context: EmulatorContext = { apiKeys: new Set(['sk-test-key-123456']), faults: {}, baseUrl: '', ...ctx };
  const server = createServer((req, res) => {
    handleHttp(context, req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NotFound","message":"no route"}');
      },
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  context.baseUrl = url;
  return {
    ctx: context,
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const KEY = 'sk-test-key-123456';
