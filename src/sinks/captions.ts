/**
 * Caption layout: turn final transcript events into cues that meet Netflix-style subtitle rules by construction.
 *
 * Rules every cue satisfies (defaults; all configurable):
 * - at most 42 characters a line (16 for CJK text) and at most 2 lines, broken at word boundaries into balanced lines;
 * - 5/6 s ≤ duration ≤ 7 s, short cues extended into the following silence;
 * - at most 20 characters a second (9 for CJK text), counting every character of the cue except line breaks;
 * - at least a 2-frame gap between cues (80 ms at 25 fps);
 * - a speaker change, or a pause of `pauseMs` or more, starts a new cue.
 *
 * Cues are cut on word times when events carry them; otherwise a final's text is spread over its time span in
 * proportion to character counts. Cue times never overlap and never go back; when speech is faster than the
 * reading-speed limit allows, a cue starts late (after the previous one plus the gap) rather than breaking a rule.
 *
 * Streaming: {@link CueBuilder} takes finals one by one and returns cues as soon as they are settled. It keeps at
 * most two cues' worth of words pending, so memory stays bounded on endless input.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import type { TranscriptEvent } from '../core/types.js';

/** One caption cue. Times are integer milliseconds of audio time. */
export interface Cue {
  startMs: number;
  endMs: number;
  /** One or more lines of text (at most `maxLines`), never empty. */
  lines: string[];
  /** The speaker label of the events the cue came from, e.g. `Speaker 1`. */
  speaker?: string;
  /** Which limits the cue was laid out with: `cjk` (Chinese, Japanese, Korean text) or `latin` (everything else). */
  script: 'latin' | 'cjk';
}

/** Limits for caption layout. Every field is optional; the defaults follow Netflix's timed-text style guide. */
export interface CaptionOptions {
  /** Characters a line for non-CJK text. Default 42. */
  maxCharsPerLine?: number;
  /** Characters a line for CJK text. Default 16. */
  cjkMaxCharsPerLine?: number;
  /** Lines a cue. Default 2. */
  maxLines?: number;
  /** Shortest cue in ms. Default 834 (5/6 s, rounded up to whole ms). */
  minDurationMs?: number;
  /** Longest cue in ms. Default 7000. */
  maxDurationMs?: number;
  /** Reading speed limit for non-CJK text, characters a second. Default 20. */
  maxCharsPerSecond?: number;
  /** Reading speed limit for CJK text, characters a second. Default 9. */
  cjkMaxCharsPerSecond?: number;
  /** Frame rate used for the minimum gap. Default 25. */
  fps?: number;
  /** Minimum gap between cues in frames. Default 2 (80 ms at 25 fps). Ignored when `minGapMs` is set. */
  minGapFrames?: number;
  /** Minimum gap between cues in ms, overriding `fps` × `minGapFrames`. */
  minGapMs?: number;
  /** A pause between words of at least this many ms always starts a new cue. Default 1000. */
  pauseMs?: number;
  /**
   * The events come from several tracks, whose speech may overlap and whose finals arrive out of time order (each is
   * transcribed on its own): the channels of a call (`channel`, `--channels separate`) or, for events without a
   * channel, the speakers (RTP participants). Each track's cues are then laid out on their own, at their own times
   * (cues of different tracks may overlap), and written in start order when the input ends (see `holdMs`). Default
   * false: one track, cues written as they settle.
   */
  channels?: boolean;
  /**
   * With `channels`: write a cue once the events have gone this far past its start (ms of audio time, the latest
   * `endMs` of any track), in start order, instead of holding every cue to the end of the input; for live inputs
   * whose tracks run together (RTP participants). A track's words that lie that far back are made cues even if its
   * next words could have joined them; a cue that comes later than that is written when it comes. Default: hold to
   * the end.
   */
  holdMs?: number;
}

