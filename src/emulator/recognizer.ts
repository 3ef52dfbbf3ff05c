/**
 * The emulator's bridge from audio to text. Each protocol session opens one {@link Recognition}, writes the PCM it
 * receives, and gets utterances back (partials while speech goes on, a final at its end):
 *
 * - **engine mode** (default): the audio goes to `ctx.recognizer.openStream(...)` (the embedded engine, `local()`) as
 *   it arrives; the engine's finals are joined into one utterance until the protocol's documented silence
 *   (`silenceMs`) has followed its last word, counted in audio time, and the utterance is then delivered at once;
 * - **scripted mode** (`ctx.script`): an energy detector finds where speech starts and stops, and each stretch of
 *   speech is "recognised" as the next scripted utterance (text, emotion, language, delay). The cursor into the
 *   script is shared by every session of one emulator, and only a final delivered to the client moves it (one lost
 *   with its connection, a slowed result then a cut, does not), so a client that reconnects and replays the
 *   unfinished utterance gets the same text.
 *
 * Results can be slowed by `faults.resultDelayMs` (every result) and a scripted utterance's `delayMs` (its final);
 * delivery keeps their order.
 */
import type { TranscriptEvent, Word } from '../core/types.js';
import type { StreamOptions, StreamSession, Transport } from '../transports/transport.js';
import type { EmulatorContext, ScriptedUtterance } from './context.js';

/** One recognised (or scripted) utterance; times in ms from the start of the recognition's audio. */
export interface Utterance {
  text: string;
  startMs: number;
  endMs: number;
  words: Word[];
  emotion?: string;
  language?: string;
}

export interface RecognitionHandlers {
  onPartial(utterance: Utterance): void;
  onFinal(utterance: Utterance): void;
  onError(error: Error): void;
}

export interface RecognitionSettings {
  /** Rate of the PCM written (mono s16le). */
  sampleRate: number;
  /** Language hint of the session. */
  language?: string;
  /** Prompt context, passed to the engine when it takes one. */
  context?: string;
  /** Silence that ends an utterance (the protocol's documented VAD silence), ms (default 800). */
  silenceMs?: number;
}

/** A running recognition. */
export interface Recognition {
  /**
   * Audio in (mono s16le at the settings' rate); order is kept. Returns false when the engine is behind (more than
   * {@link BACKLOG_HIGH_MS} waiting): the caller should stop reading its socket until {@link drained} resolves. A
   * service that runs at real time never lets audio race ahead of its finals.
   */
  write(samples: Int16Array): boolean;
  /** Resolves when the audio waiting for the engine is down to {@link BACKLOG_LOW_MS}. */
  drained(): Promise<void>;
  /** End of audio: resolves once every result (the last final included) was delivered. */
  flush(): Promise<void>;
  /** Stop at once; nothing more is delivered. */
  close(): void;
  /** Milliseconds of audio written so far. */
  readonly audioMs: number;
}

/** Audio waiting for the engine (ms) above which `write()` asks the caller to pause its socket. */
export const BACKLOG_HIGH_MS = 1000;
/** …and below which `drained()` resolves. */
export const BACKLOG_LOW_MS = 250;

/** Open a recognition in the mode the context asks for. */
export function openRecognition(ctx: EmulatorContext, settings: RecognitionSettings, handlers: RecognitionHandlers): Recognition {
  if (ctx.script && ctx.script.length > 0) return new ScriptedRecognition(ctx, settings, handlers);
  return new EngineRecognition(ctx, settings, handlers);
}

/** Ordered, optionally delayed delivery of results (a step may be async); stops when closed. */
class Delivery {
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #pending = 0;
  #timers = new Map<NodeJS.Timeout, () => void>();

  push(delayMs: number, fn: () => void | Promise<void>): void {
    if (this.#closed) return;
    if (delayMs <= 0 && this.#pending === 0) {
      const result = fn();
      if (result instanceof Promise) this.#track(result);
      return;
    }
    this.#track(
      this.#chain.then(async () => {
        if (delayMs > 0 && !this.#closed) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              this.#timers.delete(t);
              resolve();
            }, delayMs);
            this.#timers.set(t, resolve);
          });
        }
        if (!this.#closed) await fn();
      }),
    );
  }

  #track(step: Promise<void>): void {
    this.#pending++;
    this.#chain = step.then(
      () => void this.#pending--,
      () => void this.#pending--,
    );
  }

  drained(): Promise<void> {
    return this.#chain;
  }

  close(): void {
    this.#closed = true;
    for (const [t, resolve] of this.#timers) {
      clearTimeout(t);
      resolve();
    }
    this.#timers.clear();
  }
}

