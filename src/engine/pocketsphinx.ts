/**
 * The koffi binding of the system's libpocketsphinx (5prealpha, `libpocketsphinx.so.3`) and a small
 * {@link Decoder} class over it. One decoder belongs to one thread; its heavy calls (loading, decoding, ending an
 * utterance, the best path) run on libuv's thread pool (koffi's asynchronous calls) one at a time, so the decoders of
 * one thread decode in parallel. Decoders may share read-only model parts through a cell (below).
 *
 * Besides the public `ps_*` calls, decoders of one process can share the dictionary and the language model's n-grams
 * (`DecoderConfig.shared`), which takes a few fields of `ps_decoder_t`, `ngram_model_t` and `lm_trie_t` (layouts
 * below, checked before use). And the decoder reaches the cepstral-mean state (`cmn_t`) through `ps_get_feat`
 * and the `feat_t`/`cmn_t` layouts published in sphinxbase's installed headers (`feat.h`, `cmn.h`). That is the
 * only way in this library version to reset CMN between sessions, which makes results independent of what the
 * decoder heard before, and to pick batch CMN for whole clips.
 */
import { readFileSync, writeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { EngineError, InvalidArgumentError } from '../core/errors.js';
import { CELL_EMPTY, CELL_LOADING, CELL_OFF, CELL_READY } from './shared-cell.js';

/** Default model directory of Debian's `pocketsphinx-en-us` package. */
export const DEFAULT_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

/** Where the acoustic model, language model and dictionary are. */
export interface ModelPaths {
  /** Acoustic model directory (`-hmm`). Default `<modelDir>/en-us`. */
  hmm: string;
  /** N-gram language model (`-lm`). Default `<modelDir>/en-us.lm.bin`. */
  lm: string;
  /** Pronunciation dictionary (`-dict`). Default `<modelDir>/cmudict-en-us.dict`. */
  dict: string;
}

/** Settings of one decoder. */
export interface DecoderConfig {
  /** Model files; defaults to Debian's en-us model. */
  model?: Partial<ModelPaths>;
  /** Initial cepstral mean (13 values) for live CMN; default: the model's `feat.params`. */
  cmnInit?: readonly number[];
  /** Extra `-name value` arguments for pocketsphinx (e.g. `['-beam', '1e-60']`). */
  args?: readonly string[];
  /**
   * A cell from `sharedModelCell()` (`shared-cell.ts`): decoders given the same cell, in any thread of the process,
   * load the dictionary and the language model's n-grams once and share them. Give one cell only to decoders of the
   * same model and arguments. Default: none, every decoder loads everything.
   */
  shared?: SharedArrayBuffer;
}

/** A word (or filler) with its frames (10 ms each) on the decoder's stream. */
export interface RawSegment {
  word: string;
  startFrame: number;
  endFrame: number;
}

/** Number of samples in one 10 ms frame at 16 kHz. */
export const SAMPLES_PER_FRAME = 160;

type Ptr = bigint | null;

/**
 * Call a bound function on libuv's thread pool (koffi's asynchronous call): the calling thread goes on running
 * JavaScript while the call runs, and calls on several pool threads run in parallel.
 */
function onPool<T>(fn: unknown, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    (fn as { async(...a: unknown[]): void }).async(...args, (err: unknown, value: T) => (err ? reject(err) : resolve(value)));
  });
}

interface Api {
  cmd_ln_parse_r(inout: Ptr, defn: Ptr, argc: number, argv: readonly string[], strict: number): Ptr;
  cmd_ln_free_r(cmdln: Ptr): number;
  cmd_ln_int_r(cmdln: Ptr, name: string): number;
  cmd_ln_set_int_r(cmdln: Ptr, name: string, value: number): void;
  ngram_model_set_lookup(set: Ptr, name: string): Ptr;
  ps_args(): Ptr;
  ps_init(config: Ptr): Ptr;
  ps_free(ps: Ptr): number;
  ps_start_stream(ps: Ptr): number;
  ps_start_utt(ps: Ptr): number;
  ps_process_raw(ps: Ptr, data: Int16Array, n: number, noSearch: number, fullUtt: number): number;
  ps_get_in_speech(ps: Ptr): number;
  ps_get_hyp(ps: Ptr, score: number[]): string | null;
  ps_end_utt(ps: Ptr): number;
  ps_seg_iter(ps: Ptr): Ptr;
  ps_seg_next(seg: Ptr): Ptr;
  ps_seg_word(seg: Ptr): string | null;
  ps_seg_frames(seg: Ptr, sf: number[], ef: number[]): void;
  ps_seg_free(seg: Ptr): void;
  ps_get_feat(ps: Ptr): Ptr;
  ps_set_jsgf_string(ps: Ptr, name: string, jsgf: string): number;
  ps_set_search(ps: Ptr, name: string): number;
  ps_get_search(ps: Ptr): string | null;
  ps_get_lm(ps: Ptr, name: string): Ptr;
  ps_set_lm(ps: Ptr, name: string, lm: Ptr): number;
  ps_get_config(ps: Ptr): Ptr;
  ps_get_logmath(ps: Ptr): Ptr;
  ngram_model_read(config: Ptr, path: string, type: number, lmath: Ptr): Ptr;
  ngram_wid(model: Ptr, word: string): number;
  ngram_unknown_wid(model: Ptr): number;
  ps_load_dict(ps: Ptr, dictfile: string, fdictfile: string | null, format: string | null): number;
  logmath_retain(lmath: Ptr): Ptr;
  dict_retain(dict: Ptr): Ptr;
  dict_free(dict: Ptr): number;
  dict_wordid(dict: Ptr, word: string): number;
  dict2pid_retain(d2p: Ptr): Ptr;
  dict2pid_free(d2p: Ptr): number;
  malloc(size: number): Ptr;
  memcpy(to: Ptr, from: Ptr, size: number): Ptr;
  free(p: Ptr): void;
  memfd_create(name: string, flags: number): number;
  close(fd: number): number;
}

