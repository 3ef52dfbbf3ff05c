/**
 * What one engine worker does with a {@link Decoder}: decode a whole clip, or follow a live stream and cut it into
 * utterances with partial and final events. Runs on whatever thread owns the decoder (the pool's engine thread); the
 * decoder's heavy calls run on libuv's thread pool, so the work of several decoders overlaps.
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
 * How a clip is decoded once its mean is known: utterances end where pocketsphinx's detector ends them, each with the
 * full two-pass search (a clip has no latency to save), no partials. A live session with these settings and the
 * clip's mean decodes as {@link recognizeClip} does.
 */
export const CLIP_DECODE: Readonly<StreamRecognizerOptions> = Object.freeze({ partialIntervalMs: Infinity, endSilenceMs: 0, flatPass: true });

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
 * @param onProgress - called after each {@link CLIP_PROGRESS_SAMPLES} decoded (a sign of life for a watchdog).
 * @throws {EngineError} `EARSHOT_ENGINE_FAILED` when pocketsphinx fails.
 * @example
 * ```ts
 * const finals = await recognizeClip(new Decoder(), samples);
 * ```
 */
export async function recognizeClip(decoder: Decoder, samples: Int16Array, onProgress?: () => void): Promise<TranscriptEvent[]> {
  if (samples.length === 0) return [];
  const cmnMean = await decoder.learnCmn(samples);
  const finals: TranscriptEvent[] = [];
  // Weighted as the whole clip, so utterances after the first keep (nearly) the clip's mean.
  const cmnWeightFrames = Math.ceil(samples.length / SAMPLES_PER_FRAME);
  const stream = new StreamRecognizer(decoder, (e) => e.type === 'final' && finals.push(e), { ...CLIP_DECODE, cmnMean, cmnWeightFrames });
  // Written in whole steps (a clip has no endpointer), so the decoder gets the very pieces one write would give it.
  for (let at = 0; at < samples.length; at += CLIP_PROGRESS_SAMPLES) {
    await stream.write(samples.subarray(at, at + CLIP_PROGRESS_SAMPLES));
    onProgress?.();
  }
  await stream.end();
  return finals;
}

/** How much of a clip {@link recognizeClip} decodes between two progress calls: 1 s, ten 100 ms steps. */
export const CLIP_PROGRESS_SAMPLES = ENGINE_SAMPLE_RATE;

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
  /**
   * Trailing silence (ms) that ends an utterance, decided per 10 ms frame by an energy detector (see
   * {@link Endpointer}), so the final comes this long after the speaker stops. 0 leaves the end to pocketsphinx's
   * detector alone, which waits 500 ms of silence. Either one ends an utterance, whichever fires first. Default 150.
   */
  endSilenceMs?: number;
  /**
   * End each utterance with pocketsphinx's second (flat-lexicon) search pass. It doubles the CPU a final costs at
   * the end of speech (median ~90 against ~45 ms on the bench's speech) for no WER gain there. Default false; clips
   * keep it. Without it the decoder's one search skips that pass for the session's utterances (no second search).
   */
  flatPass?: boolean;
}

/** Samples per decision of the {@link Endpointer} (10 ms at 16 kHz). */
const EP_FRAME = SAMPLES_PER_FRAME;
/** A frame is speech when its energy is this far above the noise floor (dB). */
const EP_SNR_DB = 9;
/** The floor follows quieter frames at once and rises this much per frame otherwise (dB; 0.5 dB/s). */
const EP_FLOOR_RISE_DB = 0.005;
/** …and no more than this far below the loudest recent frame (dB): a fading tail is not speech. */
const EP_PEAK_DB = 35;
/** The loudest level falls this much per frame once past (dB; 2 dB/s). */
const EP_PEAK_FALL_DB = 0.02;
/** Speech frames (ms) the detector must have heard in an utterance before its silence may end it. */
const EP_MIN_SPEECH_FRAMES = 10;

/**
 * A cheap end-of-speech detector: the energy of each 10 ms frame against a noise floor that follows the quietest
 * frames (rising 0.5 dB/s otherwise). A frame more than 9 dB above the floor and within 35 dB of the loudest recent
 * frame is speech. It reports where `silenceMs` of silence has followed at least 100 ms of speech: there the
 * utterance can end without waiting for pocketsphinx's 500 ms hangover. State carries over between calls, so any
 * chunking gives the same decisions. The floor is learnt from the audio: a stream that starts in speech is ended by
 * pocketsphinx's detector until the first pause.
 *
 * @example
 * ```ts
 * const ep = new Endpointer(150);
 * const at = ep.scan(samples, 0, samples.length); // index just after the frame that completes 150 ms of silence, or -1
 * ```
 */
export class Endpointer {
  readonly #needFrames: number;
  #floor = Infinity;
  #peak = -Infinity;
  #sum = 0;
  #count = 0;
  #speechFrames = 0;
  #silentFrames = 0;

