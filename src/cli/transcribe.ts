/**
 * The pipelines behind `earshot transcribe` and `earshot live`: pick a source for the input, a transport for the
 * model, an operator chain for the mode, and the sinks for the outputs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer, finalize, fromEvent, identity, lastValueFrom, map, mergeMap, Observable, of, share, take, takeUntil, tap, type MonoTypeOperatorFunction, type OperatorFunction, type Subscriber } from 'rxjs';
import { CapabilityError, InputError, InvalidArgumentError } from '../core/errors.js';
import { shiftEvent, type AudioChunk, type AudioSegment, type ByteChunk, type TranscriptEvent } from '../core/types.js';
import { PaceClock } from '../core/clock.js';
import { fromFile } from '../sources/file.js';
import { fromReadable } from '../sources/readable.js';
import { fromRtp, parseRtpUrl } from '../sources/rtp.js';
import { ssrcName } from '../rtp/packet.js';
import { fromMic } from '../sources/mic.js';
import { fromUrl, isHttpUrl } from '../sources/url.js';
import { decode } from '../operators/decode.js';
import { resample } from '../operators/resample.js';
import { pace } from '../operators/pace.js';
import type { WindowSegment } from '../operators/near-realtime.js';
import { defaultMode, transcribeMode } from '../operators/transcribe-mode.js';
import { filterEmotion } from '../operators/filter-emotion.js';
import { diarize } from '../operators/diarize.js';
import { splitChannels } from '../operators/split-channels.js';
import { probeChannels } from '../media/ffmpeg.js';
import { toSrt } from '../sinks/srt.js';
import { toVtt } from '../sinks/vtt.js';
import { toJsonl } from '../sinks/jsonl.js';
import { toConsole } from '../sinks/console.js';
import { createTransport, modelInfo } from '../transports/catalog.js';
import { queued } from '../transports/queued.js';
import type { RecognitionOptions } from '../transports/transport.js';
import type { BatchTransport } from '../transports/dashscope/fun-asr.js';
import type { BatchProgress } from '../transports/dashscope/http.js';
import type { LiveCommand, ReportCommand, TranscribeCommand } from './args.js';
import { EarlyStop } from './stop.js';
import { ProgressDisplay } from './progress.js';
import { probeDurationMs } from '../media/ffmpeg.js';
import { PacedLatency } from './latency.js';

/** What the CLI needs from its process: streams and an interrupt signal, so tests can drive it. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** Emits once on the first Ctrl-C: live inputs then end cleanly, flushing every output. */
  interrupt: Observable<unknown>;
  env: NodeJS.ProcessEnv;
}

function recognitionOf(cmd: TranscribeCommand | LiveCommand | ReportCommand): RecognitionOptions {
  return {
    ...(cmd.language ? { language: cmd.language } : {}),
    ...(cmd.hotwords ? { hotwords: cmd.hotwords } : {}),
    ...(cmd.context ? { context: cmd.context } : {}),
    ...(cmd.diarize ? { diarize: true } : {}),
    ...(cmd.speakers ? { speakers: cmd.speakers } : {}),
  };
}

/** Operators `earshot report` inserts to watch the pipeline; each passes its input on unchanged. */
export interface PipelineTaps {
  /** The decoded audio, before pacing. */
  audio?: MonoTypeOperatorFunction<AudioChunk>;
  /** The segments of `vadChunk()` (batch mode). */
  vad?: MonoTypeOperatorFunction<AudioSegment>;
  /** The windows of `nearRealtime()` (near-realtime mode). */
  windows?: MonoTypeOperatorFunction<WindowSegment>;
  /** The events, after the emotion filter, before the sinks. */
  events?: MonoTypeOperatorFunction<TranscriptEvent>;
}

/** The audio read so far, on the progress display when there is one. */
function progress(display: ProgressDisplay | undefined): OperatorFunction<AudioChunk, AudioChunk> {
  return display ? display.audio() : (s) => s;
}

