/**
 * The model catalog: every speech-to-text model of the provider's table (plus the embedded engine) as data — when
 * results come (while speaking or after), which API, how accuracy is boosted (hotwords or prompt context), emotion,
 * diarization, word times, languages and the longest audio per request or session — with a chooser that answers the
 * questions users ask, a check that refuses options a model lacks before any request, and `createTransport`.
 */
import { CapabilityError, EarshotError } from '../core/errors.js';
import { funAsr, funAsrCapabilities, type FunAsrOptions } from './dashscope/fun-asr.js';
import { funAsrRealtime, type FunAsrRealtimeOptions } from './dashscope/fun-asr-realtime.js';
import { omni, omniCapabilities, type OmniOptions } from './dashscope/omni.js';
import { omniRealtime, type OmniRealtimeOptions } from './dashscope/omni-realtime.js';
import { QWEN_FILETRANS_CAPABILITIES, qwenAsrFiletrans, type QwenAsrFiletransOptions } from './dashscope/qwen-asr-filetrans.js';
import { QWEN_ASR_LANGUAGES, qwenAsrRealtime, type QwenAsrRealtimeOptions } from './dashscope/qwen-asr-realtime.js';
import { local, LOCAL_CAPABILITIES, type LocalOptions } from './local.js';
import { assertCapabilities, type Capabilities, type RecognitionOptions, type Transport } from './transport.js';

/** When results arrive: while the audio is spoken (`realtime`), once the whole clip/file is in (`batch`), or either. */
export type ModelMode = 'realtime' | 'batch' | 'both';

/** The wire API a model is reached through. */
export type ModelApi = 'embedded' | 'ws-inference' | 'ws-realtime' | 'async-task' | 'compatible-chat';

/** How a model can be told about domain terms. */
export type AccuracyBoost = 'hotwords' | 'context' | 'hotwords+context' | 'none';

/** One row of the catalog. */
export interface ModelInfo {
  /** Model id as `--model` takes it. */
  id: string;
  provider: 'local' | 'dashscope';
  mode: ModelMode;
  api: ModelApi;
  accuracyBoost: AccuracyBoost;
  emotion: boolean;
  diarization: boolean;
  wordTimes: boolean;
  languages: readonly string[];
  /** Longest audio one request or session takes, ms (Infinity: unbounded). Longer input is split where the transport can. */
  maxDurationMs: number;
  /** One line for `earshot models`. */
  summary: string;
  /** The capabilities the transport reports (same facts, in the Transport shape). */
  capabilities: Capabilities;
}

const realtimeBase = { realtime: true, batch: false, diarization: false } as const;

function row(id: string, provider: ModelInfo['provider'], api: ModelApi, capabilities: Capabilities, summary: string): ModelInfo {
  const accuracyBoost: AccuracyBoost = capabilities.hotwords && capabilities.context ? 'hotwords+context' : capabilities.hotwords ? 'hotwords' : capabilities.context ? 'context' : 'none';
  return {
    id,
    provider,
    mode: capabilities.realtime && capabilities.batch ? 'both' : capabilities.realtime ? 'realtime' : 'batch',
    api,
    accuracyBoost,
    emotion: capabilities.emotion,
    diarization: capabilities.diarization,
    wordTimes: capabilities.wordTimes,
    languages: capabilities.languages,
    maxDurationMs: capabilities.maxDurationMs,
    summary,
    capabilities,
  };
}

/**
 * Every model earshot can use, in order of preference within each mode.
 *
 * @example
 * MODELS.filter((m) => m.mode === 'batch' && m.diarization).map((m) => m.id); // ['fun-asr', 'paraformer-v2']
 */
