/**
 * Embedding a call source in your own server: your HTTP server and WebSocket endpoint, your routing and auth;
 * earshot only turns each accepted Twilio Media Stream into call tracks and the tracks into text.
 * (For a ready server with every protocol, files, SSE, a webhook and metrics, see `earshot serve` / `earshot/server`.)
 *
 *   node dist/examples/serve-embedded.js [port] [out-dir]
 *
 * Point Twilio at it with `<Connect><Stream url="wss://your.host/media"/></Connect>`. Each final prints to stdout as
 * `<callSid> <track>: text` and goes to `<out-dir>/<callSid>-<track>.jsonl`. SIGTERM or Ctrl-C closes every call
 * (1001), waits for their last finals and files, and exits.
 */
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { map, mergeMap } from 'rxjs';
import { local, resample, toJsonl, transcribe } from '../src/index.js';
import { fromTwilioMediaStream } from '../src/sources/twilio.js';

const port = Number(process.argv[2] ?? 8080);
const outDir = process.argv[3] ?? 'calls';
mkdirSync(outDir, { recursive: true });

const engine = local();
const calls = new Set<Promise<void>>();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

http.on('upgrade', (req, socket, head) => {
  if (req.url !== '/media') return socket.destroy(); // your routing and auth go here
  wss.handleUpgrade(req, socket, head, (ws) => {
    // Attach the source at once: nothing the media server sends before the pipeline subscribes is lost.
    const call = fromTwilioMediaStream(ws);
    const done = new Promise<void>((resolve) =>
      call
        .pipe(
          mergeMap((track) => {
            const name = `${track.call.callId.replace(/[^\w-]/g, '_')}-${track.track}`;
            return track.audio$.pipe(
              resample(16000),
              transcribe(engine, { partials: false }),
              map((event) => ({ ...event, speaker: `${track.call.callId} ${track.track}` })),
              toJsonl(join(outDir, `${name}.jsonl`)),
            );
          }),
        )
        .subscribe({
          next: (event) => console.log(`${event.speaker}: ${event.text}`),
          error: (err: { code?: string }) => {
            console.error(`call failed: ${err.code ?? 'unknown'}`);
            resolve();
          },
          complete: () => {
            console.error(`call ended: ${JSON.stringify(call.stats())}`);
            resolve();
          },
        }),
    );
    calls.add(done);
    void done.then(() => calls.delete(done));
  });
});

http.listen(port, '127.0.0.1', () => {
  const address = http.address();
  console.error(`listening on ws://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/media`);
});

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  http.close();
  for (const ws of wss.clients) ws.close(1001, 'server shutting down'); // the calls' tracks complete: last finals follow
  await Promise.all(calls);
  await engine.close();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop());
