/**
 * Listeners attached as one unit: what a source adds to a socket or stream, removed together by its teardown.
 */
import type { EventEmitter } from 'node:events';

/** Event handlers by event name. */
export type Handlers = Record<string, (...args: any[]) => void>;

/**
 * Attach `handlers` to `emitter`; the returned function removes exactly those listeners (safe to call twice).
 *
 * @example
 * const detach = listen(socket, { data: onData, end: onEnd, close: onEnd, error: onError });
 * // … in the teardown:
 * detach();
 */
export function listen(emitter: Pick<EventEmitter, 'on' | 'off'>, handlers: Handlers): () => void {
  const entries = Object.entries(handlers);
  for (const [event, handler] of entries) emitter.on(event, handler);
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    for (const [event, handler] of entries) emitter.off(event, handler);
  };
}
