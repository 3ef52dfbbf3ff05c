/**
 * `earshot <command> --help`: each command's own usage and options. The transcribe options are written once, in the
 * general help ({@link HELP}); `transcribe --help` and `live --help` show that section.
 */
import { HELP } from './args.js';
import { QUEUE_HELP } from './queue-args.js';

/** The block of the general help that starts with `title` and ends at the next blank line. */
function section(title: string): string {
  const start = HELP.indexOf(`${title}\n`);
  if (start < 0) return '';
  const end = HELP.indexOf('\n\n', start);
  return HELP.slice(start, end < 0 ? undefined : end + 1);
}

const ENVIRONMENT = `Environment:
  DASHSCOPE_API_KEY    the key of a cloud model (Model Studio / DashScope)
  DASHSCOPE_BASE_URL   the service's base URL (default https://dashscope.aliyuncs.com; the emulator prints its own)
  EARSHOT_TRANSPORTS   a.js:b.js adds the models of transport modules (each exporting a descriptor as default)
  EARSHOT_DEBUG=1      after a failure's one line, print its stack trace
`;

const TRANSCRIBE = `Usage: earshot transcribe <input> [options]

Transcribe <input> and print the text on stdout, one line per final result:
  <input>              a file in any format ffmpeg reads (WAV, MP3, M4A, FLAC, Ogg, video …); an http(s):// URL
                       (read as it downloads); - for stdin; rtp://HOST:PORT to caption a live RTP stream until
                       Ctrl-C (HOST 0.0.0.0 to listen on every interface, port 0 for any free port: the one bound
                       is printed on stderr)

${section('Transcribe options:').replace(' (see below)', " (see 'earshot --help')")}
${ENVIRONMENT}
Ctrl-C stops a file at once, flushes every output to the last complete result and exits 130; on rtp:// it is the
normal end (the last captions are finished, exit 0). A closed stdout (| head -1) stops the work, exit 0.

Examples:
  earshot transcribe talk.mp3 --srt talk.srt
  earshot transcribe call.wav --mode near-realtime --window 5s --jsonl call.jsonl
  earshot transcribe rtp://127.0.0.1:5004 --codec pcmu --vtt call.vtt
`;

const LIVE = `Usage: earshot live --mic [options]

Live captions from the microphone until Ctrl-C (which finishes the last captions and exits 0):
  --mic                capture from the default microphone: arecord on Linux (or ffmpeg with PulseAudio/ALSA),
                       ffmpeg with AVFoundation on macOS
  --mic-command CMD    capture with this command instead: it must write raw 16 kHz mono s16le PCM to stdout;
                       split on spaces, no shell. E.g. "arecord -q -f S16_LE -r 16000 -c 1 -t raw", or to replay
                       a file live: "ffmpeg -re -i talk.wav -f s16le -ar 16000 -ac 1 -"

${section('Transcribe options:')
  .replace('Transcribe options:', 'And the transcribe options (--mode defaults to realtime, or near-realtime for a batch model):')
  .replace(' (see below)', " (see 'earshot --help')")}
${ENVIRONMENT}`;

const EMULATOR = `Usage: earshot emulator [options]

Serve the offline emulator of the Qwen Cloud (DashScope) speech APIs until Ctrl-C, and print its base URL:
point DASHSCOPE_BASE_URL at it and every cloud model runs locally, recognized by the embedded engine.

Options:
  --port N             port to listen on (default 0: any free port; the one bound is printed)
  --host ADDR          address to bind (default 127.0.0.1; 0.0.0.0 serves other machines too)
  --api-key KEY        accept only this key (default: any non-empty key)
  --script FILE        a JSON array of {"text", "emotion"?, "language"?, "delayMs"?}: each stretch of speech is
                       "recognized" as the next of these instead of by the engine (for tests and demos)
  --allow-host H       also download file_urls from this host or host:port (repeatable; by default only from
                       loopback: any other host's URL fails the task, before any connection)

Example:
  earshot emulator --port 8080 --api-key sk-test
  DASHSCOPE_BASE_URL=http://127.0.0.1:8080 DASHSCOPE_API_KEY=sk-test earshot transcribe talk.mp3 --model fun-asr
`;

const MODELS = `Usage: earshot models [--json]

List the speech models and what each can do (mode, API, hotwords/context, emotion, speakers, word times, limits,
languages).
  --json               the same as JSON, for scripts
  EARSHOT_TRANSPORTS   a.js:b.js adds the models of transport modules
`;

/** The entry of `command` in `text`: its `  earshot <command> …` line and the indented lines that go on from it. */
function entry(text: string, command: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  earshot ${command} `));
  if (start < 0) return '';
  let end = start + 1;
  while (end < lines.length && /^ {3,}\S/.test(lines[end]!)) end++;
  return lines.slice(start, end).join('\n');
}

const REPORT = `Usage:
${entry(HELP, 'report')}

Every transcribe option applies except --channels (the page draws one audio stream); see 'earshot transcribe --help'.
`;

/** A queue command's own entry of the general help. */
const queueTopic = (command: string): string => `Usage:\n${entry(QUEUE_HELP, command)}\n\nThe queue: BullMQ on Redis (the optional packages bullmq and ioredis); see 'earshot --help'.\n`;

const TOPICS: Record<string, string> = {
  transcribe: TRANSCRIBE,
  live: LIVE,
  emulator: EMULATOR,
  models: MODELS,
  report: REPORT,
  ...Object.fromEntries(['worker', 'submit', 'status', 'result'].map((c) => [c, queueTopic(c)])),
};

/**
 * The help of one command (`earshot transcribe --help`), or the general help for no topic or an unknown one.
 *
 * @param topic - a command name.
 * @example
 * ```ts
 * process.stdout.write(helpFor('emulator')); // Usage: earshot emulator [options] …
 * ```
 */
export function helpFor(topic?: string): string {
  return (topic && TOPICS[topic]) || HELP;
}
