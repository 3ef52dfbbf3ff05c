/**
 * Command-line parsing of the queue commands: `earshot worker`, `earshot submit`, `earshot status`, `earshot result`.
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../core/errors.js';
import type { Hotword } from '../transports/transport.js';
import { parseHotwords } from '../transports/dashscope/vocabulary.js';

/** `earshot worker`: serve a model's chunk queue. */
export interface WorkerCommand {
  command: 'worker';
  queue: string;
  model: string;
  concurrency?: number;
  /** Queue-wide limit, jobs per `duration` ms; `false` for none. */
  rate?: { max: number; duration: number } | false;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  reconnectTimeoutMs?: number;
  quiet: boolean;
}

/** `earshot submit`: queue a whole file. */
export interface SubmitCommand {
  command: 'submit';
  input: string;
  queue: string;
  model: string;
  id?: string;
  language?: string;
  hotwords?: Hotword[];
  context?: string;
  attempts?: number;
}

/** `earshot status`: progress of a submitted file. */
export interface StatusCommand {
  command: 'status';
  id: string;
  queue: string;
  json: boolean;
}

/** `earshot result`: the stitched result of a submitted file. */
export interface ResultCommand {
  command: 'result';
  id: string;
  queue: string;
  srt?: string;
  vtt?: string;
  jsonl?: string;
}

/** Any queue command. */
export type QueueCommand = WorkerCommand | SubmitCommand | StatusCommand | ResultCommand;

/** The queue commands' part of `earshot --help`. */
export const QUEUE_HELP = `
Scale out (BullMQ on Redis; needs the optional packages bullmq and ioredis):
  earshot worker --queue redis://HOST:PORT [--model local|<batch model>] [--concurrency N]
                 [--rate N/1s | --rate none] [--lock-duration 30s] [--stalled-interval 30s]
                 [--reconnect-timeout 30s] [-q]
                                         run chunk jobs until SIGTERM/Ctrl-C (then finish the jobs held)
  earshot transcribe <file> --queue redis://HOST:PORT [--mode batch|near-realtime]
                                         send the chunks to the workers instead of running them here
  earshot submit <file|url> --queue URL [--model M] [--id ID]   queue a whole file, print its id
  earshot status <id> --queue URL [--json]                     progress of a submitted file
  earshot result <id> --queue URL [--srt F] [--vtt F] [--jsonl F]  its text (non-zero exit while not done)
`;

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} needs a whole number ≥ 1, got ${text}`);
  return n;
}

function needQueue(queue: string | undefined, name: string): string {
  if (!queue) throw new InvalidArgumentError(`earshot ${name} needs --queue redis://HOST:PORT`);
  return queue;
}

/** `N/1s`, `N/500ms`, `N` (per second) or `none`. */
function parseRate(text: string, parseDuration: (t: string) => number): { max: number; duration: number } | false {
  if (text === 'none') return false;
  const [max, per = '1s'] = text.split('/');
  const n = positiveInt('rate', max);
  const duration = parseDuration(per);
  if (!n || !(duration > 0)) throw new InvalidArgumentError(`--rate takes N/DURATION (e.g. 20/1s) or none, got ${text}`);
  return { max: n, duration };
}

/**
 * Parse a queue command's arguments (after the command name).
 *
 * @throws EARSHOT_INVALID_ARGUMENT on misuse.
 * @example
 * parseQueueCommand('worker', ['--queue', 'redis://127.0.0.1:6379'], parseDuration).model; // 'local'
 */
export function parseQueueCommand(name: QueueCommand['command'], rest: readonly string[], parseDuration: (t: string) => number): QueueCommand | { command: 'help'; topic: string } {
  const common = { queue: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
  if (name === 'worker') {
    const { values } = parseArgs({
      args: [...rest],
      options: { ...common, model: { type: 'string' }, concurrency: { type: 'string' }, rate: { type: 'string' }, 'lock-duration': { type: 'string' }, 'stalled-interval': { type: 'string' }, 'reconnect-timeout': { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
      strict: true,
    });
    if (values.help) return { command: 'help', topic: name };
    const concurrency = positiveInt('concurrency', values.concurrency);
    return {
      command: 'worker',
      queue: needQueue(values.queue, name),
      model: values.model ?? 'local',
      ...(concurrency ? { concurrency } : {}),
      ...(values.rate !== undefined ? { rate: parseRate(values.rate, parseDuration) } : {}),
      ...(values['lock-duration'] ? { lockDurationMs: parseDuration(values['lock-duration']) } : {}),
      ...(values['stalled-interval'] ? { stalledIntervalMs: parseDuration(values['stalled-interval']) } : {}),
      ...(values['reconnect-timeout'] ? { reconnectTimeoutMs: parseDuration(values['reconnect-timeout']) } : {}),
      quiet: values.quiet ?? false,
    };
  }
  if (name === 'submit') {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...common, model: { type: 'string' }, id: { type: 'string' }, language: { type: 'string' }, hotwords: { type: 'string' }, context: { type: 'string' }, attempts: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) return { command: 'help', topic: name };
    const input = positionals[0];
    if (!input || positionals.length > 1) throw new InvalidArgumentError('earshot submit needs one input: a file or an http(s) URL');
    const attempts = positiveInt('attempts', values.attempts);
    return {
      command: 'submit',
      input,
      queue: needQueue(values.queue, name),
      model: values.model ?? 'local',
      ...(values.id ? { id: values.id } : {}),
      ...(values.language ? { language: values.language } : {}),
      ...(values.hotwords ? { hotwords: parseHotwords(values.hotwords) } : {}),
      ...(values.context ? { context: values.context } : {}),
      ...(attempts ? { attempts } : {}),
    };
  }
  const { values, positionals } = parseArgs({
    args: [...rest],
    options: { ...common, json: { type: 'boolean' }, srt: { type: 'string' }, vtt: { type: 'string' }, jsonl: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { command: 'help', topic: name };
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new InvalidArgumentError(`earshot ${name} needs one id (the one submit printed)`);
  const queue = needQueue(values.queue, name);
  if (name === 'status') return { command: 'status', id, queue, json: values.json ?? false };
  return { command: 'result', id, queue, ...(values.srt ? { srt: values.srt } : {}), ...(values.vtt ? { vtt: values.vtt } : {}), ...(values.jsonl ? { jsonl: values.jsonl } : {}) };
}
