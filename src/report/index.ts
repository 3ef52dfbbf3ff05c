/**
 * `report()`: one self-contained HTML page that shows what a pipeline did to an input, on one time line — the
 * waveform, VAD speech, near-realtime windows, words, finals and partials, speakers, emotion, caption cues and
 * latency — with an audio player, click-to-play words and search. `import { report } from 'earshot/report'`.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { lastValueFrom, Observable } from 'rxjs';
import { AbortError, InputError, InvalidArgumentError, SinkError } from '../core/errors.js';
import { frameToMs, isSpeechEdge, type TranscriptEvent } from '../core/types.js';
import { fromFile } from '../sources/file.js';
import { decode } from '../operators/decode.js';
import { nearRealtime, type NearRealtimeOptions } from '../operators/near-realtime.js';
import type { VadChunkOptions } from '../operators/vad-chunk.js';
import { loadVad } from '../media/vad.js';
import { transcodeFile } from '../media/ffmpeg.js';
import { buildCues, type CaptionOptions } from '../sinks/captions.js';
import { parseJsonlLine } from '../sinks/jsonl.js';
import { ReportCollector, type Collected } from './collect.js';
import { renderPage, type PageData, type PageFinal, type PageSpan } from './page.js';
import type { Peaks } from './peaks.js';

export { ReportCollector } from './collect.js';
export type { AudioTapOptions, Collected, ReportSegment, ReportWindow } from './collect.js';
export { PeakBuilder } from './peaks.js';
export type { PeakLevel, PeakOptions, Peaks } from './peaks.js';
export { renderPage } from './page.js';
export type { PageData, PageFinal, PageSegment, PageSpan, PageWindow } from './page.js';

/** Default largest encoded audio embedded in the page: 8 MiB (about 70 minutes at 16 kbit/s). */
export const DEFAULT_EMBED_MAX_BYTES = 8 * 1024 * 1024;

/** How the page gets its audio. */
export interface EmbedAudioOptions {
  /** Embed the audio (Opus in WebM, as a data URI) when it encodes to at most this many bytes; else link the file. */
  maxBytes?: number;
  /** Opus bit rate, kbit/s (default 16). */
  bitrateKbps?: number;
}

/** Options of {@link report}. */
export interface ReportOptions {
  /** The audio file the report is about (any format ffmpeg reads). */
  audio: string;
  /** The transcript: a JSONL file of the event contract, or events. Optional with a `collector` that saw them. */
  events?: string | Iterable<TranscriptEvent>;
  /** A {@link ReportCollector} that watched the pipeline run; without its audio tap the file is read once more. */
  collector?: ReportCollector;
  /** Write the page here (created or overwritten). */
  out?: string;
  /** Title of the page (default: the audio file's name). */
  title?: string;
  /** Options of the `vadChunk()` run when the audio is read here, i.e. the collector did not see it (default `{}`). */
  vad?: VadChunkOptions;
  /**
   * When the audio is read here: cut it with `nearRealtime(windows)` too, to show the windows of a near-realtime
   * run from its JSONL (they, their speculation and their revocations depend only on the audio).
   */
  windows?: NearRealtimeOptions;
  /** Caption limits for the cues lane (default: the SRT/WebVTT sinks' defaults). */
  captions?: CaptionOptions;
  /** Audio embedding (default `{ maxBytes: DEFAULT_EMBED_MAX_BYTES, bitrateKbps: 16 }`); `false` always links the file. */
  embedAudio?: EmbedAudioOptions | false;
  /** The ffmpeg executable (default `'ffmpeg'`). */
  ffmpegPath?: string;
  /** Cancels reading the audio and encoding it (the promise rejects with EARSHOT_ABORTED). */
  signal?: AbortSignal;
}

