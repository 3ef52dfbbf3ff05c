/**
 * What one engine worker does with a {@link Decoder}: decode a whole clip, or follow a live stream and cut it into
 * utterances with partial and final events. Runs on whatever thread owns the decoder (a worker thread in the pool).
 *
 * Times are milliseconds of audio from the first sample of the clip or session.
 */
import type { TranscriptEvent, Word } from '../core/types.js';
import { cleanWord, type Decoder, type RawSegment, SAMPLES_PER_FRAME } from './pocketsphinx.js';

/** The only rate the en-us model takes. */
export const ENGINE_SAMPLE_RATE = 16000;

/**
 * Turn raw segments into words (fillers dropped, variants stripped), times in ms.
 *
 * @param segments - the decoder's segmentation.
 * @param frameBase - added to every frame (the stream position of the decoder's frame 0).
 * @example
 * ```ts
 * toWords([{ word: 'to(2)', startFrame: 10, endFrame: 19 }]); // [{ text: 'to', startMs: 100, endMs: 200 }]
 * ```
 */
export function toWords(segments: readonly RawSegment[], frameBase = 0): Word[] {
  const words: Word[] = [];
  for (const s of segments) {
    const text = cleanWord(s.word);
    if (text === undefined) continue;
    // A segment covers frames startFrame..endFrame inclusive, 10 ms each.
    words.push({ text, startMs: Math.round((frameBase + s.startFrame) * 10), endMs: Math.round((frameBase + s.endFrame + 1) * 10) });
  }
  return words;
}

/**
 * A final event from words; undefined when there are none (empty finals are never emitted).
 *
 * @example
 * ```ts
 * finalFromWords([{ text: 'hi', startMs: 100, endMs: 300 }]); // { type: 'final', text: 'hi', startMs: 100, endMs: 300, … }
 * ```
 */
export function finalFromWords(words: readonly Word[]): TranscriptEvent | undefined {
  if (words.length === 0) return undefined;
  return {
    type: 'final',
    text: words.map((w) => w.text).join(' '),
    startMs: words[0]!.startMs,
    endMs: words[words.length - 1]!.endMs,
    words: words.slice(),
    language: 'en',
  };
}

/**
 * Decode one clip with its own cepstral mean (batch CMN), so the result depends neither on what the decoder heard
 * before nor on the recording level. Returns its final events (one per utterance), times from the clip's first
 * sample.
 *
 * Two passes: a features-only pass (a one-word grammar, ~1 % of the cost) learns the clip's mean, then the clip is
 * decoded as a stream with live CMN starting from that mean, weighted as the whole clip. A whole-clip (`full_utt`)
 * decode would drop the silence pocketsphinx's voice-activity detector finds and so shift every word time after a
 * pause; the stream pass counts every frame.
 *
 * @param decoder - a decoder owned by this thread.
 * @param samples - 16 kHz mono.
 * @throws {EngineError} `EARSHOT_ENGINE_FAILED` when pocketsphinx fails.
 * @example
 * ```ts
 * const finals = recognizeClip(new Decoder(), samples);
 * ```
 */
export function recognizeClip(decoder: Decoder, samples: Int16Array): TranscriptEvent[] {
  if (samples.length === 0) return [];
  const cmnMean = decoder.learnCmn(samples);
  const finals: TranscriptEvent[] = [];
  // Weighted as the whole clip, so utterances after the first keep (nearly) the clip's mean.
  const cmnWeightFrames = Math.ceil(samples.length / SAMPLES_PER_FRAME);
  const stream = new StreamRecognizer(decoder, (e) => e.type === 'final' && finals.push(e), { cmnMean, cmnWeightFrames, partialIntervalMs: Infinity });
  stream.write(samples);
  stream.end();
  return finals;
}

