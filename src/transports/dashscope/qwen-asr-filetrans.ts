/**
 * `qwen3-asr-flash-filetrans`: Qwen3-ASR batch file transcription over the async task API (§6.3). Same flow as
 * fun-asr (limits checked before upload, poll with backoff, signed result URL), but `input.file_url` (one file),
 * `parameters.language` / `enable_words` / `corpus.text` (prompt context instead of hotwords), and results whose
 * sentences carry `language` and `emotion`.
 */
import { TransportError } from '../../core/errors.js';
import type { TranscriptEvent } from '../../core/types.js';
import { assertCapabilities, type ModelFeatures, type RecognitionOptions, type TransportDescriptor } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import type { BatchFileOptions, BatchTransport } from './fun-asr.js';
import { asyncTaskTransport, channelIds, QueryPacer, recognitionOptions, runAsyncTask, sentenceEvents, type AsyncTaskService } from './async-task.js';
import { DashScopeHttp, TaskMemo, progressReporter, transportHttp, type BatchProgress, type PollOptions, type WithRetry } from './http.js';
import { BATCH_LIMITS, type UploadSource } from './upload.js';

/** Languages of the Qwen3-ASR models. */
export const QWEN_ASR_FILE_LANGUAGES = ['zh', 'yue', 'en', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'pt', 'it', 'ar', 'th', 'vi', 'id', 'ms', 'hi', 'tr', 'nl', 'sv', 'da', 'fi', 'no', 'pl', 'cs', 'tl', 'is'] as const;

/** Options of {@link qwenAsrFiletrans}. */
export interface QwenAsrFiletransOptions extends DashScopeOptions, RecognitionOptions, PollOptions, WithRetry {
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

/** What `qwen3-asr-flash-filetrans` can do. */
const FEATURES: ModelFeatures = {
  wordTimes: true,
  emotion: true,
  diarization: false,
  hotwords: false,
  context: true,
  maxDurationMs: BATCH_LIMITS.maxDurationMs,
  languages: QWEN_ASR_FILE_LANGUAGES,
  cancelCost: 'until-started',
};

/** `qwen3-asr-flash-filetrans` in the catalog: {@link qwenAsrFiletrans} with the model id. */
export const qwenAsrFiletransDescriptor: TransportDescriptor<QwenAsrFiletransOptions> = {
  provider: 'dashscope',
  api: 'async-task',
  models: { 'qwen3-asr-flash-filetrans': { summary: 'Batch Qwen3-ASR files up to 12 h: word times, language and emotion per sentence; prompt context.', capabilities: FEATURES } },
  create: (id, options) => qwenAsrFiletrans({ ...options, model: id }),
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
  return sentenceEvents(result, (event, s) => {
    if (s.emotion) event.emotion = s.emotion;
    if (s.language) event.language = s.language;
  });
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
  const capabilities = FEATURES;
  const transport = { model, capabilities };
  assertCapabilities(transport, options);
  const endpoints = resolveDashScope(options);
  const { http, close } = transportHttp(options, endpoints.apiKey);
  const service: AsyncTaskService = { http, httpBase: endpoints.httpBase, model, memo: new TaskMemo(), pacer: new QueryPacer(options.queriesPerSecond ?? 5), options };

  async function run(source: UploadSource, call: BatchFileOptions, clipKey?: string): Promise<TranscriptEvent[]> {
    const o: RecognitionOptions = { ...recognitionOptions(options), ...recognitionOptions(call) };
    assertCapabilities(transport, o);
    return runAsyncTask<QwenResult>(service, {
      source,
      input: (url) => ({ file_url: url }),
      async parameters() {
        const parameters: Record<string, unknown> = { channel_id: await channelIds(source, call.channels, call.signal), enable_itn: options.itn ?? false, enable_words: options.words ?? true };
        if (o.language) parameters.language = o.language;
        if (o.context) parameters.corpus = { text: o.context };
        return parameters;
      },
      resultUrlOf(output, id) {
        const resultUrl = output.result?.transcription_url;
        if (resultUrl) return resultUrl;
        throw new TransportError('EARSHOT_PROTOCOL_ERROR', `task ${id} succeeded without output.result.transcription_url`, { details: { taskId: id } });
      },
      toEvents: qwenFiletransEvents,
      signal: call.signal,
      onBilled: call.onBilled,
      report: progressReporter(call.onProgress ?? options.onProgress),
      clipKey,
    });
  }

  return asyncTaskTransport(model, capabilities, run, close);
}
