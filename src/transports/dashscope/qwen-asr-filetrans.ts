/**
 * `qwen3-asr-flash-filetrans`: Qwen3-ASR batch file transcription over the async task API (§6.3). Same flow as
 * fun-asr (limits checked before upload, poll with backoff, signed result URL), but `input.file_url` (one file),
 * `parameters.language` / `enable_words` / `corpus.text` (prompt context instead of hotwords), and results whose
 * sentences carry `language` and `emotion`.
 */
import { TransportError, isRetryable } from '../../core/errors.js';
import type { TranscriptEvent, Word } from '../../core/types.js';
import { assertCapabilities, type Capabilities, type RecognitionOptions } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import type { BatchFileOptions, BatchTransport } from './fun-asr.js';
import { cancelTask, CLIP_POLL_MS, DashScopeHttp, TaskMemo, fetchResult, submitTask, waitForTask, type BatchProgress, type PollOptions, type RetryOptions } from './http.js';
import { BATCH_LIMITS, encodeWav, resolveSource, type UploadSource } from './upload.js';

/** Languages of the Qwen3-ASR models. */
export const QWEN_ASR_FILE_LANGUAGES = ['zh', 'yue', 'en', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'pt', 'it', 'ar', 'th', 'vi', 'id', 'ms', 'hi', 'tr', 'nl', 'sv', 'da', 'fi', 'no', 'pl', 'cs', 'tl', 'is'] as const;

/** Options of {@link qwenAsrFiletrans}. */
export interface QwenAsrFiletransOptions extends DashScopeOptions, RecognitionOptions, PollOptions, RetryOptions {
  /** Model id (default `qwen3-asr-flash-filetrans`). */
  model?: string;
  /** Ask for word times (default true). */
  words?: boolean;
  /** Inverse text normalisation (zh/en only, default false). */
  itn?: boolean;
  onProgress?: (progress: BatchProgress) => void;
  limits?: { maxBytes: number; maxDurationMs: number };
  http?: DashScopeHttp;
}

/** Capabilities of `qwen3-asr-flash-filetrans`. */
export const QWEN_FILETRANS_CAPABILITIES: Capabilities = {
  realtime: false,
  batch: true,
  wordTimes: true,
  emotion: true,
  diarization: false,
  hotwords: false,
  context: true,
  maxDurationMs: BATCH_LIMITS.maxDurationMs,
  languages: QWEN_ASR_FILE_LANGUAGES,
};

interface QwenResult {
  transcripts?: { sentences?: { begin_time: number; end_time: number; text: string; language?: string; emotion?: string; words?: { begin_time: number; end_time: number; text: string }[] }[] }[];
}

/**
 * Map the filetrans result JSON (§6.3) to final events (ms of the file) with emotion and language.
 *
 * @example
 * qwenFiletransEvents({ transcripts: [{ sentences: [{ begin_time: 0, end_time: 1440, text: 'hi', emotion: 'happy', language: 'en' }] }] });
 * // [{ type: 'final', text: 'hi', startMs: 0, endMs: 1440, emotion: 'happy', language: 'en' }]
 */
