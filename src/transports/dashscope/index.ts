/**
 * `earshot/dashscope`: Qwen Cloud (DashScope) beyond the transports — hotword vocabularies, temporary keys for
 * untrusted clients, the HTTP client the transports share (retries, redaction), and where a key and base URL lead.
 * The transports themselves (`funAsr`, `omni`, `funAsrRealtime`, …) are exported by the root, `earshot`.
 *
 * @example
 * ```ts
 * import { createTemporaryKey, Vocabularies } from 'earshot/dashscope';
 * const { token, expiresAt } = await createTemporaryKey({ expireInSeconds: 300 });
 * ```
 */
export { resolveDashScope, DEFAULT_BASE_URL } from './config.js';
export type { DashScopeOptions, DashScopeEndpoints } from './config.js';
export { Vocabularies, parseHotwords, validateHotword } from './vocabulary.js';
export type { VocabulariesOptions, VocabularySummary, VocabularyDetails } from './vocabulary.js';
export { createTemporaryKey } from './temporary-key.js';
export type { TemporaryKey, TemporaryKeyOptions } from './temporary-key.js';
export { DashScopeHttp } from './http.js';
export type { DashScopeHttpOptions } from './http.js';
export { QWEN_ASR_LANGUAGES } from './qwen-asr-realtime.js';
export { OMNI_MAX_SESSION_MS } from './omni-realtime.js';
