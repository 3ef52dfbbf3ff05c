/**
 * HTTP routes of the emulator (async tasks, uploads, vocabularies, compatible-mode chat completions).
 * Placeholder until the batch routes land: answers nothing, so the server replies 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';

/** Serve one HTTP request if it belongs to these routes; resolves true when it was handled. */
export async function handleHttp(_ctx: EmulatorContext, _req: IncomingMessage, _res: ServerResponse): Promise<boolean> {
  return false;
}
