/**
 * The model catalog: the list of transport descriptors (each transport module exports one), and what users ask of
 * it — every model with when results come (while speaking or after: read from the methods its transport has), its
 * API, how accuracy is boosted (hotwords or prompt context), emotion, diarization, word times, languages and the
 * longest audio per request or session; a chooser that answers the questions users ask; a check that refuses options
 * a model lacks before any request; `createTransport`, a lookup; and `registerTransport` for models from elsewhere.
 */
import { CapabilityError, EarshotError, InvalidArgumentError } from '../core/errors.js';
import { funAsrDescriptor } from './dashscope/fun-asr.js';
import { funAsrRealtimeDescriptor } from './dashscope/fun-asr-realtime.js';
import { omniDescriptor } from './dashscope/omni.js';
import { omniRealtimeDescriptor } from './dashscope/omni-realtime.js';
import { qwenAsrFiletransDescriptor } from './dashscope/qwen-asr-filetrans.js';
import { qwenAsrRealtimeDescriptor } from './dashscope/qwen-asr-realtime.js';
import { localDescriptor } from './local.js';
import { assertCapabilities, type Capabilities, type RecognitionOptions, type Transport, type TransportDescriptor, type TransportOptions } from './transport.js';

/** When results arrive: while the audio is spoken (`realtime`), once the whole clip/file is in (`batch`), or either. */
export type ModelMode = 'realtime' | 'batch' | 'both';

/** The wire API a model is reached through (the built-in families, or another descriptor's). */
export type ModelApi = 'embedded' | 'ws-inference' | 'ws-realtime' | 'async-task' | 'compatible-chat' | (string & {});

/** How a model can be told about domain terms. */
export type AccuracyBoost = 'hotwords' | 'context' | 'hotwords+context' | 'none';

/** One row of the catalog. */
export interface ModelInfo {
  /** Model id as `--model` takes it. */
  id: string;
  /** `local` (this machine), `dashscope`, or a registered descriptor's provider. */
  provider: string;
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
  /** The capabilities the model's transport reports (same facts, in the Transport shape). */
  capabilities: Capabilities;
}

/** Options of {@link createTransport}: the connection, default recognition options, and per-family extras. */
export type CreateTransportOptions = Parameters<(typeof localDescriptor)['create']>[1] &
  Parameters<(typeof funAsrRealtimeDescriptor)['create']>[1] &
  Parameters<(typeof qwenAsrRealtimeDescriptor)['create']>[1] &
  Parameters<(typeof omniRealtimeDescriptor)['create']>[1] &
  Parameters<(typeof funAsrDescriptor)['create']>[1] &
  Parameters<(typeof qwenAsrFiletransDescriptor)['create']>[1] &
  Parameters<(typeof omniDescriptor)['create']>[1];

/** A descriptor as the catalog holds it: `create` takes every family's options (each reads its own). */
type AnyDescriptor = TransportDescriptor<CreateTransportOptions>;

/**
 * The built-in transports, in order of preference within each mode: the embedded engine, then the realtime and the
 * batch DashScope families. A new built-in transport is one more descriptor here.
 *
 * @example
 * TRANSPORTS.map((d) => `${d.api}: ${Object.keys(d.models).join(', ')}`);
 */
export const TRANSPORTS: readonly AnyDescriptor[] = Object.freeze([
  localDescriptor,
  funAsrRealtimeDescriptor,
  qwenAsrRealtimeDescriptor,
  omniRealtimeDescriptor,
  funAsrDescriptor,
  qwenAsrFiletransDescriptor,
  omniDescriptor,
]);

/** Descriptors added with {@link registerTransport}, after the built-ins. */
const registered: AnyDescriptor[] = [];
/** Catalog rows of each descriptor, made once. */
const rowCache = new WeakMap<AnyDescriptor, ModelInfo[]>();

/** Options the catalog makes its probe transports with: a placeholder key, no environment. */
const PROBE: TransportOptions = Object.freeze({ apiKey: 'catalog-probe', env: {} });

/**
 * The catalog rows of a descriptor. Whether a model streams or takes clips is read from the methods of a transport
 * made for it (descriptors do no I/O in `create`), which is closed at once.
 */
