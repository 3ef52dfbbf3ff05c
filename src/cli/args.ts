/**
 * Command-line parsing for `earshot`: pure functions from argv to a validated command, so the CLI's rules are
 * unit-testable without spawning it.
 */
import { parseArgs } from 'node:util';
import { basename, extname } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { Hotword } from '../transports/transport.js';
import { parseHotwords } from '../transports/dashscope/vocabulary.js';
import { parseQueueCommand, QUEUE_HELP, type QueueCommand } from './queue-args.js';
import type { Mode } from '../operators/transcribe-mode.js';

export type { Mode };

export interface TranscribeCommand {
  command: 'transcribe';
  input: string;
  model: string;
  mode?: Mode;
  srt?: string;
  vtt?: string;
  jsonl?: string;
  windowMs: number;
  /**
   * --live-windows / --whole-windows: near-realtime windows decoded live as they are spoken (embedded engine), or sent
   * whole; unset: live for live or paced audio (see `transcribeMode`).
   */
  liveWindows?: boolean;
  pace: boolean;
  hotwords?: Hotword[];
  context?: string;
  emotions?: string[];
  diarize: boolean;
  speakers?: number;
  language?: string;
  codec?: string;
  concurrency?: number;
  /** Redis URL: run the chunks on queue workers (batch and near-realtime modes). */
  queue?: string;
  quiet: boolean;
  /** `separate`: each channel of the input transcribed on its own (`--channels separate`). */
  channels?: 'separate';
  /** Speaker labels of the channels, in order (`--channel-names caller,agent`). */
  channelNames?: string[];
}

export interface LiveCommand extends Omit<TranscribeCommand, 'command' | 'input'> {
  command: 'live';
  micCommand?: string;
}

/** `earshot report`: transcribe (or read `events`) and write the HTML report of the run. */
export interface ReportCommand extends Omit<TranscribeCommand, 'command'> {
  command: 'report';
  out: string;
  /** A JSONL of an earlier run to show instead of transcribing. */
  events?: string;
}

export interface ModelsCommand {
  command: 'models';
  json: boolean;
}

export interface EmulatorCommand {
  command: 'emulator';
  port: number;
  host: string;
  apiKey?: string;
  script?: string;
  /** `--allow-host` (repeatable): hosts besides loopback the emulator may download `file_url`s from. */
  allowHosts?: string[];
}

export interface HelpCommand {
  command: 'help';
  topic?: string;
}

/** `earshot serve`: its arguments are parsed by `src/cli/serve.ts`. */
export interface ServeArgs {
  command: 'serve';
  argv: string[];
}

export type Command = TranscribeCommand | LiveCommand | ReportCommand | ModelsCommand | EmulatorCommand | ServeArgs | HelpCommand | QueueCommand | { command: 'version' };