/** One audio stream to transcribe; `label` names an RTP participant or a channel (events get it as `speaker`). */
interface Track {
  audio: Observable<AudioChunk>;
  label?: string;
  /** The input channel, with `--channels separate` (events get it as `channel`). */
  channel?: number;
  /** Where the track starts on the input's time line (ms): an RTP participant who joined later. */
  offsetMs?: number;
}

/** The speaker label of a channel: its `--channel-names` entry, else `Channel N`. */
function channelLabel(cmd: Pick<TranscribeCommand, 'channelNames'>, channel: number): string {
  return cmd.channelNames?.[channel] ?? `Channel ${channel + 1}`;
}

/** How far behind the audio the captions of live tracks (RTP participants) are written: room for a final to come. */
const LIVE_CAPTION_HOLD_MS = 15_000;

/** An event of a track named `label` (a channel, an RTP participant): speakers found in it (--diarize) keep the name. */
function onTrack(e: TranscriptEvent, label: string): TranscriptEvent {
  return { ...e, speaker: e.speaker ? `${label} (${e.speaker})` : label };
}

/** The input as tracks: one for a file, stdin or the mic; one per participant (SSRC) for RTP. */
function tracksOf(cmd: TranscribeCommand | LiveCommand | ReportCommand, io: CliIo): { tracks: Observable<Track>; live: boolean; path?: string; url?: string } {
  if (cmd.command === 'live') {
    // --mic-command is split on spaces (no shell): e.g. "ffmpeg -re -i talk.wav -f s16le -ar 16000 -ac 1 -".
    const command = cmd.micCommand?.split(/\s+/).filter(Boolean);
    // Ctrl-C stops the capture and keeps what it recorded up to then (the end of the last word).
    const audio = defer(() => {
      const stopped = new AbortController();
      const onInterrupt = io.interrupt.subscribe(() => stopped.abort());
      return fromMic({ ...(command?.length ? { command } : {}), env: io.env, signal: stopped.signal }).pipe(finalize(() => onInterrupt.unsubscribe()));
    });
    return { tracks: of({ audio }), live: true };
  }
  const input = cmd.input;
  if (input.startsWith('rtp://')) {
    if (cmd.channels === 'separate') throw new InvalidArgumentError('--channels separate takes a file; RTP participants are already apart');
    const onListening = (a: { address: string; port: number }): void => {
      io.stderr.write(`earshot: listening for RTP on ${a.address}:${a.port} (Ctrl-C to stop and flush the outputs)\n`);
    };
    const participants = fromRtp({ ...parseRtpUrl(input, cmd.codec ? { codec: cmd.codec } : {}), onListening }).pipe(takeUntil(io.interrupt));
    // A participant's audio time starts at its first packet; the input's at the first participant's. Their SSRCs'
    // RTP clocks are unrelated, so a later one is placed by when it arrived.
    let firstAt: number | undefined;
    const tracks = participants.pipe(
      map((p): Track => {
        const now = Date.now();
        firstAt ??= now;
        return { audio: p.audio$.pipe(takeUntil(io.interrupt), resample(16000)), label: ssrcName(p.ssrc), offsetMs: now - firstAt };
      }),
    );
    return { tracks, live: true };
  }
  if (cmd.channels === 'separate') {
    // decode() needs the channel count up front: ffprobe reads it from the file, or from the first bytes of stdin.
    const inputs = input === '-' ? withChannels(fromReadable(io.stdin as never)) : defer(() => probeChannels(input)).pipe(map((channels) => ({ channels, bytes: fromFile(input) })));
    const tracks = inputs.pipe(
      mergeMap(({ channels, bytes }) => bytes.pipe(decode({ sampleRate: 16000, channels }), splitChannels())),
      map((t): Track => ({ audio: t.audio, label: channelLabel(cmd, t.channel), channel: t.channel })),
    );
    return input === '-' ? { tracks, live: false } : { tracks, live: false, path: input };
  }
  if (input === '-') return { tracks: of({ audio: fromReadable(io.stdin as never).pipe(decode({ sampleRate: 16000, channels: 1 })) }), live: false };
  // An http(s) input is read through ffmpeg as it downloads; async-task models get the URL itself (see runTranscribe).
  if (isHttpUrl(input)) return { tracks: of({ audio: fromUrl(input).pipe(decode({ sampleRate: 16000, channels: 1 })) }), live: false, url: input };
  return { tracks: of({ audio: fromFile(input).pipe(decode({ sampleRate: 16000, channels: 1 })) }), live: false, path: input };
}