export function qwenFiletransEvents(result: QwenResult): TranscriptEvent[] {
  const out: TranscriptEvent[] = [];
  for (const t of result.transcripts ?? []) {
    for (const s of t.sentences ?? []) {
      const event: TranscriptEvent = { type: 'final', text: s.text.trim(), startMs: s.begin_time, endMs: s.end_time };
      if (s.words?.length) event.words = s.words.map((w): Word => ({ text: w.text.trim(), startMs: w.begin_time, endMs: w.end_time }));
      if (s.emotion) event.emotion = s.emotion;
      if (s.language) event.language = s.language;
      if (event.text !== '') out.push(event);
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/**
 * Make a `qwen3-asr-flash-filetrans` batch transport.
 *
 * @param options - Key/base URL, language, prompt `context`, `words`, polling/retry policy, `onProgress`.
 * @returns A {@link BatchTransport}; events carry `emotion` and `language`.
 * @throws EARSHOT_MISSING_API_KEY; EARSHOT_CAPABILITY_MISSING for diarization or hotwords. At run time as
 *   {@link funAsr}: EARSHOT_LIMIT_EXCEEDED, EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED, EARSHOT_SERVER_ERROR,
 *   EARSHOT_TASK_FAILED, EARSHOT_RESULT_EXPIRED, EARSHOT_ABORTED.
 * @example
 * const asr = qwenAsrFiletrans({ language: 'en', context: 'cardiology: metformin, HbA1c' });
 * for (const e of await asr.transcribeFile('visit.mp3')) console.log(e.emotion, e.text);
 */
export function qwenAsrFiletrans(options: QwenAsrFiletransOptions = {}): BatchTransport {
  const model = options.model ?? 'qwen3-asr-flash-filetrans';
  const capabilities = QWEN_FILETRANS_CAPABILITIES;
  const transport = { model, capabilities };
  assertCapabilities(transport, options);
  const endpoints = resolveDashScope(options);
  const ownHttp = options.http === undefined;
  const memo = new TaskMemo();
  const http = options.http ?? new DashScopeHttp({ ...options, apiKey: endpoints.apiKey });

  async function run(source: UploadSource, call: BatchFileOptions, clipKey?: string): Promise<TranscriptEvent[]> {
    const clip = clipKey !== undefined;
    const o: RecognitionOptions = { ...defined(options), ...defined(call) };
    assertCapabilities(transport, o);
    const started = Date.now();
    const onProgress = call.onProgress ?? options.onProgress;
    const report = (p: Omit<BatchProgress, 'elapsedMs'>): void => onProgress?.({ ...p, elapsedMs: Date.now() - started });
    const signal = call.signal;
    // A clip retried after a transient failure resumes its task: nothing is uploaded or transcribed twice.
    let taskId = memo.get(clipKey);
    if (taskId) report({ phase: 'submitted', taskId, status: 'RESUMED' });
    else {
      report({ phase: 'checking' });
      const resolveOptions: Parameters<typeof resolveSource>[4] = { onUpload: () => report({ phase: 'uploading' }) };
      if (signal) resolveOptions.signal = signal;
      if (options.limits) resolveOptions.limits = options.limits;
      const { url, oss } = await resolveSource(http, endpoints.httpBase, model, source, resolveOptions);
      const parameters: Record<string, unknown> = { channel_id: [0], enable_itn: options.itn ?? false, enable_words: options.words ?? true };
      if (o.language) parameters.language = o.language;
      if (o.context) parameters.corpus = { text: o.context };
      taskId = await submitTask(http, endpoints.httpBase, { model, input: { file_url: url }, parameters }, { ossResolve: oss, ...(signal ? { signal } : {}) });
      memo.set(clipKey, taskId);
      report({ phase: 'submitted', taskId, status: 'PENDING' });
    }
    const pollOptions: Parameters<typeof waitForTask>[3] = {};
    if (signal) pollOptions.signal = signal;
    // A clip (a near-realtime window) is done in moments: poll it sooner than the SDK's 1 s start.
    const pollMs = options.pollMs ?? (clip ? CLIP_POLL_MS : undefined);
    if (pollMs !== undefined) pollOptions.pollMs = pollMs;
    if (options.maxPollMs !== undefined) pollOptions.maxPollMs = options.maxPollMs;
    if (options.timeoutMs !== undefined) pollOptions.timeoutMs = options.timeoutMs;
    const id = taskId;
    pollOptions.onStatus = (status) => report({ phase: 'running', taskId: id, status });
    try {
      const output = await waitForTask(http, endpoints.httpBase, id, pollOptions);
      const resultUrl = output.result?.transcription_url;
      if (!resultUrl) throw new TransportError('EARSHOT_PROTOCOL_ERROR', `task ${id} succeeded without output.result.transcription_url`, { details: { taskId: id } });
      report({ phase: 'downloading', taskId: id, status: output.task_status });
      const events = qwenFiletransEvents(await fetchResult<QwenResult>(http, resultUrl, signal));
      report({ phase: 'done', taskId: id, status: 'SUCCEEDED', fraction: 1 });
      memo.delete(clipKey);
      return events;
    } catch (err) {
      if (signal?.aborted) {
        // An abandoned task still PENDING is cancelled, so it neither runs nor bills.
        await cancelTask(http, endpoints.httpBase, id);
        memo.delete(clipKey);
      } else if (!isRetryable(err)) memo.delete(clipKey);
      throw err;
    }
  }

  return {
    model,
    capabilities,
    sampleRate: 16000,
    transcribeFile: (source, call = {}) => run(source, call),
    transcribeClip(job, call = {}) {
      const o: BatchFileOptions = { ...(job.options ?? {}) };
      if (call.signal) o.signal = call.signal;
      return run({ data: encodeWav(job.samples, job.sampleRate), filename: `clip-${Math.round(job.startMs)}.wav`, contentType: 'audio/wav' }, o, TaskMemo.key(job));
    },
    async close() {
      if (ownHttp) await http.close();
    },
  };
}

function defined(o: RecognitionOptions): RecognitionOptions {
  const out: RecognitionOptions = {};
  if (o.language !== undefined) out.language = o.language;
  if (o.context !== undefined) out.context = o.context;
  if (o.diarize !== undefined) out.diarize = o.diarize;
  if (o.hotwords !== undefined) out.hotwords = o.hotwords;
  if (o.vocabularyId !== undefined) out.vocabularyId = o.vocabularyId;
  return out;
}
