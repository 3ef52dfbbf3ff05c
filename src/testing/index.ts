/**
 * `earshot/testing`: helpers for your own tests of pipelines built with earshot — a scripted fake transport and
 * virtual time.
 *
 * @example
 * ```ts
 * import { VirtualTimeScheduler } from 'rxjs';
 * import { fakeTransport, runVirtual } from 'earshot/testing';
 * ```
 */
export { fakeTransport } from './fake-transport.js';
export type { FakeClip, FakeSession, FakeTransport, FakeTransportOptions, ScriptedFailure } from './fake-transport.js';
export { runVirtual } from '../core/clock.js';
