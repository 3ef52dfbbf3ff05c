/**
 * `earshot models`: the speech-model catalog as a table, or as JSON for scripts.
 */
import { formatModelTable, modelsJson } from '../transports/catalog.js';

/** Print the catalog on `out`. */
export function printModels(out: NodeJS.WritableStream, json: boolean): void {
  out.write(`${json ? modelsJson() : formatModelTable()}\n`);
  if (!json) {
    out.write('\nmode: "while speaking" = results as you talk (realtime); "after" = whole clips or files (batch).\n');
    out.write('boost: hotwords = weighted vocabularies (--hotwords); context = a prompt with domain terms (--context).\n');
  }
}