let api: Api | undefined;

/** `dlopen` flags (glibc). */
const RTLD_NOW = 2;
const RTLD_NODELETE = 0x1000;

/**
 * malloc/memcpy/free for the per-decoder copies of the shared language model's small header structs; memfd_create
 * for the trimmed dictionary, which pocketsphinx can only read from a file.
 */
function libc(): Pick<Api, 'malloc' | 'memcpy' | 'free' | 'memfd_create' | 'close'> {
  const c = koffi.load('libc.so.6');
  return {
    malloc: c.func('void *malloc(size_t size)'),
    memcpy: c.func('void *memcpy(void *to, const void *from, size_t size)'),
    free: c.func('void free(void *p)'),
    memfd_create: c.func('int memfd_create(const char *name, unsigned int flags)'),
    // Not fs.closeSync: a worker thread warns when it closes a descriptor that `fs` did not open.
    close: c.func('int close(int fd)'),
  };
}
let featType: TypeObject | undefined;
let cmnType: TypeObject | undefined;

/** Load the two shared libraries once per thread; throws EARSHOT_ENGINE_UNAVAILABLE when they are missing. */
function load(): Api {
  if (api) return api;
  let sb: LibraryHandle;
  let ps: LibraryHandle;
  try {
    sb = koffi.load('libsphinxbase.so.3');
    ps = koffi.load('libpocketsphinx.so.3');
    // Never unloaded, even when the last worker thread that loaded them ends: shared model parts outlive their
    // loader and point into the libraries (a model's function table), which must stay at the same address.
    const dlopen = koffi.load('libc.so.6').func('void *dlopen(const char *file, int mode)') as (file: string, mode: number) => unknown;
    for (const lib of ['libsphinxbase.so.3', 'libpocketsphinx.so.3']) dlopen(lib, RTLD_NOW | RTLD_NODELETE);
  } catch (err) {
    throw new EngineError('EARSHOT_ENGINE_UNAVAILABLE', 'libpocketsphinx.so.3 / libsphinxbase.so.3 not found (apt-get install libpocketsphinx3 pocketsphinx-en-us)', { cause: err });
  }
  const bound: Api = {
    cmd_ln_parse_r: sb.func('void *cmd_ln_parse_r(void *inout, void *defn, int argc, const char **argv, int strict)'),
    cmd_ln_free_r: sb.func('int cmd_ln_free_r(void *cmdln)'),
    cmd_ln_int_r: sb.func('long cmd_ln_int_r(void *cmdln, const char *name)'),
    cmd_ln_set_int_r: sb.func('void cmd_ln_set_int_r(void *cmdln, const char *name, long value)'),
    ngram_model_set_lookup: sb.func('void *ngram_model_set_lookup(void *set, const char *name)'),
    ps_args: ps.func('void *ps_args()'),
    ps_init: ps.func('void *ps_init(void *config)'),
    ps_free: ps.func('int ps_free(void *ps)'),
    ps_start_stream: ps.func('int ps_start_stream(void *ps)'),
    ps_start_utt: ps.func('int ps_start_utt(void *ps)'),
    ps_process_raw: ps.func('int ps_process_raw(void *ps, const int16_t *data, size_t n, int no_search, int full_utt)'),
    ps_get_in_speech: ps.func('uint8_t ps_get_in_speech(void *ps)'),
    ps_get_hyp: ps.func('const char *ps_get_hyp(void *ps, _Out_ int32_t *score)'),
    ps_end_utt: ps.func('int ps_end_utt(void *ps)'),
    ps_seg_iter: ps.func('void *ps_seg_iter(void *ps)'),
    ps_seg_next: ps.func('void *ps_seg_next(void *seg)'),
    ps_seg_word: ps.func('const char *ps_seg_word(void *seg)'),
    ps_seg_frames: ps.func('void ps_seg_frames(void *seg, _Out_ int *sf, _Out_ int *ef)'),
    ps_seg_free: ps.func('void ps_seg_free(void *seg)'),
    ps_get_feat: ps.func('void *ps_get_feat(void *ps)'),
    ps_set_jsgf_string: ps.func('int ps_set_jsgf_string(void *ps, const char *name, const char *jsgf)'),
    ps_set_search: ps.func('int ps_set_search(void *ps, const char *name)'),
    ps_get_search: ps.func('const char *ps_get_search(void *ps)'),
    ps_get_lm: ps.func('void *ps_get_lm(void *ps, const char *name)'),
    ps_set_lm: ps.func('int ps_set_lm(void *ps, const char *name, void *lm)'),
    ps_get_config: ps.func('void *ps_get_config(void *ps)'),
    ps_get_logmath: ps.func('void *ps_get_logmath(void *ps)'),
    ngram_model_read: sb.func('void *ngram_model_read(void *config, const char *path, int type, void *lmath)'),
    ngram_wid: sb.func('int32_t ngram_wid(void *model, const char *word)'),
    ngram_unknown_wid: sb.func('int32_t ngram_unknown_wid(void *model)'),
    ps_load_dict: ps.func('int ps_load_dict(void *ps, const char *dictfile, const char *fdictfile, const char *format)'),
    logmath_retain: sb.func('void *logmath_retain(void *lmath)'),
    dict_retain: ps.func('void *dict_retain(void *dict)'),
    dict_free: ps.func('int dict_free(void *dict)'),
    dict_wordid: ps.func('int dict_wordid(void *dict, const char *word)'),
    dict2pid_retain: ps.func('void *dict2pid_retain(void *d2p)'),
    dict2pid_free: ps.func('int dict2pid_free(void *d2p)'),
    ...libc(),
  };
  // Leading members of sphinxbase's `struct feat_s` (feat.h) up to `cmn_struct`, and `cmn_t` (cmn.h).
  featType = koffi.struct({
    refcount: 'int',
    name: 'void *',
    cepsize: 'int32_t',
    n_stream: 'int32_t',
    stream_len: 'void *',
    window_size: 'int32_t',
    n_sv: 'int32_t',
    sv_len: 'void *',
    subvecs: 'void *',
    sv_buf: 'void *',
    sv_dim: 'int32_t',
    cmn: 'int',
    varnorm: 'int32_t',
    agc: 'int',
    compute_feat: 'void *',
    cmn_struct: 'void *',
  });
  cmnType = koffi.struct({ cmn_mean: 'void *', cmn_var: 'void *', sum: 'void *', nframe: 'int32_t', veclen: 'int32_t' });
  // Silence sphinxbase's process-wide log. Not `-logfn`: each ps_init with it closes and reopens the one global
  // log FILE, a use-after-close race when decoders start in several worker threads at once.
  (sb.func('void err_set_logfp(void *stream)') as (stream: null) => void)(null);
  api = bound;
  return bound;
}

