/**
 * The main job as a library call: a file in any format → the embedded engine → SRT and JSONL, text on stdout.
 *
 *   node dist/examples/transcribe-file.js <input> [out-prefix]
 *
 * It imports earshot by its package name: copy it into a project that depends on earshot and run it as it is
 * (`npx tsx transcribe-file.ts <input> [out-prefix]`);
 * in this repository `npm run build` compiles it to the line above.
 */
import { lastValueFrom } from 'rxjs';
import { decode, fromFile, local, resample, toConsole, toJsonl, toSrt, transcribeBatch, vadChunk } from 'earshot';

const input = process.argv[2];
if (!input) {
  console.error(`usage: node ${process.argv[1]} <input> [out-prefix]`);
  process.exit(2);
}
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
