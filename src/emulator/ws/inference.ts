/**
 * The inference duplex protocol of `fun-asr-realtime` / `paraformer-realtime-*` (protocol notes §2), served on
 * `/api-ws/v1/inference`: JSON `{header, payload}` text frames, binary audio frames.
 *
 * `run-task` → `task-started`; binary audio → `result-generated` (interim: `sentence_end:false`, `end_time:null`,
 * `usage:null`; final: `sentence_end:true`, `end_time`, `usage.duration` = billed seconds so far); `finish-task` →
 * the last finals, then `task-finished`. Any failure → `task-failed` and the socket is closed. The socket can carry
 * another task with a new `task_id` (unique per connection); 60 s without a `run-task` closes it; 23 s without audio
 * during a task fails the task (`CLIENT_ERROR`, "request timeout after 23 seconds."). With `heartbeat: true`, each
 * `timers.heartbeatMs` (10 s) of audio without a result brings a `heartbeat: true` sentence (§2.8, `sentence_id` 0).
 * A `vocabulary_id` must belong to the account and have been created for the task's model (§4.1, as in batch).
 * Binary frames must hold 1–16 KB (§2.2; `limits.frameBytes`): a larger frame, or a PCM frame under 1 KB that is not
 * the task's last, fails the task (`InvalidParameter`).
 * `wav` frames: the RIFF header is parsed (any length, e.g. ffmpeg's 78 bytes with its LIST chunk) and skipped.
 *
 * `format` is `pcm` or `wav` (read in-process) or one of {@link ENCODED_FORMATS} (`mp3`, Ogg `opus` / `speex`, ADTS
 * `aac`, AMR-NB `amr`): those frames are one continuous stream decoded by a streaming ffmpeg per task
 * ({@link EncodedAudioStream}); audio it cannot decode fails the task with `NO_VALID_AUDIO_ERROR`.
 */
import type { WebSocket } from 'ws';
import { openRecognition, type Recognition, type Utterance } from '../recognizer.js';
import { PcmReader, framesToMs, sendJson, type WsEnv } from './common.js';
import { ENCODED_FORMATS, EncodedAudioStream } from './encoded-audio.js';
import { INFERENCE_MODELS } from './models.js';
import { stateOf } from '../http/state.js';
import { parseWavHead } from '../../media/wav.js';

interface Task {
  id: string;
  model: string;
  sampleRate: number;
  format: string;
  recognition: Recognition;
  reader: PcmReader;
  frames: number;
  /** Audio frames since the last speech result (the heartbeat=false silence rule). */
  silentFrames: number;
  heartbeat: boolean;
  finishing: boolean;
  sentenceId: number;
  /** Bytes of the last PCM frame when it was under the minimum (only the task's last frame may be). */
  shortFrame?: number;
  /** `wav` format: the header bytes received so far, until its `data` chunk is found (then undefined). */
  wavHead?: Buffer;
  /** Compressed formats: the task's ffmpeg. */
  decoder?: EncodedAudioStream;
  /** Set while the socket is held because the engine is behind (releases that hold). */
  engineHold?: () => void;
  /** Set while the socket is held because ffmpeg's stdin is full. */
  stdinHold?: () => void;
}

const FORMATS = ['pcm', 'wav', ...ENCODED_FORMATS.keys()];

/** Sizes of a binary audio frame (§2.2: "the SDK docs recommend 1 KB–16 KB per frame"). */
export const FRAME_BYTES = { min: 1024, max: 16 * 1024 };

