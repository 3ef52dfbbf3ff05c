/**
 * libuv's thread pool, where the engine's decoders run their heavy calls (koffi's asynchronous calls).
 */

/**
 * Threads in libuv's thread pool as `UV_THREADPOOL_SIZE` says (default 4, at most 1024). libuv reads the variable
 * once, when its pool first starts: set later, this tells what was asked, not what runs.
 *
 * @example
 * ```ts
 * if (poolSize > libuvThreads()) console.warn('not every decoder can run at once');
 * ```
 */
export function libuvThreads(): number {
  const n = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return n > 0 ? Math.min(n, 1024) : 4;
}
