/**
 * The pipelines behind `earshot transcribe` and `earshot live`: pick a source for the input, a transport for the
 * model, an operator chain for the mode, and the sinks for the outputs.
 */
import { fromEvent, lastValueFrom, mergeMap, Observable, share, take, takeUntil, tap, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import { frameToMs, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { PaceClock } from '../core/clock.js';
import { fromFile } from '../sources/file.js';
import { fromReadable } from '../sources/readable.js';
import { fromRtp, parseRtpUrl } from '../sources/rtp.js';
import { fromMic } from '../sources/mic.js';
import { decode } from '../operators/decode.js';
import { resample } from '../operators/resample.js';
import { pace } from '../operators/pace.js';
import { vadChunk } from '../operators/vad-chunk.js';
import { nearRealtime } from '../operators/near-realtime.js';
import { transcribe } from '../operators/transcribe.js';
import { transcribeBatch } from '../operators/transcribe-batch.js';
import { transcribeRealtime } from '../operators/transcribe-realtime.js';
import { filterEmotion } from '../operators/filter-emotion.js';
import { toSrt } from '../sinks/srt.js';
import { toVtt } from '../sinks/vtt.js';
import { toJsonl } from '../sinks/jsonl.js';
import { toConsole } from '../sinks/console.js';
import { createTransport } from '../transports/catalog.js';
import type { RecognitionOptions, Transport } from '../transports/transport.js';
import type { BatchTransport } from '../transports/dashscope/fun-asr.js';
import type { BatchProgress } from '../transports/dashscope/http.js';
import type { LiveCommand, Mode, TranscribeCommand } from './args.js';

/** What the CLI needs from its process: streams and an interrupt signal, so tests can drive it. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** Emits once on the first Ctrl-C: live inputs then end cleanly, flushing every output. */
  interrupt: Observable<unknown>;
  env: NodeJS.ProcessEnv;
}

function recognitionOf(cmd: TranscribeCommand | LiveCommand): RecognitionOptions {
  return {
    ...(cmd.language ? { language: cmd.language } : {}),
    ...(cmd.hotwords ? { hotwords: cmd.hotwords } : {}),
    ...(cmd.context ? { context: cmd.context } : {}),
    ...(cmd.diarize ? { diarize: true } : {}),
    ...(cmd.speakers ? { speakers: cmd.speakers } : {}),
  };
}

/** The mode a model runs in when none is given: whole-file batch, or realtime for realtime-only models. */
function defaultMode(transport: Transport, live: boolean): Mode {
  if (live) return transport.capabilities.realtime ? 'realtime' : 'near-realtime';
  return transport.capabilities.batch ? 'batch' : 'realtime';
}

/** Progress on stderr when it is a terminal: audio time processed so far. */
function progress(io: CliIo, quiet: boolean): OperatorFunction<AudioChunk, AudioChunk> {
  if (quiet || !io.stderr.isTTY) return (s) => s;
  let last = 0;
  return (source) =>
    source.pipe(
      tap({
        next: (c) => {
          const now = Date.now();
          if (now - last < 250) return;
          last = now;
          const s = Math.floor(frameToMs(c.offset, c.sampleRate) / 1000);
          io.stderr.write(`\r\x1b[2Kearshot: ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} of audio read`);
        },
        finalize: () => io.stderr.write('\r\x1b[2K'),
      }),
    );
}

/** Audio for the input: one stream (file, stdin, mic) or, for RTP, one per participant merged. */
function audioOf(cmd: TranscribeCommand | LiveCommand, io: CliIo): { audio: Observable<AudioChunk>; live: boolean; path?: string } {
  const toMono16k = (s: Observable<AudioChunk>) => s.pipe(resample(16000));
  if (cmd.command === 'live') {
    // --mic-command is split on spaces (no shell): e.g. "ffmpeg -re -i talk.wav -f s16le -ar 16000 -ac 1 -".
    const command = cmd.micCommand?.split(/\s+/).filter(Boolean);
    return { audio: fromMic({ ...(command?.length ? { command } : {}), env: io.env }).pipe(takeUntil(io.interrupt)), live: true };
  }
  const input = cmd.input;
  if (input.startsWith('rtp://')) {
    const streams = fromRtp(parseRtpUrl(input, cmd.codec ? { codec: cmd.codec } : {}));
    // One participant at a time is what a plain-text CLI can show; the library gives one stream per SSRC.
    return { audio: streams.pipe(takeUntil(io.interrupt), take(1), mergeMap((s) => toMono16k(s.audio$.pipe(takeUntil(io.interrupt))))), live: true };
  }
  if (input === '-') return { audio: fromReadable(io.stdin as never).pipe(decode({ sampleRate: 16000, channels: 1 })), live: false };
  return { audio: fromFile(input).pipe(decode({ sampleRate: 16000, channels: 1 })), live: false, path: input };
}

/**
 * Run `earshot transcribe` / `earshot live` to the end: resolves when every output is flushed and closed.
 * @throws the pipeline's EarshotError (the CLI prints its code and message).
 */
export async function runTranscribe(cmd: TranscribeCommand | LiveCommand, io: CliIo): Promise<void> {
  const recognition = recognitionOf(cmd);
  const transport = createTransport(cmd.model, { env: io.env, ...recognition });
  try {
    const { audio: rawAudio, live, path } = audioOf(cmd, io);
    const mode = cmd.mode ?? defaultMode(transport, live);
    const clock = new PaceClock();
    const audio = rawAudio.pipe(progress(io, cmd.quiet || live), cmd.pace ? pace({ clock }) : (s) => s);
    const concurrency = cmd.concurrency ?? (transport.model === 'local' ? undefined : 4);
    const batchOptions = { options: recognition, ...(concurrency ? { concurrency } : {}), ...(cmd.pace ? { clock } : {}) };

    let events: Observable<TranscriptEvent>;
    if (mode === 'batch') {
      const batch = transport as Partial<BatchTransport>;
      if (path && batch.transcribeFile && !cmd.pace) {
        const transcribeFile = batch.transcribeFile.bind(transport);
        const showProgress = !cmd.quiet && io.stderr.isTTY === true;
        events = new Observable<TranscriptEvent>((sub) => {
          const ac = new AbortController();
          transcribeFile(path, {
            signal: ac.signal,
            ...recognition,
            ...(showProgress ? { onProgress: (p: BatchProgress) => io.stderr.write(`\r\x1b[2Kearshot: ${p.phase}${p.status ? ` (${p.status})` : ''}${p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : ''} ${(p.elapsedMs / 1000).toFixed(0)} s${p.phase === 'done' ? '\r\x1b[2K' : ''}`) } : {}),
          }).then((list) => {
            for (const e of list) sub.next(e);
            sub.complete();
          }, (err: unknown) => sub.error(err));
          return () => ac.abort();
        });
      } else if (transport.transcribeClip) {
        events = audio.pipe(vadChunk({ maxChunkMs: Math.min(transport.capabilities.maxDurationMs, 20_000) }), transcribeBatch(transport, batchOptions));
      } else {
        throw new InvalidArgumentError(`model ${transport.model} is realtime only: use --mode realtime`);
      }
    } else if (mode === 'near-realtime') {
      if (!transport.transcribeClip) throw new InvalidArgumentError(`model ${transport.model} has no batch API for near-realtime windows: use --mode realtime`);
      events = audio.pipe(nearRealtime({ windowMs: cmd.windowMs }), transcribeBatch(transport, batchOptions));
    } else {
      if (!transport.openStream) throw new InvalidArgumentError(`model ${transport.model} cannot stream: use --mode batch or near-realtime`);
      events = transport.model === 'local'
        ? audio.pipe(transcribe(transport, recognition))
        : audio.pipe(transcribeRealtime(transport, { options: recognition, pace: !live && !cmd.pace }));
    }

    let out = events;
    if (cmd.emotions?.length) out = out.pipe(filterEmotion(cmd.emotions as never));
    if (cmd.srt) out = out.pipe(toSrt(cmd.srt));
    if (cmd.vtt) out = out.pipe(toVtt(cmd.vtt));
    if (cmd.jsonl) out = out.pipe(toJsonl(cmd.jsonl));
    out = out.pipe(toConsole({ stream: io.stdout as never }));
    await lastValueFrom(out, { defaultValue: undefined });
  } finally {
    await transport.close?.();
  }
}

/** An Observable that emits once on the first Ctrl-C (live inputs then end cleanly); a second one exits at once. */
export function interruptSignal(): Observable<unknown> {
  return fromEvent(process, 'SIGINT').pipe(
    take(1),
    tap(() => process.once('SIGINT', () => process.exit(130))),
    share(),
  );
}
