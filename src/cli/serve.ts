/**
 * `earshot serve`: the media-server gateway (`serve()` from `earshot/server`) as a command. Runs until SIGTERM or
 * Ctrl-C, then drains: no new calls, finals in flight delivered, files flushed, exit 0.
 */
import { parseArgs } from 'node:util';
import { firstValueFrom, fromEvent, merge } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import type { Mode } from '../operators/transcribe-mode.js';
import { serve, type ServeOptions } from '../server/serve.js';
import { CALL_ROUTES } from '../server/routes.js';
import { parseDuration } from './args.js';
import type { CliIo } from './transcribe.js';

/** `earshot serve` as parsed. */
export interface ServeCommand {
  command: 'serve';
  options: ServeOptions;
}

export const SERVE_HELP = `earshot serve — transcribe live calls from Twilio, FreeSWITCH, Asterisk and Jambonz.

Usage:
  earshot serve [--port 8080] [--host 127.0.0.1] [--audiosocket-port N] [--model local] [--mode realtime]
                [--out DIR] [--token T] [--webhook URL]

Options:
  --port N              HTTP/WebSocket port (default 8080; 0 picks a free one)
  --host H              address to bind (default 127.0.0.1; beyond loopback a token is required)
  --token T             token every route requires: "Authorization: Bearer T" or Basic with T as password
                        (Twilio: <Parameter name="token" value="T"/>); also read from EARSHOT_TOKEN
  --audiosocket-port N  also listen for Asterisk AudioSocket on this TCP port (no auth in that protocol)
  --audiosocket-host H  address for AudioSocket (default 127.0.0.1)
  --model ID            'local' (default, offline) or a cloud model (see 'earshot models')
  --mode MODE           realtime (default) | near-realtime (a batch model on ~5 s windows) | batch
  --window 5s           near-realtime window
  --language CODE       language hint
  --out DIR             write <call id>[-<track>].jsonl|srt|vtt per call
  --webhook URL         POST each final as JSON to URL (bounded queue, retried)
  --max-calls N         calls at once (default 100); one more is refused with WebSocket close 1013
  --idle-timeout 60s    end a call after this long without a frame (close 1001)

Routes: ${CALL_ROUTES.map((r) => r.path).join(' ')} (WebSocket); GET /healthz, /metrics, /calls, /calls/:id/events (SSE).
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  'audiosocket-port': { type: 'string' },
  'audiosocket-host': { type: 'string' },
  model: { type: 'string' },
  mode: { type: 'string' },
  window: { type: 'string' },
  language: { type: 'string' },
  out: { type: 'string' },
  webhook: { type: 'string' },
  'max-calls': { type: 'string' },
  'idle-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function port(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--${name} must be 0–65535, got ${text}`);
  return n;
}

/**
 * Parse `earshot serve` arguments (after the word `serve`).
 *
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for an unknown flag or a bad value.
 * @example
 * parseServe(['--port', '0', '--out', 'calls'], {});
 */
export function parseServe(argv: readonly string[], env: NodeJS.ProcessEnv): ServeCommand | { command: 'help'; text: string } {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true }));
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message, { cause: err });
  }
  if (values.help) return { command: 'help', text: SERVE_HELP };
  const mode = values.mode as Mode | undefined;
  if (mode !== undefined && !['batch', 'near-realtime', 'realtime'].includes(mode)) throw new InvalidArgumentError(`--mode must be batch, near-realtime or realtime, got ${mode}`);
  const maxCalls = values['max-calls'] === undefined ? undefined : Number(values['max-calls']);
  if (maxCalls !== undefined && (!Number.isInteger(maxCalls) || maxCalls < 1)) throw new InvalidArgumentError(`--max-calls needs a whole number ≥ 1, got ${values['max-calls']}`);
  const token = values.token ?? env.EARSHOT_TOKEN;
  const audioSocketPort = port('audiosocket-port', values['audiosocket-port']);
  const options: ServeOptions = {
    port: port('port', values.port) ?? 8080,
    host: values.host ?? '127.0.0.1',
    model: values.model ?? 'local',
    env,
    ...(token ? { token } : {}),
    ...(audioSocketPort !== undefined ? { audioSocketPort } : {}),
    ...(values['audiosocket-host'] ? { audioSocketHost: values['audiosocket-host'] } : {}),
    ...(mode ? { mode } : {}),
    ...(values.window ? { windowMs: parseDuration(values.window) } : {}),
    ...(values.language ? { recognition: { language: values.language } } : {}),
    ...(values.out ? { outDir: values.out } : {}),
    ...(values.webhook ? { webhook: values.webhook } : {}),
    ...(maxCalls ? { maxCalls } : {}),
    ...(values['idle-timeout'] ? { idleTimeoutMs: parseDuration(values['idle-timeout']) } : {}),
  };
  return { command: 'serve', options };
}

/**
 * Run `earshot serve` until SIGTERM or the first Ctrl-C, then drain. Resolves when everything is flushed.
 *
 * @throws what `serve()` throws (the CLI prints its code).
 */
export async function runServe(argv: readonly string[], io: CliIo): Promise<void> {
  const cmd = parseServe(argv, io.env);
  if (cmd.command === 'help') {
    io.stdout.write(cmd.text);
    return;
  }
  const server = await serve(cmd.options);
  const audioSocket = server.audioSocketPort !== undefined ? `; AudioSocket on ${cmd.options.audioSocketHost ?? '127.0.0.1'}:${server.audioSocketPort}` : '';
  io.stderr.write(`earshot: serving on ${server.url} (${CALL_ROUTES.map((r) => r.path).join(' ')})${audioSocket}\n`);
  await firstValueFrom(merge(io.interrupt, fromEvent(process, 'SIGTERM')));
  io.stderr.write(`earshot: draining ${server.activeCalls()} call(s)\n`);
  await server.close();
  io.stderr.write('earshot: stopped\n');
}