/** Serve one inference-protocol connection until it closes. */
export function serveInference(ws: WebSocket, env: WsEnv, account: string): void {
  const { ctx } = env;
  const heartbeatMs = ctx.timers?.heartbeatMs ?? 10_000;
  const noAudioMs = ctx.timers?.noAudioMs ?? 23_000;
  const idleMs = ctx.timers?.idleMs ?? 60_000;
  const silenceLimitMs = ctx.timers?.silenceMs ?? 60_000;
  const used = new Set<string>();
  let task: Task | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let audioTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Reasons the socket is paused (engine behind, ffmpeg's stdin full); it reads again when none is left. */
  let holds = 0;

  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => ws.close(1000, 'idle timeout'), idleMs);
  };
  const armAudio = () => {
    clearTimeout(audioTimer);
    audioTimer = setTimeout(() => fail(task?.id ?? '', 'CLIENT_ERROR', `request timeout after ${Math.round(noAudioMs / 1000)} seconds.`), noAudioMs);
  };
  const header = (taskId: string, event: string) => ({ task_id: taskId, event, attributes: {} });

  const fail = (taskId: string, code: string, message: string) => {
    if (closed) return;
    sendJson(ws, { header: { ...header(taskId, 'task-failed'), error_code: code, error_message: message }, payload: {} });
    endTask();
    closed = true;
    clearTimeout(idleTimer);
    ws.close(1000, 'task failed');
  };

  const endTask = () => {
    clearTimeout(audioTimer);
    task?.decoder?.close();
    task?.recognition.close();
    task = undefined;
  };

  /**
   * Stop reading the socket (TCP pushes back on the client) until the returned function is called. The no-audio
   * timer counts the client's silence, not ours: it stops meanwhile and starts again when the socket reads again.
   */
  const hold = (t: Task): (() => void) => {
    if (holds++ === 0) ws.pause();
    clearTimeout(audioTimer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--holds > 0) return;
      ws.resume();
      if (task === t && !closed && !t.finishing) armAudio();
    };
  };

  const sentence = (t: Task, u: Utterance, final: boolean) => ({
    header: header(t.id, 'result-generated'),
    payload: {
      output: {
        sentence: {
          sentence_id: t.sentenceId,
          begin_time: Math.round(u.startMs),
          end_time: final ? Math.round(u.endMs) : null,
          text: u.text,
          heartbeat: false,
          sentence_end: final,
          words: u.words.map((w, k) => ({
            begin_time: Math.round(w.startMs),
            end_time: Math.round(w.endMs),
            text: k === 0 ? w.text : ` ${w.text}`,
            punctuation: '',
          })),
        },
      },
      usage: final ? { duration: Math.ceil(framesToMs(t.frames, t.sampleRate) / 1000) } : null,
    },
  });

  const runTask = (taskId: string, payload: Record<string, unknown>) => {
    if (task) return fail(taskId, 'InvalidParameter', 'a task is already running on this connection');
    if (used.has(taskId)) return fail(taskId, 'InvalidParameter', `task_id ${taskId} was already used on this connection`);
    const model = typeof payload.model === 'string' ? payload.model : '';
    const rate = INFERENCE_MODELS.get(model);
    if (rate === undefined) return fail(taskId, 'InvalidParameter', `Model not exist: ${model || '(none)'}`);
    const params = (payload.parameters ?? {}) as Record<string, unknown>;
    const format = typeof params.format === 'string' ? params.format : '';
    const sampleRate = typeof params.sample_rate === 'number' ? params.sample_rate : 0;
    if (!format || !Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 192_000) return fail(taskId, 'InvalidParameter', 'Required parameter(s) missing or invalid: format, sample_rate');
    if (!FORMATS.includes(format)) return fail(taskId, 'InvalidParameter', `unsupported audio format: ${format} (one of ${FORMATS.join(', ')})`);
    const vocabularyId = params.vocabulary_id;
    if (vocabularyId !== undefined) {
      const vocab = typeof vocabularyId === 'string' ? stateOf(ctx).vocabularies.get(vocabularyId) : undefined;
      if (!vocab || vocab.apiKey !== account) return fail(taskId, 'InvalidParameter', `vocabulary_id not found: ${String(vocabularyId)}`);
      if (vocab.targetModel !== model) return fail(taskId, 'InvalidParameter', `vocabulary target_model ${vocab.targetModel} does not match model ${model}`);
    }
    if (env.throttle()) return fail(taskId, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.');
    used.add(taskId);
    clearTimeout(idleTimer);
    const hints = Array.isArray(params.language_hints) ? params.language_hints.filter((x): x is string => typeof x === 'string') : [];
    const input = (payload.input ?? {}) as Record<string, unknown>;
    const context = contextText(input.context);
    const t: Task = {
      id: taskId,
      model,
      sampleRate,
      format,
      reader: new PcmReader(),
      frames: 0,
      silentFrames: 0,
      heartbeat: params.heartbeat === true,
      finishing: false,
      sentenceId: 1,
      ...(format === 'wav' ? { wavHead: Buffer.alloc(0) } : {}),
      recognition: openRecognition(
        ctx,
        {
          sampleRate,
          ...(hints[0] ? { language: hints[0] } : {}),
          ...(context ? { context } : {}),
          silenceMs: typeof params.max_sentence_silence === 'number' ? params.max_sentence_silence : 1300,
        },
        {
          onPartial: (u) => {
            if (task !== t) return;
            t.silentFrames = 0;
            sendJson(ws, sentence(t, u, false));
          },
          onFinal: (u) => {
            if (task !== t) return;
            t.silentFrames = 0;
            sendJson(ws, sentence(t, u, true));
            t.sentenceId++;
          },
          onError: (error) => {
            if (task === t) fail(t.id, 'InternalError.Algo', `recognition failed: ${error.message}`);
          },
        },
      ),
    };
    if (ENCODED_FORMATS.has(format)) {
      t.decoder = new EncodedAudioStream({
        format,
        sampleRate,
        onPcm: (samples) => feed(t, samples),
        onError: (error, origin) => {
          if (task !== t) return;
          if (origin === 'server') fail(t.id, 'InternalError', 'Internal server error (the audio decoder could not start).');
          else fail(t.id, 'NO_VALID_AUDIO_ERROR', `the audio is not valid ${format}: ${error.message}`);
        },
      });
    }
    task = t;
    sendJson(ws, { header: header(taskId, 'task-started'), payload: {} });
    armAudio();
  };

  const finishTask = (taskId: string) => {
    const t = task;
    if (!t || t.id !== taskId) return fail(taskId, 'InvalidParameter', `no running task ${taskId}`);
    if (t.finishing) return;
    t.finishing = true;
    clearTimeout(audioTimer);
    // A compressed stream ends when ffmpeg has given its last PCM (a failure has already failed the task).
    const decoded = t.decoder ? t.decoder.end() : Promise.resolve(true);
    void decoded.then(async (ok) => {
      if (!ok || task !== t) return;
      await t.recognition.flush();
      if (task !== t) return;
      sendJson(ws, {
        header: header(t.id, 'task-finished'),
        payload: { output: {}, usage: { duration: Math.ceil(framesToMs(t.frames, t.sampleRate) / 1000) } },
      });
      endTask();
      armIdle();
    });
  };

  /** A client's binary frame: PCM goes to the recognition, compressed audio to the task's ffmpeg. */
  const audio = (data: Buffer) => {
    const t = task;
    if (!t || t.finishing) return;
    const bounds = ctx.limits?.frameBytes ?? FRAME_BYTES;
    if (data.length > bounds.max) return fail(t.id, 'InvalidParameter', `an audio frame of ${data.length} bytes is larger than ${bounds.max} bytes: send about 100 ms a frame`);
    if (t.shortFrame !== undefined) return fail(t.id, 'InvalidParameter', `an audio frame of ${t.shortFrame} bytes is smaller than ${bounds.min} bytes: send about 100 ms a frame`);
    if (!t.decoder && data.length < bounds.min) t.shortFrame = data.length;
    if (t.decoder) {
      if (!t.decoder.write(data) && !t.stdinHold) {
        // ffmpeg is behind: hold the socket until its stdin has room.
        const release = hold(t);
        t.stdinHold = release;
        void t.decoder.drained().then(() => {
          t.stdinHold = undefined;
          release();
        });
      }
    } else {
      let bytes: Buffer | undefined = data;
      if (t.wavHead) {
        bytes = wavData(t, data);
        if (task !== t || closed) return;
      }
      if (bytes) feed(t, t.reader.read(bytes));
      if (task !== t || closed) return;
    }
    if (holds > 0) clearTimeout(audioTimer);
    else armAudio();
  };

  /**
   * The audio after a `wav` stream's header: the header bytes are kept until {@link parseWavHead} finds the `data`
   * chunk (undefined meanwhile). A stream that is not RIFF is taken as raw PCM; a non-PCM WAV fails the task (§2.2:
   * "a wav stream must be PCM-encoded").
   */
  const wavData = (t: Task, data: Buffer): Buffer | undefined => {
    const head = Buffer.concat([t.wavHead!, data]);
    let parsed: ReturnType<typeof parseWavHead>;
    try {
      parsed = parseWavHead(head);
    } catch (error) {
      fail(t.id, 'NO_VALID_AUDIO_ERROR', `the wav header is not valid: ${(error as Error).message}`);
      return undefined;
    }
    if (parsed.status === 'more') {
      t.wavHead = head;
      return undefined;
    }
    t.wavHead = undefined;
    if (parsed.status === 'not-wav') return head;
    if (parsed.status === 'other-codec') {
      fail(t.id, 'NO_VALID_AUDIO_ERROR', `a wav stream must be PCM-encoded (format tag ${parsed.formatTag})`);
      return undefined;
    }
    return head.subarray(parsed.dataOffset);
  };

  /** The task's PCM (the client's, or ffmpeg's) to the recognition, with backpressure and the audio-time faults. */
  const feed = (t: Task, samples: Int16Array) => {
    t.frames += samples.length;
    t.silentFrames += samples.length;
    if (!t.recognition.write(samples) && !t.engineHold) {
      // The engine is behind: hold the socket (and ffmpeg's output) until it catches up.
      const release = hold(t);
      const releaseOutput = t.decoder?.holdOutput();
      t.engineHold = release;
      void t.recognition.drained().then(() => {
        t.engineHold = undefined;
        releaseOutput?.();
        release();
      });
    }
    const ms = framesToMs(t.frames, t.sampleRate);
    const faults = ctx.faults;
    if (faults.dropAfterAudioMs !== undefined && ms >= faults.dropAfterAudioMs) {
      endTask();
      closed = true;
      ws.terminate();
      return;
    }
    if (faults.failAfterAudioMs !== undefined && ms >= faults.failAfterAudioMs) return fail(t.id, 'InternalError', 'Internal server error (emulated fault).');
    if (t.heartbeat && framesToMs(t.silentFrames, t.sampleRate) >= heartbeatMs) {
      t.silentFrames = 0;
      const at = Math.round(framesToMs(t.frames, t.sampleRate));
      sendJson(ws, {
        header: header(t.id, 'result-generated'),
        payload: { output: { sentence: { sentence_id: 0, begin_time: at, end_time: at, text: '', heartbeat: true, sentence_end: false, words: [] } }, usage: null },
      });
    }
    if (!t.heartbeat && framesToMs(t.silentFrames, t.sampleRate) >= silenceLimitMs) {
      endTask();
      closed = true;
      ws.close(1000, 'silence timeout');
    }
  };

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (closed) return;
    if (isBinary) return audio(data);
    let message: { header?: Record<string, unknown>; payload?: Record<string, unknown> };
    try {
      message = JSON.parse(data.toString('utf8')) as typeof message;
    } catch {
      return fail(task?.id ?? '', 'InvalidParameter', 'the text frame is not JSON');
    }
    const h = message.header ?? {};
    const taskId = typeof h.task_id === 'string' ? h.task_id : '';
    if (!taskId) return fail('', 'InvalidParameter', 'task_id length is invalid');
    switch (h.action) {
      case 'run-task':
        return runTask(taskId, message.payload ?? {});
      case 'continue-task':
        return; // context updates are accepted and not used by the emulator's recognizer
      case 'finish-task':
        return finishTask(taskId);
      default:
        return fail(taskId, 'InvalidParameter', `unknown action: ${String(h.action)}`);
    }
  });
  ws.on('close', () => {
    closed = true;
    clearTimeout(idleTimer);
    endTask();
  });
  ws.on('error', () => ws.terminate());
  armIdle();
}

/** Flatten the `input.context` turns into one prompt string. */
function contextText(context: unknown): string {
  if (!Array.isArray(context)) return '';
  const parts: string[] = [];
  for (const turn of context) {
    const content = (turn as { content?: unknown })?.content;
    if (!Array.isArray(content)) continue;
    for (const c of content) if (typeof (c as { text?: unknown })?.text === 'string') parts.push((c as { text: string }).text);
  }
  return parts.join('\n');
}