/** A one-word grammar: searching it costs ~1 % of the n-gram search, for passes that only need features. */
const CMN_SEARCH = '_earshot_cmn';
const CMN_GRAMMAR = '#JSGF V1.0;\ngrammar earshot;\npublic <any> = the;\n';
/**
 * The main n-gram search without the flat-lexicon second pass, for live sessions: made on first use, only where the
 * main search's pass flags cannot be switched instead (see {@link #passFlags}).
 */
const ONE_PASS_SEARCH = '_earshot_one_pass';

/** Values of sphinxbase's `cmn_type_t`. */
const CMN_BATCH = 1;
const CMN_LIVE = 2;

/** Filler and sentence markers pocketsphinx puts in segmentations. */
const FILLER = /^(<s>|<\/s>|<sil>|\[[A-Z_]+\]|\+\+.*\+\+|<.*>)$/;

/**
 * Drop fillers and strip alternate-pronunciation suffixes (`to(2)` → `to`).
 *
 * @param word - a word as pocketsphinx's segmentation spells it.
 * @returns the word to show, or undefined for fillers (`<s>`, `</s>`, `<sil>`, `[NOISE]`, `++BREATH++`).
 * @example
 * ```ts
 * cleanWord('to(2)'); // 'to'
 * cleanWord('<sil>'); // undefined
 * ```
 */
export function cleanWord(word: string): string | undefined {
  if (FILLER.test(word)) return undefined;
  const text = word.replace(/\(\d+\)$/, '');
  return text.length > 0 ? text : undefined;
}

/**
 * Struct layouts of the installed libraries (pocketsphinx/sphinxbase 5prealpha, x86-64) that sharing relies on. Each
 * is checked against the library's own accessors before anything is shared; a mismatch turns sharing off.
 * `ps_decoder_t`: `dict` at 24, `d2p` at 32, `lmath` at 40. `ngram_model_t`: `refcount` first, `n` (order) at 24,
 * `lmath` at 32; an `ngram_model_trie_t` is that 96-byte base and then its `lm_trie_t *`. `lm_trie_t` (96 bytes) holds
 * pointers to the n-gram arrays and, last, the history/backoff caches `lm_trie_score` writes: the only part of the
 * model written while decoding. `dict_t` and `dict2pid_t` start with their refcount; `dict2pid_t.dict` is at 16.
 */
const PS_ACMOD = 16;
const PS_DICT = 24;
const PS_D2P = 32;
const PS_LMATH = 40;
const LM_ORDER = 24;
const LM_LMATH = 32;
const LM_TRIE = 96;
const LM_SIZE = 104;
const TRIE_SIZE = 96;
const D2P_DICT = 16;
/**
 * Refcount given to shared objects. The library's retain/free are not atomic, and decoders start and stop in several
 * threads at once; from this height lost updates can never bring a count to 0, so the shared parts are never freed
 * (they live as long as the process, like the loaded library).
 */
const PINNED = 1 << 28;
/** Name of the n-gram search a decoder built on shared parts gets (pocketsphinx's own default name). */
const NGRAM_SEARCH = '_default';
/** Arguments that load or select a model or search themselves: a decoder given any of them shares nothing. */
const OWN_MODEL_ARGS = new Set(['-hmm', '-lm', '-dict', '-lmctl', '-fsg', '-jsgf', '-kws', '-keyphrase', '-allphone', '-fdict']);
/** How long a decoder waits for another thread to finish loading the shared parts before loading its own (ms). */
const SHARED_WAIT_MS = 60_000;

/**
 * `ps_decoder_t.search` (the current search) at 56. `ps_search_t` (112 bytes): `type` at 8, `name` at 16, `acmod`,
 * `dict`, `d2p` at 40, 48, 56; an `ngram_search_t` is that base, `lmset`, `hmmctx`, then its pass flags `fwdtree`,
 * `fwdflat`, `bestpath` (one byte each) at 128. `acmod_t`: `lmath` at 8, `fcb` (the feature module) at 32.
 */
const PS_SEARCH = 56;
const SEARCH_TYPE = 8;
const SEARCH_NAME = 16;
const SEARCH_ACMOD = 40;
const SEARCH_DICT = 48;
const SEARCH_D2P = 56;
const NGRAM_LMSET = 112;
const NGRAM_FWDTREE = 128;
const NGRAM_FWDFLAT = 129;
const ACMOD_LMATH = 8;
const ACMOD_FCB = 32;

/** The shared read-only parts: a pinned trie language model, dictionary and dictionary-to-senone map. */
interface SharedParts {
  lm: bigint;
  trie: bigint;
  dict: bigint;
  d2p: bigint;
}

function ptrAt(p: bigint, offset: number): bigint | null {
  return koffi.decode(p, offset, 'void *') as bigint | null;
}