export const MODELS: readonly ModelInfo[] = Object.freeze([
  row('local', 'local', 'embedded', LOCAL_CAPABILITIES, 'Embedded offline engine (pocketsphinx, US English); no key, no network.'),
  row('fun-asr-realtime', 'dashscope', 'ws-inference', { ...realtimeBase, wordTimes: true, emotion: false, hotwords: true, context: true, maxDurationMs: Infinity, languages: ['zh', 'en', 'ja'] }, 'Streaming Fun-ASR: sentences with word times while you speak; hotword vocabularies.'),
  row('paraformer-realtime-v2', 'dashscope', 'ws-inference', { ...realtimeBase, wordTimes: true, emotion: false, hotwords: true, context: false, maxDurationMs: Infinity, languages: ['zh', 'en', 'ja', 'yue', 'ko', 'de', 'fr', 'ru'] }, 'Streaming Paraformer (Beijing only); hotword vocabularies.'),
  row('qwen3-asr-flash-realtime', 'dashscope', 'ws-realtime', { ...realtimeBase, wordTimes: false, emotion: true, hotwords: false, context: true, maxDurationMs: Infinity, languages: QWEN_ASR_LANGUAGES }, 'Streaming Qwen3-ASR: partials and finals with language and emotion; prompt context.'),
  row('qwen3.5-omni-plus-realtime', 'dashscope', 'ws-realtime', { ...realtimeBase, wordTimes: false, emotion: false, hotwords: false, context: true, maxDurationMs: 120 * 60_000, languages: ['zh', 'en', 'yue', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'it', 'pt'] }, 'Omni realtime (best): an LLM listening live; prompt context; 120 min sessions.'),
  row('qwen3.5-omni-flash-realtime', 'dashscope', 'ws-realtime', { ...realtimeBase, wordTimes: false, emotion: false, hotwords: false, context: true, maxDurationMs: 120 * 60_000, languages: ['zh', 'en', 'yue', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'it', 'pt'] }, 'Omni realtime (fast); prompt context; 120 min sessions.'),
  row('qwen3-omni-flash-realtime', 'dashscope', 'ws-realtime', { ...realtimeBase, wordTimes: false, emotion: false, hotwords: false, context: true, maxDurationMs: 120 * 60_000, languages: ['zh', 'en', 'yue', 'ja', 'ko', 'de', 'fr', 'ru', 'es', 'it', 'pt'] }, 'Omni realtime (previous generation); prompt context; 120 min sessions.'),
  row('fun-asr', 'dashscope', 'async-task', funAsrCapabilities('fun-asr'), 'Batch Fun-ASR files up to 12 h / 2 GB: word times, speaker diarization, hotword vocabularies.'),
  row('paraformer-v2', 'dashscope', 'async-task', funAsrCapabilities('paraformer-v2'), 'Batch Paraformer files: word times, diarization, hotwords.'),
  row('qwen3-asr-flash-filetrans', 'dashscope', 'async-task', QWEN_FILETRANS_CAPABILITIES, 'Batch Qwen3-ASR files up to 12 h: word times, language and emotion per sentence; prompt context.'),
  row('qwen3-asr-flash', 'dashscope', 'compatible-chat', omniCapabilities('qwen3-asr-flash'), 'Qwen3-ASR per request (≤ 5 min, split automatically): language and emotion; prompt context.'),
  row('qwen3.5-omni-plus', 'dashscope', 'compatible-chat', omniCapabilities('qwen3.5-omni-plus'), 'Omni (best) per request (≤ 20 min, split at pauses); prompt context.'),
  row('qwen3.5-omni-flash', 'dashscope', 'compatible-chat', omniCapabilities('qwen3.5-omni-flash'), 'Omni (fast) per request; good for near-realtime windows; prompt context.'),
  row('qwen3-omni-flash', 'dashscope', 'compatible-chat', omniCapabilities('qwen3-omni-flash'), 'Omni (previous generation) per request; prompt context.'),
]);

/**
 * The catalog row of a model.
 *
 * @throws EARSHOT_UNKNOWN_MODEL, listing the known ids.
 * @example
 * modelInfo('fun-asr').diarization; // true
 */
export function modelInfo(id: string): ModelInfo {
  const found = MODELS.find((m) => m.id === id);
  if (!found) throw new EarshotError('EARSHOT_UNKNOWN_MODEL', `unknown model "${id}"; known: ${MODELS.map((m) => m.id).join(', ')}`, { details: { model: id } });
  return found;
}