  /** @param silenceMs - trailing silence that ends an utterance (ms, > 0). */
  constructor(silenceMs: number) {
    this.#needFrames = Math.max(1, Math.round(silenceMs / 10));
  }

  /**
   * Run the detector over `samples[from, to)`; stops at, and returns the index just after, the frame that completes
   * the trailing silence (the detector is then reset for the next utterance). Returns -1 when it did not fire.
   */
  scan(samples: Int16Array, from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const v = samples[i]!;
      this.#sum += v * v;
      if (++this.#count < EP_FRAME) continue;
      if (this.#frame(10 * Math.log10(this.#sum / EP_FRAME + 1))) {
        this.reset();
        return i + 1;
      }
    }
    return -1;
  }

  /** Forget the utterance (speech heard, silence counted); the noise floor is kept. */
  reset(): void {
    this.#speechFrames = 0;
    this.#silentFrames = 0;
  }

  /** One frame's energy (dB); true when it completes the trailing silence. */
  #frame(db: number): boolean {
    this.#sum = 0;
    this.#count = 0;
    this.#floor = db < this.#floor ? db : this.#floor + EP_FLOOR_RISE_DB;
    this.#peak = db > this.#peak ? db : this.#peak - EP_PEAK_FALL_DB;
    if (db > this.#floor + EP_SNR_DB && db > this.#peak - EP_PEAK_DB) {
      this.#speechFrames++;
      this.#silentFrames = 0;
      return false;
    }
    if (this.#speechFrames < EP_MIN_SPEECH_FRAMES) return false;
    return ++this.#silentFrames >= this.#needFrames;
  }
}

