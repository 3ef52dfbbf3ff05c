/**
 * Per-emulator state of the HTTP routes (tasks, uploaded objects, vocabularies, fault counters), kept beside the
 * context rather than in module globals so several emulators can run in one process.
 */
import type { Hotword } from '../../transports/transport.js';
import type { EmulatorContext } from '../context.js';

/** One async transcription task. */
export interface TaskRecord {
  id: string;
  model: string;
  apiKey: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED';
  submitMs: number;
  scheduledMs?: number;
  endMs?: number;
  /** The `output` fields added when the task ends (results, result, code, message, task_metrics). */
  outcome?: Record<string, unknown>;
  usage?: Record<string, unknown>;
  total: number;
}

/** An uploaded object in the emulated storage. */
export interface StoredObject {
  data: Buffer;
  model: string;
  contentType: string;
  createdMs: number;
}

/** A hotword vocabulary. */
export interface VocabularyRecord {
  id: string;
  prefix: string;
  targetModel: string;
  vocabulary: Hotword[];
  createdMs: number;
  modifiedMs: number;
  apiKey: string;
}

/** A policy handed out by getPolicy. */
export interface PolicyRecord {
  signature: string;
  uploadDir: string;
  model: string;
  expiresMs: number;
}

/** Everything the HTTP routes of one emulator remember. */
export interface HttpState {
  tasks: Map<string, TaskRecord>;
  /** Result JSON by `<taskId>/<n>`, with when it expires. */
  results: Map<string, { body: unknown; expiresMs: number }>;
  objects: Map<string, StoredObject>;
  policies: Map<string, PolicyRecord>;
  vocabularies: Map<string, VocabularyRecord>;
  /** Temporary API keys (`st-…`): the real key each acts for, and when it expires. */
  tokens: Map<string, { owner: string; expiresMs: number }>;
  scriptIndex: number;
  /** Task slots: how many run, and who waits for one. */
  queue: { running: number; waiting: (() => void)[] };
  faults: { throttled: number; failed: number; unavailable: number };
  /** `taskQueries`: when each task query arrived (ms, the last 10 000 at most). */
  stats: { requests: number; recognitions: number; audioMs: number; submits: number; taskQueries: number[] };
  /** When expired entries were last dropped. */
  sweptMs: number;
}

const OBJECT_TTL_MS = 48 * 3600_000;
const SWEEP_EVERY_MS = 60_000;

/**
 * Drop what the service would have forgotten: results and tasks past their TTL, uploaded objects after 48 h,
 * expired policies and temporary keys. Runs at most once a minute, so a long-running emulator does not grow without bound.
 *
 * @example
 * sweep(ctx, 24 * 3600_000);
 */
export function sweep(ctx: EmulatorContext, taskTtlMs: number, now = Date.now()): void {
  const s = stateOf(ctx);
  if (now - s.sweptMs < SWEEP_EVERY_MS) return;
  s.sweptMs = now;
  for (const [key, r] of s.results) if (now > r.expiresMs) s.results.delete(key);
  for (const [id, t] of s.tasks) if (now - t.submitMs > taskTtlMs && t.status !== 'PENDING' && t.status !== 'RUNNING') s.tasks.delete(id);
  for (const [key, o] of s.objects) if (now - o.createdMs > OBJECT_TTL_MS) s.objects.delete(key);
  for (const [key, p] of s.policies) if (now > p.expiresMs) s.policies.delete(key);
  for (const [key, t] of s.tokens) if (now >= t.expiresMs) s.tokens.delete(key);
}

const states = new WeakMap<EmulatorContext, HttpState>();

/** The HTTP state of an emulator (made on first use). */
export function stateOf(ctx: EmulatorContext): HttpState {
  let s = states.get(ctx);
  if (!s) {
    s = {
      tasks: new Map(),
      results: new Map(),
      objects: new Map(),
      policies: new Map(),
      vocabularies: new Map(),
      tokens: new Map(),
      scriptIndex: 0,
      queue: { running: 0, waiting: [] },
      faults: { throttled: 0, failed: 0, unavailable: 0 },
      stats: { requests: 0, recognitions: 0, audioMs: 0, submits: 0, taskQueries: [] },
      sweptMs: Date.now(),
    };
    states.set(ctx, s);
  }
  return s;
}

/**
 * What the emulator's HTTP side has done: requests served, recognitions run (each file or clip once), audio
 * recognised, tasks submitted. Tests use it to show nothing was transcribed twice.
 *
 * @example
 * httpStats(ctx).recognitions; // 1
 */
export function httpStats(ctx: EmulatorContext): Readonly<HttpState['stats']> {
  return { ...stateOf(ctx).stats };
}
