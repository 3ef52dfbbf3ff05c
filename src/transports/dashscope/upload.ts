/**
 * Local files to `oss://` URLs the way the service does it (§1.8): ask `GET /uploads?action=getPolicy&model=…` for a
 * signed policy, POST the file as `multipart/form-data` to the policy's `upload_host` (file part last), and use
 * `oss://<key>` with `X-DashScope-OssResourceResolve: enable`. Also the pre-upload limit check (size, duration by
 * ffprobe) and a WAV encoder for clips.
 */
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FormData } from 'undici';
import { EarshotError, InputError, TransportError } from '../../core/errors.js';
import type { DashScopeHttp } from './http.js';
import { errorFromResponse } from './errors.js';
import { probeDurationMs, transcodeFile } from '../../media/ffmpeg.js';

/** The `data` of a getPolicy reply. */
export interface UploadPolicy {
  policy: string;
  signature: string;
  upload_dir: string;
  upload_host: string;
  expire_in_seconds: number;
  max_file_size_mb: number;
  capacity_limit_mb?: number;
  oss_access_key_id: string;
  x_oss_object_acl: string;
  x_oss_forbid_overwrite: string;
}

/** What to upload: a path on disk, or bytes with a file name. */
export type UploadSource = string | { data: Uint8Array; filename: string; contentType?: string };

/**
 * Upload a local file (or bytes) to the service's temporary storage.
 *
 * @param http - The shared client.
 * @param httpBase - Native base (`…/api/v1`).
 * @param model - The model that will consume the file (the URL is bound to it).
 * @param source - A path, or `{ data, filename }`.
 * @param options - `signal`; `transcode` (default true): a file over the policy's size limit is first re-encoded to
 *   16 kHz Opus, channels kept (what speech recognition needs), and that is uploaded.
 * @returns The `oss://` URL (valid 48 h; send `X-DashScope-OssResourceResolve: enable` with it).
 * @throws EARSHOT_FILE_NOT_FOUND, EARSHOT_LIMIT_EXCEEDED (bigger than the policy's `max_file_size_mb`, even re-encoded),
 *   EARSHOT_DECODE_FAILED (re-encoding failed),
 *   EARSHOT_AUTH_FAILED, EARSHOT_THROTTLED, EARSHOT_REQUEST_FAILED (storage refused: e.g. "Policy expired"), EARSHOT_ABORTED.
 * @example
 * const url = await uploadFile(http, 'https://dashscope.aliyuncs.com/api/v1', 'fun-asr', 'talk.mp3');
 */