/**
 * Refuse, before any request, options a model cannot honour: diarization, hotwords, prompt context, a language it
 * does not know, or audio longer than it takes in one go (when the transport cannot split it).
 *
 * @throws EARSHOT_CAPABILITY_MISSING, EARSHOT_UNKNOWN_MODEL.
 * @example
 * assertModelSupports('qwen3.5-omni-flash', { hotwords: [{ text: 'etcd', weight: 4 }] }); // throws EARSHOT_CAPABILITY_MISSING
 */
export function assertModelSupports(id: string, options: RecognitionOptions = {}): void {
  const info = modelInfo(id);
  assertCapabilities({ model: id, capabilities: info.capabilities }, options);
  if (options.language && !info.languages.includes(options.language)) throw new CapabilityError(id, `language "${options.language}" (it knows ${info.languages.join(' ')})`);
}

/** The questions {@link chooseModel} answers. */
export interface ModelQuestion {
  /** Results while speaking (`realtime`) or after (`batch`)? Default: after. */
  when?: 'while-speaking' | 'after';
  /** Domain terms to get right: `hotwords` (a weighted word list), `context` (free text), or `true` for either. */
  domainTerms?: boolean | 'hotwords' | 'context';
  /** Who spoke when. */
  diarization?: boolean;
  /** The speaker's emotion. */
  emotion?: boolean;
  /** Word times (subtitles). */
  wordTimes?: boolean;
  /** Language spoken. */
  language?: string;
  /** No key / no network: only the embedded engine. */
  offline?: boolean;
}

/** What {@link chooseModel} returns. */
export interface ModelChoice {
  model: ModelInfo;
  /** Why it fits, one phrase per answered question. */
  reasons: string[];
  /** Other models that fit, best first. */
  alternatives: ModelInfo[];
}

/**
 * Pick a model from the answers to: results while speaking or after? domain terms (hotwords or context)? diarization?
 * emotion? language? (Only cloud models unless `offline`; the embedded engine when it fits and nothing cloud-only is
 * asked for is listed among the alternatives.)
 *
 * @throws EARSHOT_CAPABILITY_MISSING when no model fits, naming the closest miss.
 * @example
 * chooseModel({ when: 'after', diarization: true, domainTerms: 'hotwords' }).model.id; // 'fun-asr'
 * chooseModel({ when: 'while-speaking', emotion: true }).model.id; // 'qwen3-asr-flash-realtime'
 */
export function chooseModel(question: ModelQuestion = {}): ModelChoice {
  const realtime = question.when === 'while-speaking';
  const checks: [string, (m: ModelInfo) => boolean][] = [];
  checks.push([realtime ? 'results while speaking' : 'results after the audio', (m) => (realtime ? m.capabilities.realtime : m.capabilities.batch)]);
  if (question.offline) checks.push(['works offline', (m) => m.provider === 'local']);
  if (question.domainTerms === 'hotwords') checks.push(['hotword vocabularies', (m) => m.capabilities.hotwords]);
  else if (question.domainTerms === 'context') checks.push(['prompt context', (m) => m.capabilities.context]);
  else if (question.domainTerms) checks.push(['domain terms (hotwords or context)', (m) => m.capabilities.hotwords || m.capabilities.context]);
  if (question.diarization) checks.push(['speaker diarization', (m) => m.diarization]);
  if (question.emotion) checks.push(['emotion', (m) => m.emotion]);
  if (question.wordTimes) checks.push(['word times', (m) => m.wordTimes]);
  if (question.language) checks.push([`language ${question.language}`, (m) => m.languages.includes(question.language!)]);
  const fits = MODELS.filter((m) => checks.every(([, ok]) => ok(m)));
  const ranked = question.offline ? fits : [...fits.filter((m) => m.provider !== 'local'), ...fits.filter((m) => m.provider === 'local')];
  const best = ranked[0];
  if (!best) {
    const closest = [...MODELS].sort((a, b) => checks.filter(([, ok]) => !ok(a)).length - checks.filter(([, ok]) => !ok(b)).length)[0]!;
    const missing = checks.filter(([, ok]) => !ok(closest)).map(([label]) => label);
    throw new CapabilityError(closest.id, `${missing.join(' and ')} together (no model offers: ${checks.map(([l]) => l).join(', ')})`);
  }
  const reasons = checks.map(([label]) => label);
  if (realtime && best.provider !== 'local') reasons.push(`near-realtime alternative: a batch model such as qwen3.5-omni-flash on short windows`);
  return { model: best, reasons, alternatives: ranked.slice(1) };
}