/** What {@link report} made. */
export interface ReportResult {
  /** The page. */
  html: string;
  /** Where it was written, when `out` was given. */
  path?: string;
  /** Size of the page in bytes (UTF-8). */
  bytes: number;
  durationMs: number;
  words: number;
  finals: number;
  /** `embedded` in the page, or `linked` (the page refers to the file, relative to the page when written). */
  audio: 'embedded' | 'linked';
}

/**
 * Read a JSONL file of transcript events (the contract `toJsonl()` writes; blank lines skipped).
 *
 * @param path - the file.
 * @throws (rejects) EARSHOT_FILE_NOT_FOUND, EARSHOT_CORRUPT_INPUT (with the line number) for a line that is not an event.
 * @example
 * ```ts
 * const events = await readJsonl('talk.jsonl');
 * ```
 */
export async function readJsonl(path: string): Promise<TranscriptEvent[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError('EARSHOT_FILE_NOT_FOUND', `cannot read ${basename(path)}`, { cause: err, details: { file: basename(path) } });
  }
  const events: TranscriptEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line) events.push(parseJsonlLine(line, `${basename(path)}:${i + 1}`));
  }
  return events;
}

/** Run `source` to its end; unsubscribe (and reject with EARSHOT_ABORTED) when `signal` aborts. */
function runToEnd(source: Observable<unknown>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return lastValueFrom(source, { defaultValue: undefined }).then(() => undefined);
  return new Promise((resolvePromise, reject) => {
    if (signal.aborted) return reject(new AbortError(signal.reason));
    const onAbort = (): void => {
      sub.unsubscribe();
      reject(new AbortError(signal.reason));
    };
    const sub = source.subscribe({
      error: (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
      complete: () => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise();
      },
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Where a final or partial goes: its speaker, else its channel, else the one lane. */
function laneOf(e: TranscriptEvent): string {
  if (e.speaker !== undefined) return e.speaker;
  if (e.channel !== undefined) return `channel ${e.channel}`;
  return '';
}

const span = (s: number, e: number, t: string): PageSpan => [Math.round(s), Math.round(e), t];

/** Finals with the partials that preceded each (per lane, in emission order), and partials no final followed. */
function finalsOf(events: readonly TranscriptEvent[]): { lanes: string[]; finals: PageFinal[]; trailing: PageSpan[] } {
  const lanes: string[] = [];
  const laneIndex = new Map<string, number>();
  const waiting = new Map<string, PageSpan[]>();
  const finals: PageFinal[] = [];
  for (const e of events) {
    if (isSpeechEdge(e)) continue;
    const key = laneOf(e);
    if (e.type === 'partial') {
      let list = waiting.get(key);
      if (!list) waiting.set(key, (list = []));
      list.push(span(e.startMs, e.endMs, e.text));
      continue;
    }
    let lane = laneIndex.get(key);
    if (lane === undefined) {
      lane = lanes.push(key) - 1;
      laneIndex.set(key, lane);
    }
    const f: PageFinal = { s: Math.round(e.startMs), e: Math.round(e.endMs), t: e.text, lane, words: (e.words ?? []).map((w) => span(w.startMs, w.endMs, w.text)), partials: waiting.get(key) ?? [] };
    waiting.delete(key);
    if (e.emotion !== undefined) f.emo = e.emotion;
    if (e.language !== undefined) f.lang = e.language;
    if (e.latency?.endOfSpeechMs !== undefined) f.eos = Math.round(e.latency.endOfSpeechMs);
    if (e.latency?.addedMs !== undefined) f.added = Math.round(e.latency.addedMs * 1000) / 1000;
    finals.push(f);
  }
  if (lanes.length === 0) lanes.push('');
  return { lanes, finals, trailing: [...waiting.values()].flat() };
}

/** Speech as the transcription service heard it: `speech-start` … `speech-end` pairs (an open one ends at `endMs`). */
function serviceSpeechOf(events: readonly TranscriptEvent[], endMs: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let open: number | undefined;
  for (const e of events) {
    if (e.type === 'speech-start') open ??= e.startMs;
    else if (e.type === 'speech-end' && open !== undefined) {
      out.push([Math.round(open), Math.round(Math.max(open, e.startMs))]);
      open = undefined;
    }
  }
  if (open !== undefined) out.push([Math.round(open), Math.round(Math.max(open, endMs))]);
  return out;
}

function peaksOf(peaks: Peaks): PageData['peaks'] {
  const lengths = peaks.levels.map((l) => l.data.length);
  const all = Buffer.concat(peaks.levels.map((l) => Buffer.from(l.data.buffer, l.data.byteOffset, l.data.length)));
  return { sampleRate: peaks.sampleRate, bucketFrames: peaks.levels.map((l) => l.bucketFrames), lengths, gzipBase64: gzipSync(all, { level: 9 }).toString('base64') };
}

/** The page's audio: an Opus data URI when small enough, else a link to the file. */
async function audioOf(options: ReportOptions, durationMs: number): Promise<PageData['audio']> {
  const embed = options.embedAudio === false ? undefined : (options.embedAudio ?? {});
  const link = (why: string): PageData['audio'] => {
    const src = options.out
      ? relative(dirname(resolve(options.out)), resolve(options.audio)).split(sep).map(encodeURIComponent).join('/')
      : pathToFileURL(resolve(options.audio)).href;
    const where = options.out ? `${decodeURIComponent(src)}, relative to this page` : resolve(options.audio);
    return { src, embedded: false, note: `Audio linked, not embedded (${why}): ${where}.` };
  };
  if (!embed) return link('embedding off');
  const maxBytes = embed.maxBytes ?? DEFAULT_EMBED_MAX_BYTES;
  const kbps = embed.bitrateKbps ?? 16;
  const estimate = (durationMs / 1000) * ((kbps * 1000) / 8);
  if (estimate > maxBytes) return link(`about ${(estimate / 1048576).toFixed(1)} MiB encoded, over the ${(maxBytes / 1048576).toFixed(1)} MiB limit`);
  const dir = await mkdtemp(join(tmpdir(), 'earshot-report-'));
  try {
    const file = join(dir, 'audio.webm');
    // Mono Opus in WebM: every browser plays and seeks in it (written to a file, so it has its duration and cues).
    await transcodeFile(options.audio, file, ['-sn', '-dn', '-ac', '1', '-c:a', 'libopus', '-b:a', `${kbps}k`, '-application', 'voip', '-f', 'webm'], {
      ...(options.ffmpegPath ? { ffmpegPath: options.ffmpegPath } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const bytes = (await stat(file)).size;
    if (bytes > maxBytes) return link(`${(bytes / 1048576).toFixed(1)} MiB encoded, over the ${(maxBytes / 1048576).toFixed(1)} MiB limit`);
    const data = await readFile(file);
    return { src: `data:audio/webm;codecs=opus;base64,${data.toString('base64')}`, embedded: true, note: `Audio embedded: Opus ${kbps} kbit/s, ${(bytes / 1024).toFixed(0)} KiB.` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The page's data from what was collected. */
function pageData(options: ReportOptions, c: Collected, audio: PageData['audio']): PageData {
  const peaks = c.peaks!;
  const durationMs = frameToMs(peaks.frames, peaks.sampleRate || 1);
  const { lanes, finals, trailing } = finalsOf(c.events);
  const cues = buildCues(c.events, options.captions ?? {}).map((q): [number, number, string, string | null] => [q.startMs, q.endMs, q.lines.join('\n'), q.speaker ?? null]);
  const r = (n: number): number => Math.round(n);
  return {
    title: options.title ?? basename(options.audio),
    durationMs,
    audio,
    peaks: peaksOf(peaks),
    vad: { source: c.vad?.source === 'pipeline' ? 'pipeline' : c.vad?.skipped ? 'not run' : 'vadChunk', segments: (c.vad?.segments ?? []).map((s) => [r(s.startMs), r(s.endMs), s.cut]) },
    serviceSpeech: serviceSpeechOf(c.events, durationMs),
    windows: c.windows ? c.windows.map((w) => [r(w.startMs), r(w.endMs), w.cut, w.speculative ? 1 : 0, w.fate]) : null,
    lanes,
    finals,
    trailingPartials: trailing,
    cues,
    generatedAt: new Date().toISOString(),
  };
}

/**
 * Make the report page for an audio file and its transcript.
 *
 * Two ways in: give `events` (a JSONL file or events) and the audio is read once to draw it — peaks, `vadChunk()`
 * and, with `windows`, `nearRealtime()`'s windows; or give a {@link ReportCollector} that watched a pipeline run, so
 * the page shows that run's own segments, windows, partials and latencies. The page holds peaks (not samples), the
 * words, cues and segments, and the audio as Opus when it encodes to at most `embedAudio.maxBytes` (else a link
 * to the file, relative to the page). Opening it needs no network.
 *
 * @param options - see {@link ReportOptions}.
 * @returns the page and what is in it.
 * @throws (rejects) EARSHOT_INVALID_ARGUMENT for a missing audio path or bad options; the input's codes
 *   (EARSHOT_FILE_NOT_FOUND, EARSHOT_DECODE_FAILED, …) and EARSHOT_CORRUPT_INPUT for a bad JSONL line;
 *   EARSHOT_SINK_FAILED when `out` cannot be written; EARSHOT_ABORTED.
 * @example
 * ```ts
 * import { report } from 'earshot/report';
 * const r = await report({ audio: 'talk.wav', events: 'talk.jsonl', out: 'talk.html' });
 * console.log(`${r.words} words, ${r.bytes} bytes, audio ${r.audio}`);
 * ```
 */
export async function report(options: ReportOptions): Promise<ReportResult> {
  if (!options || typeof options.audio !== 'string' || options.audio === '') throw new InvalidArgumentError('report: audio must be the path of the audio file');
  if (options.events === undefined && !options.collector) throw new InvalidArgumentError('report: give events (a JSONL path or events) or a collector that saw them');
  const embed = options.embedAudio;
  if (embed && ((embed.maxBytes !== undefined && !(embed.maxBytes >= 0)) || (embed.bitrateKbps !== undefined && !(embed.bitrateKbps >= 6 && embed.bitrateKbps <= 256)))) {
    throw new InvalidArgumentError('report: embedAudio needs maxBytes ≥ 0 and bitrateKbps in 6..256');
  }
  const collector = options.collector ?? new ReportCollector();
  if (options.events !== undefined) collector.addEvents(typeof options.events === 'string' ? await readJsonl(options.events) : options.events);
  if (!collector.hasAudio) {
    await loadVad();
    const audio = fromFile(options.audio).pipe(decode({ sampleRate: 16000, channels: 1, ...(options.ffmpegPath ? { ffmpegPath: options.ffmpegPath } : {}) }), collector.audio({ vad: options.vad ?? {} }));
    await runToEnd(options.windows ? audio.pipe(nearRealtime(options.windows), collector.windows()) : audio, options.signal);
  }
  const collected = collector.collected();
  const durationMs = collected.peaks ? frameToMs(collected.peaks.frames, collected.peaks.sampleRate || 1) : 0;
  const audio = await audioOf(options, durationMs);
  const html = renderPage(pageData(options, collected, audio));
  const result: ReportResult = {
    html,
    bytes: Buffer.byteLength(html),
    durationMs,
    words: collected.events.reduce((n, e) => n + (e.type === 'final' ? (e.words?.length ?? 0) : 0), 0),
    finals: collected.events.filter((e) => e.type === 'final').length,
    audio: audio.embedded ? 'embedded' : 'linked',
  };
  if (options.out) {
    try {
      await writeFile(options.out, html);
    } catch (err) {
      throw new SinkError('EARSHOT_SINK_FAILED', `cannot write the report to ${basename(options.out)}`, { cause: err });
    }
    result.path = options.out;
  }
  return result;
}
