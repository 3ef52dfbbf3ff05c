/**
 * Bytes of any audio format to interleaved s16 PCM at a chosen rate and channel count: this module sniffs the
 * input and chooses the path; the in-process path is `media/pcm-decoder.ts`, the ffmpeg one `media/ffmpeg-decoder.ts`.
 */
import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type { FlowControl } from '../core/flow.js';
import { InputError, InvalidArgumentError, toEarshotError } from '../core/errors.js';
import type { AudioChunk, ByteChunk } from '../core/types.js';
import { canRemix, parseWavHead, MAX_WAV_HEAD, type PcmEncoding, type PcmFormat } from '../media/wav.js';
import { PcmDecoder } from '../media/pcm-decoder.js';
import { FfmpegDecoder } from '../media/ffmpeg-decoder.js';
import { resample } from './resample.js';

/** Raw PCM formats decode() converts in-process. */
export const RAW_PCM_FORMATS: readonly PcmEncoding[] = ['u8', 's16le', 's24le', 's32le', 'f32le', 'f64le'];
/** Raw formats handed to ffmpeg (headerless G.711). */
export const RAW_FFMPEG_FORMATS = ['mulaw', 'alaw'] as const;

/** Headerless input: what the bytes are, since nothing in them says so. */
export interface RawInput {
  /** Sample encoding: in-process for {@link RAW_PCM_FORMATS}, through ffmpeg for `mulaw` / `alaw`. */
  format: PcmEncoding | (typeof RAW_FFMPEG_FORMATS)[number];
  sampleRate: number;
  channels: number;
}

/** Options of {@link decode}. */
export interface DecodeOptions {
  /** Output sample rate in Hz (default 16000). */
  sampleRate?: number;
  /** Output channel count (default 1). */
  channels?: number;
  /** Headerless input (raw PCM); without it the input's format is found from its bytes. */
  input?: RawInput;
  /**
   * `'auto'` (default): WAV with integer or float PCM already at `sampleRate`, and raw PCM, are decoded
   * in-process; everything else (a WAV at another rate included: ffmpeg converts it at less CPU than the WASM
   * resampler, with soxr's > 90 dB aliasing rejection) by ffmpeg. `'native'`: in-process only (anything else is
   * EARSHOT_UNSUPPORTED_FORMAT). `'ffmpeg'`: always ffmpeg.
   */
  decoder?: 'auto' | 'native' | 'ffmpeg';
  /** The ffmpeg executable (default `'ffmpeg'` on PATH). */
  ffmpegPath?: string;
  /** Speex quality of the in-process resampler, 0–10 (default 4: > 85 dB aliasing rejection). */
  resampleQuality?: number;
}

const MAX_RATE = 1_000_000;
const MAX_CHANNELS = 64;

function validate(options: DecodeOptions): Required<Omit<DecodeOptions, 'input'>> & { input?: RawInput } {
  const sampleRate = options.sampleRate ?? 16000;
  const channels = options.channels ?? 1;
  const decoder = options.decoder ?? 'auto';
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > MAX_RATE) throw new InvalidArgumentError(`decode: sampleRate must be an integer in 1..${MAX_RATE}`, { details: { sampleRate } });
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) throw new InvalidArgumentError(`decode: channels must be an integer in 1..${MAX_CHANNELS}`, { details: { channels } });
  if (decoder !== 'auto' && decoder !== 'native' && decoder !== 'ffmpeg') throw new InvalidArgumentError("decode: decoder must be 'auto', 'native' or 'ffmpeg'", { details: { decoder } });
  const input = options.input;
  if (input) {
    const known = (RAW_PCM_FORMATS as readonly string[]).includes(input.format) || (RAW_FFMPEG_FORMATS as readonly string[]).includes(input.format);
    if (!known) throw new InvalidArgumentError(`decode: unknown raw input format ${JSON.stringify(input.format)}`, { details: { format: input.format } });
    if (!Number.isInteger(input.sampleRate) || input.sampleRate < 1 || input.sampleRate > MAX_RATE) throw new InvalidArgumentError('decode: input.sampleRate must be a positive integer', { details: { sampleRate: input.sampleRate } });
    if (!Number.isInteger(input.channels) || input.channels < 1 || input.channels > MAX_CHANNELS) throw new InvalidArgumentError('decode: input.channels must be a positive integer', { details: { channels: input.channels } });
  }
  const resampleQuality = options.resampleQuality ?? 4;
  if (!Number.isInteger(resampleQuality) || resampleQuality < 0 || resampleQuality > 10) throw new InvalidArgumentError('decode: resampleQuality must be an integer in 0..10');
  return { sampleRate, channels, decoder, ffmpegPath: options.ffmpegPath ?? 'ffmpeg', resampleQuality, ...(input ? { input } : {}) };
}