function rowsOf(descriptor: AnyDescriptor): ModelInfo[] {
  let rows = rowCache.get(descriptor);
  if (rows) return rows;
  rows = Object.entries(descriptor.models).map(([id, spec]) => {
    const probe = descriptor.create(id, PROBE);
    const capabilities: Capabilities = { ...spec.capabilities, realtime: typeof probe.openStream === 'function', batch: typeof probe.transcribeClip === 'function' };
    // Nothing was opened, so there is nothing a failed close could report.
    probe.close?.().catch(() => undefined);
    if (!capabilities.realtime && !capabilities.batch) throw new InvalidArgumentError(`transport of model ${id} has neither openStream nor transcribeClip`);
    if (probe.capabilities?.realtime !== capabilities.realtime || probe.capabilities?.batch !== capabilities.batch) {
      throw new InvalidArgumentError(`transport of model ${id} states realtime/batch other than its methods: give it its capabilities with withCapabilities()`);
    }
    return {
      id,
      provider: descriptor.provider,
      mode: capabilities.realtime && capabilities.batch ? 'both' : capabilities.realtime ? 'realtime' : 'batch',
      api: descriptor.api,
      accuracyBoost: capabilities.hotwords && capabilities.context ? 'hotwords+context' : capabilities.hotwords ? 'hotwords' : capabilities.context ? 'context' : 'none',
      emotion: capabilities.emotion,
      diarization: capabilities.diarization,
      wordTimes: capabilities.wordTimes,
      languages: capabilities.languages,
      maxDurationMs: capabilities.maxDurationMs,
      summary: spec.summary,
      capabilities,
    };
  });
  rowCache.set(descriptor, rows);
  return rows;
}

function descriptors(): AnyDescriptor[] {
  return [...TRANSPORTS, ...registered];
}

/**
 * Every model earshot can use: the built-in ones in order of preference within each mode, then registered ones.
 *
 * @example
 * listModels().filter((m) => m.mode === 'batch' && m.diarization).map((m) => m.id); // ['fun-asr', 'paraformer-v2']
 */
export function listModels(): ModelInfo[] {
  return descriptors().flatMap(rowsOf);
}

/**
 * Add a transport to the catalog, so that `createTransport`, `modelInfo`, `chooseModel` and `earshot models` know its
 * models (the CLI registers the descriptors exported by the modules named in `EARSHOT_TRANSPORTS`).
 *
 * @param descriptor - The transport's descriptor; its `create` must do no I/O (see {@link TransportDescriptor}).
 * @returns A function that removes it again.
 * @throws EARSHOT_INVALID_ARGUMENT for a descriptor without models, a model id already known, or a transport with
 *   neither `openStream` nor `transcribeClip`, or whose `realtime`/`batch` disagree with those methods.
 * @example
 * const unregister = registerTransport(myAsrDescriptor);
 * const transport = createTransport('my-asr');
 */
export function registerTransport(descriptor: TransportDescriptor): () => void {
  const d: AnyDescriptor = descriptor;
  if (registered.includes(d)) return () => unregister(d);
  const ids = Object.keys(d?.models ?? {});
  if (!ids.length || typeof d.create !== 'function') throw new InvalidArgumentError('a transport descriptor needs models and create()');
  const known = new Set(listModels().map((m) => m.id));
  const clash = ids.find((id) => known.has(id));
  if (clash) throw new InvalidArgumentError(`model "${clash}" is already in the catalog`);
  rowsOf(d);
  registered.push(d);
  return () => unregister(d);
}

function unregister(descriptor: AnyDescriptor): void {
  const at = registered.indexOf(descriptor);
  if (at >= 0) registered.splice(at, 1);
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length]!;
}

