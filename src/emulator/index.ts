/**
 * `earshot/emulator`: a protocol-faithful local emulator of the DashScope (Qwen Cloud) speech APIs, with scripted
 * results and fault injection, for tests and offline development.
 *
 * @example
 * ```ts
 * import { startEmulator } from 'earshot/emulator';
 * const emu = await startEmulator({ apiKeys: ['sk-test'], script: [{ text: 'hello world', emotion: 'happy' }] });
 * // DASHSCOPE_BASE_URL=emu.url DASHSCOPE_API_KEY=sk-test
 * await emu.close();
 * ```
 */
export { startEmulator, type Emulator, type EmulatorOptions } from './server.js';
export type { EmulatorContext, FaultOptions, ProtocolTimers, ScriptedUtterance } from './context.js';
export { OMNI_SESSION_CAP_MS } from './ws/omni-realtime.js';