/**
 * Decode audio bytes (WAV, MP3, AAC, M4A/MP4, Ogg/Opus, FLAC, µ-law WAV, raw PCM, …) to interleaved s16 PCM
 * at `sampleRate` Hz and `channels` channels. `offset` counts output frames from the start of the input.
 *
 * Two paths:
 * - **in-process** (spawns nothing): WAV holding 8/16/24/32-bit integer or 32/64-bit float PCM, and raw PCM given
 *   by `input`. The header is parsed from the first bytes, the data chunk is streamed, samples are converted to
 *   s16 (wider integers keep their top 16 bits, floats are rounded and clipped), channels are averaged to mono or
 *   copied from mono, and the rate is converted with {@link resample}. Output chunks carry the input chunk's `flow`.
 * - **ffmpeg** for everything else (and for channel layouts other than N→1 / 1→N), which also converts the rate and
 *   the channels, with soxr where the build has it (else a steep swr filter): > 80 dB aliasing rejection, the same
 *   samples however the input arrives (file or pipe). When the first chunk names its file (`chunk.source.path`,
 *   set by `fromFile()` and kept by operators that pass chunks on, so `fromFile(p).pipe(tap(…), decode())` works
 *   too) ffmpeg reads the file itself with `-i <path>`, which MP4/M4A need (their index may sit at the end), a WAV
 *   in 32 KiB packets (ffmpeg's cost per packet is most of its cost on WAV); any other source is piped to ffmpeg's
 *   stdin, and the source's flow is held while stdin is full. Output chunks carry a FlowControl of their own:
 *   holding it pauses ffmpeg's stdout, which stops ffmpeg, which fills its stdin and so holds the input's flow
 *   (demand reaches the source without the deadlock that sharing one flow between both ends of ffmpeg would
 *   cause). Hot inputs (chunks without `flow`) give chunks without `flow`.
 *
 * Errors arrive after every frame decoded before them. A WAV whose data chunk is cut short emits all it holds,
 * then errors with EARSHOT_CORRUPT_INPUT; a truncated compressed file is decoded as far as ffmpeg can and
 * completes when ffmpeg exits 0 (it treats a cut MP3/AAC/FLAC as a short file). Unsubscribing kills ffmpeg
 * (SIGKILL) and releases everything.
 *
 * @param options - see {@link DecodeOptions}; defaults: 16000 Hz, mono, `decoder: 'auto'`.
 * @returns an operator from ByteChunk to AudioChunk.
 * @throws EARSHOT_INVALID_ARGUMENT (synchronously) for bad options. At run time: EARSHOT_EMPTY_INPUT (no bytes,
 *   or no audio frames), EARSHOT_CORRUPT_INPUT (ffmpeg found invalid data; an impossible or cut WAV header),
 *   EARSHOT_UNSUPPORTED_FORMAT (no decoder for it, or not in-process with `decoder: 'native'`),
 *   EARSHOT_DECODE_FAILED (ffmpeg failed otherwise), EARSHOT_FFMPEG_MISSING; ffmpeg's stderr tail is in
 *   `details.stderr`. Messages name the file by the path given. Source errors pass through.
 * @example
 * ```ts
 * import { fromFile, decode } from 'earshot';
 * fromFile('talk.m4a').pipe(decode({ sampleRate: 16000 })).subscribe((c) => console.log(c.offset / c.sampleRate));
 * ```
 */