/** Settings of a live recognition. */
export interface StreamRecognizerOptions {
  /** Audio between partial events while in speech (ms). Default 300. */
  partialIntervalMs?: number;
  /**
   * Decode the first utterance a second time once CMN has learnt the session's own mean (fixes the warm-up
   * flaw: the first utterance is otherwise decoded with the model's generic mean). Default true.
   */
  redecodeFirst?: boolean;
  /** Longest first utterance kept for the second pass (ms). Default 30000. */
  maxRedecodeMs?: number;
  /** Audio fed to the decoder per step, so pauses are seen at this granularity (ms). Default 100. */
  stepMs?: number;
  /** Initial cepstral mean (13 values, e.g. learnt from a whole clip); implies no second pass. Default: the model's. */
  cmnMean?: readonly number[];
  /** How many frames `cmnMean` counts for when later utterances update it (default 0: replaced by the first). */
  cmnWeightFrames?: number;
  /**
   * Audio heard on the same input before this session (16 kHz mono), not transcribed: its cepstral mean (learnt as
   * {@link recognizeClip} learns a clip's, ~1 % of a decode) starts live CMN, counted as its frames, so a session
   * starts adapted to the input as a clip starts adapted to itself. Implies no second pass. Ignored with `cmnMean`.
   */
  cmnPrime?: Int16Array;
}

/**
 * Live recognition on one decoder: feed audio with {@link write}, finish with {@link end}. Utterances end where
 * pocketsphinx's voice-activity detector leaves speech. Partial events carry the current hypothesis every
 * `partialIntervalMs` of audio in speech; each utterance gives one final event with word times from the first
 * sample written. Starting one resets the decoder's CMN, so a session does not depend on earlier ones.
 *
 * @throws {EngineError} `EARSHOT_ENGINE_FAILED` (from the constructor, `write` or `end`) when pocketsphinx fails.
 * @example
 * ```ts
 * const r = new StreamRecognizer(decoder, (event) => console.log(event.type, event.text));
 * r.write(samples); // 16 kHz mono, any chunking
 * r.end();
 * ```
 */
export class StreamRecognizer {
  readonly #decoder: Decoder;
  readonly #emit: (event: TranscriptEvent) => void;
  readonly #partialSamples: number;
  readonly #stepSamples: number;
  #redecode: boolean;
  readonly #maxKeep: number;
  /** Samples fed to the decoder so far (session time line). */
  #consumed = 0;
  /** Session sample at which the decoder's frame 0 is. */
  #frameBase = 0;
  #inUtt = false;
  #sincePartial = 0;
  #lastPartial = '';
  #firstDone = false;
  /** Audio of the session kept for the second pass of the first utterance. */
  #kept: Int16Array[] = [];
  #keptStart = 0;
  #keptLength = 0;
  #ended = false;

  constructor(decoder: Decoder, emit: (event: TranscriptEvent) => void, options: StreamRecognizerOptions = {}) {
    this.#decoder = decoder;
    this.#emit = emit;
    this.#partialSamples = Math.round(((options.partialIntervalMs ?? 300) * ENGINE_SAMPLE_RATE) / 1000);
    this.#stepSamples = Math.max(SAMPLES_PER_FRAME, Math.round(((options.stepMs ?? 100) * ENGINE_SAMPLE_RATE) / 1000));
    this.#redecode = options.redecodeFirst ?? true;
    this.#maxKeep = Math.round(((options.maxRedecodeMs ?? 30_000) * ENGINE_SAMPLE_RATE) / 1000);
    const prime = !options.cmnMean && options.cmnPrime && options.cmnPrime.length > 0 ? options.cmnPrime : undefined;
    const cmnMean = options.cmnMean ?? (prime ? decoder.learnCmn(prime) : undefined);
    if (cmnMean) this.#redecode = false;
    this.#firstDone = !this.#redecode;
    decoder.startStream(cmnMean, options.cmnWeightFrames ?? (prime ? Math.ceil(prime.length / SAMPLES_PER_FRAME) : 0));
  }

