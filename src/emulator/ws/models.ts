/**
 * Models the emulator serves on each WebSocket protocol (protocol notes §2.2, §5.1, §8.1), with their audio rate.
 */

/** Models of the inference duplex protocol (`/api-ws/v1/inference`) → their sample rate. */
export const INFERENCE_MODELS: ReadonlyMap<string, number> = new Map([
  ['fun-asr-realtime', 16000],
  ['fun-asr-realtime-2025-11-07', 16000],
  ['fun-asr-realtime-2025-09-15', 16000],
  ['fun-asr-realtime-2026-02-28', 16000],
  ['fun-asr-flash-8k-realtime', 8000],
  ['fun-asr-flash-8k-realtime-2026-01-28', 8000],
  ['paraformer-realtime-v2', 16000],
  ['paraformer-realtime-8k-v2', 8000],
  ['paraformer-realtime-v1', 16000],
  ['paraformer-realtime-8k-v1', 8000],
]);

/** Kinds of realtime model (`/api-ws/v1/realtime?model=…`). */
export type RealtimeKind = 'asr' | 'omni';

/** Realtime models → their kind. Dated snapshots of these names are accepted too. */
export const REALTIME_MODELS: ReadonlyMap<string, RealtimeKind> = new Map([
  ['qwen3-asr-flash-realtime', 'asr'],
  ['qwen3-omni-flash-realtime', 'omni'],
  ['qwen3.5-omni-flash-realtime', 'omni'],
  ['qwen3.5-omni-plus-realtime', 'omni'],
  ['qwen-omni-turbo-realtime', 'omni'],
  ['qwen-omni-turbo-realtime-latest', 'omni'],
]);

/** The kind of a realtime model, accepting `-YYYY-MM-DD` snapshots; undefined when unknown. */
export function realtimeKind(model: string): RealtimeKind | undefined {
  return REALTIME_MODELS.get(model) ?? REALTIME_MODELS.get(model.replace(/-\d{4}-\d{2}-\d{2}$/, ''));
}
