/**
 * Hotword vocabularies (§4): the `speech-biasing` customization API — create, list, query, update, delete — and
 * {@link Vocabularies.ensureVocabulary}, which reuses a list holding exactly the same hotwords before creating one.
 * A vocabulary is bound to one `target_model` (e.g. `fun-asr`); the Qwen models take prompt context instead.
 */
import { InvalidArgumentError, TransportError } from '../../core/errors.js';
import type { Hotword } from '../transport.js';
import { resolveDashScope, type DashScopeOptions } from './config.js';
import { DashScopeHttp, type WithRetry } from './http.js';

/** One entry of {@link Vocabularies.list}. */
export interface VocabularySummary {
  vocabularyId: string;
  /** `OK` (usable) or `UNDEPLOYED`. */
  status: string;
  createdAt: string;
  modifiedAt: string;
}

/** What {@link Vocabularies.query} returns. */
export interface VocabularyDetails extends VocabularySummary {
  targetModel: string;
  vocabulary: Hotword[];
}

/** Options of {@link Vocabularies}. */
export interface VocabulariesOptions extends DashScopeOptions, WithRetry {
  /** Share an HTTP client with a transport. */
  http?: DashScopeHttp;
}

const PREFIX_RE = /^[a-z0-9]{1,10}$/;

/**
 * Parse the CLI's `--hotwords "term:weight,term2:weight"` (weight 1–5, default 4; `term:weight:lang` sets a language).
 *
 * @param spec - Comma-separated `term[:weight[:lang]]`.
 * @returns The hotwords, in order, without duplicates.
 * @throws EARSHOT_INVALID_ARGUMENT for an empty list, a bad weight or an over-long term.
 * @example
 * parseHotwords('Model Studio:5,earshot'); // [{ text: 'Model Studio', weight: 5 }, { text: 'earshot', weight: 4 }]
 */
export function parseHotwords(spec: string): Hotword[] {
  const out: Hotword[] = [];
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const [rawText = '', rawWeight, lang] = part.split(':').map((s) => s.trim());
    const weight = rawWeight === undefined || rawWeight === '' ? 4 : Number(rawWeight);
    const hotword: Hotword = { text: rawText, weight };
    if (lang) hotword.lang = lang;
    validateHotword(hotword);
    if (!out.some((h) => h.text === hotword.text)) out.push(hotword);
  }
  if (out.length === 0) throw new InvalidArgumentError('--hotwords needs at least one term, e.g. "Model Studio:5,earshot"');
  return out;
}

/**
 * Check one hotword against the service's rules: text ≤ 15 characters when non-ASCII, ≤ 7 words when ASCII,
 * integer weight 1–5.
 *
 * @throws EARSHOT_INVALID_ARGUMENT.
 * @example
 * validateHotword({ text: 'metformin', weight: 4 });
 */
export function validateHotword(h: Hotword): void {
  const text = h.text.trim();
  if (text === '') throw new InvalidArgumentError('a hotword is empty');
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(text);
  if (!ascii && [...text].length > 15) throw new InvalidArgumentError(`hotword "${text}" is longer than 15 characters`);
  if (ascii && text.split(/\s+/).length > 7) throw new InvalidArgumentError(`hotword "${text}" has more than 7 words`);
  if (!Number.isInteger(h.weight) || h.weight < 1 || h.weight > 5) throw new InvalidArgumentError(`hotword "${text}" has weight ${h.weight}; weights are integers 1 to 5`);
}

function sameList(a: readonly Hotword[], b: readonly Hotword[]): boolean {
  const key = (l: readonly Hotword[]): string =>
    l
      .map((h) => `${h.text.trim()}\u0000${h.weight}\u0000${h.lang ?? ''}`)
      .sort()
      .join('\u0001');
  return key(a) === key(b);
}

/**
 * Client of the vocabulary API.
 *
 * @example
 * const vocabularies = new Vocabularies({ apiKey: process.env.DASHSCOPE_API_KEY });
 * const id = await vocabularies.ensureVocabulary([{ text: 'Model Studio', weight: 4 }], 'fun-asr');
 */