/** Bytes of stdin probed for their channel count before decoding: enough for any container's header. */
const PROBE_HEAD_BYTES = 256 * 1024;

/**
 * A byte stream's channel count, found by ffprobe on its first bytes (written to a temporary file), and the whole
 * stream to decode: the source is paused (its flow held) while ffprobe runs, and the first bytes are replayed.
 * `bytes` can be subscribed once, and must be at once (as `mergeMap` does).
 */
function withChannels(source: Observable<ByteChunk>): Observable<{ channels: number; bytes: Observable<ByteChunk> }> {
  return new Observable((subscriber) => {
    const head: ByteChunk[] = [];
    let size = 0;
    let reader: Subscriber<ByteChunk> | undefined;
    let probing = false;
    let ended = false;
    let release: (() => void) | undefined;
    const probe = (): void => {
      probing = true;
      release = head.at(-1)?.flow?.hold();
      const dir = mkdtempSync(join(tmpdir(), 'earshot-stdin-'));
      const file = join(dir, 'stdin');
      writeFileSync(file, Buffer.concat(head.map((c) => c.data)));
      probeChannels(file)
        .finally(() => rmSync(dir, { recursive: true, force: true }))
        .then(
          (channels) =>
            subscriber.next({
              channels,
              bytes: new Observable<ByteChunk>((o) => {
                for (const c of head.splice(0)) o.next(c);
                if (!ended) reader = o;
                else {
                  o.complete();
                  subscriber.complete();
                }
                release?.();
              }),
            }),
          // ffprobe's message names the temporary file; the user gave stdin.
          (err: unknown) => subscriber.error(err instanceof InputError ? new InputError(err.code, err.message.replaceAll(file, 'stdin'), { cause: err }) : err),
        );
    };
    const sub = source.subscribe({
      next(chunk) {
        if (reader) return reader.next(chunk);
        head.push(chunk);
        size += chunk.data.length;
        if (!probing && size >= PROBE_HEAD_BYTES) probe();
      },
      error(err: unknown) {
        if (reader) reader.error(err);
        subscriber.error(err);
      },
      complete() {
        ended = true;
        if (!probing) probe();
        reader?.complete();
        if (reader) subscriber.complete();
      },
    });
    return () => sub.unsubscribe();
  });
}

/**
 * Run `earshot transcribe` / `earshot live` to the end: resolves when every output is flushed and closed, with the
 * exit code (0, or 130 when Ctrl-C stopped a file: see {@link EarlyStop}).
 * @throws the pipeline's EarshotError (the CLI prints its code and message).
 */
