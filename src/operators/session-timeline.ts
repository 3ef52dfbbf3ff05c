/**
 * The time line of a realtime transcription that outlives its sessions: what each session heard (a {@link TimeMap}
 * from its time to the input's), the audio a replacement session must hear again (the replay buffer, with an
 * optional warm-up before it), and which of a session's events are new. Pure: no timers, no I/O, no clock — every
 * decision is on the audio's time line.
 *
 * Replay holds every piece of audio the service has not demonstrably reported on: only audio up to the end of the
 * last final goes, or what a session heard once that session was ended on request and delivered its last results
 * ({@link SessionTimeline.sessionEnded}). How fast the audio was sent plays no part, so a client far ahead of the
 * service (audio sent unpaced) loses nothing when a session drops. Partials and speech edges trim nothing: a
 * transport may time a partial by the audio it has *sent* (qwen3-asr-flash-realtime's carry no times), not by what
 * the service processed, and speech the service has begun hearing is not final.
 */
import { EarshotError } from '../core/errors.js';
import { TimeMap } from '../core/time-map.js';
import { isSpeechEdge, type TranscriptEvent } from '../core/types.js';

/** A run of input audio: mono samples and the input frame of the first. */
export interface TimelinePiece {
  samples: Int16Array;
  /** First frame on the input's time line. */
  offset: number;
}

/** Settings of {@link SessionTimeline}. */
export interface SessionTimelineOptions {
  sampleRate: number;
  /** Audio from before the last final (ms) played into a replacement session first, to warm it up (default 0). */
  warmupMs?: number;
  /**
   * Audio (ms, default 120 000) the replay may hold: once it does ({@link SessionTimeline.replayFull}), the caller
   * ends the session on request ({@link SessionTimeline.endingSession}) before pushing more; nothing is ever dropped.
   */
  maxReplayMs?: number;
}

/**
 * A final that ends this close (ms) to the end of the audio a session heard when it was ended on request may have
 * been cut by that end: speech still going on is finalised at once, at most a silence-that-ends-an-utterance before
 * the end (6 s is the longest the services allow: fun-asr's `max_sentence_silence`, qwen's `silence_duration_ms`).
 */
const CUT_FINAL_MS = 6000;
/** Audio kept before a cut final's start for the session that hears it again (its VAD needs a lead-in). */
const CUT_LEAD_MS = 500;

/**
 * The input's time line across sessions. Feed it every piece sent ({@link push}), every event a session reports
 * ({@link accept}) and each new session ({@link newSession}); it says what to replay and what to emit.
 *
 * Guarantees on what {@link accept} lets through: times on the input's time line, every event at or after the end
 * of the last final, finals never repeated (speech that lies mostly before the last final is dropped), and
 * `speech-start` / `speech-end` alternating, each emitted once however many sessions heard the speech.
 *
 * Guarantees on replay: it holds all audio pushed after the last time the service reported on (see the module
 * comment); it is never trimmed by the clock, and never past what was reported. Its size is bounded by the caller:
 * {@link push} refuses audio (EARSHOT_LIMIT_EXCEEDED) once the replay holds `maxReplayMs`; the caller then ends the
 * session ({@link endingSession}, then {@link sessionEnded} once its last results came), which lets the replay go
 * except for speech the end may have cut, heard again whole by the next session.
 *
 * @example
 * ```ts
 * const line = new SessionTimeline({ sampleRate: 16000 });
 * line.newSession(false);
 * line.push({ samples, offset: 0 });
 * const event = line.accept({ type: 'final', text: 'hi', startMs: 100, endMs: 900 }); // on the input's time line
 * const replay = line.newSession(true); // after a failure: write these into the new session first
 * ```
 */
export class SessionTimeline {
  readonly #rate: number;
  readonly #warmFrames: number;
  readonly #maxReplayFrames: number;
  #map: TimeMap;
  /** Audio sent after the last final, on the input's time line: what a new session must hear again. */
  #replay: TimelinePiece[] = [];
  /** Audio before the last final kept for warming a new session up (at most `warmupMs`). */
  #warm: TimelinePiece[] = [];
  #lastFinalEndMs = -Infinity;
  /** Frames in {@link #replay}. */
  #replayFrames = 0;
  #pendingSpeech = false;
  /** The session is being ended on request: its events wait here for {@link sessionEnded}. */
  #held: TranscriptEvent[] | undefined;
  #atPause = false;
  #inSpeech = false;
  #lastSpeechMs = -Infinity;

