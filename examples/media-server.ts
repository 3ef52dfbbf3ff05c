/**
 * Live captions for a media server: RTP in, one caption track per participant out (console and WebVTT).
 *
 *   node dist/examples/media-server.js [rtp://127.0.0.1:5004[?codec=opus&pt=111]] [out-dir]
 *
 * It imports earshot by its package name: copy it into a project that depends on earshot and run it as it is
 * (`npx tsx media-server.ts [rtp://127.0.0.1:5004[?codec=opus&pt=111]] [out-dir]`);
 * in this repository `npm run build` compiles it to the line above.
 *
 * Every SSRC that sends audio becomes a participant with its own pipeline (resample → embedded engine → captions)
 * and its own `<out-dir>/ssrc-0x<ssrc in hex>.vtt`. Captions print to stdout as `ssrc-0x<ssrc>: text`; joins,
 * leaves and the receive counters go to stderr. Ctrl-C (SIGINT) or SIGTERM stops listening, finishes every
 * participant's last captions, closes the files and exits.
 *
 * Try it with ffmpeg as the sender:
 *   ffmpeg -re -i talk.wav -ar 8000 -ac 1 -c:a pcm_mulaw -f rtp rtp://127.0.0.1:5004
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Subject, finalize, lastValueFrom, map, mergeMap, takeUntil } from 'rxjs';
import { fromRtp, local, parseRtpUrl, resample, ssrcName, toConsole, toVtt, transcribe } from 'earshot';

const url = process.argv[2] ?? 'rtp://127.0.0.1:5004';
const outDir = process.argv[3] ?? 'captions';
mkdirSync(outDir, { recursive: true });

const stop$ = new Subject<void>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop$.next());

const engine = local();
const joins = new Map<number, number>();
const source = fromRtp({
  ...parseRtpUrl(url),
  onListening: ({ address, port }) => console.error(`listening for RTP on ${address}:${port}`),
});

try {
  await lastValueFrom(
    source.pipe(
      takeUntil(stop$),
      mergeMap((participant) => {
        // A participant that went idle and came back gets a new track rather than overwriting the old one.
        const n = (joins.get(participant.ssrc) ?? 0) + 1;
        joins.set(participant.ssrc, n);
        const name = `${ssrcName(participant.ssrc)}${n > 1 ? `-${n}` : ''}`;
        console.error(`+ ${name} joined (${participant.codec}, ${participant.sampleRate} Hz)`);
        return participant.audio$.pipe(
          resample(16000),
          transcribe(engine, { partials: false }),
          map((event) => ({ ...event, speaker: name })),
          toVtt(join(outDir, `${name}.vtt`)),
          finalize(() => console.error(`- ${name} left: ${JSON.stringify(participant.stats())}`)),
        );
      }),
      toConsole(),
    ),
    { defaultValue: undefined },
  );
} finally {
  console.error(`stopped: ${JSON.stringify(source.stats())}`);
  await engine.close();
}
