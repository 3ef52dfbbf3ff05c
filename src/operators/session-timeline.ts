/**
 * The time line of a realtime transcription that outlives its sessions: what each session heard (a {@link TimeMap}
 * from its time to the input's), the audio a replacement session must hear again (the replay buffer, with an
 * optional warm-up before it), and which of a session's events are new. Pure: no timers, no I/O, no clock — every
 * decision is on the audio's time line.
 *
 * Replay holds every piece of audio the service has not demonstrably reported on: only audio up to the end of the
 * last final goes, or everything a session heard once that session ended on request
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
   * Audio (ms, default 120 000) the replay may hold: once it does ({@link SessionTimeline.replayFull}), the caller must
   * get the service to report (wait for events, or end the session) before pushing more; nothing is ever dropped.
   */
  maxReplayMs?: number;
}

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
 * {@link push} refuses audio (EARSHOT_LIMIT_EXCEEDED) once the replay holds `maxReplayMs`.
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
   * The current session ended on request (its `end()` resolved, so it delivered every result for all it heard):
   * nothing it heard needs replaying. The next session hears only the warm-up and new audio.
   */
  sessionEnded(): void {
    const last = this.#replay[this.#replay.length - 1];
    if (!last) return;
    this.#trimReplay(last.offset + last.samples.length);
  }

  /**
   * An event of the current session (times on its time line): the event on the input's time line, or undefined
   * when it repeats what was already let through (re-recognised replay or warm-up audio, a repeated speech edge).
   */
  accept(event: TranscriptEvent): TranscriptEvent | undefined {
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
