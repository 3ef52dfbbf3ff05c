/**
 * `fun-asr` (and `paraformer-v2`, same API) batch file transcription over the async task API (§3): local files are
 * checked against the 12 h / 2 GB limits and uploaded (§1.8), URLs are passed as given; the task is polled with
 * backoff and the result JSON is turned into final transcript events with word times, speakers (diarization with an
 * optional speaker count) and hotword vocabularies (§4). Also serves clips for near-realtime windows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, TransportError } from '../../core/errors.js';
import { transcodeFile } from '../../media/ffmpeg.js';
import type { TranscriptEvent } from '../../core/types.js';
import { assertCapabilities, type ChunkJob, type ClipCallOptions, type ModelFeatures, type ModelSpec, type RecognitionOptions, type Transport, type TransportDescriptor } from '../transport.js';
import { resolveDashScope, type DashScopeEndpoints, type DashScopeOptions } from './config.js';
import { asyncTaskTransport, channelIds, QueryPacer, recognitionOptions, runAsyncTask, sentenceEvents, type AsyncTaskService } from './async-task.js';
import { DashScopeHttp, TaskMemo, progressReporter, transportHttp, type BatchProgress, type PollOptions, type WithRetry } from './http.js';
import { BATCH_LIMITS, type UploadSource } from './upload.js';
import { Vocabularies } from './vocabulary.js';

/** Languages of `fun-asr` (the service reads only the first hint). */
export const FUN_ASR_LANGUAGES = ['zh', 'en', 'ja', 'ko', 'vi', 'th', 'id', 'ms', 'tl', 'hi', 'ar', 'fr', 'de', 'es', 'pt', 'ru', 'it', 'nl', 'sv', 'da', 'fi', 'no', 'el', 'pl', 'cs', 'hu', 'ro', 'bg', 'hr', 'sk'] as const;

/** Languages of the Paraformer models (batch and realtime). */
export const PARAFORMER_LANGUAGES: readonly string[] = ['zh', 'en', 'ja', 'yue', 'ko', 'de', 'fr', 'ru'];

// An abandoned task still PENDING is cancelled and not billed (`cancelCost: 'until-started'`).
const BATCH_FEATURES = { wordTimes: true, emotion: false, diarization: true, hotwords: true, context: false, maxDurationMs: BATCH_LIMITS.maxDurationMs, cancelCost: 'until-started' } as const;

/** The models of this transport, with what each can do. */
const MODELS = {
  'fun-asr': { summary: 'Batch Fun-ASR files up to 12 h / 2 GB: word times, speaker diarization, hotword vocabularies.', capabilities: { ...BATCH_FEATURES, languages: FUN_ASR_LANGUAGES } },
  'paraformer-v2': { summary: 'Batch Paraformer files: word times, diarization, hotwords.', capabilities: { ...BATCH_FEATURES, languages: PARAFORMER_LANGUAGES } },
} satisfies Record<string, ModelSpec>;

/** `fun-asr` and `paraformer-v2` in the catalog: {@link funAsr} with the model id. */
export const funAsrDescriptor: TransportDescriptor<FunAsrOptions> = {
  provider: 'dashscope',
  api: 'async-task',
  models: MODELS,
  create: (id, options) => funAsr({ ...options, model: id }),
};

/** Options of {@link funAsr}. */
export interface FunAsrOptions extends DashScopeOptions, RecognitionOptions, PollOptions, WithRetry {
  /** Model id (default `fun-asr`; `fun-asr-mtl`, `paraformer-v2`, … use the same API). */
  model?: string;
  /** Progress of each job (upload, submitted, running, downloading, done). */
  onProgress?: (progress: BatchProgress) => void;
  /** Limits checked before upload (default 2 GB, 12 h). */
  limits?: { maxBytes: number; maxDurationMs: number };
  /** Share an HTTP client. */
  http?: DashScopeHttp;
}

