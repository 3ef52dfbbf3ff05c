/**
 * What a report shows, collected from a running pipeline by taps that pass everything on unchanged: the audio
 * (as peaks), the VAD's segments, near-realtime windows with the fate of each speculative one, and the events.
 */
import { Observable, Subject, type MonoTypeOperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import { frameCount, frameToMs, type AudioChunk, type AudioSegment, type TranscriptEvent } from '../core/types.js';
import { vadChunk, type VadChunkOptions } from '../operators/vad-chunk.js';
import { VAD_SAMPLE_RATES } from '../media/vad.js';
import type { ProvisionalState, WindowSegment } from '../operators/near-realtime.js';
import { PeakBuilder, type PeakOptions, type Peaks } from './peaks.js';

/** A segment on the time line, in ms of audio time. */
export interface ReportSegment {
  startMs: number;
  endMs: number;
  /** Why it was closed: a pause, its maximum length, or the end of the input. */
  cut: AudioSegment['cut'];
  /** Where its speech ended (audio time), when known. */
  speechEndMs?: number;
}

/** A near-realtime window: `speculative` when it was sent before its pause was confirmed, and what became of it. */
export interface ReportWindow extends ReportSegment {
  speculative: boolean;
  /** `revoked`: speech resumed, the request was cancelled and a longer window from the same start followed. */
  fate: ProvisionalState;
}

/** Everything a {@link ReportCollector} saw. */
export interface Collected {
  /** Waveform peaks, when the audio went through {@link ReportCollector.audio}. */
  peaks?: Peaks;
  /** VAD segments: the pipeline's own `vadChunk()` (`pipeline`) or one run beside it on the same audio (`analysis`). */
  vad?: { segments: ReportSegment[]; source: 'pipeline' | 'analysis'; options?: VadChunkOptions; skipped?: string };
  /** Near-realtime windows, when the pipeline had them. */
  windows?: ReportWindow[];
  /** Every event, in the order the pipeline emitted them. */
  events: TranscriptEvent[];
}

/** Options of {@link ReportCollector.audio}. */
export interface AudioTapOptions {
  /** Run `vadChunk(vad)` beside the pipeline when it has no `vad()` tap of its own (default `{}`); `false`: never. */
  vad?: VadChunkOptions | false;
  /** Peak buckets and levels. */
  peaks?: PeakOptions;
}

function segmentOf(s: AudioSegment): ReportSegment {
  const startMs = frameToMs(s.offset, s.sampleRate);
  const out: ReportSegment = { startMs, endMs: startMs + frameToMs(frameCount(s), s.sampleRate), cut: s.cut };
  if (s.speechEndMs !== undefined) out.speechEndMs = s.speechEndMs;
  return out;
}

/**
 * Watches one pipeline for a report. Each method returns an operator to insert at its place in the pipeline;
 * every operator passes its input on unchanged, and one collector serves one run of one input.
 *
 * @example
 * ```ts
 * const seen = new ReportCollector();
 * await lastValueFrom(fromFile('talk.wav').pipe(decode(), seen.audio(), vadChunk(), seen.vad(),
 *   transcribeBatch(local()), seen.events()));
 * await report({ audio: 'talk.wav', collector: seen, out: 'talk.html' });
 * ```
 */
export class ReportCollector {
  #peaks: PeakBuilder | undefined;
  #pipelineVad: ReportSegment[] | undefined;
  #analysisVad: { segments: ReportSegment[]; options: VadChunkOptions; skipped?: string } | undefined;
  #windows: ReportWindow[] | undefined;
  #events: TranscriptEvent[] = [];

  /**
   * Tap the decoded audio (one mono or multi-channel stream at one rate): peaks for the waveform and, unless the
   * pipeline has a {@link vad} tap, the VAD's segments from `vadChunk()` run beside it on the same chunks (mono
   * audio at 8, 16, 32 or 48 kHz; other audio gets no VAD lane, and `collected().vad.skipped` says why). The
   * returned operator completes once that side `vadChunk()` has emitted its last segment; its errors are passed on.
   *
   * @param options - see {@link AudioTapOptions}.
   * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) on a second subscription (one input per report).
   */
  audio(options: AudioTapOptions = {}): MonoTypeOperatorFunction<AudioChunk> {
    return (source) =>
      new Observable<AudioChunk>((subscriber) => {
        if (this.#peaks) {
          subscriber.error(new InvalidArgumentError('report: one audio stream per collector'));
          return;
        }
        const peaks = new PeakBuilder(options.peaks);
        this.#peaks = peaks;
        // Taps downstream subscribe first, so a pipeline `vad()` tap is known here.
        const vadOptions = options.vad === false || this.#pipelineVad ? undefined : (options.vad ?? {});
        let side: Subject<AudioChunk> | undefined;
        let sideDone = true;
        let mainDone = false;
        const maybeComplete = (): void => {
          if (mainDone && sideDone) subscriber.complete();
        };
        const sideSub = (() => {
          if (!vadOptions) return undefined;
          const segments: ReportSegment[] = [];
          this.#analysisVad = { segments, options: vadOptions };
          side = new Subject<AudioChunk>();
          sideDone = false;
          return side.pipe(vadChunk(vadOptions)).subscribe({
            next: (s) => segments.push(segmentOf(s)),
            error: (err: unknown) => subscriber.error(err),
            complete: () => {
              sideDone = true;
              maybeComplete();
            },
          });
        })();
        const sub = source.subscribe({
          next: (chunk) => {
            try {
              peaks.push(chunk);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            if (side && this.#analysisVad && (chunk.channels !== 1 || !(VAD_SAMPLE_RATES as readonly number[]).includes(chunk.sampleRate))) {
              this.#analysisVad.skipped = `the VAD needs mono audio at 8, 16, 32 or 48 kHz, got ${chunk.channels} ch at ${chunk.sampleRate} Hz`;
              const s = side;
              side = undefined;
              s.complete();
            }
            side?.next(chunk);
            subscriber.next(chunk);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            mainDone = true;
            side?.complete();
            maybeComplete();
          },
        });
        return () => {
          sub.unsubscribe();
          sideSub?.unsubscribe();
        };
      });
  }

  /** Tap the segments of the pipeline's own `vadChunk()`: the report's VAD lane then shows exactly them. */
  vad(): MonoTypeOperatorFunction<AudioSegment> {
    return (source) =>
      new Observable<AudioSegment>((subscriber) => {
        const segments: ReportSegment[] = [];
        this.#pipelineVad = segments;
        return source.subscribe({
          next: (s) => {
            segments.push(segmentOf(s));
            subscriber.next(s);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        });
      });
  }

  /** Tap the windows of `nearRealtime()`: their cuts, and which speculative ones were confirmed or revoked. */
  windows(): MonoTypeOperatorFunction<WindowSegment> {
    return (source) =>
      new Observable<WindowSegment>((subscriber) => {
        const windows: ReportWindow[] = [];
        this.#windows = windows;
        const unlisten: Array<() => void> = [];
        const sub = source.subscribe({
          next: (w) => {
            const p = w.provisional;
            const entry: ReportWindow = { ...segmentOf(w), speculative: p !== undefined, fate: p?.state ?? 'confirmed' };
            windows.push(entry);
            if (p && p.state === 'pending') unlisten.push(p.onSettled((confirmed) => (entry.fate = confirmed ? 'confirmed' : 'revoked')));
            subscriber.next(w);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        });
        return () => {
          sub.unsubscribe();
          for (const u of unlisten) u();
        };
      });
  }

  /** Tap the transcript events (partials and finals, with their latency figures). */
  events(): MonoTypeOperatorFunction<TranscriptEvent> {
    return (source) =>
      new Observable<TranscriptEvent>((subscriber) =>
        source.subscribe({
          next: (e) => {
            this.#events.push(e);
            subscriber.next(e);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
  }

  /** Add events that did not flow through {@link events} (e.g. read from a JSONL file). */
  addEvents(events: Iterable<TranscriptEvent>): void {
    for (const e of events) this.#events.push(e);
  }

  /** Whether audio went through {@link audio}. */
  get hasAudio(): boolean {
    return this.#peaks !== undefined;
  }

  /** What was seen so far. */
  collected(): Collected {
    const out: Collected = { events: this.#events };
    if (this.#peaks) out.peaks = this.#peaks.finish();
    if (this.#pipelineVad) out.vad = { segments: this.#pipelineVad, source: 'pipeline' };
    else if (this.#analysisVad) out.vad = { source: 'analysis', ...this.#analysisVad };
    if (this.#windows) out.windows = this.#windows;
    return out;
  }
}
