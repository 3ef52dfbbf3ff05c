/**
 * The end of a streaming session on a {@link DashScopeSocket}: fail once (reject the open while opening, else the end
 * and `stream.onError`), finish once, and the abort listener that fails it.
 */
import { AbortError, TransportError, type EarshotError } from '../../core/errors.js';
import type { StreamOptions } from '../transport.js';
import type { DashScopeSocket } from './ws-client.js';

/** What a session tells {@link sessionLife} about its own state. */
export interface SessionLifeHooks {
  /** Whether the session has already ended (nothing more to settle). */
  isDone(): boolean;
  /** Whether the session is still opening: a failure then rejects the open rather than the end. */
  isOpening(): boolean;
  /** Mark the session ended and release what the session itself holds (timers). */
  markDone(): void;
  /** Reject the pending open. */
  rejectOpen(error: EarshotError): void;
}

/** The terminal state of one session, from {@link sessionLife}. */
export interface SessionLife {
  /** The error that ended the session, once it failed. */
  readonly failure: EarshotError | undefined;
  /** Resolves when the session finished, rejects with its failure (never unhandled). */
  readonly ended: Promise<void>;
  /** End the session with `error` (no-op once ended): terminate the socket, reject the open or the end + `stream.onError`. */
  fail(error: EarshotError): void;
  /** End the session cleanly (no-op once ended): `close` or `terminate` the socket and resolve the end. */
  finish(how: 'close' | 'terminate'): void;
}

/**
 * Own the end of a session: listens for `stream.signal` aborts (failing with an `EARSHOT_ABORTED` error) until it ends,
 * and fails a session still opening after `openTimeoutMs` (a server that accepted the connection and says nothing)
 * with a retryable `EARSHOT_TIMEOUT`.
 *
 * @param socket The session's socket.
 * @param stream The stream options (signal, onError).
 * @param hooks The session's state.
 * @param openTimeoutMs How long the session may stay opening, ms (default 15 000).
 * @returns The session's terminal state.
 * @example
 * const life = sessionLife(socket, stream, { isDone: () => state === 'done', isOpening: () => state === 'starting', markDone: () => { state = 'done'; }, rejectOpen });
 */
export function sessionLife(socket: DashScopeSocket, stream: StreamOptions, hooks: SessionLifeHooks, openTimeoutMs = 15_000): SessionLife {
  let failure: EarshotError | undefined;
  let resolveEnd: (() => void) | undefined;
  let rejectEnd: ((e: EarshotError) => void) | undefined;
  const ended = new Promise<void>((resolve, reject) => {
    resolveEnd = resolve;
    rejectEnd = reject;
  });
  ended.catch(() => {});

  const fail = (error: EarshotError): void => {
    if (hooks.isDone()) return;
    const opening = hooks.isOpening();
    clearTimeout(openTimer);
    hooks.markDone();
    failure = error;
    stream.signal?.removeEventListener('abort', onAbort);
    socket.terminate();
    if (opening) return hooks.rejectOpen(error);
    rejectEnd?.(error);
    stream.onError(error);
  };
  const onAbort = () => fail(new AbortError(stream.signal?.reason));
  stream.signal?.addEventListener('abort', onAbort, { once: true });
  const openTimer = setTimeout(() => {
    if (hooks.isOpening()) fail(new TransportError('EARSHOT_TIMEOUT', `the server did not start the session within ${openTimeoutMs} ms`, { retryable: true }));
  }, openTimeoutMs);
  openTimer.unref();

  return {
    get failure() {
      return failure;
    },
    ended,
    fail,
    finish(how) {
      if (hooks.isDone()) return;
      clearTimeout(openTimer);
      hooks.markDone();
      stream.signal?.removeEventListener('abort', onAbort);
      if (how === 'close') socket.close();
      else socket.terminate();
      resolveEnd?.();
    },
  };
}
