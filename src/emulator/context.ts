/**
 * State shared by every protocol the emulator serves: accepted keys, the recogniser behind it (the embedded
 * engine, or a script), and the faults to inject. Protocol handlers receive one `EmulatorContext`.
 */
import type { Transport } from '../transports/transport.js';

/** A scripted reply: what the emulator "recognises" instead of running the engine. */
export interface ScriptedUtterance {
  text: string;
  emotion?: string;
  language?: string;
  /** Delay before the result is sent, ms. */
  delayMs?: number;
}

/** Faults the emulator can inject (all off by default). */
export interface FaultOptions {
  /** Drop the WebSocket after this many ms of audio received in a session (repeats each session). */
  dropAfterAudioMs?: number;
  /** Send task-failed / an error event after this many ms of audio. */
  failAfterAudioMs?: number;
  /** Reply 429 Throttling to this many requests/connections before serving normally. */
  throttleFirst?: number;
  /** Reply 500 to this many HTTP requests before serving normally. */
  serverErrorFirst?: number;
  /** Extra delay before every result, ms. */
  resultDelayMs?: number;
  /** Cap of realtime (Omni) sessions in ms; default 120 min. */
  sessionCapMs?: number;
  /** Fail async tasks (FAILED) instead of running them. */
  failTasks?: boolean;
  /** Result URLs expire after this many ms (default 24 h). */
  resultTtlMs?: number;
  /**
   * Answer this many task queries (`GET|POST /api/v1/tasks/{id}`) with 503 then 504, alternately, before serving
   * them: the statuses the SDK's `wait()` retries (§1.4, §1.7).
   */
  taskQueryUnavailableFirst?: number;
}

/** Account limits the service documents only loosely (§4, §9.5). */
export interface AccountLimits {
  /** Hotword lists one account may hold (default 10, the community figure of §4). */
  vocabularies?: number;
  /**
   * Bytes of a binary audio frame on the inference protocol (§2.2: "1 KB–16 KB per frame"; default 1024–16384).
   * `min` applies to PCM (`pcm`, `wav`) frames other than a task's last; `max` to every frame.
   */
  frameBytes?: { min: number; max: number };
}

export interface EmulatorContext {
  /** Keys accepted in `Authorization: Bearer` or `?api_key=`. Empty set = any non-empty key. */
  apiKeys: Set<string>;
  /** The engine that recognises real audio (the embedded engine by default). */
  recognizer?: Transport;
  /** Scripted mode: utterances replayed in order instead of recognition. */
  script?: ScriptedUtterance[];
  faults: FaultOptions;
  /** Per-account limits (defaults: the figures of the protocol notes, §9.5). */
  limits?: AccountLimits;
  /** The emulator's own base URL once listening (`http://127.0.0.1:PORT`). */
  baseUrl: string;
  /** WebSocket protocol timers (defaults: the service's own); tests shorten them. */
  timers?: ProtocolTimers;
  /**
   * Engine mode: decode each utterance with an engine stream of its own (opened as the previous one ends), so a result
   * does not depend on what the session heard before (reproducible across reconnects). Decoded as the audio arrives,
   * like the default: no second decode when an utterance ends.
   */
  stateless?: boolean;
  /** Hosts (besides loopback) the task APIs may download `file_url`s from, as `host` or `host:port`, lowercase. */
  allowHosts?: ReadonlySet<string>;
}

/** Timers of the WebSocket protocols, ms. */
export interface ProtocolTimers {
  /** Inference protocol: no audio frame for this long during a task → task-failed CLIENT_ERROR (default 23 000). */
  noAudioMs?: number;
  /** Inference protocol: no run-task for this long after connect or a task's end → close (default 60 000). */
  idleMs?: number;
  /** Inference protocol with heartbeat off: this much audio without speech → close (default 60 000). */
  silenceMs?: number;
  /** Inference protocol with heartbeat on: a `heartbeat:true` sentence after each this much audio without a result (default 10 000). */
  heartbeatMs?: number;
}
