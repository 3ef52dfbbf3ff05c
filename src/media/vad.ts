/**
 * A thin wrapper over WebRTC's voice activity detector (libfvad compiled to WASM, `@echogarden/fvad-wasm`).
 *
 * The WASM module is compiled once per process and cached (it holds no per-stream state); every {@link Vad}
 * owns its own detector and frame buffer inside it and must be closed.
 */
import { EarshotError, InvalidArgumentError } from '../core/errors.js';

/** Sample rates WebRTC VAD accepts. */
export type VadSampleRate = 8000 | 16000 | 32000 | 48000;
/** Aggressiveness: 0 (quality, most speech kept) to 3 (very aggressive, least noise kept). */
export type VadMode = 0 | 1 | 2 | 3;
/** Frame lengths WebRTC VAD accepts, in ms. */
export type VadFrameMs = 10 | 20 | 30;

/** Settings of one detector. */
export interface VadOptions {
  sampleRate: number;
  /** Aggressiveness 0–3 (default 2). */
  mode?: VadMode;
  /** Frame length in ms: 10, 20 or 30 (default 10). */
  frameMs?: VadFrameMs;
}

interface FvadWasm {
  HEAP16: Int16Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_reset(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, frame: number, length: number): number;
}

/** The sample rates WebRTC VAD takes. */
export const VAD_SAMPLE_RATES: readonly VadSampleRate[] = [8000, 16000, 32000, 48000];
const RATES: readonly number[] = VAD_SAMPLE_RATES;

// Cache of the compiled module: immutable once loaded, shared by every detector (each has its own state).
let wasm: FvadWasm | undefined;
let loading: Promise<FvadWasm> | undefined;

function load(): Promise<FvadWasm> {
  loading ??= (async () => {
    // A non-literal specifier: the package ships no type declarations.
    const specifier = '@echogarden/fvad-wasm';
    const mod = (await import(specifier)) as { default: () => Promise<FvadWasm> };
    wasm = await mod.default();
    return wasm;
  })().catch((err: unknown) => {
    loading = undefined;
    throw new EarshotError('EARSHOT_ENGINE_UNAVAILABLE', 'could not load the WebRTC VAD (WASM)', { cause: err });
  });
  return loading;
}

/**
 * Load the VAD's WASM module ahead of time, so that {@link openVad} answers synchronously afterwards.
 *
 * @throws EARSHOT_ENGINE_UNAVAILABLE (rejection) if the module cannot be loaded.
 * @example
 * ```ts
 * await loadVad();
 * const vad = openVad({ sampleRate: 16000 }) as Vad;
 * ```
 */
export async function loadVad(): Promise<void> {
  await load();
}

/**
 * One WebRTC VAD detector: feed it frames of exactly {@link Vad.frameSize} samples, in order.
 * Create it with {@link openVad}; call {@link Vad.close} when done.
 */
export class Vad {
  /** Samples per frame at the detector's rate. */
  readonly frameSize: number;
  readonly sampleRate: number;
  readonly frameMs: VadFrameMs;
  #wasm: FvadWasm;
  #inst: number;
  #buf: number;

  /** @internal use {@link openVad}. */
  constructor(module: FvadWasm, options: Required<VadOptions>) {
    this.#wasm = module;
    this.sampleRate = options.sampleRate;
    this.frameMs = options.frameMs;
    this.frameSize = (options.sampleRate * options.frameMs) / 1000;
    this.#inst = module._fvad_new();
    if (!this.#inst) throw new EarshotError('EARSHOT_ENGINE_FAILED', 'fvad_new failed (out of memory)');
    if (module._fvad_set_mode(this.#inst, options.mode) !== 0 || module._fvad_set_sample_rate(this.#inst, options.sampleRate) !== 0) {
      module._fvad_free(this.#inst);
      throw new InvalidArgumentError(`WebRTC VAD rejected mode ${options.mode} at ${options.sampleRate} Hz`);
    }
    this.#buf = module._malloc(this.frameSize * 2);
  }

  /**
   * Classify one frame.
   *
   * @param samples - mono s16 audio holding the frame.
   * @param start - index of the frame's first sample in `samples` (default 0); `frameSize` samples are read.
   * @returns true when the frame holds speech.
   * @throws EARSHOT_ENGINE_FAILED if the detector was closed or rejects the frame.
   */
  isSpeech(samples: Int16Array, start = 0): boolean {
    if (!this.#inst) throw new EarshotError('EARSHOT_ENGINE_FAILED', 'the VAD was closed');
    // Read HEAP16 each time: the WASM memory may have grown (and its views been replaced) since the last call.
    this.#wasm.HEAP16.set(samples.subarray(start, start + this.frameSize), this.#buf >> 1);
    const r = this.#wasm._fvad_process(this.#inst, this.#buf, this.frameSize);
    if (r < 0) throw new EarshotError('EARSHOT_ENGINE_FAILED', `WebRTC VAD rejected a frame of ${this.frameSize} samples`);
    return r === 1;
  }

  /** Forget the detector's adaptive state (as if new). */
  reset(): void {
    if (this.#inst) this.#wasm._fvad_reset(this.#inst);
  }

  /** Free the detector. Safe to call twice. */
  close(): void {
    if (!this.#inst) return;
    this.#wasm._fvad_free(this.#inst);
    this.#wasm._free(this.#buf);
    this.#inst = 0;
    this.#buf = 0;
  }
}

/**
 * Open a detector: synchronously once the module is loaded ({@link loadVad}), else as a promise.
 *
 * @param options - sample rate (8000, 16000, 32000 or 48000), mode 0–3 (default 2), frame 10/20/30 ms (default 10).
 * @throws EARSHOT_INVALID_ARGUMENT for an unsupported rate, mode or frame length; EARSHOT_ENGINE_UNAVAILABLE
 *   (rejection) if the WASM module cannot be loaded.
 * @example
 * ```ts
 * const vad = await openVad({ sampleRate: 16000, mode: 3 });
 * const speech = vad.isSpeech(frame);
 * vad.close();
 * ```
 */
export function openVad(options: VadOptions): Vad | Promise<Vad> {
  const full: Required<VadOptions> = { mode: 2, frameMs: 10, ...options };
  if (!RATES.includes(full.sampleRate)) {
    throw new InvalidArgumentError(`WebRTC VAD needs 8000, 16000, 32000 or 48000 Hz audio, got ${full.sampleRate}: add resample(16000)`);
  }
  if (![0, 1, 2, 3].includes(full.mode)) throw new InvalidArgumentError(`VAD mode must be 0–3, got ${full.mode}`);
  if (![10, 20, 30].includes(full.frameMs)) throw new InvalidArgumentError(`VAD frames must be 10, 20 or 30 ms, got ${full.frameMs}`);
  if (wasm) return new Vad(wasm, full);
  return load().then((m) => new Vad(m, full));
}
