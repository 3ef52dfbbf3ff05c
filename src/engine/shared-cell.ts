/**
 * The cell through which engine decoders in several threads of one process share the read-only parts of a model
 * (see {@link sharedModelCell}). No native code here: the pool (main thread) makes and recycles cells, the decoders
 * (`pocketsphinx.ts`, in the workers) fill and read them.
 */
/** @internal Cell states (Int32 at index 0); index 1 holds the loading thread's id; BigInt64 slots from byte 8. */
export const CELL_EMPTY = 0;
export const CELL_LOADING = 1;
export const CELL_READY = 2;
export const CELL_OFF = 3;
const CELL_BYTES = 48;


/**
 * A cell through which decoders in any thread of this process share the read-only parts of one model: the first
 * decoder given the cell loads the n-gram language model and the dictionary (only the words that model knows: the
 * others can never be recognised) and publishes them; the others load
 * only the acoustic model and their own search structures (a decoder then costs ~33 MB instead of ~90 MB) and get
 * a private copy of the language model's small header with its own scoring caches, the only part the library writes
 * while decoding. Results are the same as with fully separate decoders. Pass the cell as `DecoderConfig.shared`
 * (it crosses to worker threads in `workerData`). The shared parts are never freed.
 *
 * @example
 * ```ts
 * const shared = sharedModelCell();
 * const a = new Decoder({ shared });
 * const b = new Decoder({ shared }); // shares a's dictionary and language model
 * ```
 */
export function sharedModelCell(): SharedArrayBuffer {
  return new SharedArrayBuffer(CELL_BYTES);
}

/**
 * If a thread dies while loading a cell's shared parts (`threadId` is that thread), reopen the cell so that another
 * decoder loads them; decoders waiting on it wake up.
 *
 * @param cell - a cell from {@link sharedModelCell}.
 * @param threadId - the dead thread's `threadId`.
 * @example
 * ```ts
 * worker.on('exit', () => releaseSharedModelCell(cell, worker.threadId));
 * ```
 */
export function releaseSharedModelCell(cell: SharedArrayBuffer, threadId: number): void {
  const state = new Int32Array(cell, 0, 2);
  if (Atomics.load(state, 1) === threadId && Atomics.compareExchange(state, 0, CELL_LOADING, CELL_EMPTY) === CELL_LOADING) Atomics.notify(state, 0);
}

