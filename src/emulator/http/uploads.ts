/**
 * Temporary file upload (§1.8): `GET /api/v1/uploads?action=getPolicy&model=…` hands out a signed policy whose
 * `upload_host` is the emulator itself (`<baseUrl>/oss`), which then plays the storage endpoint: it takes the
 * `multipart/form-data` POST, checks the policy, signature, key and expiry, and keeps the object for `oss://` use.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from '../context.js';
import { hex32, readBody, sendJson, serviceTime, nativeError, BodyTooLarge } from './reply.js';
import { stateOf } from './state.js';

const POLICY_TTL_S = 300;
const MAX_FILE_MB = 100;
const SIGNING_KEY = randomUUID();

/** `GET /api/v1/uploads?action=getPolicy&model=…`. */
export function getPolicy(ctx: EmulatorContext, res: ServerResponse, query: URLSearchParams): void {
  if (query.get('action') !== 'getPolicy') return nativeError(res, 400, 'InvalidParameter', 'action must be getPolicy');
  const model = query.get('model');
  if (!model) return nativeError(res, 400, 'InvalidParameter', 'Required parameter "model" missing.');
  const expiresMs = Date.now() + POLICY_TTL_S * 1000;
  const uploadDir = `dashscope-instant/${hex32()}/${serviceTime().slice(0, 10)}/${hex32().slice(0, 12)}`;
  const policy = Buffer.from(JSON.stringify({ expiration: new Date(expiresMs).toISOString(), conditions: [['content-length-range', 0, MAX_FILE_MB * 1048576], ['starts-with', '$key', uploadDir]] })).toString('base64');
  const signature = createHmac('sha1', SIGNING_KEY).update(policy).digest('base64');
  stateOf(ctx).policies.set(policy, { signature, uploadDir, model, expiresMs });
  sendJson(res, 200, {
    request_id: randomUUID(),
    data: {
      policy,
      signature,
      upload_dir: uploadDir,
      upload_host: `${ctx.baseUrl}/oss`,
      expire_in_seconds: POLICY_TTL_S,
      max_file_size_mb: MAX_FILE_MB,
      capacity_limit_mb: 999999999,
      oss_access_key_id: 'LTAIemulator',
      x_oss_object_acl: 'private',
      x_oss_forbid_overwrite: 'true',
    },
  });
}

function ossError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>${code}</Code>\n  <Message>${message}</Message>\n  <RequestId>${randomUUID()}</RequestId>\n</Error>\n`);
}

/** `POST <baseUrl>/oss`: the storage endpoint. Success is HTTP 200 with an empty body. */
export async function storageUpload(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type)) {
    req.resume();
    return ossError(res, 400, 'InvalidArgument', 'The body of your POST request is not well-formed multipart/form-data.');
  }
  let raw: Buffer;
  try {
    raw = await readBody(req, (MAX_FILE_MB + 1) * 1048576);
  } catch (err) {
    if (err instanceof BodyTooLarge) return ossError(res, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    throw err;
  }
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw), { headers: { 'content-type': type } }).formData();
  } catch {
    return ossError(res, 400, 'InvalidArgument', 'The body of your POST request is not well-formed multipart/form-data.');
  }
  const names = [...form.keys()];
  if (names[names.length - 1] !== 'file') return ossError(res, 400, 'InvalidArgument', 'The file part must be the last field of the form.');
  const policy = String(form.get('policy') ?? '');
  const record = stateOf(ctx).policies.get(policy);
  if (!record || form.get('Signature') !== record.signature || form.get('OSSAccessKeyId') !== 'LTAIemulator') {
    return ossError(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  if (Date.now() > record.expiresMs) return ossError(res, 403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
  const key = String(form.get('key') ?? '');
  if (!key.startsWith(`${record.uploadDir}/`)) return ossError(res, 403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", …]');
  const file = form.get('file');
  if (!file || typeof file === 'string') return ossError(res, 400, 'InvalidArgument', 'The form has no file.');
  const state = stateOf(ctx);
  if (state.objects.has(key) && form.get('x-oss-forbid-overwrite') === 'true') return ossError(res, 409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.');
  state.objects.set(key, { data: Buffer.from(await file.arrayBuffer()), model: record.model, contentType: String(form.get('x-oss-content-type') ?? file.type ?? 'application/octet-stream'), createdMs: Date.now() });
  const status = Number(form.get('success_action_status') ?? 204);
  res.writeHead(status === 200 || status === 201 ? status : 204);
  res.end();
}
