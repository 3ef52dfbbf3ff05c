/**
 * `earshot report <input>`: run the `earshot transcribe` pipeline with a {@link ReportCollector} watching it (or
 * read an earlier run's JSONL with `--events`), then write the HTML report.
 */
import { report } from '../report/index.js';
import { ReportCollector } from '../report/collect.js';
import type { ReportCommand } from './args.js';
import { runTranscribe, type CliIo } from './transcribe.js';

/**
 * Run `earshot report`: resolves when the page (and any other output asked for) is written.
 * @throws the pipeline's or the report's EarshotError (the CLI prints its code and message).
 */
export async function runReport(cmd: ReportCommand, io: CliIo): Promise<void> {
  const collector = new ReportCollector();
  if (!cmd.events) {
    await runTranscribe(cmd, io, { audio: collector.audio(), vad: collector.vad(), windows: collector.windows(), events: collector.events() });
  }
  const r = await report({
    audio: cmd.input,
    out: cmd.out,
    collector,
    ...(cmd.events ? { events: cmd.events } : {}),
    // An earlier near-realtime run's windows depend only on the audio: cut them again to show them.
    ...(cmd.events && cmd.mode === 'near-realtime' ? { windows: { windowMs: cmd.windowMs } } : {}),
  });
  if (!cmd.quiet) io.stderr.write(`earshot: report ${r.path} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.words} words, audio ${r.audio})\n`);
}
