/**
 * `nearRealtimeLive(transport)`: near-realtime windows recognised while they are spoken. The windows are cut as
 * `nearRealtime()` cuts them, but each one's audio goes to a live session of the transport as it arrives, so at the
 * pause only the tail of the decode is left.
 */
import { asyncScheduler, identity, Observable, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import { Backpressure, queueLimits } from '../core/backpressure.js';
import { clockOf, type PaceClock } from '../core/clock.js';
import { EarshotError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { concatSamples, frameToMs, shiftEvent, type AudioChunk, type TranscriptEvent } from '../core/types.js';
import { assertCapabilities, type RecognitionOptions, type StreamSession, type Transport } from '../transports/transport.js';
import { nearRealtime, nearRealtimeRules, Provisional, type NearRealtimeOptions, type WindowSegment } from './near-realtime.js';
import { transcribeBatch, type TranscribeBatchOptions } from './transcribe-batch.js';
import { segmenterOperator } from './vad-chunk.js';

/** Options of {@link nearRealtimeLive}: the windows' options of {@link nearRealtime}, and the decode's. */
export interface NearRealtimeLiveOptions extends NearRealtimeOptions {
  /** Recognition options for every session (checked against the transport's capabilities now). */
  options?: RecognitionOptions;
  /** The clock `pace()` anchored: finals then carry `latency.endOfSpeechMs`. */
  clock?: PaceClock;
  /** Audio (ms) of earlier windows a session is primed with (default 60 000; see `StreamOptions.prime`). */
  primeMs?: number;
  /** An operator that watches the windows as they are cut (`earshot report`); it must pass them on unchanged. */
  windows?: MonoTypeOperatorFunction<WindowSegment>;
}

/**
 * Whether {@link nearRealtimeLive} can serve a transport: it streams, takes clips, and its sessions decode like clips
 * (`capabilities.liveClips`).
 *
 * @example
 * decodesWindowsLive(local()); // true
 */
export function decodesWindowsLive(transport: Pick<Transport, 'capabilities'>): boolean {
  const c = transport.capabilities;
  return c.realtime && c.batch && c.liveClips === true;
}

/** One decode on the input's time line: a live session, or a clip when the session cannot be used. */
interface Unit {
  /** First stream sample. */
  readonly from: number;
  session?: Promise<StreamSession>;
  /** Writes and the end, in order. */
  chain: Promise<unknown>;
  /** Stream sample written up to. */
  written: number;
  finals: TranscriptEvent[];
  speechEndMs?: number;
  done: boolean;
  resolvedAt?: number;
}

/**
 * Near-realtime transcription on a transport whose live sessions decode like clips (the embedded engine): windows
 * are cut as {@link nearRealtime} cuts them, and each is fed to a live session as it is spoken, so its final comes
 * right after the pause instead of after a whole-window request.
 *
 * A session opens when a window opens (its pre-speech padding included), primed with up to `primeMs` of the earlier
 * windows' audio: it decodes as the transport decodes a clip, but starts with their cepstral mean where a clip starts
 * with its own (which is not known before the window ends; the first window, with nothing heard before it, starts
 * from the model's mean). Learning the prime's mean costs the engine ~1 % of decoding it, at the session's open,
 * before the window's speech. When the VAD first
 * hears the speech stop (`speculateMs`), audio past that point is held back and the session ends: its finals go out
 * at once. If speech resumes, a new session goes on from that point with the held audio — nothing is lost and
 * nothing decoded twice. A window cut in the middle of speech (`windowMs` reached) is cut in the past, behind audio
 * its session has already taken: that window is decoded as a clip instead. Events leave in audio order, times on the
 * input's time line. A failed session or clip fails the pipeline with its coded error; unsubscribing closes every
 * session. Use {@link transcribeNearRealtime} to pick this or `nearRealtime()` + `transcribeBatch()` by transport.
 *
 * @param transport - a transport for which {@link decodesWindowsLive} holds (e.g. `local()`).
 * @param options - see {@link NearRealtimeLiveOptions}; checked now.
 * @throws EARSHOT_INVALID_ARGUMENT for another transport or bad options, EARSHOT_CAPABILITY_MISSING for recognition
 *   options it lacks (now); at run time EARSHOT_UNSUPPORTED_FORMAT for audio that is not mono at its rate, the
 *   transport's codes.
 * @example
 * ```ts
 * fromMic().pipe(resample(16000), nearRealtimeLive(local())).subscribe((e) => console.log(e.text));
 * ```
 */
export function nearRealtimeLive(transport: Transport, options: NearRealtimeLiveOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  if (!transport || !decodesWindowsLive(transport)) {
    throw new InvalidArgumentError(`transport ${transport?.model ?? '?'} cannot decode windows live; use nearRealtime() + transcribeBatch()`);
  }
  const recognition = options.options ?? {};
  assertCapabilities(transport, recognition);
  const rules = nearRealtimeRules(options);
  const primeMs = options.primeMs ?? 60_000;
  if (!(primeMs >= 0) || !Number.isFinite(primeMs)) throw new InvalidArgumentError(`primeMs must be a finite number ≥ 0, got ${primeMs}`);
  // Audio written and not yet taken by the sessions: a cold source is held at once, a hot one fails past a minute.
  const limits = queueLimits({}, { highWaterMs: 0, maxQueuedMs: 60_000 }, 'nearRealtimeLive()');
  const { clock } = options;
  const now = clock ? clock.now : clockOf(asyncScheduler);
  const rate = transport.sampleRate;
  const ms = (samples: number): number => frameToMs(samples, rate);
  // Audio kept to read windows back: the longest window, the cut search behind it, and a margin for chunks.
  const keepSamples = Math.ceil(((rules.maxChunkMs + rules.padMs + rules.minSpeechMs + 1000) * rate) / 1000);

  return (source) =>
    new Observable<TranscriptEvent>((subscriber) => {
      const abort = new AbortController();
      const queue = new Backpressure(limits, 'nearRealtimeLive()');
      const units: Unit[] = [];
      let done = false;
      let ended: 'complete' | { error: unknown } | undefined;
      /** Recent input: chunks with their stream offsets, oldest first. */
      const recent: AudioChunk[] = [];
      /** Audio of the windows heard so far, newest last, at most `primeMs`. */
      const primes: Int16Array[] = [];
      let current: Unit | undefined;
      /** The stream sample up to which audio is decoded or being decoded (a new session starts there at the earliest). */
      let covered = -Infinity;
      /** A window sent before its pause was confirmed: audio past `end` is held until it settles. */
      let tentative: { end: number; window: WindowSegment } | undefined;

      const fail = (err: unknown): void => {
        if (done) return;
        done = true;
        stopAll();
        subscriber.error(toEarshotError(err, 'EARSHOT_ENGINE_FAILED'));
      };

      const stopAll = (): void => {
        abort.abort();
        queue.release();
        for (const u of units) void u.session?.then((s) => s.close(), () => undefined);
        units.length = 0;
      };

      /** Samples of the input between two stream samples, from the recent chunks. */
      const slice = (from: number, to: number): Int16Array => {
        const out = new Int16Array(Math.max(0, to - from));
        for (const c of recent) {
          const a = Math.max(from, c.offset);
          const b = Math.min(to, c.offset + c.samples.length);
          if (b > a) out.set(c.samples.subarray(a - c.offset, b - c.offset), a - from);
        }
        return out;
      };

      /** The earlier windows' audio (and `extra`): empty before the first window, which starts from the model's mean. */
      const prime = (extra?: Int16Array): Int16Array => concatSamples(extra ? [...primes, extra] : primes);

      const remember = (samples: Int16Array): void => {
        primes.push(samples);
        let total = primes.reduce((n, p) => n + p.length, 0);
        while (primes.length > 1 && total - primes[0]!.length >= (primeMs * rate) / 1000) total -= primes.shift()!.length;
        if (primeMs === 0) primes.length = 0;
      };

      /** Emit every finished unit at the head, in order; complete once all is done. */
      const flush = (): void => {
        while (!done && units.length > 0 && units[0]!.done) {
          const unit = units.shift()!;
          const t = now();
          const liveEnd = clock && unit.speechEndMs !== undefined ? clock.wallTimeAt(unit.speechEndMs) : undefined;
          for (const event of unit.finals) {
            const shifted = shiftEvent(event, ms(unit.from));
            const latency = { ...shifted.latency, addedMs: t - unit.resolvedAt! };
            if (liveEnd !== undefined) latency.endOfSpeechMs = t - liveEnd;
            subscriber.next({ ...shifted, latency });
            if (done) return;
          }
        }
        if (!done && ended && units.length === 0 && !current) {
          done = true;
          queue.release();
          if (ended === 'complete') subscriber.complete();
          else subscriber.error(ended.error);
        }
      };

      const finish = (unit: Unit, finals: TranscriptEvent[]): void => {
        if (done) return;
        unit.finals = finals.filter((e) => e.type === 'final');
        unit.done = true;
        unit.resolvedAt = now();
        flush();
      };

      const open = (from: number, extraPrime?: Int16Array): Unit => {
        const finals: TranscriptEvent[] = [];
        const unit: Unit = { from, written: from, chain: Promise.resolve(), finals, done: false };
        const primed = prime(extraPrime);
        unit.session = transport.openStream!({
          ...recognition,
          sampleRate: rate,
          signal: abort.signal,
          prime: primed,
          onEvent: (event) => {
            if (event.type === 'final') finals.push(event);
          },
          onError: (err) => fail(err),
        });
        unit.chain = unit.session;
        units.push(unit);
        return unit;
      };

      const write = (unit: Unit, upTo: number): void => {
        if (upTo <= unit.written) return;
        const samples = slice(unit.written, upTo);
        unit.written = upTo;
        const size = ms(samples.length);
        const flow = recent[recent.length - 1]?.flow;
        try {
          queue.add(size, flow);
        } catch (err) {
          fail(err);
          return;
        }
        unit.chain = unit.chain
          .then(() => unit.session!)
          .then((s) => (done ? undefined : s.write(samples)))
          .then(() => queue.remove(size));
        unit.chain.catch(fail);
      };

      /** Write the session up to `to` and end it: its finals are the unit's. */
      const end = (unit: Unit, to: number, speechEndMs: number | undefined): void => {
        write(unit, to);
        if (speechEndMs !== undefined) unit.speechEndMs = speechEndMs;
        const finals = unit.finals;
        unit.chain = unit.chain.then(() => unit.session!).then((s) => s.end());
        unit.chain.then(() => finish(unit, finals), fail);
      };

      /** The session took audio past `to`: drop it and decode [from, to) as one clip instead. */
      const asClip = (unit: Unit, to: number, speechEndMs: number | undefined): void => {
        void unit.session!.then((s) => s.close(), () => undefined);
        if (speechEndMs !== undefined) unit.speechEndMs = speechEndMs;
        const job = { samples: slice(unit.from, to), sampleRate: rate, startMs: ms(unit.from), ...(options.options ? { options: options.options } : {}) };
        transport.transcribeClip!(job, { signal: abort.signal }).then((events) => finish(unit, events), fail);
      };

      const windowsOut = segmenterOperator<WindowSegment>(
        rules,
        options,
        (next) => ({
          open: (offset) => {
            if (done) return;
            current = open(Math.max(offset, covered));
          },
          processed: (offset) => {
            if (done || !current) return;
            write(current, offset);
          },
          segment: (s, isTentative) => {
            if (done) return;
            const endAt = s.offset + s.samples.length;
            const window: WindowSegment = isTentative ? { ...s, provisional: new Provisional() } : s;
            const unit = current ?? open(Math.max(s.offset, covered));
            current = undefined;
            if (s.cut === 'max-length') {
              if (endAt > unit.from) asClip(unit, endAt, s.speechEndMs);
              else {
                void unit.session!.then((x) => x.close(), () => undefined);
                finish(unit, []);
              }
              remember(s.samples);
            } else {
              end(unit, Math.max(endAt, unit.from), s.speechEndMs);
              if (isTentative) tentative = { end: endAt, window };
              else remember(s.samples);
            }
            covered = Math.max(covered, endAt);
            next(window);
          },
          confirm: () => {
            if (!tentative) return;
            remember(tentative.window.samples);
            tentative.window.provisional!.settle(true);
            tentative = undefined;
          },
          revoke: () => {
            if (!tentative) return;
            const { end: from, window } = tentative;
            tentative = undefined;
            window.provisional!.settle(false);
            // Speech resumed: go on from the held point, primed with the window so far as well.
            if (!done) current = open(from, window.samples);
          },
        }),
        'nearRealtimeLive',
      );

      const input = new Observable<AudioChunk>((inner) =>
        source.subscribe({
          next: (chunk) => {
            if (done) return;
            if (chunk.channels !== 1 || chunk.sampleRate !== rate) {
              fail(new EarshotError('EARSHOT_UNSUPPORTED_FORMAT', `transport ${transport.model} needs mono ${rate} Hz audio, got ${chunk.channels} ch at ${chunk.sampleRate} Hz: add resample(${rate})`));
              return;
            }
            recent.push(chunk);
            let kept = recent.reduce((n, c) => n + c.samples.length, 0);
            const oldest = Math.min(current?.from ?? Infinity, chunk.offset + chunk.samples.length - keepSamples);
            while (recent.length > 1 && recent[0]!.offset + recent[0]!.samples.length <= oldest && kept > keepSamples) kept -= recent.shift()!.samples.length;
            inner.next(chunk);
          },
          error: (err: unknown) => inner.error(err),
          complete: () => inner.complete(),
        }),
      );

      /** The input ended: a session still open heard no speech (the segmenter emits no window for it). */
      const close = (how: 'complete' | { error: unknown }): void => {
        if (current) {
          const unit = current;
          current = undefined;
          void unit.session?.then((x) => x.close(), () => undefined);
          finish(unit, []);
        }
        ended = how;
        flush();
      };

      // The source's error passes on unchanged, after what was already sent is out.
      const sub = input.pipe(windowsOut, options.windows ?? identity).subscribe({ error: (error: unknown) => close({ error }), complete: () => close('complete') });

      return () => {
        done = true;
        sub.unsubscribe();
        stopAll();
      };
    });
}

/** Options of {@link transcribeNearRealtime}: those of either path (each takes what it uses). */
export interface TranscribeNearRealtimeOptions extends NearRealtimeLiveOptions, Pick<TranscribeBatchOptions, 'concurrency' | 'retry' | 'speculate' | 'onSpeculation'> {
  /**
   * Decode windows live where the transport can (default true). Live windows cut the time from a pause to its final
   * to about a third (idle core, bench: median ~180 against ~530 ms), but each window starts with the earlier
   * windows' cepstral mean instead of its own and is split where speech resumed after a speculative cut: on the
   * bench's speech (a voice change every sentence) WER rose 0.5 points (4.5 → 5.0 %). `false` sends every window
   * whole, as a clip, for exactly a whole-window decode's words.
   */
  live?: boolean;
}

/**
 * Near-realtime transcription on any transport that takes clips, by what it can do: windows decoded live as they
 * are spoken where its sessions decode like clips ({@link nearRealtimeLive}, the embedded engine), else
 * `nearRealtime()` windows sent whole through `transcribeBatch()` (batch cloud models: speculative sending where a
 * cancelled request costs nothing).
 *
 * @param transport - a transport with `transcribeClip`.
 * @param options - see {@link TranscribeNearRealtimeOptions}; checked now.
 * @throws as {@link nearRealtimeLive} or `transcribeBatch()` (now and at run time).
 * @example
 * ```ts
 * fromMic().pipe(resample(16000), transcribeNearRealtime(local())).subscribe((e) => console.log(e.text));
 * ```
 */
export function transcribeNearRealtime(transport: Transport, options: TranscribeNearRealtimeOptions = {}): OperatorFunction<AudioChunk, TranscriptEvent> {
  const { concurrency, retry, speculate, onSpeculation, live: preferLive = true, ...live } = options;
  if (preferLive && transport && decodesWindowsLive(transport)) return nearRealtimeLive(transport, live);
  const { options: recognition, clock, windows, ...windowOptions } = live; // nearRealtime() reads its own options only
  const batch = transcribeBatch(transport, {
    ...(recognition ? { options: recognition } : {}),
    ...(clock ? { clock } : {}),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(retry ? { retry } : {}),
    ...(speculate === undefined ? {} : { speculate }),
    ...(onSpeculation ? { onSpeculation } : {}),
  });
  const cut = nearRealtime(windowOptions);
  return (audio) => audio.pipe(cut, windows ?? identity, batch);
}
