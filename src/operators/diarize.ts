/**
 * `diarize(transcription)`: who said what, for transports whose service does not label speakers (the embedded engine,
 * qwen3-asr, the Omni models). The audio goes to the given transcription operator and is kept; when the input ends,
 * the speakers are found in the audio ({@link diarizeAudio}) and every final is labelled from its words' times and
 * split where the speaker changes, so a final never spans two speakers.
 */
import { Observable, share, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import { type AudioChunk, type TranscriptEvent, type Word } from '../core/types.js';
import { diarize as diarizeAudio, speakerAt, type SpeakerTurn } from '../media/speakers.js';

/** Options of {@link diarize}. */
export interface DiarizeOperatorOptions {
  /** Number of speakers when known (found from the audio otherwise, up to `maxSpeakers`). */
  speakers?: number;
  /** Most speakers considered when the count is not given (default 6). */
  maxSpeakers?: number;
  /** The label of speaker `n` (0-based); default `Speaker ${n + 1}`, as fun-asr labels them. */
  label?: (n: number) => string;
}

/**
 * Label the speakers of a transcription from the audio itself.
 *
 * Finals are held until the input ends (the voices are told apart over the whole recording), then come out in time
 * order, each carrying `speaker`; a final whose words belong to two speakers becomes one final per turn. Finals
 * without word times are labelled as a whole. Partials are dropped (they would be relabelled later); speech edges
 * pass through at once. The audio is kept as 16-bit mono until the end (about 115 MB per hour at 16 kHz).
 *
 * @param transcription - The operator that turns the audio into events, e.g. `transcribe(local())`,
 *   `vadChunk()` + `transcribeBatch(transport)` composed with `pipe`.
 * @param options - Speaker count, labels.
 * @returns An operator from audio chunks to labelled transcript events.
 * @throws EARSHOT_INVALID_ARGUMENT for a speaker count below 1 (at once); the transcription's errors pass through.
 * @example
 * ```ts
 * fromFile('interview.wav').pipe(decode({ sampleRate: 16000, channels: 1 }), diarize(transcribe(local()), { speakers: 2 }))
 *   .subscribe((e) => console.log(`${e.speaker}: ${e.text}`));
 * ```
 */
export function diarize(
  transcription: OperatorFunction<AudioChunk, TranscriptEvent>,
  options: DiarizeOperatorOptions = {},
): OperatorFunction<AudioChunk, TranscriptEvent> {
  if (options.speakers !== undefined && !(Number.isInteger(options.speakers) && options.speakers >= 1)) {
    throw new InvalidArgumentError(`diarize needs a whole number of speakers ≥ 1, got ${options.speakers}`);
  }
  const label = options.label ?? ((n: number) => `Speaker ${n + 1}`);
  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      let pcm = new Int16Array(16000 * 60);
      let length = 0;
      let rate = 0;
      const finals: TranscriptEvent[] = [];
      const keep = (chunk: AudioChunk): void => {
        rate ||= chunk.sampleRate;
        if (chunk.sampleRate !== rate) throw new InvalidArgumentError(`diarize needs one sample rate, got ${chunk.sampleRate} Hz after ${rate} Hz`);
        const frames = chunk.samples.length / chunk.channels;
        const end = chunk.offset + frames;
        if (end > pcm.length) {
          const grown = new Int16Array(Math.max(end, pcm.length * 2));
          grown.set(pcm.subarray(0, length));
          pcm = grown;
        }
        for (let f = 0; f < frames; f++) {
          let sum = 0;
          for (let c = 0; c < chunk.channels; c++) sum += chunk.samples[f * chunk.channels + c]!;
          pcm[chunk.offset + f] = Math.round(sum / chunk.channels);
        }
        length = Math.max(length, end);
      };
      const audio = new Observable<AudioChunk>((inner) =>
        source.subscribe({
          next: (chunk) => {
            try {
              keep(chunk);
            } catch (err) {
              inner.error(err);
              return;
            }
            inner.next(chunk);
          },
          error: (err: unknown) => inner.error(err),
          complete: () => inner.complete(),
        }),
      ).pipe(share());
      return audio.pipe(transcription).subscribe({
        next: (event) => {
          if (event.type === 'final') finals.push(event);
          else if (event.type !== 'partial') subscriber.next(event);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          let labelled: TranscriptEvent[];
          try {
            const turns = diarizeAudio(pcm.subarray(0, length), rate || 16000, {
              ...(options.speakers !== undefined ? { speakerCount: options.speakers } : {}),
              ...(options.maxSpeakers !== undefined ? { maxSpeakers: options.maxSpeakers } : {}),
            });
            labelled = finals.flatMap((e) => splitBySpeaker(e, turns, label)).sort((a, b) => a.startMs - b.startMs);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          for (const e of labelled) subscriber.next(e);
          subscriber.complete();
        },
      });
    });
}

/**
 * One final per speaker turn: the event's words grouped by the speaker of their times, or the whole event under the
 * speaker of its span when it has no words (or no turns were found).
 *
 * @example
 * ```ts
 * const words = [{ text: 'hello', startMs: 100, endMs: 800 }, { text: 'there', startMs: 1100, endMs: 1900 }];
 * const final = { type: 'final' as const, text: 'hello there', startMs: 100, endMs: 1900, words };
 * splitBySpeaker(final, [{ startMs: 0, endMs: 900, speaker: 0 }, { startMs: 1000, endMs: 2000, speaker: 1 }], (n) => `S${n}`);
 * // → 'hello' (S0) and 'there' (S1)
 * ```
 */
export function splitBySpeaker(event: TranscriptEvent, turns: readonly SpeakerTurn[], label: (n: number) => string): TranscriptEvent[] {
  if (turns.length === 0) return [event];
  if (!event.words?.length) return [{ ...event, speaker: label(speakerAt(turns, event.startMs, event.endMs)) }];
  const runs: { speaker: number; words: Word[] }[] = [];
  for (const w of event.words) {
    const speaker = speakerAt(turns, w.startMs, w.endMs);
    const last = runs[runs.length - 1];
    if (last && last.speaker === speaker) last.words.push(w);
    else runs.push({ speaker, words: [w] });
  }
  if (runs.length === 1) return [{ ...event, speaker: label(runs[0]!.speaker) }];
  return runs.map((r) => ({
    ...event,
    text: r.words.map((w) => w.text).join(' '),
    startMs: r.words[0]!.startMs,
    endMs: r.words[r.words.length - 1]!.endMs,
    words: r.words,
    speaker: label(r.speaker),
  }));
}

