/**
 * The emulator's bridge from audio to text. Each protocol session opens one {@link Recognition}, writes the PCM it
 * receives, and gets utterances back (partials while speech goes on, a final at its end):
 *
 * - **engine mode** (default): the audio goes to `ctx.recognizer.openStream(...)` (the embedded engine, `local()`),
 *   whose partial and final events become utterances;
 * - **scripted mode** (`ctx.script`): an energy detector finds where speech starts and stops, and each stretch of
 *   speech is "recognised" as the next scripted utterance (text, emotion, language, delay). The cursor into the
 *   script is shared by every session of one emulator, and only a final moves it, so a client that reconnects and
 *   replays the unfinished utterance gets the same text.
 *
 * Results can be slowed by `faults.resultDelayMs` (every result) and a scripted utterance's `delayMs` (its final);
 * delivery keeps their order.
 */
import type { Word } from '../core/types.js';
import type { StreamSession, Transport } from '../transports/transport.js';
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
  /** Silence that ends an utterance in scripted mode, ms (default 800). */
  silenceMs?: number;
}

/** A running recognition. */
export interface Recognition {
  /**
   * Audio in (mono s16le at the settings' rate); order is kept. Returns false when the engine is behind (more than
   * {@link BACKLOG_HIGH_MS} waiting, or a final still being re-decoded): the caller should stop reading its socket
   * until {@link drained} resolves. A service that runs at real time never lets audio race ahead of its finals.
   */
  write(samples: Int16Array): boolean;
  /** Resolves when the audio waiting for the engine is down to {@link BACKLOG_LOW_MS} and no final is pending. */
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

/** Stateless mode: audio remembered for re-decoding, and the padding around an utterance's clip. */
const HISTORY_MS = 60_000;
const CLIP_PAD_MS = 300;

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

// ---------------------------------------------------------------------------------------------------------------
// Engine mode

class EngineRecognition implements Recognition {
  #session?: StreamSession;
  #opening: Promise<void>;
  #writes: Promise<void> = Promise.resolve();
  #delivery = new Delivery();
  #closed = false;
  #failed = false;
  #frames = 0;
  /** Frames written and not yet taken by the engine. */
  #backlog = 0;
  /** Stateless mode: finals whose clip is being re-decoded. */
  #redecoding = 0;
  /** Stateless mode: the audio sent to the engine (engine rate), the last {@link HISTORY_MS} of it. */
  #history: Int16Array[] = [];
  #historyStart = 0;
  #engineFrames = 0;
  readonly #engine: Transport | undefined;
  readonly #stateless: boolean;
  #drainWaiters: Array<() => void> = [];
  readonly #settings: RecognitionSettings;
  readonly #handlers: RecognitionHandlers;
  readonly #delayMs: number;
  readonly #ratio: number;

  constructor(ctx: EmulatorContext, settings: RecognitionSettings, handlers: RecognitionHandlers) {
    this.#settings = settings;
    this.#handlers = handlers;
    this.#delayMs = ctx.faults.resultDelayMs ?? 0;
    const engine = ctx.recognizer;
    this.#engine = engine;
    this.#stateless = ctx.stateless === true && typeof engine?.transcribeClip === 'function';
    if (!engine?.openStream) {
      this.#ratio = 1;
      this.#opening = Promise.resolve();
      this.#fail(new Error('the emulator has no streaming recognizer'));
      return;
    }
    this.#ratio = engine.sampleRate / settings.sampleRate;
    const caps = engine.capabilities;
    this.#opening = engine
      .openStream({
        sampleRate: engine.sampleRate,
        ...(settings.language && caps.languages.includes(settings.language) ? { language: settings.language } : {}),
        ...(settings.context && caps.context ? { context: settings.context } : {}),
        onEvent: (event) => {
          if (this.#closed) return;
          const u: Utterance = {
            text: event.text,
            startMs: event.startMs,
            endMs: event.endMs,
            words: event.words ?? [],
            ...(event.emotion ? { emotion: event.emotion } : {}),
            ...(event.language ? { language: event.language } : {}),
          };
          if (event.type === 'final') {
            if (u.text.trim() === '') return;
            if (this.#stateless) {
              const clip = this.#clip(u.startMs - CLIP_PAD_MS, u.endMs + CLIP_PAD_MS);
              const final = this.#redecode(u, clip);
              this.#delivery.push(this.#delayMs, async () => handlers.onFinal(await final));
            } else this.#delivery.push(this.#delayMs, () => handlers.onFinal(u));
          } else if (u.text.trim() !== '') {
            this.#delivery.push(this.#delayMs, () => handlers.onPartial(u));
          }
        },
        onError: (error) => this.#fail(error),
      })
      .then(
        (session) => {
          if (this.#closed) session.close();
          else this.#session = session;
        },
        (error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))),
      );
  }