/** Caption limits with every default filled in. */
export interface CaptionLimits {
  maxCharsPerLine: number;
  cjkMaxCharsPerLine: number;
  maxLines: number;
  minDurationMs: number;
  maxDurationMs: number;
  maxCharsPerSecond: number;
  cjkMaxCharsPerSecond: number;
  minGapMs: number;
  pauseMs: number;
}

/**
 * Fill in the defaults of {@link CaptionOptions} and check that the limits can be met together.
 *
 * @param options - limits to override.
 * @returns every limit, resolved.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) for non-positive limits, or limits that contradict each
 *   other (a full line cannot be shown within `maxDurationMs` at the reading speed, `minDurationMs > maxDurationMs`).
 * @example
 * ```ts
 * const limits = resolveCaptionLimits({ fps: 30 }); // limits.minGapMs === 67
 * ```
 */
export function resolveCaptionLimits(options: CaptionOptions = {}): CaptionLimits {
  const fps = options.fps ?? 25;
  const frames = options.minGapFrames ?? 2;
  const limits: CaptionLimits = {
    maxCharsPerLine: options.maxCharsPerLine ?? 42,
    cjkMaxCharsPerLine: options.cjkMaxCharsPerLine ?? 16,
    maxLines: options.maxLines ?? 2,
    minDurationMs: options.minDurationMs ?? 834,
    maxDurationMs: options.maxDurationMs ?? 7000,
    maxCharsPerSecond: options.maxCharsPerSecond ?? 20,
    cjkMaxCharsPerSecond: options.cjkMaxCharsPerSecond ?? 9,
    minGapMs: options.minGapMs ?? Math.ceil((frames * 1000) / fps),
    pauseMs: options.pauseMs ?? 1000,
  };
  for (const [key, value] of Object.entries(limits)) {
    const mayBeZero = key === 'minGapMs' || key === 'minDurationMs';
    if (!Number.isFinite(value) || value < 0 || (!mayBeZero && value === 0)) {
      throw new InvalidArgumentError(`caption option ${key} must be a ${mayBeZero ? 'non-negative' : 'positive'} number, got ${value}`);
    }
  }
  if (!Number.isInteger(limits.maxCharsPerLine) || !Number.isInteger(limits.cjkMaxCharsPerLine) || !Number.isInteger(limits.maxLines)) {
    throw new InvalidArgumentError('caption options maxCharsPerLine, cjkMaxCharsPerLine and maxLines must be integers');
  }
  if (limits.minDurationMs > limits.maxDurationMs) {
    throw new InvalidArgumentError(`minDurationMs (${limits.minDurationMs}) exceeds maxDurationMs (${limits.maxDurationMs})`);
  }
  if (Math.ceil((limits.maxCharsPerLine * 1000) / limits.maxCharsPerSecond) > limits.maxDurationMs ||
      Math.ceil((limits.cjkMaxCharsPerLine * 1000) / limits.cjkMaxCharsPerSecond) > limits.maxDurationMs) {
    throw new InvalidArgumentError('a full caption line cannot be shown within maxDurationMs at the reading speed limit');
  }
  return limits;
}