/** Per-call options of {@link FunAsrTransport.transcribeFile}. */
export interface BatchFileOptions extends RecognitionOptions {
  /**
   * Channels to transcribe, each on its own (`channel_id`); events then carry `channel`. Default: every channel of a
   * local file; `[0]` for a URL.
   */
  channels?: readonly number[];
  signal?: AbortSignal;
  /** Called when a call abandoned through `signal` is billed all the same: its task had started (see `cancelCost`). */
  onBilled?: () => void;
  onProgress?: (progress: BatchProgress) => void;
}

/** A batch transport: {@link Transport} plus whole-file transcription. */
export interface BatchTransport extends Transport {
  /**
   * Transcribe a whole file (a local path, or an http(s)/`oss://` URL the service can read).
   * Event times are ms from the file's start.
   */
  transcribeFile(source: string, options?: BatchFileOptions): Promise<TranscriptEvent[]>;
  transcribeClip(job: ChunkJob, options?: ClipCallOptions): Promise<TranscriptEvent[]>;
  close(): Promise<void>;
}

/** What the fun-asr result JSON holds (§3.4). */
interface FunAsrResult {
  transcripts?: { channel_id?: number; sentences?: { begin_time: number; end_time: number; text: string; speaker_id?: number; words?: { begin_time: number; end_time: number; text: string; punctuation?: string }[] }[] }[];
}

/** What a model of the family can do: its family's entry (snapshots, `fun-asr-mtl`); `fun-asr-2025-08-25` knows zh and en only. */
function featuresOf(model: string): ModelFeatures {
  const family = MODELS[model.startsWith('paraformer') ? 'paraformer-v2' : 'fun-asr'].capabilities;
  return model === 'fun-asr-2025-08-25' ? { ...family, languages: ['zh', 'en'] } : family;
}

/**
 * Map the fun-asr result JSON (§3.4) to final events (times in ms of the file, `speaker` as `Speaker N`).
 *
 * @example
 * funAsrEvents({ transcripts: [{ sentences: [{ begin_time: 0, end_time: 900, text: 'hi', speaker_id: 0 }] }] });
 * // [{ type: 'final', text: 'hi', startMs: 0, endMs: 900, speaker: 'Speaker 1' }]
 */
export function funAsrEvents(result: FunAsrResult): TranscriptEvent[] {
  return sentenceEvents(result, (event, s) => {
    if (typeof s.speaker_id === 'number') event.speaker = `Speaker ${s.speaker_id + 1}`;
  });
}

/**
 * Make a fun-asr batch transport.
 *
 * @param options - Key/base URL (default from `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), model, default recognition
 *   options (diarize, speakers, hotwords or vocabularyId, language), polling and retry policy, `onProgress`.
 * @returns A {@link BatchTransport}.
 * @throws EARSHOT_MISSING_API_KEY; EARSHOT_CAPABILITY_MISSING when asked for prompt context; EARSHOT_INVALID_ARGUMENT
 *   for a speaker count outside 2–100. At run time: EARSHOT_LIMIT_EXCEEDED (before upload), EARSHOT_AUTH_FAILED,
 *   EARSHOT_THROTTLED / EARSHOT_SERVER_ERROR (after retries), EARSHOT_TASK_FAILED, EARSHOT_RESULT_EXPIRED, EARSHOT_ABORTED.
 * @example
 * const asr = funAsr({ diarize: true, speakers: 2 });
 * const events = await asr.transcribeFile('meeting.mp3', { onProgress: (p) => console.error(p.phase) });
 */