/** Options of {@link createTransport}: the connection, default recognition options, and per-family extras. */
export type CreateTransportOptions = FunAsrOptions &
  QwenAsrFiletransOptions &
  OmniOptions & {
    /** Options of the embedded engine (model `local`). */
    local?: LocalOptions;
    /** Options passed to the realtime transports as they are. */
    realtime?: Omit<FunAsrRealtimeOptions & QwenAsrRealtimeOptions & OmniRealtimeOptions, 'model'>;
  };

/**
 * Make the transport of a catalog model. Recognition options given here are checked against the model first.
 *
 * @param modelId - A catalog id (`local`, `fun-asr`, `qwen3.5-omni-flash`, `fun-asr-realtime`, …).
 * @param options - Key and base URL (default `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), recognition defaults,
 *   polling/retry, `local` engine options, `realtime` options.
 * @returns The transport; batch models return a {@link BatchTransport} (with `transcribeFile`).
 * @throws EARSHOT_UNKNOWN_MODEL, EARSHOT_CAPABILITY_MISSING, EARSHOT_MISSING_API_KEY, EARSHOT_INVALID_ARGUMENT.
 * @example
 * const transport = createTransport('fun-asr', { diarize: true, speakers: 2 });
 */
export function createTransport(modelId: string, options: CreateTransportOptions = {}): Transport {
  const info = modelInfo(modelId);
  assertModelSupports(modelId, options);
  const connection = { ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}), ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}), ...(options.env !== undefined ? { env: options.env } : {}) };
  switch (info.api) {
    case 'embedded':
      return local(options.local ?? {});
    case 'async-task':
      return modelId === 'qwen3-asr-flash-filetrans' ? qwenAsrFiletrans({ ...options, model: modelId }) : funAsr({ ...options, model: modelId });
    case 'compatible-chat':
      return omni(modelId, options);
    case 'ws-inference':
      return funAsrRealtime({ ...options.realtime, ...connection, model: modelId });
    case 'ws-realtime':
      if (modelId === 'qwen3-asr-flash-realtime') return qwenAsrRealtime({ ...options.realtime, ...connection, model: modelId });
      return omniRealtime(modelId, { ...options.realtime, ...connection });
  }
}

/**
 * The catalog as a table for `earshot models`.
 *
 * @example
 * console.log(formatModelTable());
 */
export function formatModelTable(models: readonly ModelInfo[] = MODELS): string {
  const header = ['model', 'mode', 'api', 'boost', 'emotion', 'speakers', 'words', 'max', 'languages'];
  const rows = models.map((m) => [
    m.id,
    m.mode === 'realtime' ? 'while speaking' : m.mode === 'batch' ? 'after' : 'both',
    m.api,
    m.accuracyBoost,
    m.emotion ? 'yes' : '-',
    m.diarization ? 'yes' : '-',
    m.wordTimes ? 'yes' : '-',
    formatDuration(m.maxDurationMs),
    m.languages.length > 6 ? `${m.languages.slice(0, 5).join(' ')} +${m.languages.length - 5}` : m.languages.join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * The catalog as plain JSON for `earshot models --json` (Infinity as `null`).
 *
 * @example
 * JSON.parse(modelsJson())[0].id; // 'local'
 */
export function modelsJson(models: readonly ModelInfo[] = MODELS): string {
  return JSON.stringify(
    models.map(({ capabilities: _c, ...m }) => ({ ...m, maxDurationMs: Number.isFinite(m.maxDurationMs) ? m.maxDurationMs : null })),
    null,
    2,
  );
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unlimited';
  if (ms >= 3600_000) return `${ms / 3600_000} h`;
  return `${ms / 60_000} min`;
}

