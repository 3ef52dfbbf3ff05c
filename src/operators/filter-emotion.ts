/**
 * `filterEmotion(...)`: keep the transcript events whose speaker's emotion is one of a set (or matches a predicate).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import { EMOTIONS, type Emotion, type TranscriptEvent } from '../core/types.js';

/** Options of {@link filterEmotion}. */
export interface FilterEmotionOptions {
  /** Keep events that carry no emotion (default false). */
  keepUnlabelled?: boolean;
  /** Only filter finals; let every partial through (default false: partials are filtered like finals). */
  finalsOnly?: boolean;
}

/**
 * Keep only transcript events with the given emotion(s).
 *
 * Emotions come from models that report them (qwen3-asr-flash-realtime, qwen3-asr-flash, filetrans); events without
 * an emotion are dropped unless `keepUnlabelled` is set.
 *
 * @param emotions - one emotion, a list of them (`surprised`, `neutral`, `happy`, `sad`, `disgusted`, `angry`,
 *   `fearful`), or a predicate on the event's emotion.
 * @param options - what to do with unlabelled events and partials.
 * @returns an operator on {@link TranscriptEvent}s.
 * @throws EARSHOT_INVALID_ARGUMENT for an empty list or an unknown emotion name (at once).
 * @example
 * ```ts
 * fromMic().pipe(transcribeRealtime(qwenAsrRealtime()), filterEmotion(['angry', 'sad'])).subscribe(alertSupervisor);
 * ```
 */
export function filterEmotion(
  emotions: Emotion | readonly Emotion[] | ((emotion: string | undefined) => boolean),
  options: FilterEmotionOptions = {},
): OperatorFunction<TranscriptEvent, TranscriptEvent> {
  let accept: (emotion: string | undefined) => boolean;
  if (typeof emotions === 'function') {
    accept = emotions;
  } else {
    const list: readonly string[] = typeof emotions === 'string' ? [emotions] : emotions;
    if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError('filterEmotion needs at least one emotion');
    for (const e of list) {
      if (!(EMOTIONS as readonly string[]).includes(e)) throw new InvalidArgumentError(`unknown emotion ${String(e)}; expected one of ${EMOTIONS.join(', ')}`);
    }
    const set = new Set(list);
    const keepUnlabelled = options.keepUnlabelled ?? false;
    accept = (emotion) => (emotion === undefined ? keepUnlabelled : set.has(emotion));
  }
  const finalsOnly = options.finalsOnly ?? false;
  return (source) =>
    new Observable<TranscriptEvent>((subscriber) =>
      source.subscribe({
        next(event) {
          let keep: boolean;
          try {
            keep = (finalsOnly && event.type === 'partial') || accept(event.emotion);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (keep) subscriber.next(event);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