export const HELP = `earshot — turn audio into text, offline by default or with Qwen Cloud speech models.

Usage:
  earshot transcribe <input> [options]   transcribe a file (any format ffmpeg reads), '-' for stdin,
                                         or rtp://HOST:PORT to caption a live RTP stream until Ctrl-C
  earshot live --mic [options]           live captions from the microphone until Ctrl-C
  earshot report <input> [options]       transcribe a file and write an HTML report of the run (waveform, VAD,
                                         windows, words, partials, captions, latency): --out FILE (default
                                         <name>.report.html), --events FILE to show an earlier run's JSONL instead
  earshot models [--json]                list the speech models and what each can do
  earshot emulator [--port N]            run the offline emulator of the Qwen Cloud speech APIs
                   [--allow-host H]...   (it downloads file_urls only from loopback and these hosts)
  earshot serve [--port N] [--out DIR]   transcribe live calls from Twilio, FreeSWITCH, Asterisk, Jambonz
                                         (earshot serve --help for its options)
  earshot --help | --version             (earshot <command> --help for a command's own options)

Transcribe options:
  --model ID           'local' (default: the embedded offline engine, no key needed) or a cloud model,
                       e.g. fun-asr, qwen3.5-omni-flash, fun-asr-realtime (see 'earshot models')
  --mode MODE          batch (whole file, default) | near-realtime (~5 s windows cut at pauses)
                       | realtime (stream to a live session)
  --srt FILE           also write SubRip captions      --vtt FILE   also write WebVTT captions
  --jsonl FILE         also write every event as one JSON line
  --window 5s          near-realtime window length (e.g. 5s, 3000ms)
  --live-windows       near-realtime on the embedded engine: decode each window while it is spoken (finals ~3x
                       sooner after a pause; WER +0.5 points on the bench's speech); the default for live or
                       --pace'd audio
  --whole-windows      near-realtime: send each window whole once its pause is heard (a file's default)
  --pace               replay the input at real time, as a live source would send it, and measure each final's
                       end-of-speech latency (wall ms from feeding the audio at its endMs to the final): a summary
                       line on stderr at the end (median, p95, max), "latency":{"endOfSpeechMs"} on --jsonl finals
  --language CODE      language hint, e.g. en
  --hotwords LIST      domain terms with weights, "term:weight,term:weight" (fun-asr models)
  --context TEXT       prompt context / background text (Omni and qwen3-asr models)
  --emotion LIST       keep only events with these emotions, e.g. angry,sad
  --diarize            label speakers (any model; from the audio when the service does not);  --speakers N  expected number of speakers
  --channels separate  transcribe each channel on its own (a stereo call: caller and agent); --channel-names caller,agent
  --codec C            RTP payload: pcmu | pcma | l16 | opus
  --concurrency N      requests in flight for batch and near-realtime modes
  -q, --quiet          no progress (nor --pace summary) on stderr
  --queue URL          run the chunks on 'earshot worker' processes through Redis (see below)

${QUEUE_HELP.trim()}

Cloud models read DASHSCOPE_API_KEY and DASHSCOPE_BASE_URL (e.g. the emulator: http://127.0.0.1:PORT).
EARSHOT_TRANSPORTS=a.js:b.js adds the models of transport modules (each exporting a descriptor as default).
Plain text goes to stdout; errors are one line on stderr, "EARSHOT_CODE: message", with a non-zero exit code.

Examples:
  earshot transcribe talk.mp3 --srt talk.srt
  earshot transcribe call.wav --mode near-realtime --window 5s --jsonl call.jsonl
  DASHSCOPE_API_KEY=sk-... earshot transcribe meeting.m4a --model fun-asr --diarize --vtt meeting.vtt
`;