export async function runTranscribe(cmd: TranscribeCommand | LiveCommand | ReportCommand, io: CliIo, taps: PipelineTaps = {}): Promise<number> {
  const info = modelInfo(cmd.model);
  const { diarize: _diarize, speakers: _speakers, ...withoutSpeakers } = recognitionOf(cmd);
  // --diarize: the diarize() operator labels speakers from the audio, unless the service labels them. A service
  // numbers them per request: one timeline only when it hears the whole file at once (decided below); elsewhere
  // (clips, windows, a queue) the operator labels them too. So the transport is made without diarization and the
  // whole-file call asks for it itself. Live audio has neither: the operator labels at the end of the input, and a
  // service would number each window's speakers afresh.
  if (cmd.diarize && cmd.command === 'live') throw new CapabilityError(cmd.model, 'diarization of live audio (speakers are found over a whole recording: earshot transcribe it)');
  const serviceLabels = cmd.diarize && info.diarization;
  const made = cmd.diarize ? withoutSpeakers : recognitionOf(cmd);
  const onQueue = cmd.command !== 'live' && cmd.queue ? queued({ connection: cmd.queue, model: cmd.model, options: made }) : undefined;
  const transport = onQueue ?? createTransport(cmd.model, { env: io.env, ...made });
  const stop = new EarlyStop(io);
  let display: ProgressDisplay | undefined;
  try {
    // Like --diarize: asking for emotions from a model that has none is an error before any request.
    if (cmd.emotions?.length && !transport.capabilities.emotion) throw new CapabilityError(transport.model, 'emotion');
    await onQueue?.ready();
    const { tracks, live, path, url } = tracksOf(cmd, io);
    // one progress line on a terminal, for a file: done of total, speed, time left
    if (!cmd.quiet && !live && io.stderr.isTTY === true) {
      const shown = (display = new ProgressDisplay(io.stderr));
      if (path) void probeDurationMs(path).then((ms) => (shown.totalMs = ms), () => undefined);
    }
    const mode = cmd.mode ?? defaultMode(transport, live);
    // On a queue, enough clips in flight to keep many workers busy (otherwise transcribeMode's default).
    const concurrency = cmd.concurrency ?? (onQueue ? 16 : undefined);
    transcribeMode(transport, { mode }); // a mode the model cannot run fails here, before any input is read

    const batch = transport as Partial<BatchTransport>;
    // A URL goes to a network model's transcribeFile as it is (an async-task model passes it on, nothing uploaded).
    const whole = path ?? (transport.capabilities.offline === true ? undefined : url);
    // The whole file to the service in one call. With --channels separate only where the service transcribes each
    // channel on its own (async tasks: channel_id); the others hear one mixed channel, so their tracks go as clips.
    const fileCall = mode === 'batch' && whole && !cmd.pace && (!cmd.channels || info.api === 'async-task') ? batch.transcribeFile : undefined;
    // --diarize where the service's labels would not make one timeline (see above): the diarize() operator.
    const speakersByOperator = cmd.diarize && !(serviceLabels && fileCall);
    const recognition = speakersByOperator ? withoutSpeakers : recognitionOf(cmd);

    // --pace: each final's end-of-speech latency (from when its last audio was fed), and a summary line at the end.
    const paced = cmd.pace ? new PacedLatency() : undefined;
    const eventsOf = (raw: Observable<AudioChunk>): Observable<TranscriptEvent> => {
      const clock = new PaceClock();
      const feed = paced?.track();
      const audio = raw.pipe(taps.audio ?? identity, progress(display), feed ? (s) => s.pipe(pace({ clock }), feed.fed()) : identity);
      const transcription: OperatorFunction<AudioChunk, TranscriptEvent> = transcribeMode(transport, {
        mode,
        live,
        recognition,
        windowMs: cmd.windowMs,
        ...(cmd.liveWindows === undefined ? {} : { liveWindows: cmd.liveWindows }),
        ...(concurrency ? { concurrency } : {}),
        ...(feed ? { clock } : {}),
        taps: { ...(taps.vad ? { vad: taps.vad } : {}), ...(taps.windows ? { windows: taps.windows } : {}) },
      });
      return audio.pipe(speakersByOperator ? diarize(transcription, cmd.speakers ? { speakers: cmd.speakers } : {}) : transcription, feed ? feed.finals() : identity);
    };

    const events =
      fileCall && whole && !speakersByOperator
        ? wholeFile(fileCall.bind(transport), whole, recognition, display).pipe(
            // The service answers each channel of the file as its own transcript; name them as the tracks are named.
            map((e) => (cmd.channels && e.channel !== undefined ? onTrack(e, channelLabel(cmd, e.channel)) : e)),
          )
        : tracks.pipe(
            mergeMap((t) =>
              t.label
                ? eventsOf(t.audio).pipe(map((e) => ({ ...onTrack(t.offsetMs ? shiftEvent(e, t.offsetMs) : e, t.label!), ...(t.channel !== undefined ? { channel: t.channel } : {}) })))
                : eventsOf(t.audio),
            ),
          );

    let out = events.pipe(stop.events(live ? undefined : io.interrupt));
    if (cmd.emotions?.length) out = out.pipe(filterEmotion(cmd.emotions as never));
    if (taps.events) out = out.pipe(taps.events);
    if (display) out = out.pipe(display.events());
    const liveTracks = cmd.command !== 'live' && cmd.input.startsWith('rtp://');
    await writeOutputs(out, { ...cmd, latency: paced !== undefined, liveTracks }, display ? { ...io, stdout: display.wrap(io.stdout) } : io).catch((err: unknown) => stop.failure(err));
    display?.stop();
    const code = await stop.finish(io, { ...(path ? { path } : {}), captions: Boolean(cmd.srt || cmd.vtt), files: Boolean(cmd.jsonl) });
    // The latency summary closes a run that went to its end (a stopped one ends with its one EARSHOT_ABORTED line).
    if (paced && !cmd.quiet && code === 0) io.stderr.write(paced.line());
    return code;
  } finally {
    display?.stop();
    stop.dispose();
    await transport.close?.();
  }
}