export class Vocabularies {
  readonly #http: DashScopeHttp;
  readonly #own: boolean;
  readonly #url: string;
  /** {@link Vocabularies.vocabularyFor}'s lookups, by model and list. */
  readonly #ensured = new Map<string, Promise<string>>();

  /**
   * @throws EARSHOT_MISSING_API_KEY when there is no key.
   */
  constructor(options: VocabulariesOptions = {}) {
    const endpoints = resolveDashScope(options);
    this.#own = options.http === undefined;
    this.#http = options.http ?? new DashScopeHttp({ apiKey: endpoints.apiKey, retry: options.retry });
    this.#url = `${endpoints.httpBase}/services/audio/asr/customization`;
  }

  async #call<T>(input: Record<string, unknown>, signal: AbortSignal | undefined, retry: true | 'throttled' = true): Promise<T> {
    const init: Parameters<DashScopeHttp['json']>[1] = { body: { model: 'speech-biasing', input }, retry };
    if (signal) init.signal = signal;
    const { body } = await this.#http.json<{ output?: T }>(this.#url, init);
    if (!body.output) throw new TransportError('EARSHOT_PROTOCOL_ERROR', `${String(input.action)}: the reply has no output`);
    return body.output;
  }

  /**
   * Create a vocabulary for `targetModel`.
   *
   * @param targetModel - The model that will use it (must equal the recognition model).
   * @param vocabulary - Hotwords (validated first).
   * @param options - `prefix` (lowercase letters/digits, ≤ 10; default `earshot`), `signal`.
   * @returns The new vocabulary id (`vocab-<prefix>-<32 hex>`).
   * @throws EARSHOT_INVALID_ARGUMENT, EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED, EARSHOT_REQUEST_FAILED, EARSHOT_SERVER_ERROR.
   */
  async create(targetModel: string, vocabulary: readonly Hotword[], options: { prefix?: string; signal?: AbortSignal } = {}): Promise<string> {
    const prefix = options.prefix ?? 'earshot';
    if (!PREFIX_RE.test(prefix)) throw new InvalidArgumentError(`vocabulary prefix "${prefix}" must be 1 to 10 lowercase letters or digits`);
    if (vocabulary.length === 0) throw new InvalidArgumentError('a vocabulary needs at least one hotword');
    vocabulary.forEach(validateHotword);
    const out = await this.#call<{ vocabulary_id?: string }>({ action: 'create_vocabulary', target_model: targetModel, prefix, vocabulary: vocabulary.map(wire) }, options.signal, 'throttled');
    if (!out.vocabulary_id) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'create_vocabulary: no vocabulary_id in the reply');
    return out.vocabulary_id;
  }

  /**
   * List vocabularies (one page).
   *
   * @param options - `prefix`, `pageIndex` (0-based), `pageSize` (default 10), `signal`.
   * @throws as {@link Vocabularies.create}.
   */
  async list(options: { prefix?: string; pageIndex?: number; pageSize?: number; signal?: AbortSignal } = {}): Promise<VocabularySummary[]> {
    const input: Record<string, unknown> = { action: 'list_vocabulary', page_index: options.pageIndex ?? 0, page_size: options.pageSize ?? 10 };
    if (options.prefix !== undefined) input.prefix = options.prefix;
    const out = await this.#call<{ vocabulary_list?: { vocabulary_id: string; status: string; gmt_create: string; gmt_modified: string }[] }>(input, options.signal);
    return (out.vocabulary_list ?? []).map((v) => ({ vocabularyId: v.vocabulary_id, status: v.status, createdAt: v.gmt_create, modifiedAt: v.gmt_modified }));
  }

  /**
   * Read one vocabulary.
   *
   * @throws as {@link Vocabularies.create}.
   */
  async query(vocabularyId: string, options: { signal?: AbortSignal } = {}): Promise<VocabularyDetails> {
    const out = await this.#call<{ status: string; gmt_create: string; gmt_modified: string; target_model: string; vocabulary?: Hotword[] }>({ action: 'query_vocabulary', vocabulary_id: vocabularyId }, options.signal);
    return { vocabularyId, status: out.status, createdAt: out.gmt_create, modifiedAt: out.gmt_modified, targetModel: out.target_model, vocabulary: out.vocabulary ?? [] };
  }

  /**
   * Replace the whole hotword list of a vocabulary.
   *
   * @throws as {@link Vocabularies.create}.
   */
  async update(vocabularyId: string, vocabulary: readonly Hotword[], options: { signal?: AbortSignal } = {}): Promise<void> {
    vocabulary.forEach(validateHotword);
    await this.#call({ action: 'update_vocabulary', vocabulary_id: vocabularyId, vocabulary: vocabulary.map(wire) }, options.signal);
  }

  /**
   * Delete a vocabulary.
   *
   * @throws as {@link Vocabularies.create}.
   */
  async delete(vocabularyId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#call({ action: 'delete_vocabulary', vocabulary_id: vocabularyId }, options.signal);
  }

  /**
   * The id of a vocabulary for `targetModel` holding exactly `hotwords` (any order): an existing one under `prefix` if
   * there is one, else a new one. This is what `--hotwords` uses, so repeated runs do not pile up lists.
   *
   * @param hotwords - The wanted list.
   * @param targetModel - The recognition model.
   * @param options - `prefix` (default `earshot`), `signal`.
   * @throws as {@link Vocabularies.create}.
   * @example
   * const id = await vocabularies.ensureVocabulary(parseHotwords('Model Studio:5'), 'fun-asr');
   */
  async ensureVocabulary(hotwords: readonly Hotword[], targetModel: string, options: { prefix?: string; signal?: AbortSignal } = {}): Promise<string> {
    hotwords.forEach(validateHotword);
    const prefix = options.prefix ?? 'earshot';
    const pageSize = 50;
    for (let page = 0; page < 20; page++) {
      const listOptions: Parameters<Vocabularies['list']>[0] = { prefix, pageIndex: page, pageSize };
      if (options.signal) listOptions.signal = options.signal;
      const summaries = await this.list(listOptions);
      for (const s of summaries) {
        if (s.status !== 'OK') continue;
        const details = await this.query(s.vocabularyId, options.signal ? { signal: options.signal } : {});
        if (details.targetModel === targetModel && sameList(details.vocabulary, hotwords)) return s.vocabularyId;
      }
      if (summaries.length < pageSize) break;
    }
    return this.create(targetModel, hotwords, options);
  }

  /**
   * {@link Vocabularies.ensureVocabulary} once per list and model for the life of this client: concurrent and later
   * calls with the same hotwords share one lookup (a transport calls it for every job); a failed lookup is forgotten,
   * so the next call tries again.
   *
   * @throws as {@link Vocabularies.create}.
   * @example
   * const id = await vocabularies.vocabularyFor([{ text: 'earshot', weight: 4 }], 'fun-asr-realtime');
   */
  vocabularyFor(hotwords: readonly Hotword[], targetModel: string, options: { signal?: AbortSignal | undefined } = {}): Promise<string> {
    const key = `${targetModel}\u0000${JSON.stringify(hotwords)}`;
    let id = this.#ensured.get(key);
    if (!id) {
      id = this.ensureVocabulary(hotwords, targetModel, options.signal ? { signal: options.signal } : {});
      id.catch(() => this.#ensured.delete(key));
      this.#ensured.set(key, id);
    }
    return id;
  }

  /** Release the client's connections (only when it made its own). */
  async close(): Promise<void> {
    if (this.#own) await this.#http.close();
  }
}

function wire(h: Hotword): Record<string, unknown> {
  const out: Record<string, unknown> = { text: h.text.trim(), weight: h.weight };
  if (h.lang) out.lang = h.lang;
  return out;
}