  /** @param options - rate and replay bounds; see {@link SessionTimelineOptions}. */
  constructor(options: SessionTimelineOptions) {
    this.#rate = options.sampleRate;
    this.#warmFrames = ((options.warmupMs ?? 0) * this.#rate) / 1000;
    this.#maxReplayFrames = ((options.maxReplayMs ?? 120_000) * this.#rate) / 1000;
    this.#map = new TimeMap(this.#rate);
  }

  /** A partial came since the last final: speech is in progress. */
  get pendingSpeech(): boolean {
    return this.#pendingSpeech;
  }

  /** A final came and no partial since: a pause, where a session can be replaced without cutting speech. */
  get atPause(): boolean {
    return this.#atPause;
  }

  /** Frames the current session has heard (ms = frames · 1000 / rate). */
  get sessionFrames(): number {
    return this.#map.frames;
  }

  /** End (ms, input time) of the last final let through. */
  get lastFinalEndMs(): number {
    return this.#lastFinalEndMs;
  }

  /** Audio held for replay, ms. */
  get replayMs(): number {
    return (this.#replayFrames * 1000) / this.#rate;
  }

  /** The replay holds `maxReplayMs` of audio the service has not reported on: {@link push} takes no more until it reports. */
  get replayFull(): boolean {
    return this.#replayFrames >= this.#maxReplayFrames;
  }

  /**
   * A new session replaces the current one: its time map starts empty.
   *
   * @param warm - play the warm-up audio (before the last final) first: a session replacing another.
   * @returns the pieces to write into it, in order, before any new audio (they are on its time map already).
   */
  newSession(warm: boolean): TimelinePiece[] {
    this.#map = new TimeMap(this.#rate);
    this.#held = undefined;
    this.#atPause = false;
    const start = this.#replay[0]?.offset;
    const out = warm && this.#warmFrames > 0 ? this.#warm.filter((p) => start === undefined || p.offset < start) : [];
    out.push(...this.#replay);
    for (const p of out) this.#map.input(p.offset, p.samples.length);
    return out;
  }

  /**
   * New input sent to the current session: kept for replay until the service reports on it, and mapped.
   *
   * @throws EARSHOT_LIMIT_EXCEEDED when the replay is already full ({@link replayFull}): the caller pushed without
   *   letting the service report (the audio is not taken; nothing held is dropped).
   */
  push(piece: TimelinePiece): void {
    if (this.replayFull) {
      throw new EarshotError('EARSHOT_LIMIT_EXCEEDED', `the replay buffer holds ${this.replayMs} ms the service has not reported on (maxReplayMs): wait for its events or end the session before sending more`);
    }
    this.#replay.push({ samples: piece.samples, offset: piece.offset });
    this.#replayFrames += piece.samples.length;
    this.#map.input(piece.offset, piece.samples.length);
  }

  /**
   * The current session is being ended on request (the replay is full): until {@link sessionEnded}, its events are
   * held back ({@link accept} returns undefined), as its last speech may be cut by the end.
   */
  endingSession(): void {
    this.#held = [];
  }

  /**
   * The session ended on request has delivered its last results (its `end()` resolved): it reported on all it heard,
   * except speech the end cut or left open. That is speech begun after its last final (a speech start or partial with
   * no final after it), or else a last final ending within {@link CUT_FINAL_MS} of the end of the audio (finalised
   * at once by the end). Its events are dropped (with every event held after the final before it) and the replay
   * keeps its audio, from {@link CUT_LEAD_MS} before it, for the next session, which hears it whole — unless it starts
   * where the replay does (speech longer than the whole replay: the cut stands). All other audio leaves the replay
   * (the warm-up keeps its share).
   *
   * @returns the held events let through, on the input's time line, in order.
   */
  sessionEnded(): TranscriptEvent[] {
    const held = this.#held ?? [];
    this.#held = undefined;
    const first = this.#replay[0];
    const last = this.#replay[this.#replay.length - 1];
    let keep = held.length;
    let trimTo = last ? last.offset + last.samples.length : 0;
    const k = lastFinal(held, held.length);
    const open = held.slice(k + 1).find((e) => e.type === 'speech-start' || e.type === 'partial');
    const cut = open ?? (k >= 0 && this.#map.toInputMs(held[k]!.endMs) >= (trimTo * 1000) / this.#rate - CUT_FINAL_MS ? held[k] : undefined);
    if (cut && first) {
      const startMs = this.#map.toInputMs(cut.startMs);
      const from = Math.max(((startMs - CUT_LEAD_MS) * this.#rate) / 1000, first.offset, (this.#lastFinalEndMs * this.#rate) / 1000);
      if (from > first.offset) {
        keep = open ? k + 1 : lastFinal(held, k) + 1;
        trimTo = from;
      }
    }
    const out: TranscriptEvent[] = [];
    for (const event of held.slice(0, keep)) {
      const shown = this.accept(event);
      if (shown) out.push(shown);
    }
    this.#trimReplay(trimTo);
    return out;
  }

  /**
   * An event of the current session (times on its time line): the event on the input's time line, or undefined
   * when it repeats what was already let through (re-recognised replay or warm-up audio, a repeated speech edge).
   */
  accept(event: TranscriptEvent): TranscriptEvent | undefined {
    if (this.#held) {
      this.#held.push(event);
      return undefined;
    }
    const floor = this.#lastFinalEndMs;
    if (isSpeechEdge(event)) return this.#speech(event, floor);
    const endRaw = this.#map.toInputMs(event.endMs);
    const startRaw = this.#map.toInputMs(event.startMs);
    // Speech that lies mostly before the last final was already emitted (replayed or warm-up audio).
    if (endRaw <= floor || (startRaw + endRaw) / 2 <= floor) return undefined;
    const startMs = Math.max(startRaw, floor);
    const endMs = Math.max(endRaw, startMs);
    const out: TranscriptEvent = { ...event, startMs, endMs };
    if (event.words) {
      out.words = [];
      for (const w of event.words) {
        const wEnd = this.#map.toInputMs(w.endMs);
        if (wEnd <= floor) continue;
        const wStart = Math.max(this.#map.toInputMs(w.startMs), startMs);
        out.words.push({ text: w.text, startMs: wStart, endMs: Math.max(wEnd, wStart) });
      }
    }
    if (event.type === 'final') {
      this.#lastFinalEndMs = endMs;
      this.#pendingSpeech = false;
      this.#atPause = true;
      this.#trimReplay((endMs * this.#rate) / 1000);
    } else {
      this.#pendingSpeech = true;
      this.#atPause = false;
    }
    return out;
  }

  /**
   * A speech edge (an instant: `startMs` for a start, `endMs` for an end). Starts and ends alternate; a start inside
   * audio already finalised or at/before the last edge is a repeat, as is an end before the start let through.
   */
  #speech(event: TranscriptEvent, floor: number): TranscriptEvent | undefined {
    const start = event.type === 'speech-start';
    const t = this.#map.toInputMs(start ? event.startMs : event.endMs);
    if (start ? this.#inSpeech || t < floor || t <= this.#lastSpeechMs : !this.#inSpeech || t < this.#lastSpeechMs) return undefined;
    const at = Math.max(t, floor);
    this.#inSpeech = start;
    this.#lastSpeechMs = at;
    return { ...event, startMs: at, endMs: at };
  }

  #trimReplay(toFrame: number): void {
    const replay = this.#replay;
    let i = 0;
    while (i < replay.length && replay[i]!.offset + replay[i]!.samples.length <= toFrame) i++;
    if (this.#warmFrames > 0) for (let k = 0; k < i; k++) this.#keepWarm(replay[k]!);
    for (let k = 0; k < i; k++) this.#replayFrames -= replay[k]!.samples.length;
    if (i > 0) this.#replay = replay.slice(i);
    const first = this.#replay[0];
    if (first && first.offset < toFrame) {
      const cut = Math.floor(toFrame - first.offset);
      if (this.#warmFrames > 0) this.#keepWarm({ samples: first.samples.subarray(0, cut), offset: first.offset });
      this.#replay[0] = { samples: first.samples.subarray(cut), offset: first.offset + cut };
      this.#replayFrames -= cut;
    }
  }

  #keepWarm(piece: TimelinePiece): void {
    this.#warm.push(piece);
    const end = piece.offset + piece.samples.length;
    let i = 0;
    while (i < this.#warm.length && end - this.#warm[i]!.offset > this.#warmFrames) i++;
    if (i > 0) this.#warm = this.#warm.slice(i);
  }
}

/** Index of the last final among `events[0, before)`, or -1. */
function lastFinal(events: readonly TranscriptEvent[], before: number): number {
  let i = before - 1;
  while (i >= 0 && events[i]!.type !== 'final') i--;
  return i;
}