export async function uploadFile(http: DashScopeHttp, httpBase: string, model: string, source: UploadSource, options: { signal?: AbortSignal; transcode?: boolean } = {}): Promise<string> {
  let size: number;
  let blob: Blob;
  let filename: string;
  let contentType = 'application/octet-stream';
  if (typeof source === 'string') {
    try {
      size = (await stat(source)).size;
    } catch (cause) {
      throw new InputError('EARSHOT_FILE_NOT_FOUND', `cannot read ${source}`, { cause, details: { path: source } });
    }
    filename = basename(source);
    blob = await openAsBlob(source);
  } else {
    size = source.data.byteLength;
    filename = source.filename;
    contentType = source.contentType ?? contentType;
    blob = new Blob([new Uint8Array(source.data)], { type: contentType });
  }
  const { body } = await http.json<{ data?: UploadPolicy }>(`${httpBase}/uploads?action=getPolicy&model=${encodeURIComponent(model)}`, { signal: options.signal });
  const policy = body.data;
  if (!policy?.upload_host || !policy.upload_dir) throw new TransportError('EARSHOT_PROTOCOL_ERROR', 'the upload policy reply has no upload_host/upload_dir');
  if (policy.max_file_size_mb && size > policy.max_file_size_mb * 1024 * 1024 && typeof source === 'string' && options.transcode !== false) {
    // Too big for temporary storage as it is: speech survives 16 kHz Opus at 24 kbit/s (12 h ≈ 130 MB, 1 h ≈ 11 MB).
    const dir = await mkdtemp(join(tmpdir(), 'earshot-upload-'));
    try {
      const smaller = join(dir, `${basename(source).replace(/\.[^.]*$/, '')}.ogg`);
      await transcodeFile(source, smaller, UPLOAD_CODEC, options.signal ? { signal: options.signal } : {});
      return await uploadFile(http, httpBase, model, smaller, { ...options, transcode: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (policy.max_file_size_mb && size > policy.max_file_size_mb * 1024 * 1024) {
    throw new EarshotError('EARSHOT_LIMIT_EXCEEDED', `${filename} is ${(size / 1048576).toFixed(1)} MB; temporary uploads take at most ${policy.max_file_size_mb} MB (give a public URL instead)`, {
      details: { bytes: size, maxBytes: policy.max_file_size_mb * 1048576 },
    });
  }
  const key = `${policy.upload_dir}/${filename.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const form = new FormData();
  form.append('OSSAccessKeyId', policy.oss_access_key_id);
  form.append('Signature', policy.signature);
  form.append('policy', policy.policy);
  form.append('key', key);
  form.append('x-oss-object-acl', policy.x_oss_object_acl);
  form.append('x-oss-forbid-overwrite', policy.x_oss_forbid_overwrite);
  form.append('success_action_status', '200');
  form.append('x-oss-content-type', contentType);
  form.append('file', blob, filename);
  // The storage host is a different service: no Authorization header (the policy signature authorises it).
  const res = await http.raw(policy.upload_host, { method: 'POST', auth: false, rawBody: form as never, signal: options.signal });
  if (res.status < 200 || res.status >= 300) throw errorFromResponse(res.status, res.text, res.headers, http.secrets);
  return `oss://${key}`;
}

/** 16 kHz Opus at 24 kbit/s (Ogg), channels kept (a stereo call keeps both sides): how a file too big for temporary storage is re-encoded. */
const UPLOAD_CODEC = ['-ar', '16000', '-c:a', 'libopus', '-b:a', '24k', '-application', 'voip'] as const;

/** Longest and largest file the async transcription API takes (§3.2, §6.3). */
export const BATCH_LIMITS = { maxBytes: 2 * 1024 ** 3, maxDurationMs: 12 * 3600_000 } as const;

/**
 * Check a local file against the batch limits before anything is uploaded: size by `stat`, duration by `ffprobe`.
 *
 * @param path - The file.
 * @param limits - Defaults to {@link BATCH_LIMITS} (2 GB, 12 h).
 * @returns The file's size and duration.
 * @throws EARSHOT_FILE_NOT_FOUND, EARSHOT_LIMIT_EXCEEDED, EARSHOT_CORRUPT_INPUT / EARSHOT_UNSUPPORTED_FORMAT /
 *   EARSHOT_DECODE_FAILED (ffprobe cannot read it), EARSHOT_FFMPEG_MISSING.
 * @example
 * await checkFileLimits('meeting.mp3'); // { bytes: 5_120_000, durationMs: 320_000 }
 */
export async function checkFileLimits(path: string, limits: { maxBytes: number; maxDurationMs: number } = BATCH_LIMITS): Promise<{ bytes: number; durationMs: number }> {
  let bytes: number;
  try {
    bytes = (await stat(path)).size;
  } catch (cause) {
    throw new InputError('EARSHOT_FILE_NOT_FOUND', `cannot read ${path}`, { cause, details: { path } });
  }
  if (bytes > limits.maxBytes) {
    throw new EarshotError('EARSHOT_LIMIT_EXCEEDED', `${basename(path)} is ${(bytes / 1024 ** 3).toFixed(2)} GB; the service takes at most ${(limits.maxBytes / 1024 ** 3).toFixed(0)} GB per file`, {
      details: { path, bytes, maxBytes: limits.maxBytes },
    });
  }
  const durationMs = await probeDurationMs(path);
  if (durationMs > limits.maxDurationMs) {
    throw new EarshotError('EARSHOT_LIMIT_EXCEEDED', `${basename(path)} lasts ${(durationMs / 3600_000).toFixed(2)} h; the service takes at most ${limits.maxDurationMs / 3600_000} h per file`, {
      details: { path, durationMs, maxDurationMs: limits.maxDurationMs },
    });
  }
  return { bytes, durationMs };
}

/**
 * Encode mono signed 16-bit PCM as a WAV file.
 *
 * @example
 * const wav = encodeWav(new Int16Array(16000), 16000); // one second of silence
 */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0);
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8);
  out.write('fmt ', 12);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36);
  out.writeUInt32LE(dataBytes, 40);
  Buffer.from(samples.buffer, samples.byteOffset, dataBytes).copy(out, 44);
  return out;
}

/**
 * Turn what the caller gave into a URL the service can read: http(s) and `oss://` URLs pass through; a local path is
 * checked against the limits (before anything is sent) and uploaded; bytes are uploaded.
 *
 * @returns The URL, and whether requests must carry `X-DashScope-OssResourceResolve: enable`.
 * @throws as {@link checkFileLimits} and {@link uploadFile}.
 * @example
 * const { url, oss } = await resolveSource(http, httpBase, 'fun-asr', 'talk.mp3');
 */
export async function resolveSource(
  http: DashScopeHttp,
  httpBase: string,
  model: string,
  source: UploadSource,
  options: { signal?: AbortSignal; limits?: { maxBytes: number; maxDurationMs: number }; onUpload?: () => void } = {},
): Promise<{ url: string; oss: boolean; durationMs?: number }> {
  if (typeof source === 'string' && /^(https?|oss):\/\//i.test(source)) return { url: source, oss: source.startsWith('oss://') };
  let durationMs: number | undefined;
  if (typeof source === 'string') durationMs = (await checkFileLimits(source, options.limits)).durationMs;
  else if (source.data.byteLength > (options.limits ?? BATCH_LIMITS).maxBytes) {
    throw new EarshotError('EARSHOT_LIMIT_EXCEEDED', `${source.filename} is over ${(options.limits ?? BATCH_LIMITS).maxBytes} bytes`, { details: { bytes: source.data.byteLength } });
  }
  options.onUpload?.();
  const url = await uploadFile(http, httpBase, model, source, options.signal ? { signal: options.signal } : {});
  const out: { url: string; oss: boolean; durationMs?: number } = { url, oss: true };
  if (durationMs !== undefined) out.durationMs = durationMs;
  return out;
}