export function funAsr(options: FunAsrOptions = {}): BatchTransport {
  const model = options.model ?? 'fun-asr';
  const capabilities = featuresOf(model);
  const transport = { model, capabilities };
  assertCapabilities(transport, options);
  checkSpeakers(options);
  const endpoints: DashScopeEndpoints = resolveDashScope(options);
  const { http, close } = transportHttp(options, endpoints.apiKey);
  const service: AsyncTaskService = { http, httpBase: endpoints.httpBase, model, memo: new TaskMemo(), pacer: new QueryPacer(options.queriesPerSecond ?? 5), options };
  const vocabularies = new Vocabularies({ apiKey: endpoints.apiKey, baseUrl: endpoints.httpBase, http });
  const vocabularyFor = (o: RecognitionOptions, signal?: AbortSignal): Promise<string> | undefined =>
    o.vocabularyId ? Promise.resolve(o.vocabularyId) : o.hotwords?.length ? vocabularies.vocabularyFor(o.hotwords, model, { signal }) : undefined;

  async function run(source: UploadSource, call: BatchFileOptions, clipKey?: string): Promise<TranscriptEvent[]> {
    const o: RecognitionOptions = { ...recognitionOptions(options), ...recognitionOptions(call) };
    assertCapabilities(transport, o);
    checkSpeakers(o);
    const signal = call.signal;
    // Diarization is documented for mono audio only (§3 parameters; what the service does otherwise is not): with
    // several channels each goes as its own mono file, one task each, never diarization_enabled with several.
    const channels = o.diarize ? await channelIds(source, call.channels, signal) : undefined;
    if (channels && channels.length > 1) return eachChannel(source, channels, (mono, channel) => run(mono, { ...call, channels: [0] }).then((events) => events.map((e) => ({ ...e, channel }))), signal);
    return runAsyncTask<FunAsrResult>(service, {
      source,
      input: (url) => ({ file_urls: [url] }),
      async parameters() {
        const vocabularyId = await vocabularyFor(o, signal);
        const parameters: Record<string, unknown> = { channel_id: channels ?? (await channelIds(source, call.channels, signal)) };
        if (vocabularyId) parameters.vocabulary_id = vocabularyId;
        if (o.diarize) {
          parameters.diarization_enabled = true;
          if (o.speakers !== undefined) parameters.speaker_count = o.speakers;
        }
        if (o.language) parameters.language_hints = [o.language];
        return parameters;
      },
      resultUrlOf(output, id) {
        const sub = output.results?.[0];
        if (sub?.transcription_url) return sub.transcription_url;
        throw new TransportError('EARSHOT_TASK_FAILED', `task ${id}: the file failed: ${sub?.code ?? 'no result'}${sub?.message ? ` ${sub.message}` : ''}`, { details: { taskId: id }, ...(sub?.code ? { providerCode: sub.code } : {}) });
      },
      toEvents: funAsrEvents,
      signal,
      onBilled: call.onBilled,
      report: progressReporter(call.onProgress ?? options.onProgress),
      clipKey,
    });
  }

  return asyncTaskTransport(model, capabilities, run, close);
}

/**
 * Run `one` on each channel of a local file as its own mono WAV (ffmpeg, in a temporary directory removed after),
 * channels in parallel; their events merged in time order.
 * @throws EARSHOT_INVALID_ARGUMENT for a URL or bytes (nothing here can split their channels).
 */
async function eachChannel(source: UploadSource, channels: number[], one: (mono: string, channel: number) => Promise<TranscriptEvent[]>, signal?: AbortSignal): Promise<TranscriptEvent[]> {
  if (typeof source !== 'string' || /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new InvalidArgumentError('diarization needs one channel at a time (the service diarizes mono audio only): ask for one channel of a URL');
  }
  const dir = await mkdtemp(join(tmpdir(), 'earshot-channels-'));
  try {
    const lists = await Promise.all(
      channels.map(async (channel) => {
        const mono = join(dir, `channel-${channel}.wav`);
        await transcodeFile(source, mono, ['-af', `pan=mono|c0=c${channel}`, '-c:a', 'pcm_s16le'], signal ? { signal } : {});
        return one(mono, channel);
      }),
    );
    return lists.flat().sort((a, b) => a.startMs - b.startMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkSpeakers(o: RecognitionOptions): void {
  if (o.speakers === undefined) return;
  if (!Number.isInteger(o.speakers) || o.speakers < 2 || o.speakers > 100) throw new InvalidArgumentError(`speakers must be an integer from 2 to 100 (got ${o.speakers})`);
  if (!o.diarize) throw new InvalidArgumentError('speakers needs diarize: true');
}