/** The known id closest to a mistyped one, when it is close enough to be a typo (a third of its length, at least 2). */
function closestId(id: string, known: readonly string[]): string | undefined {
  let best: { id: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(id.toLowerCase(), candidate);
    if (!best || distance < best.distance) best = { id: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(id.length / 3)) ? best.id : undefined;
}

/** The descriptor serving model `id`; EARSHOT_UNKNOWN_MODEL, naming the closest id and listing the known ones, when none does. */
function descriptorOf(id: string): AnyDescriptor {
  const found = descriptors().find((d) => Object.hasOwn(d.models, id));
  if (!found) {
    const known = listModels().map((m) => m.id);
    const suggestion = closestId(id, known);
    const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
    throw new EarshotError('EARSHOT_UNKNOWN_MODEL', `unknown model "${id}"${hint}; known: ${known.join(', ')}`, { details: { model: id, ...(suggestion ? { suggestion } : {}) } });
  }
  return found;
}

/**
 * The catalog row of a model.
 *
 * @throws EARSHOT_UNKNOWN_MODEL, listing the known ids.
 * @example
 * modelInfo('fun-asr').diarization; // true
 */
export function modelInfo(id: string): ModelInfo {
  return rowsOf(descriptorOf(id)).find((m) => m.id === id)!;
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
  const features = descriptorOf(id).models[id]!.capabilities;
  assertCapabilities({ model: id, capabilities: features }, options);
  if (options.language && !features.languages.includes(options.language)) throw new CapabilityError(id, `language "${options.language}" (it knows ${features.languages.join(' ')})`);
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
  if (question.offline) checks.push(['works offline', (m) => m.capabilities.offline === true]);
  if (question.domainTerms === 'hotwords') checks.push(['hotword vocabularies', (m) => m.capabilities.hotwords]);
  else if (question.domainTerms === 'context') checks.push(['prompt context', (m) => m.capabilities.context]);
  else if (question.domainTerms) checks.push(['domain terms (hotwords or context)', (m) => m.capabilities.hotwords || m.capabilities.context]);
  if (question.diarization) checks.push(['speaker diarization', (m) => m.diarization]);
  if (question.emotion) checks.push(['emotion', (m) => m.emotion]);
  if (question.wordTimes) checks.push(['word times', (m) => m.wordTimes]);
  if (question.language) checks.push([`language ${question.language}`, (m) => m.languages.includes(question.language!)]);
  const models = listModels();
  const fits = models.filter((m) => checks.every(([, ok]) => ok(m)));
  const ranked = question.offline ? fits : [...fits.filter((m) => !m.capabilities.offline), ...fits.filter((m) => m.capabilities.offline)];
  const best = ranked[0];
  if (!best) {
    const closest = [...models].sort((a, b) => checks.filter(([, ok]) => !ok(a)).length - checks.filter(([, ok]) => !ok(b)).length)[0]!;
    const missing = checks.filter(([, ok]) => !ok(closest)).map(([label]) => label);
    throw new CapabilityError(closest.id, `${missing.join(' and ')} together (no model offers: ${checks.map(([l]) => l).join(', ')})`);
  }
  const reasons = checks.map(([label]) => label);
  if (realtime && !best.capabilities.offline) reasons.push(`near-realtime alternative: a batch model such as qwen3.5-omni-flash on short windows`);
  return { model: best, reasons, alternatives: ranked.slice(1) };
}

/**
 * Make the transport of a catalog model: a lookup of the descriptor serving `modelId`, whose `create` makes it.
 * Recognition options given here are checked against the model first.
 *
 * @param modelId - A catalog id (`local`, `fun-asr`, `qwen3.5-omni-flash`, `fun-asr-realtime`, …, or a registered one).
 * @param options - Key and base URL (default `DASHSCOPE_API_KEY` / `DASHSCOPE_BASE_URL`), recognition defaults,
 *   polling/retry, `local` engine options, `realtime` options.
 * @returns The transport; batch DashScope models return a `BatchTransport` (with `transcribeFile`).
 * @throws EARSHOT_UNKNOWN_MODEL, EARSHOT_CAPABILITY_MISSING, EARSHOT_MISSING_API_KEY, EARSHOT_INVALID_ARGUMENT.
 * @example
 * const transport = createTransport('fun-asr', { diarize: true, speakers: 2 });
 */
export function createTransport(modelId: string, options: CreateTransportOptions = {}): Transport {
  assertModelSupports(modelId, options);
  return descriptorOf(modelId).create(modelId, options);
}

/**
 * The catalog as a table for `earshot models`.
 *
 * @example
 * console.log(formatModelTable());
 */
export function formatModelTable(models: readonly ModelInfo[] = listModels()): string {
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
export function modelsJson(models: readonly ModelInfo[] = listModels()): string {
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