/**
 * Write events to the files asked for (SRT, VTT, JSONL; with `latency`, the JSONL carries the finals' latency
 * figures; with `channels`, captions are laid out per channel) and as text to stdout; resolves once every file is
 * flushed and closed.
 */
export async function writeOutputs(
  events: Observable<TranscriptEvent>,
  outputs: { srt?: string; vtt?: string; jsonl?: string; latency?: boolean; channels?: 'separate'; liveTracks?: boolean },
  io: CliIo,
): Promise<void> {
  let out = events;
  // Several tracks (--channels separate; RTP participants, `liveTracks`): each track's captions at their own times,
  // the file in start order (see CaptionOptions.channels); a live input's written 15 s of audio behind, not at the end.
  const captions = outputs.liveTracks ? { channels: true, holdMs: LIVE_CAPTION_HOLD_MS } : outputs.channels ? { channels: true } : {};
  if (outputs.srt) out = out.pipe(toSrt(outputs.srt, captions));
  if (outputs.vtt) out = out.pipe(toVtt(outputs.vtt, captions));
  if (outputs.jsonl) out = out.pipe(toJsonl(outputs.jsonl, { latency: outputs.latency ?? false }));
  await lastValueFrom(out.pipe(toConsole({ stream: io.stdout as never })), { defaultValue: undefined });
}

/** A batch model's whole-file API (upload or URL, async task) as an Observable; its stages on the progress display. */
function wholeFile(
  transcribeFile: BatchTransport['transcribeFile'],
  path: string,
  recognition: RecognitionOptions,
  display: ProgressDisplay | undefined,
): Observable<TranscriptEvent> {
  return new Observable<TranscriptEvent>((sub) => {
    const ac = new AbortController();
    const onProgress = (p: BatchProgress): void => {
      const status = p.status && p.status.toLowerCase() !== p.phase ? ` (${p.status})` : '';
      const fraction = p.fraction !== undefined ? ` ${Math.round(p.fraction * 100)}%` : '';
      display?.phase(p.phase === 'done' ? undefined : `${p.phase}${status}${fraction}, ${(p.elapsedMs / 1000).toFixed(0)} s`);
    };
    transcribeFile(path, { signal: ac.signal, ...recognition, ...(display ? { onProgress } : {}) }).then(
      (list) => {
        for (const e of list) sub.next(e);
        sub.complete();
      },
      (err: unknown) => sub.error(err),
    );
    return () => ac.abort();
  });
}

/** An Observable that emits once on the first Ctrl-C (live inputs then end cleanly); a second one exits at once. */
export function interruptSignal(): Observable<unknown> {
  return fromEvent(process, 'SIGINT').pipe(
    take(1),
    tap(() => process.once('SIGINT', () => process.exit(130))),
    share(),
  );
}
