/**
 * The async-task life cycle shared by the DashScope batch file transports (`fun-asr`, `qwen3-asr-flash-filetrans`;
 * §1.7): check and upload the source, submit the task, poll it with progress, download and map the result. A clip's
 * task is remembered so a retry after a transient failure resumes it, and a task abandoned by an abort is cancelled
 * while still PENDING. Each transport supplies only what differs: the submit body, where the result URL is and how
 * the result becomes events. Also the option plumbing every batch transport (Omni too) shares.
 */
import { isRetryable } from '../../core/errors.js';
import { sleep } from '../../core/retry.js';
import { probeChannels } from '../../media/ffmpeg.js';
import type { TranscriptEvent, Word } from '../../core/types.js';
import { withCapabilities, type ChunkJob, type ClipCallOptions, type ModelFeatures, type RecognitionOptions } from '../transport.js';
import type { BatchFileOptions, BatchTransport } from './fun-asr.js';
import { cancelTask, CLIP_POLL_MS, DashScopeHttp, TaskMemo, fetchResult, submitTask, waitForTask, type PollOptions, type ProgressReport, type TaskOutput } from './http.js';
import { encodeWav, resolveSource, type UploadSource } from './upload.js';

/** Where and how a transport runs its tasks: fixed when the transport is made. */
export interface AsyncTaskService {
  http: DashScopeHttp;
  /** Native HTTP base, ends in `/api/v1`. */
  httpBase: string;
  model: string;
  /** Tasks of clips in flight, for resuming a retried clip. */
  memo: TaskMemo;
  /** The transport's task-query budget, shared by all its tasks ({@link QueryPacer}). */
  pacer: QueryPacer;
  /** Polling schedule and the limits checked before upload (the transport's options). */
  options: PollOptions & { limits?: { maxBytes: number; maxDurationMs: number } };
}

/** One file or clip to run as a task. */
export interface AsyncTaskJob<R> {
  source: UploadSource;
  /** `input` of the submit body, given the URL the service reads the file from. */
  input(url: string): Record<string, unknown>;
  /** `parameters` of the submit body; started alongside the upload (fun-asr resolves its vocabulary here). */
  parameters(): Promise<Record<string, unknown>>;
  /** The result URL in a SUCCEEDED task's output; throws a coded error when it has none. */
  resultUrlOf(output: TaskOutput, taskId: string): string;
  /** Map the downloaded result JSON to final events. */
  toEvents(result: R): TranscriptEvent[];
  signal?: AbortSignal | undefined;
  /** Called when the job, abandoned through `signal`, is billed all the same: its task's cancel was refused (it had started). */
  onBilled?: (() => void) | undefined;
  report: ProgressReport;
  /** A clip's {@link TaskMemo.key} (files have none): its task is resumed on retry, and it is polled sooner. */
  clipKey?: string | undefined;
}

/**
 * Run one async task from upload to events, reporting `checking`, `uploading`, `submitted`, `running` (each poll),
 * `downloading` and `done`. A clip whose earlier attempt failed transiently resumes its task (`status: 'RESUMED'`)
 * instead of uploading and transcribing again; an abort cancels a task still PENDING. A clip is submitted once per
 * call (its owner retries the call); a file's submit is retried on 429 under the client's policy.
 *
 * @param service - Client, base URL, model, task memo, polling schedule and limits.
 * @param job - The source, submit body parts, result URL and mapping, signal, progress and clip key.
 * @returns The final events.
 * @throws EARSHOT_LIMIT_EXCEEDED (before upload), EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED / EARSHOT_SERVER_ERROR (after
 *   retries), EARSHOT_TASK_FAILED, EARSHOT_RESULT_EXPIRED, EARSHOT_TIMEOUT, EARSHOT_PROTOCOL_ERROR, EARSHOT_ABORTED,
 *   and whatever `resultUrlOf` throws.
 * @example
 * const events = await runAsyncTask(service, {
 *   source: 'talk.mp3',
 *   input: (url) => ({ file_url: url }),
 *   parameters: async () => ({ channel_id: [0] }),
 *   resultUrlOf: (output) => output.result!.transcription_url!,
 *   toEvents: qwenFiletransEvents,
 *   report: progressReporter(console.error),
 * });
 */
