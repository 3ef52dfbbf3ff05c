/**
 * `earshot models`: the speech-model catalog as a table, or as JSON for scripts; and the transports the environment
 * adds to it (`EARSHOT_TRANSPORTS`), loaded before any command resolves `--model`.
 */
import { delimiter, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError } from '../core/errors.js';
import { formatModelTable, modelsJson, registerTransport } from '../transports/catalog.js';
import type { TransportDescriptor } from '../transports/transport.js';

/** Print the catalog on `out`. */
export function printModels(out: NodeJS.WritableStream, json: boolean): void {
  out.write(`${json ? modelsJson() : formatModelTable()}\n`);
  if (!json) {
    out.write('\nmode: "while speaking" = results as you talk (realtime); "after" = whole clips or files (batch).\n');
    out.write('boost: hotwords = weighted vocabularies (--hotwords); context = a prompt with domain terms (--context).\n');
  }
}

/**
 * Register the transports of the modules listed in `EARSHOT_TRANSPORTS` (paths separated like `PATH`, relative to the
 * working directory): each module's default export is a transport descriptor or a list of them.
 *
 * @throws EARSHOT_INVALID_ARGUMENT when a module cannot be loaded or exports no descriptor, or a model id clashes.
 * @example
 * await registerTransportModules({ EARSHOT_TRANSPORTS: './my-asr.js' });
 */
export async function registerTransportModules(env: NodeJS.ProcessEnv): Promise<void> {
  const paths = (env.EARSHOT_TRANSPORTS ?? '').split(delimiter).filter(Boolean);
  for (const path of paths) {
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
    } catch (cause) {
      throw new InvalidArgumentError(`EARSHOT_TRANSPORTS: cannot load ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const list = Array.isArray(loaded.default) ? (loaded.default as unknown[]) : [loaded.default];
    if (!list.every(isDescriptor)) throw new InvalidArgumentError(`EARSHOT_TRANSPORTS: ${path} must export a transport descriptor (or a list of them) as default`);
    for (const descriptor of list) {
      try {
        registerTransport(descriptor);
      } catch (cause) {
        throw new InvalidArgumentError(`EARSHOT_TRANSPORTS: ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
    }
  }
}

function isDescriptor(value: unknown): value is TransportDescriptor {
  const d = value as Partial<TransportDescriptor> | undefined;
  return typeof d === 'object' && d !== null && typeof d.create === 'function' && typeof d.models === 'object' && d.models !== null;
}