  /** Samples consumed so far. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Feed audio (16 kHz mono). The array is kept by reference until the first utterance is final. */
  write(samples: Int16Array): void {
    if (this.#ended) return;
    if (!this.#firstDone) this.#keep(samples);
    for (let i = 0; i < samples.length; i += this.#stepSamples) {
      const piece = samples.subarray(i, Math.min(samples.length, i + this.#stepSamples));
      this.#decoder.processRaw(piece);
      this.#consumed += piece.length;
      const speech = this.#decoder.inSpeech();
      if (speech) {
        if (!this.#inUtt) {
          this.#inUtt = true;
          this.#sincePartial = 0;
          this.#lastPartial = '';
        }
        this.#sincePartial += piece.length;
        if (this.#sincePartial >= this.#partialSamples) {
          this.#sincePartial = 0;
          this.#partial();
        }
      } else if (this.#inUtt) {
        this.#endUtterance(true);
      }
    }
  }

  /** No more audio: finish the current utterance (if any words) and stop. */
  end(): void {
    if (this.#ended) return;
    this.#endUtterance(false);
    this.#ended = true;
    this.#kept = [];
  }

  #keep(samples: Int16Array): void {
    this.#kept.push(samples);
    this.#keptLength += samples.length;
    // Drop whole chunks from the front while the rest still covers the window.
    while (this.#kept.length > 1 && this.#keptLength - this.#kept[0]!.length >= this.#maxKeep) {
      const dropped = this.#kept.shift()!;
      this.#keptLength -= dropped.length;
      this.#keptStart += dropped.length;
    }
  }

  #partial(): void {
    const segs = this.#decoder.segments();
    const words = toWords(segs, this.#frameBase / SAMPLES_PER_FRAME);
    if (words.length === 0) return;
    const text = words.map((w) => w.text).join(' ');
    if (text === this.#lastPartial) return;
    this.#lastPartial = text;
    this.#emit({ type: 'partial', text, startMs: words[0]!.startMs, endMs: (this.#consumed * 1000) / ENGINE_SAMPLE_RATE, language: 'en' });
  }

  #endUtterance(more: boolean): void {
    this.#inUtt = false;
    this.#decoder.endUtt();
    const segs = this.#decoder.segments();
    let words = toWords(segs, this.#frameBase / SAMPLES_PER_FRAME);
    if (!this.#firstDone && words.length > 0) {
      this.#firstDone = true;
      words = this.#secondPass(segs) ?? words;
      this.#kept = [];
      if (more) {
        // The second pass restarted the stream; frame 0 is now the current position.
        this.#frameBase = this.#consumed;
        this.#decoder.restartStream();
      }
    } else if (more) {
      this.#decoder.startUtt();
    }
    const final = finalFromWords(words);
    if (final) this.#emit(final);
  }

  /** Decode the kept audio of the first utterance again with the mean CMN has just learnt from it. */
  #secondPass(segs: readonly RawSegment[]): Word[] | undefined {
    const first = segs.find((s) => cleanWord(s.word) !== undefined) ?? segs[0];
    if (!first) return undefined;
    // From 300 ms before the first word (the detector's pre-speech pad) to what has been consumed.
    const from = Math.max(this.#keptStart, this.#frameBase + first.startFrame * SAMPLES_PER_FRAME - 4800);
    if (from < this.#keptStart || this.#frameBase + first.startFrame * SAMPLES_PER_FRAME < this.#keptStart) return undefined;
    const audio = this.#slice(from, this.#consumed);
    this.#decoder.restartStream();
    for (let i = 0; i < audio.length; i += this.#stepSamples) this.#decoder.processRaw(audio.subarray(i, Math.min(audio.length, i + this.#stepSamples)));
    this.#decoder.endUtt();
    const words = toWords(this.#decoder.segments(), from / SAMPLES_PER_FRAME);
    return words.length > 0 ? words : undefined;
  }

  /** Copy kept audio between two session samples into one array. */
  #slice(from: number, to: number): Int16Array {
    const out = new Int16Array(to - from);
    let pos = this.#keptStart;
    for (const chunk of this.#kept) {
      const a = Math.max(from, pos);
      const b = Math.min(to, pos + chunk.length);
      if (b > a) out.set(chunk.subarray(a - pos, b - pos), a - from);
      pos += chunk.length;
    }
    return out;
  }
}