export async function runAsyncTask<R>(service: AsyncTaskService, job: AsyncTaskJob<R>): Promise<TranscriptEvent[]> {
  const { http, httpBase, model, memo, options } = service;
  const { signal, report, clipKey } = job;
  // A clip retried after a transient failure resumes its task: nothing is uploaded or transcribed twice.
  let taskId = memo.get(clipKey);
  if (taskId) report({ phase: 'submitted', taskId, status: 'RESUMED' });
  else {
    report({ phase: 'checking' });
    const resolveOptions: Parameters<typeof resolveSource>[4] = { onUpload: () => report({ phase: 'uploading' }) };
    if (signal) resolveOptions.signal = signal;
    if (options.limits) resolveOptions.limits = options.limits;
    const [{ url, oss }, parameters] = await Promise.all([resolveSource(http, httpBase, model, job.source, resolveOptions), job.parameters()]);
    // A clip's submit is one attempt of a unit its owner (transcribeBatch) retries; a file's is this call's to retry.
    taskId = await submitTask(http, httpBase, { model, input: job.input(url), parameters }, { ossResolve: oss, once: clipKey !== undefined, ...(signal ? { signal } : {}) });
    memo.set(clipKey, taskId);
    report({ phase: 'submitted', taskId, status: 'PENDING' });
  }
  const id = taskId;
  const { pacer } = service;
  const pollOptions: Parameters<typeof waitForTask>[3] = { onStatus: (status) => report({ phase: 'running', taskId: id, status }), pace: (s) => pacer.next(s) };
  if (signal) pollOptions.signal = signal;
  // A clip (a near-realtime window) is done in moments: poll it sooner than the SDK's 1 s start.
  const pollMs = options.pollMs ?? (clipKey !== undefined ? CLIP_POLL_MS : undefined);
  if (pollMs !== undefined) pollOptions.pollMs = pollMs;
  if (options.maxPollMs !== undefined) pollOptions.maxPollMs = options.maxPollMs;
  if (options.timeoutMs !== undefined) pollOptions.timeoutMs = options.timeoutMs;
  try {
    const output = await waitForTask(http, httpBase, id, pollOptions);
    const resultUrl = job.resultUrlOf(output, id);
    report({ phase: 'downloading', taskId: id, status: output.task_status });
    const events = job.toEvents(await fetchResult<R>(http, resultUrl, signal));
    report({ phase: 'done', taskId: id, status: 'SUCCEEDED', fraction: 1 });
    memo.delete(clipKey);
    return events;
  } catch (err) {
    if (signal?.aborted) {
      // An abandoned task still PENDING is cancelled, so it neither runs nor bills; one past PENDING is billed.
      if (!(await cancelTask(http, httpBase, id))) job.onBilled?.();
      memo.delete(clipKey);
    } else if (!isRetryable(err)) memo.delete(clipKey);
    throw err;
  }
}

/**
 * Spaces the task queries of one transport (all its tasks together) at least `1000 / queriesPerSecond` ms apart:
 * each caller takes the next free slot, so four clips in flight share one budget instead of each polling at its own
 * pace (§1.7: 20 queries a second per account).
 *
 * @example
 * const pacer = new QueryPacer(5);
 * await pacer.next(); // at once
 * await pacer.next(); // 200 ms later
 */
export class QueryPacer {
  readonly #intervalMs: number;
  #nextMs = 0;

  /** @param queriesPerSecond - the budget (> 0). */
  constructor(queriesPerSecond: number) {
    this.#intervalMs = 1000 / queriesPerSecond;
  }

  /** Resolves at this caller's slot; rejects with EARSHOT_ABORTED when `signal` aborts first. */
  next(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.#nextMs);
    this.#nextMs = slot + this.#intervalMs;
    return slot > now ? sleep(slot - now, signal) : Promise.resolve();
  }
}

/** A sentence of an async-task result JSON (fun-asr §3.4, filetrans §6.3), times in ms of the file. */
export interface ResultSentence {
  begin_time: number;
  end_time: number;
  text: string;
  words?: { begin_time: number; end_time: number; text: string }[];
}

/**
 * Map the sentences of an async-task result to final events in time order: text and word texts trimmed, word times
 * kept, empty sentences dropped, `channel` set from `channel_id` when the result has one entry per channel of
 * several; `decorate` adds what the model adds (speaker, emotion, language).
 *
 * @example
 * sentenceEvents({ transcripts: [{ sentences: [{ begin_time: 0, end_time: 900, text: ' hi ' }] }] }, () => undefined);
 * // [{ type: 'final', text: 'hi', startMs: 0, endMs: 900 }]
 */