/** Words a decoder needs in its dictionary whatever its language model: the one word of {@link CMN_GRAMMAR}. */
const ALWAYS_KEPT = new Set(['the']);
/** `memfd_create` flag: the descriptor is not inherited by programs this process runs. */
const MFD_CLOEXEC = 1;

/**
 * The lines of a pocketsphinx dictionary whose word `keep` accepts, in their order; `keep` gets the base word (an
 * alternate pronunciation `word(2)` is judged as `word`, as pocketsphinx itself groups them). Blank and comment lines
 * stay, and so does a line whose word is not plain ASCII (kept rather than judged).
 *
 * @internal Used to drop the dictionary words a language model does not know: an n-gram search never recognises
 *   them, yet each costs memory in the dictionary and in every search's per-word tables.
 * @param text - the dictionary file's bytes.
 * @param keep - whether a base word stays.
 * @returns the kept lines' bytes.
 * @example
 * ```ts
 * trimDictionary(Buffer.from('a AH\nb B IY\nb(2) B AH\n'), (w) => w === 'b').toString(); // 'b B IY\nb(2) B AH\n'
 * ```
 */
export function trimDictionary(text: Uint8Array, keep: (word: string) => boolean): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let size = 0;
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf(10, start);
    const end = nl < 0 ? text.length : nl + 1;
    let w = start;
    let ascii = true;
    for (; w < end && text[w] !== 32 && text[w] !== 9 && text[w] !== 13 && text[w] !== 10; w++) if (text[w]! >= 128) ascii = false;
    const word = Buffer.from(text.buffer, text.byteOffset + start, w - start).toString('latin1');
    const comment = word.startsWith('##') || word.startsWith(';;');
    const open = word.lastIndexOf('(');
    const base = word.endsWith(')') && open > 0 ? word.slice(0, open) : word;
    if (w === start || comment || !ascii || keep(base)) {
      out.set(text.subarray(start, end), size);
      size += end - start;
    }
    start = end;
  }
  return out.subarray(0, size);
}

function modelPaths(config: DecoderConfig): ModelPaths {
  return {
    hmm: config.model?.hmm ?? `${DEFAULT_MODEL_DIR}/en-us`,
    lm: config.model?.lm ?? `${DEFAULT_MODEL_DIR}/en-us.lm.bin`,
    dict: config.model?.dict ?? `${DEFAULT_MODEL_DIR}/cmudict-en-us.dict`,
  };
}

/** A decoder's load up to `ps_init`: its arguments parsed, its role towards a shared-model cell taken. */
interface Begun {
  api: Api;
  paths: ModelPaths;
  extra: readonly string[];
  argv: string[];
  config: Ptr;
  role: 'alone' | 'load' | 'use';
  cell: Int32Array | undefined;
}

/** Check and parse a decoder's arguments and take its role towards its cell (waiting while another thread loads it). */
function begin(config: DecoderConfig): Begun {
  const a = load();
  const paths = modelPaths(config);
  const common = ['-hmm', paths.hmm];
  if (config.cmnInit) {
    if (config.cmnInit.length !== 13 || config.cmnInit.some((v) => !Number.isFinite(v))) throw new InvalidArgumentError('cmnInit needs 13 finite numbers');
    common.push('-cmninit', config.cmnInit.map((v) => v.toFixed(2)).join(','));
  }
  const extra = config.args ?? [];
  const cell = config.shared && !extra.some((x) => OWN_MODEL_ARGS.has(x)) ? new Int32Array(config.shared, 0, 2) : undefined;
  let role: Begun['role'] = 'alone';
  if (cell) {
    const deadline = Date.now() + SHARED_WAIT_MS;
    for (;;) {
      const state = Atomics.compareExchange(cell, 0, CELL_EMPTY, CELL_LOADING);
      if (state === CELL_EMPTY) {
        Atomics.store(cell, 1, threadId);
        role = 'load';
      } else if (state === CELL_READY) role = 'use';
      else if (state === CELL_LOADING && Date.now() < deadline) {
        Atomics.wait(cell, 0, CELL_LOADING, 1000);
        continue;
      }
      break;
    }
  }
  // A decoder that loads or uses shared parts starts with neither dictionary nor language model (the loader reads
  // them in #publish); the others load both.
  const argv = role === 'alone' ? [...common, '-lm', paths.lm, '-dict', paths.dict, ...extra] : [...common, ...extra];
  return { api: a, paths, extra, argv, config: a.cmd_ln_parse_r(null, a.ps_args(), argv.length, argv, 0), role, cell };
}

/** A begun load whose `ps_init` ran on the thread pool, for the constructor to finish ({@link Decoder.create}). */
let handoff: { begun: Begun; ps: Ptr } | undefined;
/** Decoder.create() of this thread, one at a time: a second one would wait for the first's shared parts. */
let creating: Promise<unknown> = Promise.resolve();

/**
 * One pocketsphinx decoder (one loaded model, ~90 MB; ~33 MB more when it shares a dictionary and language model
 * through `DecoderConfig.shared`). Not thread-safe; use it from one thread. The heavy calls (`processRaw`, `endUtt`,
 * `segments` and what calls them) run on libuv's thread pool and return promises; the decoder takes one call at a
 * time (another call while one runs throws `EARSHOT_ENGINE_FAILED`), so await each before the next.
 *
 * @throws {EngineError} `EARSHOT_ENGINE_UNAVAILABLE` when the libraries are missing,
 *   `EARSHOT_ENGINE_FAILED` when the model cannot be loaded or a call fails.
 * @example
 * ```ts
 * const d = await Decoder.create(); // or new Decoder(), loading on this thread
 * await d.startClip();
 * await d.processRaw(samples, true);
 * await d.endUtt();
 * console.log(await d.segments());
 * d.free();
 * ```
 */