const CJK_RE = /[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef]|[\u{20000}-\u{3134f}]/u;
const CJK_RE_G = new RegExp(CJK_RE.source, 'gu');
/** Punctuation that attaches to the word before it (no space), Latin and CJK. */
const ATTACHING_RE = /^[.,!?;:%)\]}'"»…、。，！？；：）」』】〉》〕]/u;
const SENTENCE_END_RE = /[.!?…。！？]["'»」』）)]*$/u;
const CLAUSE_END_RE = /[,;:，；：、—-]$/u;

/**
 * Number of characters (code points) in `text`: what the line-length rule counts.
 *
 * @param text - any text.
 * @example
 * ```ts
 * charCount('héllo 世界'); // 8
 * ```
 */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * True when most letters of `text` are Chinese, Japanese or Korean characters (such text uses the CJK limits).
 *
 * @param text - any text.
 * @example
 * ```ts
 * isCjkText('今天天气很好'); // true
 * ```
 */
export function isCjkText(text: string): boolean {
  const cjk = text.match(CJK_RE_G)?.length ?? 0;
  if (cjk === 0) return false;
  const letters = text.match(/[\p{L}\p{N}]/gu)?.length ?? 0;
  return cjk * 2 >= letters;
}

/**
 * Characters counted against the reading-speed limit: every character of the cue, line breaks excluded.
 *
 * @param cue - a cue (only `lines` is read).
 * @example
 * ```ts
 * cueCharCount({ lines: ['hello', 'world'] }); // 10
 * ```
 */
export function cueCharCount(cue: Pick<Cue, 'lines'>): number {
  let n = 0;
  for (const line of cue.lines) n += charCount(line);
  return n;
}

/** A unit of text with its times: a word, a CJK character, or a piece of a word too long for a line. */
interface Token {
  text: string;
  chars: number;
  startMs: number;
  endMs: number;
  /** Written without a space before it (CJK, attaching punctuation, pieces of a split word). */
  glue: boolean;
  /** The last token of its event (the end of a final is a good place to end a cue). */
  eventEnd?: boolean;
}

interface RunKey {
  speaker: string | undefined;
  cjk: boolean;
}

function normalizeText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

function endsCjk(text: string): boolean {
  const last = Array.from(text).pop();
  return last !== undefined && CJK_RE.test(last);
}

function startsCjk(text: string): boolean {
  const first = text[Symbol.iterator]().next().value as string | undefined;
  return first !== undefined && CJK_RE.test(first);
}

/** Split a piece of text without times into tokens: CJK characters one by one, other words at spaces. */
function splitText(text: string): string[] {
  const out: string[] = [];
  for (const word of text.split(' ')) {
    if (word === '') continue;
    if (!CJK_RE.test(word)) {
      out.push(word);
      continue;
    }
    let latin = '';
    for (const ch of word) {
      if (CJK_RE.test(ch)) {
        if (latin) out.push(latin);
        latin = '';
        out.push(ch);
      } else if (ATTACHING_RE.test(ch) && latin === '' && out.length > 0) {
        out[out.length - 1] += ch;
      } else {
        latin += ch;
      }
    }
    if (latin) out.push(latin);
  }
  return out;
}

/** Spread `texts` over [startMs, endMs] in proportion to their character counts. */
function spread(texts: string[], startMs: number, endMs: number): Array<{ text: string; startMs: number; endMs: number }> {
  const total = texts.reduce((n, t) => n + charCount(t), 0) || 1;
  const span = Math.max(0, endMs - startMs);
  let acc = 0;
  return texts.map((text) => {
    const s = startMs + Math.round((span * acc) / total);
    acc += charCount(text);
    const e = startMs + Math.round((span * acc) / total);
    return { text, startMs: s, endMs: e };
  });
}

/** Turn a final event into tokens, fixing times so they never go back and never invert. */
function tokenize(event: TranscriptEvent, maxChars: number, floorMs: number, before: string): Token[] {
  const evStart = Math.max(0, Math.round(event.startMs));
  const evEnd = Math.max(evStart, Math.round(event.endMs));
  let raw: Array<{ text: string; startMs: number; endMs: number }> = [];
  const words = event.words?.filter((w) => normalizeText(w.text) !== '');
  if (words && words.length > 0) {
    for (const w of words) {
      const text = normalizeText(w.text);
      const s = Math.max(0, Math.round(w.startMs));
      const e = Math.max(s, Math.round(w.endMs));
      const parts = text.includes(' ') || (CJK_RE.test(text) && charCount(text) > 1) ? splitText(text) : [text];
      raw.push(...(parts.length > 1 ? spread(parts, s, e) : [{ text, startMs: s, endMs: e }]));
    }
  } else {
    raw = spread(splitText(normalizeText(event.text)), evStart, evEnd);
  }
  const out: Token[] = [];
  let floor = floorMs;
  let prevText = before;
  for (const r of raw) {
    // A word longer than a line is cut into line-sized pieces, its time shared out by characters.
    const chars = Array.from(r.text);
    const pieces: string[] = [];
    for (let i = 0; i < chars.length; i += maxChars) pieces.push(chars.slice(i, i + maxChars).join(''));
    const timed = pieces.length > 1 ? spread(pieces, r.startMs, r.endMs) : [r];
    timed.forEach((p, i) => {
      const startMs = Math.max(floor, p.startMs);
      const endMs = Math.max(startMs, p.endMs);
      floor = startMs;
      const glue = i > 0 || (prevText !== '' && (ATTACHING_RE.test(p.text) || endsCjk(prevText) || startsCjk(p.text)));
      out.push({ text: p.text, chars: charCount(p.text), startMs, endMs, glue });
      prevText = p.text;
    });
  }
  return out;
}

/** Length of tokens[i..j) written on one line. */
function lineLength(tokens: readonly Token[], i: number, j: number): number {
  let n = 0;
  for (let k = i; k < j; k++) n += tokens[k]!.chars + (k > i && !tokens[k]!.glue ? 1 : 0);
  return n;
}

/** Fewest lines of at most `maxChars` that tokens[i..j) fill when broken greedily (Infinity when a token is too long). */
function greedyLines(tokens: readonly Token[], i: number, j: number, maxChars: number): number {
  let lines = 1;
  let len = 0;
  for (let k = i; k < j; k++) {
    const t = tokens[k]!;
    if (t.chars > maxChars) return Infinity;
    const add = len === 0 ? t.chars : t.chars + (t.glue ? 0 : 1);
    if (len + add <= maxChars) len += add;
    else {
      lines++;
      len = t.chars;
    }
  }
  return lines;
}

function joinTokens(tokens: readonly Token[], i: number, j: number): string {
  let s = '';
  for (let k = i; k < j; k++) s += (k > i && !tokens[k]!.glue ? ' ' : '') + tokens[k]!.text;
  return s;
}

/** Break tokens[i..j) into the fewest lines that fit, as balanced as possible, preferring breaks after punctuation. */
function layoutLines(tokens: readonly Token[], i: number, j: number, maxChars: number): string[] {
  const needed = greedyLines(tokens, i, j, maxChars);
  if (needed <= 1 || !Number.isFinite(needed)) return [joinTokens(tokens, i, j)];
  const n = j - i;
  // cost[k][p]: best cost of laying tokens i..i+p into k lines; squares of lengths keep lines even.
  const INF = Number.POSITIVE_INFINITY;
  const cost: number[][] = Array.from({ length: needed + 1 }, () => new Array<number>(n + 1).fill(INF));
  const from: number[][] = Array.from({ length: needed + 1 }, () => new Array<number>(n + 1).fill(-1));
  cost[0]![0] = 0;
  for (let k = 1; k <= needed; k++) {
    for (let p = 1; p <= n; p++) {
      for (let q = p - 1; q >= 0; q--) {
        const len = lineLength(tokens, i + q, i + p);
        if (len > maxChars) break;
        const prev = cost[k - 1]![q]!;
        if (prev === INF) continue;
        const punct = p < n && CLAUSE_END_RE.test(tokens[i + p - 1]!.text) ? maxChars * 4 : 0;
        const sentence = p < n && SENTENCE_END_RE.test(tokens[i + p - 1]!.text) ? maxChars * 8 : 0;
        const c = prev + len * len - punct - sentence;
        if (c < cost[k]![p]!) {
          cost[k]![p] = c;
          from[k]![p] = q;
        }
      }
    }
  }
  const lines: string[] = [];
  let p = n;
  for (let k = needed; k > 0; k--) {
    const q = from[k]![p]!;
    lines.unshift(joinTokens(tokens, i + q, i + p));
    p = q;
  }
  return lines;
}

/**
 * Builds cues incrementally from final events (partials are ignored).
 *
 * `push` returns the cues that the new event settles; `flush` returns the rest at the end of the input.
 * Every returned cue is final: later events never change it.
 *
 * @example
 * ```ts
 * const builder = new CueBuilder({ fps: 25 });
 * const cues = [...builder.push(finalEvent), ...builder.flush()];
 * ```
 */
export class CueBuilder {
  readonly limits: CaptionLimits;
  #run: Token[] = [];
  #key: RunKey | undefined;
  /** End of the last cue handed out, or undefined before the first. */
  #lastEndMs: number | undefined;
  /** Start of the last token seen, so token times never go back. */
  #floorMs = 0;

  /**
   * @param options - caption limits (see {@link CaptionOptions}).
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when the limits are invalid or contradictory.
   */
  constructor(options: CaptionOptions = {}) {
    this.limits = resolveCaptionLimits(options);
  }

  /**
   * Add one event; returns the cues it settles (possibly none).
   *
   * @param event - a transcript event; partials and empty finals are ignored.
   */
  push(event: TranscriptEvent): Cue[] {
    if (event.type !== 'final' || (normalizeText(event.text) === '' && !event.words?.length)) return [];
    const cjk = /^(zh|ja|ko|yue|cmn|wuu)\b/i.test(event.language ?? '') || isCjkText(event.text);
    const key: RunKey = { speaker: event.speaker, cjk };
    const maxChars = cjk ? this.limits.cjkMaxCharsPerLine : this.limits.maxCharsPerLine;
    const tokens = tokenize(event, maxChars, this.#floorMs, this.#run[this.#run.length - 1]?.text ?? '');
    if (tokens.length === 0) return [];
    tokens[tokens.length - 1]!.eventEnd = true;
    const out: Cue[] = [];
    const last = this.#run[this.#run.length - 1];
    const first = tokens[0]!;
    if (this.#key && (this.#key.speaker !== key.speaker || this.#key.cjk !== key.cjk || (last && first.startMs - last.endMs >= this.limits.pauseMs))) {
      out.push(...this.#commit(Infinity, undefined, first.startMs));
    }
    this.#key = key;
    // A pause inside the event also closes the run.
    for (const t of tokens) {
      const prev = this.#run[this.#run.length - 1];
      if (prev && t.startMs - prev.endMs >= this.limits.pauseMs) out.push(...this.#commit(Infinity, undefined, t.startMs));
      if (this.#run.length === 0) t.glue = false;
      this.#run.push(t);
      this.#floorMs = t.startMs;
    }
    // Keep at most two cues pending: the rest can no longer change much, so hand them out.
    let parts = this.#partition();
    while (parts.length > 2) {
      out.push(...this.#commit(1, parts));
      parts = this.#partition();
    }
    return out;
  }

  /** End (ms) of the last word not yet handed out as a cue, or undefined when none is pending. */
  get pendingEndMs(): number | undefined {
    return this.#run[this.#run.length - 1]?.endMs;
  }

  /** End of input: every pending word goes out as cues. */
  flush(): Cue[] {
    const out = this.#run.length ? this.#commit(Infinity) : [];
    this.#run = [];
    return out;
  }

  /**
   * Split the pending run into cues. Each cue costs a fixed amount plus how far it is from full (squared, so lengths
   * even out); a break earns a bonus for the pause after it, for ending a sentence or clause, and for ending an event.
   */
  #partition(): number[] {
    const run = this.#run;
    const n = run.length;
    if (n === 0) return [];
    const cjk = this.#key?.cjk ?? false;
    const { maxLines, maxDurationMs, minDurationMs } = this.limits;
    const maxChars = cjk ? this.limits.cjkMaxCharsPerLine : this.limits.maxCharsPerLine;
    const cps = cjk ? this.limits.cjkMaxCharsPerSecond : this.limits.maxCharsPerSecond;
    const cap = maxChars * maxLines;
    const best = new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY);
    const from = new Array<number>(n + 1).fill(-1);
    best[0] = 0;
    for (let j = 1; j <= n; j++) {
      const endTok = run[j - 1]!;
      const next = run[j];
      let bonus = 0;
      if (next) {
        const gap = Math.max(0, next.startMs - endTok.endMs);
        bonus += Math.min(gap, 1000) * 1.5;
        if (SENTENCE_END_RE.test(endTok.text)) bonus += 1500;
        else if (CLAUSE_END_RE.test(endTok.text)) bonus += 500;
        if (endTok.eventEnd) bonus += 1000;
      }
      for (let i = j - 1; i >= 0; i--) {
        const single = i === j - 1;
        if (!single) {
          const span = endTok.endMs - run[i]!.startMs;
          const chars = lineLength(run, i, j);
          const need = Math.max(minDurationMs, Math.ceil((chars * 1000) / cps));
          if (span > maxDurationMs || need > maxDurationMs || greedyLines(run, i, j, maxChars) > maxLines) break;
        }
        if (best[i] === Number.POSITIVE_INFINITY) continue;
        const slack = Math.max(0, cap - lineLength(run, i, j)) / cap;
        const c = best[i]! + 1000 + 1000 * slack * slack - bonus;
        if (c < best[j]!) {
          best[j] = c;
          from[j] = i;
        }
      }
    }
    const cuts: number[] = [];
    for (let j = n; j > 0; j = from[j]!) cuts.unshift(j);
    return cuts;
  }

  /** Hand out the first `count` cues of the partition (all when Infinity) and drop their tokens from the run. */
  #commit(count: number, parts = this.#partition(), nextStartMs?: number): Cue[] {
    const run = this.#run;
    const cjk = this.#key?.cjk ?? false;
    const maxChars = cjk ? this.limits.cjkMaxCharsPerLine : this.limits.maxCharsPerLine;
    const cps = cjk ? this.limits.cjkMaxCharsPerSecond : this.limits.maxCharsPerSecond;
    const out: Cue[] = [];
    let i = 0;
    for (const j of parts.slice(0, count)) {
      const lines = layoutLines(run, i, j, maxChars);
      const chars = lines.reduce((n, l) => n + charCount(l), 0);
      const need = Math.max(this.limits.minDurationMs, Math.ceil((chars * 1000) / cps));
      const natural = run[i]!.startMs;
      const startMs = this.#lastEndMs === undefined ? natural : Math.max(natural, this.#lastEndMs + this.limits.minGapMs);
      // End with the last word, but leave the gap before the next word when it follows closely (so the next cue
      // need not start late); never shorter than the rules allow.
      const next = run[j]?.startMs ?? nextStartMs;
      const lastEnd = next === undefined ? run[j - 1]!.endMs : Math.min(run[j - 1]!.endMs, next - this.limits.minGapMs);
      const endMs = Math.min(Math.max(lastEnd, startMs + need), startMs + this.limits.maxDurationMs);
      const cue: Cue = { startMs, endMs, lines, script: cjk ? 'cjk' : 'latin' };
      if (this.#key?.speaker !== undefined) cue.speaker = this.#key.speaker;
      out.push(cue);
      this.#lastEndMs = endMs;
      i = j;
    }
    this.#run = run.slice(i);
    const head = this.#run[0];
    if (head) head.glue = false;
    return out;
  }
}

/**
 * Lay out a whole list of events as cues (the pure, one-shot form of {@link CueBuilder}).
 *
 * @param events - transcript events in time order; only finals are used.
 * @param options - caption limits.
 * @returns the cues, in time order, never overlapping.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when the limits are invalid.
 * @example
 * ```ts
 * const cues = buildCues([{ type: 'final', text: 'hello world', startMs: 0, endMs: 900 }]);
 * // [{ startMs: 0, endMs: 900, lines: ['hello world'], script: 'latin' }]
 * ```
 */
export function buildCues(events: Iterable<TranscriptEvent>, options: CaptionOptions = {}): Cue[] {
  const builder = cueLayout(options);
  const out: Cue[] = [];
  for (const e of events) out.push(...builder.push(e));
  out.push(...builder.flush());
  return out;
}

/**
 * Operator: transcript events in, caption cues out, each cue emitted as soon as it is settled.
 *
 * @param options - caption limits.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) at build time when the limits are invalid.
 * @example
 * ```ts
 * events$.pipe(captions({ fps: 30 })).subscribe((cue) => console.log(cue.lines.join('\n')));
 * ```
 */
export function captions(options: CaptionOptions = {}): OperatorFunction<TranscriptEvent, Cue> {
  resolveCaptionLimits(options);
  return (source) =>
    new Observable<Cue>((subscriber) => {
      const builder = cueLayout(options);
      const sub = source.subscribe({
        next: (event) => {
          for (const cue of builder.push(event)) subscriber.next(cue);
        },
        error: (err: unknown) => {
          for (const cue of builder.flush()) subscriber.next(cue);
          subscriber.error(err);
        },
        complete: () => {
          for (const cue of builder.flush()) subscriber.next(cue);
          subscriber.complete();
        },
      });
      return () => sub.unsubscribe();
    });
}

/**
 * The cue layout of a caption sink: one {@link CueBuilder}, or with `options.channels` one per track (channel, else
 * speaker), whose cues are held and given in start order (a stable sort: each track's own cues keep their order) by
 * `flush()`, or with `holdMs` by `push()` once the audio is that far past them.
 *
 * @param options - caption limits, `channels` and `holdMs`.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when the limits are invalid or contradictory.
 * @example
 * ```ts
 * const layout = cueLayout({ channels: true });
 * layout.push({ type: 'final', text: 'hello', startMs: 4000, endMs: 4500, channel: 1 }); // [] (held)
 * layout.push({ type: 'final', text: 'hi', startMs: 100, endMs: 600, channel: 0 }); // []
 * layout.flush().map((c) => c.startMs); // [100, 4000]
 * ```
 */
export function cueLayout(options: CaptionOptions = {}): Pick<CueBuilder, 'push' | 'flush'> {
  if (!options.channels) return new CueBuilder(options);
  resolveCaptionLimits(options);
  const holdMs = options.holdMs;
  if (holdMs !== undefined && !(holdMs >= 0)) throw new InvalidArgumentError(`holdMs must be ≥ 0, got ${holdMs}`);
  // A track is a channel, or where events carry none (RTP participants) a speaker.
  const builders = new Map<number | string | undefined, CueBuilder>();
  let held: Cue[] = [];
  let reachedMs = -Infinity;
  const inOrder = (cues: Cue[]): Cue[] => cues.sort((a, b) => a.startMs - b.startMs);
  return {
    push(event: TranscriptEvent): Cue[] {
      const track = event.channel ?? event.speaker;
      let builder = builders.get(track);
      if (!builder) builders.set(track, (builder = new CueBuilder(options)));
      held.push(...builder.push(event));
      if (holdMs === undefined) return [];
      reachedMs = Math.max(reachedMs, event.endMs);
      // A track silent since its last words, while the others moved on past the hold, has its words out as cues.
      for (const b of builders.values()) if ((b.pendingEndMs ?? Infinity) <= reachedMs - holdMs) held.push(...b.flush());
      const due = held.filter((c) => c.startMs <= reachedMs - holdMs);
      held = held.filter((c) => c.startMs > reachedMs - holdMs);
      return inOrder(due);
    },
    flush(): Cue[] {
      for (const builder of builders.values()) held.push(...builder.flush());
      return inOrder(held.splice(0));
    },
  };
}
