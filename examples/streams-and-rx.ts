/**
 * Both faces of earshot on one file, sharing one engine:
 *  1. Node streams: `pipeline()` from the file to an SRT on disk, backpressure end to end;
 *  2. RxJS: the same operators with sinks on the way (WebVTT and JSONL), consumed with `for await`.
 *
 *   node dist/examples/streams-and-rx.js <input> [out-prefix]
 *
 * It imports earshot by its package name: copy it into a project that depends on earshot and run it as it is
 * (`npx tsx streams-and-rx.ts <input> [out-prefix]`);
 * in this repository `npm run build` compiles it to the line above.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { decode, fromFile, local, resample, toJsonl, toVtt, transcribe } from 'earshot';
import { decodeStream, resampleStream, srtStream, toAsyncIterable, transcribeStream } from 'earshot/streams';

const input = process.argv[2];
if (!input) {
  console.error(`usage: node ${process.argv[1]} <input> [out-prefix]`);
  process.exit(2);
}
const out = process.argv[3] ?? 'example';

const engine = local();
try {
  // 1. Node streams: each stage pauses the one before it when it falls behind.
  await pipeline(createReadStream(input), decodeStream(), resampleStream(16000), transcribeStream(engine), srtStream(), createWriteStream(`${out}.srt`));

  // 2. RxJS: the sinks pass events on, so the loop sees each final after it was written; the loop ends once
  //    both files are flushed and closed. A `break` would unsubscribe and close them.
  const events = fromFile(input).pipe(decode(), resample(16000), transcribe(engine, { partials: false }), toVtt(`${out}.vtt`), toJsonl(`${out}.jsonl`));
  for await (const event of toAsyncIterable(events)) {
    if (event.text.trim()) console.log(`${(event.startMs / 1000).toFixed(2)}s  ${event.text}`);
  }
} finally {
  await engine.close();
}