export class Decoder {
  readonly #api: Api;
  #ps: Ptr;
  #config: Ptr;
  readonly #cmnInit: Float32Array;
  readonly #cmnPtr: bigint;
  readonly #featPtr: bigint;
  readonly #cmnOffset: number;
  readonly #veclen: number;
  readonly #meanPtr: bigint;
  readonly #sumPtr: bigint;
  #inUtt = false;
  /** A call is running on the thread pool. */
  #busy = false;
  readonly #mainSearch: string;
  #onePass = false;
  /** The feature buffer must be made growable again once an utterance has started (see {@link #makeOnePass}). */
  #regrow = false;
  /** The main search's `fwdflat` flag and its value as configured (see {@link #passFlags}); null: not switchable. */
  #flatFlag: { at: bigint; twoPass: number } | null = null;
  /** This decoder's copy of the shared language model's header (freed with the decoder). */
  #lmCopy: { lm: bigint; trie: bigint } | undefined;

  constructor(config: DecoderConfig = {}) {
    // Decoder.create() hands over a begun load whose ps_init ran on the thread pool; otherwise it runs here.
    const handed = handoff;
    handoff = undefined;
    const begun = handed?.begun ?? begin(config);
    const { api: a, role, cell } = begun;
    this.#api = a;
    this.#config = begun.config;
    this.#ps = null;
    try {
      if (!this.#config) throw new EngineError('EARSHOT_ENGINE_FAILED', 'pocketsphinx rejected its arguments', { details: { args: begun.argv } });
      this.#ps = handed ? handed.ps : a.ps_init(this.#config);
      if (!this.#ps) throw new EngineError('EARSHOT_ENGINE_FAILED', `pocketsphinx could not load the model (${begun.paths.hmm})`, { details: { ...begun.paths } });
      if (role === 'load') this.#publish(config.shared!, begun.paths, !begun.extra.includes('-dictcase'));
      else if (role === 'use') this.#adopt(config.shared!);
    } catch (err) {
      // Whoever was loading and failed lets the others load their own.
      if (role === 'load' && Atomics.compareExchange(cell!, 0, CELL_LOADING, CELL_OFF) === CELL_LOADING) Atomics.notify(cell!, 0);
      this.free();
      throw err;
    }
    const featPtr = a.ps_get_feat(this.#ps);
    if (!featPtr) throw new EngineError('EARSHOT_ENGINE_FAILED', 'pocketsphinx has no feature module');
    this.#featPtr = featPtr;
    const feat = koffi.decode(featPtr, featType!) as { cmn_struct: bigint | null; cepsize: number };
    if (!feat.cmn_struct) throw new EngineError('EARSHOT_ENGINE_FAILED', 'pocketsphinx has no CMN state');
    this.#cmnPtr = feat.cmn_struct;
    this.#cmnOffset = koffi.offsetof(featType!, 'cmn');
    const cmn = koffi.decode(this.#cmnPtr, cmnType!) as { cmn_mean: bigint; sum: bigint; veclen: number };
    this.#veclen = cmn.veclen;
    this.#meanPtr = cmn.cmn_mean;
    this.#sumPtr = cmn.sum;
    this.#mainSearch = a.ps_get_search(this.#ps) ?? NGRAM_SEARCH;
    this.#check(a.ps_set_jsgf_string(this.#ps, CMN_SEARCH, CMN_GRAMMAR), 'ps_set_jsgf_string');
    this.#check(a.ps_set_search(this.#ps, this.#mainSearch), 'ps_set_search');
    this.#flatFlag = this.#passFlags();
    this.#cmnInit = Float32Array.from(koffi.decode(this.#meanPtr, 'float', this.#veclen) as ArrayLike<number>);
  }

  /**
   * Load a decoder with its model load (`ps_init`, the heavy part) on libuv's thread pool, so this thread goes on
   * serving other decoders meanwhile. Loads of one thread run one after another.
   *
   * @throws {EngineError} as the constructor.
   * @example
   * ```ts
   * const d = await Decoder.create({ shared });
   * ```
   */
  static create(config: DecoderConfig = {}): Promise<Decoder> {
    const made = creating.then(async () => {
      const begun = begin(config);
      const ps = begun.config ? await onPool<Ptr>(begun.api.ps_init, begun.config).catch(() => null) : null;
      handoff = { begun, ps };
      return new Decoder(config);
    });
    creating = made.catch(() => undefined);
    return made;
  }

  /**
   * First decoder of a cell (built with neither dictionary nor language model): load the language model, then the
   * dictionary trimmed to the words that model knows (`trim`; see {@link #loadDictionary}), check the layouts, pin
   * and publish the shared parts, then search with that model. Layouts that do not check out turn the cell off (every
   * decoder then loads its own) and this decoder keeps its own model.
   */
  #publish(shared: SharedArrayBuffer, paths: ModelPaths, trim: boolean): void {
    const a = this.#api;
    const ps = this.#ps!;
    const cell = new Int32Array(shared, 0, 2);
    const lmath = a.ps_get_logmath(ps);
    const lm = a.ngram_model_read(a.ps_get_config(ps), paths.lm, 0, lmath);
    if (!lm) throw new EngineError('EARSHOT_ENGINE_FAILED', `pocketsphinx could not load the language model (${paths.lm})`, { details: { lm: paths.lm } });
    this.#loadDictionary(paths.dict, trim ? lm : null);
    const dict = ptrAt(ps, PS_DICT);
    const d2p = ptrAt(ps, PS_D2P);
    const trie = ptrAt(lm, LM_TRIE);
    const order = koffi.decode(lm, LM_ORDER, 'uint8_t') as number;
    const fits =
      lmath !== null &&
      ptrAt(ps, PS_LMATH) === lmath &&
      dict !== null &&
      d2p !== null &&
      ptrAt(d2p, D2P_DICT) === dict &&
      a.dict_wordid(dict, '</s>') >= 0 &&
      ptrAt(lm, LM_LMATH) === lmath &&
      order >= 2 &&
      order <= 5 &&
      trie !== null &&
      ptrAt(trie, 0) !== null;
    this.#check(a.ps_set_lm(ps, NGRAM_SEARCH, lm), 'ps_set_lm');
    this.#check(a.ps_set_search(ps, NGRAM_SEARCH), 'ps_set_search');
    if (!fits) {
      if (Atomics.compareExchange(cell, 0, CELL_LOADING, CELL_OFF) === CELL_LOADING) Atomics.notify(cell, 0);
      return;
    }
    a.logmath_retain(lmath);
    for (const p of [lm, dict, d2p]) koffi.encode(p, 0, 'int', PINNED);
    const slots = new BigInt64Array(shared, 8, 4);
    [slots[0], slots[1], slots[2], slots[3]] = [lm, trie, dict, d2p];
    Atomics.store(cell, 0, CELL_READY);
    Atomics.notify(cell, 0);
  }

  /**
   * Load the dictionary into this decoder. With `lm`, only the words that model knows (as pocketsphinx decides it:
   * neither unknown nor `<UNK>`) and {@link ALWAYS_KEPT}: the n-gram search leaves the others out of its lexicon tree,
   * so they can never be recognised, yet each costs memory in the dictionary and in every search's per-word tables
   * (the en-us model: 79,420 of 134,723 lines kept). The trimmed copy is read from an anonymous in-memory file; where
   * there is none (no `memfd_create`), the whole dictionary is loaded.
   */
  #loadDictionary(path: string, lm: Ptr): void {
    const a = this.#api;
    let fd = -1;
    let trimmed: Buffer | undefined;
    if (lm) {
      let text: Buffer;
      try {
        text = readFileSync(path);
      } catch (err) {
        throw new EngineError('EARSHOT_ENGINE_FAILED', `pocketsphinx could not read the dictionary (${path})`, { cause: err, details: { dict: path } });
      }
      const unknown = a.ngram_unknown_wid(lm);
      const known = (word: string): boolean => {
        const id = a.ngram_wid(lm, word);
        return id >= 0 && id !== unknown;
      };
      trimmed = trimDictionary(text, (word) => ALWAYS_KEPT.has(word) || known(word));
      fd = a.memfd_create('earshot-dict', MFD_CLOEXEC);
    }
    try {
      // Written inside the try: a failed write still closes the descriptor.
      for (let at = 0; fd >= 0 && trimmed && at < trimmed.length; ) at += writeSync(fd, trimmed, at);
      this.#check(a.ps_load_dict(this.#ps!, fd >= 0 ? `/proc/self/fd/${fd}` : path, null, null), 'ps_load_dict');
    } finally {
      if (fd >= 0) a.close(fd);
    }
  }

  /** A later decoder of a cell (built without dictionary or language model): take the shared parts. */
  #adopt(shared: SharedArrayBuffer): void {
    const a = this.#api;
    const ps = this.#ps!;
    const slots = new BigInt64Array(shared, 8, 4);
    const parts: SharedParts = { lm: slots[0]!, trie: slots[1]!, dict: slots[2]!, d2p: slots[3]! };
    if (ptrAt(ps, PS_LMATH) !== a.ps_get_logmath(ps)) throw new EngineError('EARSHOT_ENGINE_FAILED', 'pocketsphinx decoder layout differs from the one the shared model was loaded with');
    // The decoder's own (filler-only) dictionary and map are swapped for the shared ones.
    const ownDict = ptrAt(ps, PS_DICT);
    const ownD2p = ptrAt(ps, PS_D2P);
    koffi.encode(ps, PS_DICT, 'void *', a.dict_retain(parts.dict));
    koffi.encode(ps, PS_D2P, 'void *', a.dict2pid_retain(parts.d2p));
    a.dict2pid_free(ownD2p);
    a.dict_free(ownDict);
    // A private header of the language model: the n-gram arrays are shared, the scoring caches are this decoder's.
    const lm = a.malloc(LM_SIZE);
    const trie = a.malloc(TRIE_SIZE);
    if (!lm || !trie) throw new EngineError('EARSHOT_ENGINE_FAILED', 'out of memory');
    a.memcpy(lm, parts.lm, LM_SIZE);
    a.memcpy(trie, parts.trie, TRIE_SIZE);
    koffi.encode(lm, LM_TRIE, 'void *', trie);
    koffi.encode(lm, 0, 'int', 1);
    this.#lmCopy = { lm, trie };
    this.#check(a.ps_set_lm(ps, NGRAM_SEARCH, lm), 'ps_set_lm');
    this.#check(a.ps_set_search(ps, NGRAM_SEARCH), 'ps_set_search');
  }

  /** True until {@link free}. */
  get alive(): boolean {
    return this.#ps !== null;
  }

  #handle(): bigint {
    if (this.#ps === null) throw new EngineError('EARSHOT_ENGINE_FAILED', 'decoder already freed');
    if (this.#busy) throw new EngineError('EARSHOT_ENGINE_FAILED', 'decoder called while its previous call is still running');
    return this.#ps;
  }

  /** Whether a call of this decoder is running on the thread pool (the decoder takes no other call until it ends). */
  get busy(): boolean {
    return this.#busy;
  }

  /** Run `fn(ps, ...args)` on libuv's thread pool; the decoder takes no other call until it returns. */
  async #onPool<T>(fn: unknown, ...args: unknown[]): Promise<T> {
    const ps = this.#handle();
    this.#busy = true;
    try {
      return await onPool<T>(fn, ps, ...args);
    } finally {
      this.#busy = false;
    }
  }

  /** Current cepstral mean (13 values). */
  cmnMean(): number[] {
    return Array.from(koffi.decode(this.#meanPtr, 'float', this.#veclen) as ArrayLike<number>);
  }

  /**
   * Put CMN back to a known state in live mode: mean = `mean` (default the initial `cmnInit`), counted as
   * `weightFrames` frames already seen. With weight 0 the first end of utterance sets the mean to that utterance's
   * own; a large weight keeps the mean near `mean` as utterances go by.
   */
  resetCmn(mean?: readonly number[], weightFrames = 0): void {
    this.#handle();
    const m = mean ? Float32Array.from(mean) : this.#cmnInit;
    koffi.encode(this.#meanPtr, 'float', Array.from(m), this.#veclen);
    koffi.encode(this.#sumPtr, 'float', Array.from(m, (v) => v * weightFrames), this.#veclen);
    koffi.encode(this.#cmnPtr, koffi.offsetof(cmnType!, 'nframe'), 'int32_t', Math.max(0, Math.round(weightFrames)));
    koffi.encode(this.#featPtr, this.#cmnOffset, 'int', CMN_LIVE);
  }

  /**
   * The cepstral mean of a whole clip's speech (batch CMN), found with a one-word grammar instead of the language
   * model, so it costs about 1 % of a decode. Seed {@link startStream} with it to decode the clip with its own mean.
   */
  async learnCmn(samples: Int16Array): Promise<number[]> {
    const a = this.#api;
    // A decoder given back mid-utterance (its session closed mid-speech) cannot switch searches until that ends.
    await this.#abandon();
    this.#check(a.ps_set_search(this.#handle(), CMN_SEARCH), 'ps_set_search');
    try {
      await this.startClip();
      await this.processRaw(samples, true);
      await this.endUtt();
    } finally {
      this.#check(a.ps_set_search(this.#handle(), this.#mainSearch), 'ps_set_search');
    }
    return this.cmnMean();
  }

  /**
   * Start a new stream: frame numbers restart at 0, the voice-activity detector forgets its state, live CMN is
   * reset to `cmnMean` (default: the initial mean) counted as `weightFrames` frames (see {@link resetCmn}).
   *
   * @param flatPass - end each utterance with pocketsphinx's second, flat-lexicon search pass (default true). Without
   *   it the end of an utterance costs about half (the tree search's lattice and its best path only). The main
   *   search serves both; only where its flags cannot be switched (another library build) is a second search made
   *   on first use (~0.3 s on an idle core; ~30 MB, kept with the decoder).
   */
  async startStream(cmnMean?: readonly number[], weightFrames = 0, flatPass = true): Promise<void> {
    await this.#abandon();
    this.#useMain(flatPass);
    this.resetCmn(cmnMean, weightFrames);
    this.#check(this.#api.ps_start_stream(this.#handle()), 'ps_start_stream');
    await this.startUtt();
  }

  /**
   * Where the main search keeps its pass flags, if this library's layouts check out (the current search is the main
   * n-gram search of this decoder, with its acoustic model, dictionary, language model set and the configured
   * flags): a live session then runs one pass by switching the main search's second pass off for its utterances,
   * instead of a second search with its own lexicon tree (~30 MB per decoder). Both run the same tree search; the
   * flag is only read when an utterance ends, to decide whether to run the flat pass and with which language
   * weight to read the result.
   */
  #passFlags(): { at: bigint; twoPass: number } | null {
    const a = this.#api;
    const ps = this.#handle();
    const search = ptrAt(ps, PS_SEARCH);
    const acmod = ptrAt(ps, PS_ACMOD);
    if (!search || !acmod) return null;
    const flags = koffi.decode(search, NGRAM_FWDTREE, 'uint8_t', 3) as number[];
    const expected = ['-fwdtree', '-fwdflat', '-bestpath'].map((name) => (a.cmd_ln_int_r(this.#config, name) ? 1 : 0));
    const fits =
      koffi.decode(search, SEARCH_TYPE, 'const char *') === 'ngram' &&
      koffi.decode(search, SEARCH_NAME, 'const char *') === this.#mainSearch &&
      ptrAt(search, SEARCH_ACMOD) === acmod &&
      ptrAt(search, SEARCH_DICT) === ptrAt(ps, PS_DICT) &&
      ptrAt(search, SEARCH_D2P) === ptrAt(ps, PS_D2P) &&
      ptrAt(search, NGRAM_LMSET) === a.ps_get_lm(ps, this.#mainSearch) &&
      ptrAt(acmod, ACMOD_LMATH) === a.ps_get_logmath(ps) &&
      ptrAt(acmod, ACMOD_FCB) === this.#featPtr &&
      expected[0] === 1 &&
      flags.every((f, i) => f === expected[i]);
    return fits ? { at: search + BigInt(NGRAM_FWDFLAT), twoPass: expected[1]! } : null;
  }

  /** Search with the main search, with (`flatPass`, as configured) or without its flat-lexicon second pass. */
  #useMain(flatPass: boolean): void {
    if (this.#flatFlag) {
      this.#useSearch(this.#mainSearch);
      koffi.encode(this.#flatFlag.at, 0, 'uint8_t', flatPass ? this.#flatFlag.twoPass : 0);
    } else this.#useSearch(flatPass ? this.#mainSearch : this.#makeOnePass());
  }

  #useSearch(name: string): void {
    const a = this.#api;
    if (a.ps_get_search(this.#handle()) !== name) this.#check(a.ps_set_search(this.#handle(), name), 'ps_set_search');
  }

  /**
   * The one-pass search: the main search's language model in a second n-gram search made with `-fwdflat no` (the
   * model, dictionary and acoustic model are shared; the search's own tables, its lexicon tree above all, are ~30 MB).
   * Only where {@link #passFlags} does not check out. Making it turns the acoustic module's growing feature buffer
   * off, which the two-pass search needs; `startUtt` turns it back on.
   */
  #makeOnePass(): string {
    if (this.#onePass) return ONE_PASS_SEARCH;
    const a = this.#api;
    const ps = this.#handle();
    // The search holds its model in a one-member set named "default"; the new search wraps the member the same way
    // (a set inside a set would work too, at the cost of a second lookup on every language-model score).
    const set = a.ps_get_lm(ps, this.#mainSearch);
    const lm = set ? a.ngram_model_set_lookup(set, 'default') : null;
    if (!lm) throw new EngineError('EARSHOT_ENGINE_FAILED', 'the main search has no language model');
    const flat = a.cmd_ln_int_r(this.#config, '-fwdflat');
    a.cmd_ln_set_int_r(this.#config, '-fwdflat', 0);
    try {
      this.#check(a.ps_set_lm(ps, ONE_PASS_SEARCH, lm), 'ps_set_lm');
    } finally {
      a.cmd_ln_set_int_r(this.#config, '-fwdflat', flat);
    }
    this.#onePass = true;
    this.#regrow = true;
    return ONE_PASS_SEARCH;
  }

  /** Restart frame numbering and voice-activity state without touching CMN, then start an utterance. */
  async restartStream(): Promise<void> {
    await this.#abandon();
    this.#check(this.#api.ps_start_stream(this.#handle()), 'ps_start_stream');
    await this.startUtt();
  }

  /** Start a whole-clip utterance with batch CMN (the clip's own mean); feed it with one `processRaw(x, true)`. */
  async startClip(): Promise<void> {
    await this.#abandon();
    // Clips get the configured passes, also after a one-pass stream (the current search stays: learnCmn's or main).
    if (this.#flatFlag) koffi.encode(this.#flatFlag.at, 0, 'uint8_t', this.#flatFlag.twoPass);
    this.#check(this.#api.ps_start_stream(this.#handle()), 'ps_start_stream');
    koffi.encode(this.#featPtr, this.#cmnOffset, 'int', CMN_BATCH);
    await this.startUtt();
  }

  /** Start the next utterance on the same stream (frame numbers continue). */
  async startUtt(): Promise<void> {
    await this.#abandon();
    this.#check(this.#api.ps_start_utt(this.#handle()), 'ps_start_utt');
    this.#inUtt = true;
    if (this.#regrow) {
      // No samples, no search: only acmod_set_grow(TRUE), which ps_process_raw does first (public API only).
      this.#check(this.#api.ps_process_raw(this.#handle(), new Int16Array(0), 0, 1, 0), 'ps_process_raw');
      this.#regrow = false;
    }
  }

  /** End an utterance left open (a session closed mid-speech) so the decoder can start again. */
  async #abandon(): Promise<void> {
    if (this.#inUtt) await this.endUtt();
  }

  /** Decode 16 kHz mono samples; `fullUtt` when they are a whole utterance (batch CMN). Returns frames searched. */
  async processRaw(samples: Int16Array, fullUtt = false): Promise<number> {
    if (samples.length === 0) return 0;
    const n = await this.#onPool<number>(this.#api.ps_process_raw, samples, samples.length, 0, fullUtt ? 1 : 0);
    return this.#check(n, 'ps_process_raw');
  }

  /** Whether the voice-activity detector is in speech after the last `processRaw`. */
  inSpeech(): boolean {
    return this.#api.ps_get_in_speech(this.#handle()) !== 0;
  }

  /**
   * Path score of the best hypothesis so far (or of the ended utterance): the model's acoustic and language scores
   * along it, log base 1.0001, higher is better. Two decodes of the same frames compare by it (e.g. two cepstral
   * means: a mean shift moves features without stretching them).
   *
   * @throws {EngineError} `EARSHOT_ENGINE_FAILED` when the decoder was freed.
   * @example
   * ```ts
   * d.endUtt();
   * console.log(d.hyp(), d.score()); // 'go forward ten meters' -8123
   * ```
   */
  score(): number {
    const out = [0];
    this.#api.ps_get_hyp(this.#handle(), out);
    return out[0]!;
  }

  /** Best hypothesis so far (or of the ended utterance); '' when none. */
  hyp(): string {
    return this.#api.ps_get_hyp(this.#handle(), [0]) ?? '';
  }

  /** End the utterance (final search pass). */
  async endUtt(): Promise<void> {
    this.#inUtt = false;
    this.#check(await this.#onPool<number>(this.#api.ps_end_utt), 'ps_end_utt');
  }

  /** The best path's words and fillers with their frames on the current stream (the best path is found on the thread pool). */
  async segments(): Promise<RawSegment[]> {
    const a = this.#api;
    const out: RawSegment[] = [];
    let seg = await this.#onPool<Ptr>(a.ps_seg_iter);
    const sf = [0];
    const ef = [0];
    while (seg) {
      a.ps_seg_frames(seg, sf, ef);
      out.push({ word: a.ps_seg_word(seg) ?? '', startFrame: sf[0]!, endFrame: ef[0]! });
      // ps_seg_next frees the iterator when it returns NULL.
      seg = a.ps_seg_next(seg);
    }
    return out;
  }

  /** Release the model. Safe to call twice. Not while a call is running ({@link busy}). */
  free(): void {
    if (this.#busy) throw new EngineError('EARSHOT_ENGINE_FAILED', 'decoder freed while its call is still running');
    if (this.#ps !== null) {
      this.#api.ps_free(this.#ps);
      this.#ps = null;
    }
    // The search released its reference to the header copy; free it unless something still holds it.
    if (this.#lmCopy && koffi.decode(this.#lmCopy.lm, 0, 'int') === 1) {
      this.#api.free(this.#lmCopy.trie);
      this.#api.free(this.#lmCopy.lm);
    }
    this.#lmCopy = undefined;
    // ps_init retained the config; ps_free released the decoder's reference, this drops ours.
    if (this.#config !== null) {
      this.#api.cmd_ln_free_r(this.#config);
      this.#config = null;
    }
  }

  #check(rc: number, call: string): number {
    if (rc < 0) throw new EngineError('EARSHOT_ENGINE_FAILED', `${call} failed (${rc})`);
    return rc;
  }
}