  get audioMs(): number {
    return (this.#frames * 1000) / this.#settings.sampleRate;
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
    this.#backlog += samples.length;
    const pcm = this.#ratio === 1 ? samples : resampleLinear(samples, this.#ratio);
    if (this.#stateless) this.#remember(pcm);
    this.#writes = this.#writes
      .then(() => this.#opening)
      .then(() => (this.#closed || this.#failed || !this.#session ? undefined : this.#session.write(pcm)))
      .catch((error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.#backlog -= samples.length;
        this.#checkDrained();
      });
    return this.#backlogMs() <= BACKLOG_HIGH_MS && this.#redecoding === 0;
  }

  #remember(pcm: Int16Array): void {
    this.#history.push(pcm);
    this.#engineFrames += pcm.length;
    const keep = ((HISTORY_MS * (this.#engine?.sampleRate ?? 16000)) / 1000) | 0;
    while (this.#history.length > 1 && this.#engineFrames - this.#historyStart - this.#history[0]!.length >= keep) {
      this.#historyStart += this.#history.shift()!.length;
    }
  }

  /** The engine-rate audio between two stream times (ms), clipped to what is remembered. */
  #clip(fromMs: number, toMs: number): { samples: Int16Array; startMs: number } {
    const rate = this.#engine?.sampleRate ?? 16000;
    const from = Math.max(this.#historyStart, Math.floor((Math.max(0, fromMs) * rate) / 1000));
    const to = Math.min(this.#engineFrames, Math.ceil((toMs * rate) / 1000));
    const out = new Int16Array(Math.max(0, to - from));
    let at = this.#historyStart;
    for (const piece of this.#history) {
      const a = Math.max(from, at);
      const b = Math.min(to, at + piece.length);
      if (b > a) out.set(piece.subarray(a - at, b - at), a - from);
      at += piece.length;
      if (at >= to) break;
    }
    return { samples: out, startMs: (from * 1000) / rate };
  }

  /** Decode an utterance's clip alone; the stream's result stands if that fails or finds nothing. */
  async #redecode(u: Utterance, clip: { samples: Int16Array; startMs: number }): Promise<Utterance> {
    const engine = this.#engine;
    if (!engine?.transcribeClip || clip.samples.length === 0 || this.#closed) return u;
    this.#redecoding++;
    try {
      const events = await engine.transcribeClip({ samples: clip.samples, sampleRate: engine.sampleRate, startMs: clip.startMs });
      const finals = events.filter((e) => e.type === 'final' && e.text.trim() !== '');
      if (finals.length === 0) return u;
      const words = finals.flatMap((e) => (e.words ?? []).map((w) => ({ text: w.text, startMs: w.startMs + clip.startMs, endMs: w.endMs + clip.startMs })));
      return { ...u, text: finals.map((e) => e.text.trim()).join(' '), words };
    } catch {
      return u;
    } finally {
      this.#redecoding--;
      this.#checkDrained();
    }
  }

  #backlogMs(): number {
    return (this.#backlog * 1000) / this.#settings.sampleRate;
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0) return;
    if (this.#closed || this.#failed || (this.#backlogMs() <= BACKLOG_LOW_MS && this.#redecoding === 0)) {
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
    await this.#writes;
    if (this.#session && !this.#closed && !this.#failed) {
      try {
        await this.#session.end();
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    }
    await this.#delivery.drained();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#delivery.close();
    this.#session?.close();
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

/** Frame length of the energy detector, ms. */
const FRAME_MS = 20;
/** RMS (int16 units) above which a frame counts as voiced (about -40 dBFS). */
const VOICED_RMS = 330;
/** A partial every this many ms of speech. */
const PARTIAL_EVERY_MS = 300;

class ScriptedRecognition implements Recognition {
  readonly #ctx: EmulatorContext;
  readonly #script: ScriptedUtterance[];
  readonly #handlers: RecognitionHandlers;
  readonly #settings: RecognitionSettings;
  readonly #frameLen: number;
  readonly #silenceFrames: number;
  #delivery = new Delivery();
  #closed = false;
  #frames = 0;
  /** Carry of samples shorter than one detector frame. */
  #carry: Int16Array;
  #carryLen = 0;
  #frameIndex = 0;
  #speechStart = -1;
  #lastVoiced = -1;
  #silentRun = 0;
  #voicedRun = 0;
  #lastPartialAt = 0;

  constructor(ctx: EmulatorContext, settings: RecognitionSettings, handlers: RecognitionHandlers) {
    this.#ctx = ctx;
    this.#script = ctx.script ?? [];
    this.#handlers = handlers;
    this.#settings = settings;
    this.#frameLen = Math.round((settings.sampleRate * FRAME_MS) / 1000);
    this.#silenceFrames = Math.max(1, Math.round((settings.silenceMs ?? 800) / FRAME_MS));
    this.#carry = new Int16Array(this.#frameLen);
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
    let i = 0;
    if (this.#carryLen > 0) {
      const take = Math.min(this.#frameLen - this.#carryLen, samples.length);
      this.#carry.set(samples.subarray(0, take), this.#carryLen);
      this.#carryLen += take;
      i = take;
      if (this.#carryLen < this.#frameLen) return true;
      this.#frame(this.#carry);
      this.#carryLen = 0;
    }
    for (; i + this.#frameLen <= samples.length; i += this.#frameLen) this.#frame(samples.subarray(i, i + this.#frameLen));
    if (i < samples.length) {
      this.#carry.set(samples.subarray(i), 0);
      this.#carryLen = samples.length - i;
    }
    return true;
  }

  #frame(frame: Int16Array): void {
    let sum = 0;
    for (let k = 0; k < frame.length; k++) {
      const v = frame[k]!;
      sum += v * v;
    }
    const voiced = Math.sqrt(sum / frame.length) > VOICED_RMS;
    const index = this.#frameIndex++;
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

  #current(): ScriptedUtterance {
    const cursor = cursorOf(this.#ctx);
    return this.#script[cursor.next % this.#script.length]!;
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
    const cursor = cursorOf(this.#ctx);
    const item = this.#script[cursor.next % this.#script.length]!;
    cursor.next++;
    const u = this.#utterance(item, this.#speechStart * FRAME_MS, (this.#lastVoiced + 1) * FRAME_MS);
    this.#speechStart = -1;
    this.#silentRun = 0;
    this.#voicedRun = 0;
    const delay = (this.#ctx.faults.resultDelayMs ?? 0) + (item.delayMs ?? 0);
    this.#delivery.push(delay, () => this.#handlers.onFinal(u));
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