export function sentenceEvents<S extends ResultSentence>(result: { transcripts?: { channel_id?: number; sentences?: S[] }[] }, decorate: (event: TranscriptEvent, sentence: S) => void): TranscriptEvent[] {
  const out: TranscriptEvent[] = [];
  // One transcripts[] entry per channel asked for (channel_id): events carry their channel when there are several.
  const several = (result.transcripts?.length ?? 0) > 1;
  for (const t of result.transcripts ?? []) {
    for (const s of t.sentences ?? []) {
      const event: TranscriptEvent = { type: 'final', text: s.text.trim(), startMs: s.begin_time, endMs: s.end_time };
      if (several && typeof t.channel_id === 'number') event.channel = t.channel_id;
      if (s.words?.length) event.words = s.words.map((w): Word => ({ text: w.text.trim(), startMs: w.begin_time, endMs: w.end_time }));
      decorate(event, s);
      if (event.text !== '') out.push(event);
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/**
 * The {@link BatchTransport} of an async-task model: files and clips both go through `run`; a clip is sent as a WAV
 * upload with its {@link TaskMemo.key} (so a retried clip resumes its task) and its own recognition options.
 *
 * @param run - Transcribe one source (`clipKey` set for clips).
 * @param close - Release the transport's HTTP client.
 * @example
 * return asyncTaskTransport(model, features, run, close);
 */
export function asyncTaskTransport(model: string, features: ModelFeatures, run: (source: UploadSource, call: BatchFileOptions, clipKey?: string) => Promise<TranscriptEvent[]>, close: () => Promise<void>): BatchTransport {
  return withCapabilities(features, {
    model,
    sampleRate: 16000,
    transcribeFile: (source: string, call: BatchFileOptions = {}) => run(source, call),
    transcribeClip: (job: ChunkJob, call: ClipCallOptions = {}) =>
      run(clipUpload(job), { ...(job.options ?? {}), ...(call.signal ? { signal: call.signal } : {}), ...(call.onBilled ? { onBilled: call.onBilled } : {}) }, TaskMemo.key(job)),
    close,
  });
}

/**
 * The `channel_id` list of a task: the channels asked for, else every channel of a local file (probed), else `[0]`
 * (clips are mono; a URL is not read here). The service returns one `transcripts[]` entry per listed channel.
 *
 * @throws as {@link probeChannels} for a local file that is not media.
 * @example
 * await channelIds('call.wav', undefined); // [0, 1] for a stereo file
 */
export async function channelIds(source: UploadSource, requested: readonly number[] | undefined, signal?: AbortSignal): Promise<number[]> {
  if (requested?.length) return [...requested];
  if (typeof source !== 'string' || /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return [0];
  const channels = await probeChannels(source, signal ? { signal } : {});
  return Array.from({ length: channels }, (_, i) => i);
}

/**
 * A clip as an upload: 16-bit WAV bytes named after the clip's start.
 *
 * @example
 * clipUpload({ samples, sampleRate: 16000, startMs: 5000 }).filename; // 'clip-5000.wav'
 */
export function clipUpload(job: ChunkJob): { data: Uint8Array; filename: string; contentType: string } {
  return { data: encodeWav(job.samples, job.sampleRate), filename: `clip-${Math.round(job.startMs)}.wav`, contentType: 'audio/wav' };
}

/**
 * The recognition options set in `o` (own, not `undefined`), so that merging transport defaults with per-call
 * options lets an absent per-call value keep the default.
 *
 * @example
 * ({ ...recognitionOptions({ language: 'en' }), ...recognitionOptions({ language: undefined }) }).language; // 'en'
 */
export function recognitionOptions(o: RecognitionOptions): RecognitionOptions {
  const out: RecognitionOptions = {};
  if (o.language !== undefined) out.language = o.language;
  if (o.hotwords !== undefined) out.hotwords = o.hotwords;
  if (o.vocabularyId !== undefined) out.vocabularyId = o.vocabularyId;
  if (o.context !== undefined) out.context = o.context;
  if (o.diarize !== undefined) out.diarize = o.diarize;
  if (o.speakers !== undefined) out.speakers = o.speakers;
  return out;
}