export function decode(options: DecodeOptions = {}): OperatorFunction<ByteChunk, AudioChunk> {
  const opts = validate(options);
  const { sampleRate, channels } = opts;

  return (source) =>
    new Observable<AudioChunk>((subscriber) => {
      let filePath: string | undefined;
      let name = 'input';
      let closed = false;
      let sourceSub: Subscription | undefined;
      let stopSourceSoon = false;
      const stopSource = (): void => {
        if (sourceSub) sourceSub.unsubscribe();
        else stopSourceSoon = true;
      };

      // Sniffing state: bytes received before the path is chosen.
      let headParts: Buffer[] = [];
      let headBytes = 0;
      let firstFlow: FlowControl | undefined;
      let started = false;
      let mode: 'sniff' | 'native' | 'ffmpeg' = 'sniff';

      // ---- in-process path: PcmDecoder, then resample() when the rate differs ----
      let nativeIn: Subject<AudioChunk> | undefined;
      let nativeSub: Subscription | undefined;
      let pcm: PcmDecoder | undefined;
      let nativeDone = false;

      const startNative = (format: PcmFormat, rest: Buffer, declared: number | undefined, flow: FlowControl | undefined): void => {
        mode = 'native';
        const input = new Subject<AudioChunk>();
        nativeIn = input;
        const out$ = format.sampleRate !== sampleRate ? input.pipe(resample(sampleRate, { quality: opts.resampleQuality })) : input;
        nativeSub = out$.subscribe({
          next: (c) => subscriber.next(c),
          error: (e: unknown) => subscriber.error(e),
          complete: () => subscriber.complete(),
        });
        pcm = new PcmDecoder(format, channels, declared);
        if (rest.length > 0) pushNative(rest, flow);
      };

      const pushNative = (data: Buffer, flow: FlowControl | undefined): void => {
        if (nativeDone) return;
        const offset = pcm!.frames;
        const samples = pcm!.push(data);
        if (samples) nativeIn!.next({ kind: 'audio', samples, sampleRate: pcm!.format.sampleRate, channels, offset, ...(flow ? { flow } : {}) });
        if (pcm!.full) endNative();
      };

      const endNative = (): void => {
        if (nativeDone) return;
        nativeDone = true;
        stopSource();
        const err = pcm!.end(name);
        if (err) nativeIn!.error(err);
        else nativeIn!.complete();
      };

      // ---- ffmpeg path: FfmpegDecoder reading the file itself, or its stdin ----
      let ff: FfmpegDecoder | undefined;

      const startFfmpeg = (head: Buffer, flow: FlowControl | undefined, wav = false): void => {
        mode = 'ffmpeg';
        const useFile = filePath !== undefined && !opts.input;
        if (useFile) stopSource();
        const raw = opts.input; // ffmpeg's demuxer names match RawInput's formats
        ff = new FfmpegDecoder(
          {
            ffmpegPath: opts.ffmpegPath,
            input: useFile ? { path: filePath! } : { stdin: true, ...(raw ? { rawFormat: raw } : {}) },
            sampleRate,
            channels,
            name,
            flowControl: useFile || flow !== undefined,
            ...(wav && useFile ? { wav: true } : {}),
          },
          {
            chunk: (c) => subscriber.next(c),
            end: (err) => {
              stopSource();
              if (err) subscriber.error(err);
              else subscriber.complete();
            },
          },
        );
        if (!useFile) ff.write(head, flow);
      };

      // ---- choosing the path ----
      let headNeed = 0; // bytes the WAV parser asked for before it can go on (no re-parsing, no re-copying before)
      const decide = (ended: boolean): void => {
        if (!ended && headBytes < headNeed) return;
        const head = headParts.length === 1 ? headParts[0]! : Buffer.concat(headParts);
        headParts = [head];
        if (ended && head.length === 0) {
          subscriber.error(new InputError('EARSHOT_EMPTY_INPUT', `${name} is empty`, { details: { file: name } }));
          return;
        }
        const raw = opts.input;
        if (raw && (RAW_PCM_FORMATS as readonly string[]).includes(raw.format) && opts.decoder !== 'ffmpeg' && canRemix(raw.channels, channels)) {
          startNative({ encoding: raw.format as PcmEncoding, sampleRate: raw.sampleRate, channels: raw.channels }, head, undefined, firstFlow);
        } else if (raw || opts.decoder === 'ffmpeg') {
          if (raw && opts.decoder === 'native') return void subscriber.error(unsupported(`raw ${raw.format} with ${raw.channels} channels to ${channels}`));
          startFfmpeg(head, firstFlow);
        } else {
          const wav = parseWavHead(head, ended);
          if (wav.status === 'more') {
            headNeed = wav.need;
            return;
          }
          // A WAV at another rate goes to ffmpeg in 'auto' mode: read in large packets and converted by soxr, it
          // costs less CPU than bare ffmpeg's defaults, let alone the WASM resampler here.
          const nativeFits = wav.status === 'pcm' && canRemix(wav.format.channels, channels) && (opts.decoder === 'native' || wav.format.sampleRate === sampleRate);
          if (wav.status === 'pcm' && nativeFits) {
            startNative(wav.format, head.subarray(wav.dataOffset), wav.dataBytes, firstFlow);
          } else if (opts.decoder === 'native') {
            return void subscriber.error(unsupported(wav.status === 'other-codec' ? `WAV format tag ${wav.formatTag} with ${wav.bitsPerSample}-bit samples` : wav.status === 'pcm' ? `${wav.format.channels} to ${channels} channels` : 'a non-WAV input'));
          } else startFfmpeg(head, firstFlow, wav.status === 'pcm' || wav.status === 'other-codec');
        }
        headParts = [];
        headBytes = 0;
        if (mode !== 'sniff' && ended) endInput();
      };
      const unsupported = (what: string): InputError => new InputError('EARSHOT_UNSUPPORTED_FORMAT', `${name}: ${what} cannot be decoded in-process (decoder: 'native')`, { details: { file: name } });

      const endInput = (): void => {
        if (mode === 'native') endNative();
        else if (mode === 'ffmpeg') ff?.end();
      };

      const guard = (fn: () => void): void => {
        try {
          fn();
        } catch (err) {
          subscriber.error(toEarshotError(err, 'EARSHOT_DECODE_FAILED'));
        }
      };

      sourceSub = source.subscribe({
        next: (chunk) =>
          guard(() => {
            if (closed) return;
            if (mode === 'sniff') {
              if (!started) {
                // The first chunk says where the bytes come from: a file ffmpeg may open itself.
                started = true;
                filePath = chunk.source?.path;
                if (filePath) name = filePath;
              }
              firstFlow ??= chunk.flow;
              headParts.push(chunk.data);
              headBytes += chunk.data.length;
              if (headBytes > MAX_WAV_HEAD + 64 * 1024 && !opts.input) throw new InputError('EARSHOT_CORRUPT_INPUT', `${name}: WAV header larger than 16 MiB`);
              decide(false);
            } else if (mode === 'native') pushNative(chunk.data, chunk.flow);
            else ff?.write(chunk.data, chunk.flow);
          }),
        error: (err: unknown) => {
          if (mode === 'native' && nativeIn) nativeIn.error(err);
          else subscriber.error(err);
        },
        complete: () =>
          guard(() => {
            if (mode === 'sniff') decide(true);
            else endInput();
          }),
      });
      if (stopSourceSoon) sourceSub.unsubscribe();

      return () => {
        closed = true;
        sourceSub?.unsubscribe();
        nativeSub?.unsubscribe();
        ff?.kill();
      };
    });
}