/**
 * Live recognition on one decoder: feed audio with {@link write}, finish with {@link end}. Utterances end where
 * pocketsphinx's voice-activity detector leaves speech. Partial events carry the current hypothesis every
 * `partialIntervalMs` of audio in speech; each utterance gives one final event with word times from the first
 * sample written. Starting one resets the decoder's CMN, so a session does not depend on earlier ones.
 * Calls are queued and run one after another on the decoder (which belongs to this recognizer until {@link end}
 * or {@link cancel} settles); each returns a promise of its own completion.
 *
 * @throws {EngineError} `EARSHOT_ENGINE_FAILED` (rejected by `write` or `end`; a failed start by the first of them)
 *   when pocketsphinx fails; every later call rejects with the first failure.
 * @example
 * ```ts
 * const r = new StreamRecognizer(decoder, (event) => console.log(event.type, event.text));
 * await r.write(samples); // 16 kHz mono, any chunking
 * await r.end();
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
  /** Stopped by {@link cancel}: queued audio is dropped. */
  #cancelled = false;
  readonly #endpointer: Endpointer | undefined;
  /** The queue of calls on the decoder (never rejects). */
  #chain: Promise<void>;
  /** The first failure; every later call rejects with it. */
  #failure: { error: unknown } | undefined;
  readonly #onProgress: ((remainingSamples: number) => void) | undefined;

  /**
   * @param onProgress - called as the first utterance's second pass starts and after each
   *   {@link CLIP_PROGRESS_SAMPLES} it decodes, with the samples of it still to decode (a sign of life for a watchdog:
   *   the pass re-reads up to `maxRedecodeMs` of audio inside one `write` or `end`).
   */
  constructor(decoder: Decoder, emit: (event: TranscriptEvent) => void, options: StreamRecognizerOptions = {}, onProgress?: (remainingSamples: number) => void) {
    this.#decoder = decoder;
    this.#emit = emit;
    this.#onProgress = onProgress;
    this.#partialSamples = Math.round(((options.partialIntervalMs ?? 300) * ENGINE_SAMPLE_RATE) / 1000);
    this.#stepSamples = Math.max(SAMPLES_PER_FRAME, Math.round(((options.stepMs ?? 100) * ENGINE_SAMPLE_RATE) / 1000));
    this.#redecode = options.redecodeFirst ?? true;
    this.#maxKeep = Math.round(((options.maxRedecodeMs ?? 30_000) * ENGINE_SAMPLE_RATE) / 1000);
    const prime = !options.cmnMean && options.cmnPrime && options.cmnPrime.length > 0 ? options.cmnPrime : undefined;
    if (options.cmnMean || prime) this.#redecode = false;
    this.#firstDone = !this.#redecode;
    const endSilenceMs = options.endSilenceMs ?? 150;
    if (endSilenceMs > 0) this.#endpointer = new Endpointer(endSilenceMs);
    const start = async (): Promise<void> => {
      const cmnMean = options.cmnMean ?? (prime ? await decoder.learnCmn(prime) : undefined);
      await decoder.startStream(cmnMean, options.cmnWeightFrames ?? (prime ? Math.ceil(prime.length / SAMPLES_PER_FRAME) : 0), options.flatPass ?? false);
    };
    this.#chain = start().catch((error: unknown) => {
      this.#failure = { error };
    });
  }

  /** Queue `task` after the calls before it; rejects with the first failure of this recognizer. */
  #queue(task: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(() => {
      if (this.#failure) throw this.#failure.error;
      return task();
    });
    this.#chain = run.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return run;
  }

  /** Samples consumed so far. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Feed audio (16 kHz mono); resolves once it is decoded. The array is kept by reference until the first utterance is final. */
  write(samples: Int16Array): Promise<void> {
    return this.#queue(() => this.#write(samples));
  }

  async #write(samples: Int16Array): Promise<void> {
    if (this.#ended) return;
    if (!this.#firstDone) this.#keep(samples);
    let i = 0;
    while (i < samples.length && !this.#cancelled) {
      let to = Math.min(samples.length, i + this.#stepSamples);
      // In an utterance, stop the piece where the endpointer hears the trailing silence complete: the utterance ends
      // there and what follows goes to the next one (pocketsphinx drops what it buffered at the end of an utterance).
      const at = this.#endpointer ? this.#endpointer.scan(samples, i, to) : -1;
      const early = at >= 0 && this.#inUtt;
      if (at >= 0) to = at;
      const piece = samples.subarray(i, to);
      i = to;
      await this.#decoder.processRaw(piece);
      this.#consumed += piece.length;
      if (early) {
        await this.#endUtterance(true);
        continue;
      }
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
          await this.#partial();
        }
      } else if (this.#inUtt) {
        await this.#endUtterance(true);
      }
    }
  }

  /** No more audio: finish the current utterance (if any words) and stop; resolves after its final event. */
  end(): Promise<void> {
    return this.#queue(async () => {
      if (this.#ended) return;
      this.#ended = true;
      await this.#endUtterance(false);
      this.#kept = [];
    });
  }

  /**
   * Abandon the recognition: audio still queued is dropped, no more events. Resolves once the decoder's running
   * call has returned (the decoder is then free for another recognizer); never rejects.
   */
  cancel(): Promise<void> {
    this.#cancelled = true;
    this.#ended = true;
    this.#kept = [];
    return this.#chain;
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

  async #partial(): Promise<void> {
    const segs = await this.#decoder.segments();
    const words = toWords(segs, this.#frameBase / SAMPLES_PER_FRAME);
    if (words.length === 0) return;
    const text = words.map((w) => w.text).join(' ');
    if (text === this.#lastPartial || this.#cancelled) return;
    this.#lastPartial = text;
    this.#emit({ type: 'partial', text, startMs: words[0]!.startMs, endMs: (this.#consumed * 1000) / ENGINE_SAMPLE_RATE, words, language: 'en' });
  }

  async #endUtterance(more: boolean): Promise<void> {
    this.#inUtt = false;
    this.#endpointer?.reset();
    await this.#decoder.endUtt();
    const segs = await this.#decoder.segments();
    let words = toWords(segs, this.#frameBase / SAMPLES_PER_FRAME);
    if (!this.#firstDone && words.length > 0) {
      this.#firstDone = true;
      words = (await this.#secondPass(segs)) ?? words;
      this.#kept = [];
      if (more) {
        // The second pass restarted the stream; frame 0 is now the current position.
        this.#frameBase = this.#consumed;
        await this.#decoder.restartStream();
      }
    } else if (more) {
      await this.#decoder.startUtt();
    }
    if (this.#cancelled) return;
    const final = finalFromWords(words);
    if (final) this.#emit(final);
  }

  /** Decode the kept audio of the first utterance again with the mean CMN has just learnt from it. */
  async #secondPass(segs: readonly RawSegment[]): Promise<Word[] | undefined> {
    const first = segs.find((s) => cleanWord(s.word) !== undefined) ?? segs[0];
    if (!first) return undefined;
    // From 300 ms before the first word (the detector's pre-speech pad) to what has been consumed.
    const from = Math.max(this.#keptStart, this.#frameBase + first.startFrame * SAMPLES_PER_FRAME - 4800);
    if (from < this.#keptStart || this.#frameBase + first.startFrame * SAMPLES_PER_FRAME < this.#keptStart) return undefined;
    const audio = this.#slice(from, this.#consumed);
    await this.#decoder.restartStream();
    this.#onProgress?.(audio.length);
    let sinceReport = 0;
    for (let i = 0; i < audio.length; i += this.#stepSamples) {
      const piece = audio.subarray(i, Math.min(audio.length, i + this.#stepSamples));
      await this.#decoder.processRaw(piece);
      sinceReport += piece.length;
      if (sinceReport >= CLIP_PROGRESS_SAMPLES && i + piece.length < audio.length) {
        sinceReport = 0;
        this.#onProgress?.(audio.length - i - piece.length);
      }
    }
    await this.#decoder.endUtt();
    const words = toWords(await this.#decoder.segments(), from / SAMPLES_PER_FRAME);
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