/** Parse a duration like `5s`, `1500ms`, `2m` or a bare number of ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`not a duration: ${text} (try 5s or 3000ms)`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

const TRANSCRIBE_OPTIONS = {
  model: { type: 'string' },
  mode: { type: 'string' },
  srt: { type: 'string' },
  vtt: { type: 'string' },
  jsonl: { type: 'string' },
  window: { type: 'string' },
  'live-windows': { type: 'boolean' },
  'whole-windows': { type: 'boolean' },
  pace: { type: 'boolean' },
  language: { type: 'string' },
  hotwords: { type: 'string' },
  context: { type: 'string' },
  emotion: { type: 'string' },
  diarize: { type: 'boolean' },
  speakers: { type: 'string' },
  codec: { type: 'string' },
  concurrency: { type: 'string' },
  queue: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  mic: { type: 'boolean' },
  'mic-command': { type: 'string' },
  channels: { type: 'string' },
  'channel-names': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const REPORT_OPTIONS = { ...TRANSCRIBE_OPTIONS, out: { type: 'string' }, events: { type: 'string' } } as const;

function reportCommand(input: string, common: Omit<ReportCommand, 'command' | 'input' | 'out' | 'events'>, values: Record<string, unknown>): ReportCommand {
  if (input === '-' || input.startsWith('rtp://')) throw new InvalidArgumentError('earshot report needs an audio file (its waveform and audio go into the page)');
  // The page draws one audio stream; the channels of --channels separate would each need their own time line.
  if (values.channels !== undefined) throw new InvalidArgumentError('earshot report draws one audio stream: --channels separate is for earshot transcribe');
  const out = typeof values.out === 'string' ? values.out : `${basename(input, extname(input))}.report.html`;
  return { command: 'report', input, ...common, out, ...(typeof values.events === 'string' ? { events: values.events } : {}) };
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} needs a whole number ≥ 1, got ${text}`);
  return n;
}

/** Turn argv (without `node` and the script) into a command. Throws EARSHOT_INVALID_ARGUMENT on misuse. */
export function parseCommand(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') return { command: 'help', ...(rest[0] ? { topic: rest[0] } : {}) };
  if (name === '--version' || name === '-v') return { command: 'version' };
  if (name === 'serve') return { command: 'serve', argv: rest };
  try {
    if (name === 'models') {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return { command: 'help', topic: 'models' };
      return { command: 'models', json: values.json ?? false };
    }
    if (name === 'emulator') {
      const { values } = parseArgs({
        args: rest,
        options: { port: { type: 'string' }, host: { type: 'string' }, 'api-key': { type: 'string' }, script: { type: 'string' }, 'allow-host': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
        strict: true,
      });
      if (values.help) return { command: 'help', topic: 'emulator' };
      const allowHosts = values['allow-host'] ?? [];
      const badHost = allowHosts.find((h) => !/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i.test(h));
      if (badHost !== undefined) throw new InvalidArgumentError(`--allow-host takes a host or host:port, got ${JSON.stringify(badHost)}`);
      const port = values.port === undefined ? 0 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`--port must be 0–65535, got ${values.port}`);
      return { command: 'emulator', port, host: values.host ?? '127.0.0.1', ...(values['api-key'] ? { apiKey: values['api-key'] } : {}), ...(values.script ? { script: values.script } : {}), ...(allowHosts.length ? { allowHosts } : {}) };
    }
    if (name === 'worker' || name === 'submit' || name === 'status' || name === 'result') return parseQueueCommand(name, rest, parseDuration);
    if (name === 'transcribe' || name === 'live' || name === 'report') {
      const { values, positionals } = parseArgs({ args: rest, options: name === 'report' ? REPORT_OPTIONS : TRANSCRIBE_OPTIONS, allowPositionals: true, strict: true });
      if (values.help) return { command: 'help', topic: name };
      const mode = values.mode as Mode | undefined;
      if (mode !== undefined && !['batch', 'near-realtime', 'realtime'].includes(mode)) {
        throw new InvalidArgumentError(`--mode must be batch, near-realtime or realtime, got ${mode}`);
      }
      const codec = values.codec?.toLowerCase();
      if (codec !== undefined && !['pcmu', 'pcma', 'l16', 'opus'].includes(codec)) throw new InvalidArgumentError(`--codec must be pcmu, pcma, l16 or opus, got ${codec}`);
      const speakers = positiveInt('speakers', values.speakers);
      if (speakers && !values.diarize) throw new InvalidArgumentError('--speakers needs --diarize');
      if (values['live-windows'] && values['whole-windows']) throw new InvalidArgumentError('--live-windows and --whole-windows: give one of them');
      const concurrency = positiveInt('concurrency', values.concurrency);
      const common = {
        model: values.model ?? 'local',
        ...(mode ? { mode } : {}),
        ...(values.srt ? { srt: values.srt } : {}),
        ...(values.vtt ? { vtt: values.vtt } : {}),
        ...(values.jsonl ? { jsonl: values.jsonl } : {}),
        windowMs: values.window ? parseDuration(values.window) : 5000,
        ...(values['live-windows'] ? { liveWindows: true } : values['whole-windows'] ? { liveWindows: false } : {}),
        pace: values.pace ?? false,
        ...(values.hotwords ? { hotwords: parseHotwords(values.hotwords) } : {}),
        ...(values.context ? { context: values.context } : {}),
        ...(values.emotion ? { emotions: values.emotion.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean) } : {}),
        diarize: values.diarize ?? false,
        ...(speakers ? { speakers } : {}),
        ...(values.language ? { language: values.language } : {}),
        ...(codec ? { codec } : {}),
        ...(concurrency ? { concurrency } : {}),
        ...(values.queue ? { queue: values.queue } : {}),
        quiet: values.quiet ?? false,
      };
      if (name === 'live') {
        if (!values.mic) throw new InvalidArgumentError('earshot live needs --mic (the only live source so far)');
        return { command: 'live', ...common, ...(values['mic-command'] ? { micCommand: values['mic-command'] } : {}) };
      }
      const input = positionals[0];
      if (!input) throw new InvalidArgumentError('earshot transcribe needs an input: a file, - for stdin, or rtp://HOST:PORT');
      if (positionals.length > 1) throw new InvalidArgumentError(`one input at a time, got ${positionals.length}`);
      if (values.channels !== undefined && values.channels !== 'separate') throw new InvalidArgumentError(`--channels takes separate (each channel on its own), got ${values.channels}`);
      const channelNames = values['channel-names']?.split(',').map((s) => s.trim());
      if (channelNames && values.channels !== 'separate') throw new InvalidArgumentError('--channel-names needs --channels separate');
      if (channelNames?.some((n) => n === '')) throw new InvalidArgumentError('--channel-names takes names separated by commas, e.g. caller,agent');
      if (name === 'report') return reportCommand(input, common, values);
      return { command: 'transcribe', input, ...common, ...(values.channels ? { channels: 'separate' as const } : {}), ...(channelNames ? { channelNames } : {}) };
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw new InvalidArgumentError((err as Error).message, { cause: err });
  }
  throw new InvalidArgumentError(`unknown command "${name}"; try earshot --help`);
}