/** Frame length of the energy detector, ms. */
const FRAME_MS = 20;
/** RMS (int16 units) above which a frame counts as voiced (about -40 dBFS). */
const VOICED_RMS = 330;

/**
 * The emulator's energy detector: PCM cut into {@link FRAME_MS} frames (a partial frame carried to the next write),
 * each reported as voiced (RMS above {@link VOICED_RMS}) or not, with its index from the first sample.
 */
class FrameDetector {
  readonly #frameLen: number;
  readonly #carry: Int16Array;
  readonly #onFrame: (index: number, voiced: boolean) => void;
  #carryLen = 0;
  #index = 0;

  constructor(sampleRate: number, onFrame: (index: number, voiced: boolean) => void) {
    this.#frameLen = Math.round((sampleRate * FRAME_MS) / 1000);
    this.#carry = new Int16Array(this.#frameLen);
    this.#onFrame = onFrame;
  }

  push(samples: Int16Array): void {
    let i = 0;
    if (this.#carryLen > 0) {
      const take = Math.min(this.#frameLen - this.#carryLen, samples.length);
      this.#carry.set(samples.subarray(0, take), this.#carryLen);
      this.#carryLen += take;
      i = take;
      if (this.#carryLen < this.#frameLen) return;
      this.#frame(this.#carry);
      this.#carryLen = 0;
    }
    for (; i + this.#frameLen <= samples.length; i += this.#frameLen) this.#frame(samples.subarray(i, i + this.#frameLen));
    if (i < samples.length) {
      this.#carry.set(samples.subarray(i), 0);
      this.#carryLen = samples.length - i;
    }
  }

  #frame(frame: Int16Array): void {
    let sum = 0;
    for (let k = 0; k < frame.length; k++) {
      const v = frame[k]!;
      sum += v * v;
    }
    this.#onFrame(this.#index++, Math.sqrt(sum / frame.length) > VOICED_RMS);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Engine mode

/**
 * Engine mode: audio of a turn that is not yet a voiced run of the detector may still be speech for the engine (a
 * word the detector misses, a noise it does not): once the engine has said nothing for this long past the documented
 * silence, the turn ends anyway.
 */
const FORCE_TURN_MS = 1500;
/**
 * Stateless mode: audio kept to replay into the next turn's engine stream: what arrived after the silence began and
 * before the turn was found to end, which is as far behind as the engine is (the backlog here, plus what the
 * recognizer holds in flight: 2 s for `local()`), with room to spare.
 */
const REPLAY_MS = 30_000;
/** Stateless mode: audio before the end of the documented silence that starts the next turn's engine stream. */
const TURN_LEAD_MS = 300;

/** One engine stream (`openStream` of the recognizer): audio written in order, events from `baseMs` on. */
class EngineStream {
  readonly baseMs: number;
  session?: StreamSession;
  opening: Promise<void>;
  writes: Promise<void> = Promise.resolve();
  closed = false;
  /** Resolves on close: a write the engine holds (flow control) must not hold this stream's chain after it. */
  readonly #closing: Promise<void>;
  #onClose!: () => void;

  constructor(engine: Transport, options: Omit<StreamOptions, 'onEvent' | 'onError'>, baseMs: number, onEvent: (event: TranscriptEvent, from: EngineStream) => void, onError: (error: Error) => void) {
    this.baseMs = baseMs;
    this.#closing = new Promise<void>((resolve) => (this.#onClose = resolve));
    this.opening = engine.openStream!({ ...options, onEvent: (event) => !this.closed && onEvent(event, this), onError: (error) => !this.closed && onError(error) }).then(
      (session) => {
        if (this.closed) session.close();
        else this.session = session;
      },
      (error: unknown) => onError(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** Queue `pcm` (engine rate); `done` runs once the engine took it (or it was dropped). */
  write(pcm: Int16Array, onError: (error: Error) => void, done: () => void): void {
    this.writes = this.writes
      .then(() => this.opening)
      .then(() => (this.closed || !this.session ? undefined : Promise.race([this.session.write(pcm), this.#closing])))
      .catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))))
      .finally(done);
  }

  /** End of audio: resolves once the engine delivered its last events. */
  async end(): Promise<void> {
    await this.writes;
    if (this.session && !this.closed) await this.session.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose();
    this.session?.close();
  }
}

/**
 * Engine mode. The audio is decoded as it arrives, by one engine stream (or, stateless, one per turn), so that when a
 * turn ends only the tail is left to decode. A turn is what the service's VAD calls an utterance: it ends once
 * `silenceMs` (the protocol's documented silence: `max_sentence_silence`, `silence_duration_ms`) of silence follows
 * its last word, counted in audio time as audio arrives. The engine's own finals (at its shorter pauses) are held and
 * joined until then; a 20 ms energy detector tells whether speech came back within the silence. Partials carry the
 * turn so far, with times inside the audio received. Every time is an integer millisecond.
 */
class EngineRecognition implements Recognition {
  #stream?: EngineStream;
  #delivery = new Delivery();
  #closed = false;
  #failed = false;
  #flushing = false;
  #frames = 0;
  /** Frames written and not yet taken by the engine. */
  #backlog = 0;
  /** Engine finals of the current turn, held until the documented silence has passed. */
  #held: Utterance[] = [];
  /** End (ms) of the engine's last partial after its last final: the engine is inside an utterance. */
  #engineSpeechMs: number | undefined;
  /** Starts and ends (ms) of the detector's recent voiced runs. */
  #runs: Array<{ startMs: number; endMs: number }> = [];
  #voicedRun = 0;
  readonly #detector: FrameDetector;
  readonly #silenceMs: number;
  /** Stateless mode: the recent engine-rate audio, for the next turn's stream. */
  #recent: Int16Array[] = [];
  #recentFrames = 0;
  #engineFrames = 0;
  readonly #engine: Transport | undefined;
  readonly #stateless: boolean;
  readonly #streamOptions: Omit<StreamOptions, 'onEvent' | 'onError'>;
  #drainWaiters: Array<() => void> = [];
  readonly #settings: RecognitionSettings;
  readonly #handlers: RecognitionHandlers;
  readonly #delayMs: number;
  readonly #ratio: number;

  constructor(ctx: EmulatorContext, settings: RecognitionSettings, handlers: RecognitionHandlers) {
    this.#settings = settings;
    this.#handlers = handlers;
    this.#delayMs = ctx.faults.resultDelayMs ?? 0;
    this.#silenceMs = settings.silenceMs ?? 800;
    this.#detector = new FrameDetector(settings.sampleRate, (index, voiced) => this.#frame(index, voiced));
    const engine = ctx.recognizer;
    this.#engine = engine;
    this.#stateless = ctx.stateless === true;
    this.#ratio = engine?.openStream ? engine.sampleRate / settings.sampleRate : 1;
    const caps = engine?.capabilities;
    this.#streamOptions = {
      sampleRate: engine?.sampleRate ?? settings.sampleRate,
      ...(settings.language && caps?.languages.includes(settings.language) ? { language: settings.language } : {}),
      ...(settings.context && caps?.context ? { context: settings.context } : {}),
    };
    if (!engine?.openStream) this.#fail(new Error('the emulator has no streaming recognizer'));
    else this.#stream = this.#open(0);
  }

  get audioMs(): number {
    return (this.#frames * 1000) / this.#settings.sampleRate;
  }

  #open(baseMs: number): EngineStream {
    return new EngineStream(this.#engine!, this.#streamOptions, baseMs, (event, from) => this.#onEngine(event, from), (error) => this.#fail(error));
  }

  #onEngine(event: TranscriptEvent, from: EngineStream): void {
    if (this.#closed || from !== this.#stream) return;
    const d = from.baseMs;
    if (event.type === 'final') {
      if (event.text.trim() === '') return;
      this.#engineSpeechMs = undefined;
      this.#held.push({
        text: event.text.trim(),
        startMs: Math.round(event.startMs + d),
        endMs: Math.round(event.endMs + d),
        words: (event.words ?? []).map((w) => ({ text: w.text, startMs: Math.round(w.startMs + d), endMs: Math.round(w.endMs + d) })),
        ...(event.emotion ? { emotion: event.emotion } : {}),
        ...(event.language ? { language: event.language } : {}),
      });
      this.#endTurnIfDue();
    } else if (event.type === 'partial' && event.text.trim() !== '') {
      // Never past the audio received (the engine's clock may run a rounding ahead of ours).
      const endMs = Math.min(Math.floor(this.audioMs), Math.round(event.endMs + d));
      this.#engineSpeechMs = endMs;
      const held = this.#held;
      const u: Utterance = {
        text: [...held.map((h) => h.text), event.text.trim()].join(' '),
        startMs: Math.min(held[0]?.startMs ?? Infinity, Math.round(event.startMs + d), endMs),
        endMs,
        // The service's interim sentences time every word they have so far, the unsettled ones too.
        words: [
          ...held.flatMap((h) => h.words),
          ...(event.words ?? []).map((w) => ({ text: w.text, startMs: Math.min(endMs, Math.round(w.startMs + d)), endMs: Math.min(endMs, Math.round(w.endMs + d)) })),
        ],
        ...(held[0]?.emotion ?? event.emotion ? { emotion: (held[0]?.emotion ?? event.emotion)! } : {}),
        ...(event.language ? { language: event.language } : {}),
      };
      this.#delivery.push(this.#delayMs, () => this.#handlers.onPartial(u));
    }
  }

  /** One detector frame: note voiced runs (two frames or more) in audio time. */
  #frame(index: number, voiced: boolean): void {
    if (!voiced) {
      this.#voicedRun = 0;
      return;
    }
    this.#voicedRun++;
    const endMs = (index + 1) * FRAME_MS;
    if (this.#voicedRun === 2) {
      this.#runs.push({ startMs: (index - 1) * FRAME_MS, endMs });
      if (this.#runs.length > 64) this.#runs.shift();
    } else if (this.#voicedRun > 2) this.#runs[this.#runs.length - 1]!.endMs = endMs;
  }

  /**
   * End the current turn when its documented silence has passed: no voiced run starts within `silenceMs` after its
   * last word and the engine is not inside an utterance (or has said nothing for {@link FORCE_TURN_MS} more).
   */
  #endTurnIfDue(): void {
    const held = this.#held;
    if (held.length === 0 || this.#closed) return;
    const end = held[held.length - 1]!.endMs;
    const audio = this.audioMs;
    if (!this.#flushing) {
      const engineSpeech = this.#engineSpeechMs;
      const lastActivity = Math.max(end, engineSpeech ?? 0, this.#runs.length > 0 ? this.#runs[this.#runs.length - 1]!.endMs : 0);
      const forced = audio >= lastActivity + this.#silenceMs + FORCE_TURN_MS;
      if (!forced) {
        if (engineSpeech !== undefined) return;
        const resumed = this.#runs.find((r) => r.startMs > end);
        const silenceEnd = resumed ? resumed.startMs : audio;
        if (silenceEnd - end < this.#silenceMs) return;
      }
    }
    this.#held = [];
    const first = held[0]!;
    const u: Utterance = {
      text: held.map((h) => h.text).join(' '),
      startMs: first.startMs,
      endMs: end,
      words: held.flatMap((h) => h.words),
      ...(first.emotion ? { emotion: first.emotion } : {}),
      ...(first.language ? { language: first.language } : {}),
    };
    this.#delivery.push(this.#delayMs, () => this.#handlers.onFinal(u));
    if (this.#stateless && !this.#flushing) this.#nextTurnStream(end);
  }

  /**
   * Stateless mode: the next turn is decoded by a new engine stream, so no result depends on what the session heard
   * before (a client that reconnects and replays a turn gets the same text). It starts a little before the end of the
   * silence just waited for, fed the audio received since.
   */
  #nextTurnStream(endMs: number): void {
    // Closed once out of the engine's event callback (its events are ignored from now on).
    const old = this.#stream;
    setImmediate(() => old?.close());
    const rate = this.#engine!.sampleRate;
    const recentStart = this.#engineFrames - this.#recentFrames;
    const from = Math.max(recentStart, Math.min(this.#engineFrames, Math.round(((endMs + this.#silenceMs - TURN_LEAD_MS) * rate) / 1000)));
    const stream = this.#open((from * 1000) / rate);
    this.#stream = stream;
    this.#engineSpeechMs = undefined;
    let at = recentStart;
    for (const piece of this.#recent) {
      if (at + piece.length > from) this.#send(stream, piece.subarray(Math.max(0, from - at)), 0);
      at += piece.length;
    }
  }

  #fail(error: Error): void {
    if (this.#closed || this.#failed) return;
    this.#failed = true;
    queueMicrotask(() => {
      if (!this.#closed) this.#handlers.onError(error);
    });
  }

  write(samples: Int16Array): boolean {
    if (this.#closed || this.#failed) return true;
    this.#frames += samples.length;
    const pcm = this.#ratio === 1 ? samples : resampleLinear(samples, this.#ratio);
    this.#engineFrames += pcm.length;
    if (this.#stateless) this.#remember(pcm);
    this.#detector.push(samples);
    if (this.#stream) this.#send(this.#stream, pcm, samples.length);
    this.#endTurnIfDue();
    return this.#backlogMs() <= BACKLOG_HIGH_MS;
  }

  /** Write to an engine stream, counting `frames` (input rate) in the backlog until the engine took them. */
  #send(stream: EngineStream, pcm: Int16Array, frames: number): void {
    this.#backlog += frames;
    stream.write(
      pcm,
      (error) => this.#fail(error),
      () => {
        this.#backlog -= frames;
        this.#checkDrained();
      },
    );
  }

  #remember(pcm: Int16Array): void {
    this.#recent.push(pcm);
    this.#recentFrames += pcm.length;
    const keep = ((REPLAY_MS * (this.#engine?.sampleRate ?? 16000)) / 1000) | 0;
    while (this.#recent.length > 1 && this.#recentFrames - this.#recent[0]!.length >= keep) this.#recentFrames -= this.#recent.shift()!.length;
  }

  #backlogMs(): number {
    return (this.#backlog * 1000) / this.#settings.sampleRate;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0) return;
    if (this.#closed || this.#failed || this.#backlogMs() <= BACKLOG_LOW_MS) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve);
      this.#checkDrained();
    });
  }

  async flush(): Promise<void> {
    const stream = this.#stream;
    // From here every engine final is delivered as it comes, and the stream stays the one being ended.
    this.#flushing = true;
    if (stream && !this.#closed && !this.#failed) {
      try {
        await stream.end();
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.#endTurnIfDue();
    await this.#delivery.drained();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#delivery.close();
    this.#stream?.close();
    this.#checkDrained();
  }
}

/** Linear-interpolation resampling by `ratio` (out rate / in rate). Good enough for the emulator's 8 kHz input. */
function resampleLinear(input: Int16Array, ratio: number): Int16Array {
  const n = Math.floor(input.length * ratio);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const x = i / ratio;
    const i0 = Math.floor(x);
    const a = input[i0] ?? 0;
    const b = input[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (x - i0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Scripted mode

const cursors = new WeakMap<EmulatorContext, { next: number }>();

function cursorOf(ctx: EmulatorContext): { next: number } {
  let c = cursors.get(ctx);
  if (!c) {
    c = { next: 0 };
    cursors.set(ctx, c);
  }
  return c;
}

/** A partial every this many ms of speech. */
const PARTIAL_EVERY_MS = 300;

class ScriptedRecognition implements Recognition {
  readonly #ctx: EmulatorContext;
  readonly #script: ScriptedUtterance[];
  readonly #handlers: RecognitionHandlers;
  readonly #settings: RecognitionSettings;
  readonly #silenceFrames: number;
  readonly #detector: FrameDetector;
  #delivery = new Delivery();
  #closed = false;
  #frames = 0;
  #speechStart = -1;
  #lastVoiced = -1;
  #silentRun = 0;
  #voicedRun = 0;
  #lastPartialAt = 0;
  /** Finals found and not yet delivered (a delayed result): they move the shared cursor only once delivered. */
  #undelivered = 0;

  constructor(ctx: EmulatorContext, settings: RecognitionSettings, handlers: RecognitionHandlers) {
    this.#ctx = ctx;
    this.#script = ctx.script ?? [];
    this.#handlers = handlers;
    this.#settings = settings;
    this.#silenceFrames = Math.max(1, Math.round((settings.silenceMs ?? 800) / FRAME_MS));
    this.#detector = new FrameDetector(settings.sampleRate, (index, voiced) => this.#frame(index, voiced));
  }

  get audioMs(): number {
    return (this.#frames * 1000) / this.#settings.sampleRate;
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  write(samples: Int16Array): boolean {
    if (this.#closed) return true;
    this.#frames += samples.length;
    this.#detector.push(samples);
    return true;
  }

  #frame(index: number, voiced: boolean): void {
    if (voiced) {
      this.#voicedRun++;
      this.#silentRun = 0;
      this.#lastVoiced = index;
      if (this.#speechStart < 0 && this.#voicedRun >= 2) {
        this.#speechStart = index - 1;
        this.#lastPartialAt = index;
      }
    } else {
      this.#voicedRun = 0;
      this.#silentRun++;
    }
    if (this.#speechStart < 0) return;
    if (this.#silentRun >= this.#silenceFrames) {
      this.#final();
      return;
    }
    if ((index - this.#lastPartialAt) * FRAME_MS >= PARTIAL_EVERY_MS) {
      this.#lastPartialAt = index;
      this.#partial(index);
    }
  }

  /** The scripted answer of the speech now heard: the cursor, past the finals still on their way. */
  #current(): ScriptedUtterance {
    const cursor = cursorOf(this.#ctx);
    return this.#script[(cursor.next + this.#undelivered) % this.#script.length]!;
  }

  #utterance(item: ScriptedUtterance, startMs: number, endMs: number, wordCount?: number): Utterance {
    const all = item.text.split(/\s+/).filter(Boolean);
    const words = wordCount === undefined ? all : all.slice(0, wordCount);
    const span = (endMs - startMs) / Math.max(1, wordCount === undefined ? all.length : Math.max(words.length, 1));
    const timed: Word[] = words.map((text, k) => ({ text, startMs: Math.round(startMs + k * span), endMs: Math.round(startMs + (k + 1) * span) }));
    return {
      text: wordCount === undefined ? item.text : words.join(' '),
      startMs,
      endMs,
      words: timed,
      ...(item.emotion ? { emotion: item.emotion } : {}),
      ...(item.language ? { language: item.language } : {}),
    };
  }

  #partial(index: number): void {
    const item = this.#current();
    const total = item.text.split(/\s+/).filter(Boolean).length;
    const spokenMs = (index - this.#speechStart + 1) * FRAME_MS;
    const count = Math.min(Math.max(total - 1, 1), Math.max(1, Math.floor(spokenMs / PARTIAL_EVERY_MS)));
    const u = this.#utterance(item, this.#speechStart * FRAME_MS, (index + 1) * FRAME_MS, count);
    this.#delivery.push(this.#ctx.faults.resultDelayMs ?? 0, () => this.#handlers.onPartial(u));
  }

  #final(): void {
    const item = this.#current();
    const u = this.#utterance(item, this.#speechStart * FRAME_MS, (this.#lastVoiced + 1) * FRAME_MS);
    this.#speechStart = -1;
    this.#silentRun = 0;
    this.#voicedRun = 0;
    const delay = (this.#ctx.faults.resultDelayMs ?? 0) + (item.delayMs ?? 0);
    // The cursor moves when the final is delivered: one lost with its connection (a delayed result, then a cut) is
    // recognised again with the same text by the session that hears the audio again, as a real service would.
    this.#undelivered++;
    this.#delivery.push(delay, () => {
      this.#undelivered--;
      cursorOf(this.#ctx).next++;
      this.#handlers.onFinal(u);
    });
  }

  async flush(): Promise<void> {
    if (!this.#closed && this.#speechStart >= 0) this.#final();
    await this.#delivery.drained();
  }

  close(): void {
    this.#closed = true;
    this.#delivery.close();
  }
}
