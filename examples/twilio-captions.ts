/**
 * Live captions for Twilio calls, embedded in your own WebSocket server: each call's tracks (inbound, and outbound
 * with `track="both_tracks"`) go through the embedded engine; captions print as `<callSid> <track>: text`.
 *
 *   node dist/examples/twilio-captions.js [port]
 *
 * It imports earshot by its package name: copy it into a project that depends on earshot and run it as it is
 * (`npx tsx twilio-captions.ts [port]`);
 * in this repository `npm run build` compiles it to the line above.
 *
 * Point a TwiML `<Start><Stream url="wss://your-host/twilio"/></Start>` at it (through a TLS proxy: Twilio only
 * connects to wss://). It listens on 127.0.0.1. Ctrl-C (SIGINT) or SIGTERM stops accepting calls, lets the calls in
 * progress finish their last captions and exits.
 */
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { fromTwilioMediaStream, local, resample, transcribe } from 'earshot';

const port = Number(process.argv[2] ?? 8080);
const engine = local();
const server = new WebSocketServer({ host: '127.0.0.1', port, path: '/twilio', maxPayload: 64 * 1024 });
const calls = new Set<Promise<void>>();

server.on('connection', (ws) => {
  // Attach at once: nothing Twilio sends before the subscription is lost.
  const call = fromTwilioMediaStream(ws, { idleTimeoutMs: 30_000 });
  const done = new Promise<void>((resolve) => {
    const pipelines: Array<Promise<void>> = [];
    call.subscribe({
      next: (track) => {
        pipelines.push(
          new Promise<void>((end) =>
            track.audio$.pipe(resample(16000), transcribe(engine, { partials: false })).subscribe({
              next: (e) => console.log(`${track.call.callId} ${track.track}: ${e.text}`),
              error: (err: unknown) => {
                console.error(`${track.call.callId} ${track.track} failed: ${err instanceof Error ? err.message : String(err)}`);
                end();
              },
              complete: end,
            }),
          ),
        );
      },
      error: (err: unknown) => console.error(`call ended: ${err instanceof Error ? err.message : String(err)}`),
      complete: () => undefined,
    });
    // The call is over when its socket is, and every track has given its last captions.
    ws.once('close', () => void Promise.all(pipelines).then(() => {
      console.error(`call ${call.info()?.callId ?? '?'} done: ${JSON.stringify(call.stats())}`);
      resolve();
    }));
  });
  calls.add(done);
  void done.then(() => calls.delete(done));
});

await once(server, 'listening');
const address = server.address();
console.error(`listening for Twilio media streams on ws://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/twilio`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void Promise.all(calls).then(async () => {
      await engine.close();
      process.exit(0);
    });
  });
}
