/**
 * The main job as a library call: a file in any format → the embedded engine → SRT and JSONL, text on stdout.
 *
 *   node dist/examples/transcribe-file.js [input] [out-prefix]
 */
import { lastValueFrom } from 'rxjs';
import { decode, fromFile, local, resample, toConsole, toJsonl, toSrt, transcribeBatch, vadChunk } from '../src/index.js';

const input = process.argv[2] ?? new URL('../../samples/sample.wav', import.meta.url).pathname;
const out = process.argv[3] ?? 'example';

const engine = local();
try {
  await lastValueFrom(
    fromFile(input).pipe(
      decode(),
      resample(16000),
      vadChunk({ minSilenceMs: 300, maxChunkMs: 15_000 }),
      transcribeBatch(engine, { concurrency: 2 }),
      toSrt(`${out}.srt`),
      toJsonl(`${out}.jsonl`),
      toConsole(),
    ),
    { defaultValue: undefined },
  );
} finally {
  await engine.close();
}
