import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeSpeech, SENTENCES, wavHeader } from '../../helpers/speech.js';
import { fakeRecognizer, KEY, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ recognizer: fakeRecognizer('hello big world') });
});
afterEach(async () => {
  await h.close();
});

const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(`${h.url}${path}`, { method: init.method ?? (init.body ? 'POST' : 'GET'), headers: { ...auth, ...init.headers }, ...(init.body ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers, text };
}
const async = { 'x-dashscope-async': 'enable' };
async function poll(id: string, method = 'GET'): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const { body } = await call(`/api/v1/tasks/${id}`, { method });
    if (!['PENDING', 'RUNNING'].includes(body.output.task_status)) return body;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('task did not end');
}
const speechUrl = (): string => `data:;base64,${readFileSync(makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path).toString('base64')}`;

describe('emulator: auth and faults', () => {
  it('401 with the native or compatible body; unknown routes are not handled', async () => {
    const native = await call('/api/v1/tasks/x', { headers: { authorization: 'Bearer sk-wrong-000000' } });
    expect(native.status).toBe(401);
    expect(native.body).toMatchObject({ code: 'InvalidApiKey', message: 'Invalid API-key provided.', request_id: expect.any(String) });
    const compat = await call('/compatible-mode/v1/chat/completions', { body: {}, headers: { authorization: '' } });
    expect(compat.status).toBe(401);
    expect(compat.body.error).toMatchObject({ code: 'invalid_api_key', param: null });
    expect((await call('/api/v1/nothing')).status).toBe(404);
    // the scheme is case-insensitive
    expect((await call('/api/v1/tasks/x', { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200);
  });

  it('429 with Retry-After, then 500, then normal service', async () => {
    h.ctx.faults.throttleFirst = 1;
    h.ctx.faults.serverErrorFirst = 1;
    const a = await call('/api/v1/tasks/x');
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('1');
    expect(a.body.code).toBe('Throttling.RateQuota');
    const b = await call('/api/v1/tasks/x');
    expect(b.status).toBe(500);
    expect(b.body.code).toBe('InternalError');
    expect((await call('/api/v1/tasks/x')).body.output.task_status).toBe('UNKNOWN');
  });
});

describe('emulator: async task API', () => {
  it('refuses a submit without X-DashScope-Async, a missing/unknown model and missing file_urls', async () => {
    const noAsync = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: ['http://x/a.wav'] } } });
    expect(noAsync).toMatchObject({ status: 403, body: { code: 'AccessDenied', message: 'current user api does not support synchronous calls' } });
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { input: {} }, headers: async })).body.code).toBe('BadRequest.EmptyModel');
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { model: 'nope', input: {} }, headers: async })).body).toMatchObject({ code: 'InvalidParameter', message: 'Model not exist.' });
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: {} }, headers: async })).status).toBe(400);
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { model: 'qwen3-asr-flash-filetrans', input: { file_urls: ['x'] } }, headers: async })).status).toBe(400);
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: ['oss://a/b.wav'] } }, headers: async })).status).toBe(400);
    expect((await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: ['http://x/a.wav'] }, parameters: { diarization_enabled: true, speaker_count: 1 } }, headers: async })).status).toBe(400);
  });

  it('runs a fun-asr task (GET and POST polls) and serves the §3.4 result JSON from a signed URL', async () => {
    const upload = await uploadSpeech('fun-asr');
    const submit = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: [upload] }, parameters: { channel_id: [0] } }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    expect(submit.body.output).toEqual({ task_status: 'PENDING', task_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const done = await poll(submit.body.output.task_id, 'POST');
    expect(done.output).toMatchObject({ task_status: 'SUCCEEDED', task_metrics: { TOTAL: 1, SUCCEEDED: 1, FAILED: 0 }, results: [{ file_url: upload, subtask_status: 'SUCCEEDED' }] });
    expect(done.output.submit_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    expect(done.usage.duration).toBeGreaterThan(0);
    const resultUrl = new URL(done.output.results[0].transcription_url);
    expect(resultUrl.searchParams.get('Expires')).toMatch(/^\d+$/);
    const result = (await (await fetch(resultUrl)).json()) as any;
    expect(result.properties).toMatchObject({ audio_format: 'pcm_s16le', channels: [0], original_sampling_rate: 16000 });
    expect(result.transcripts[0].sentences[0]).toMatchObject({ sentence_id: 1, text: 'hello big world', begin_time: 0 });
    expect(result.transcripts[0].sentences[0].speaker_id).toBeUndefined();
    expect(result.transcripts[0].sentences[0].words[0]).toEqual({ begin_time: 0, end_time: expect.any(Number), text: 'hello', punctuation: '' });
    resultUrl.searchParams.set('Signature', 'forged');
    const forged = await fetch(resultUrl);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('runs a fun-asr task over several files: one result per file, a missing one FAILED, the task SUCCEEDED', async () => {
    const first = await uploadSpeech('fun-asr');
    const second = await uploadSpeech('fun-asr');
    const missing = `${h.url}/no/such/file.wav`;
    const submit = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: [first, missing, second] }, parameters: {} }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    const done = await poll(submit.body.output.task_id);
    expect(done.output).toMatchObject({
      task_status: 'SUCCEEDED',
      task_metrics: { TOTAL: 3, SUCCEEDED: 2, FAILED: 1 },
      results: [
        { file_url: first, subtask_status: 'SUCCEEDED' },
        { file_url: missing, subtask_status: 'FAILED', code: expect.any(String) },
        { file_url: second, subtask_status: 'SUCCEEDED' },
      ],
    });
    const texts = await Promise.all([0, 2].map(async (i) => ((await (await fetch(done.output.results[i].transcription_url)).json()) as any).transcripts[0].text));
    expect(texts).toEqual(['hello big world', 'hello big world']);
    const tooMany = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: Array.from({ length: 101 }, () => first) }, parameters: {} }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    expect(tooMany.status).toBe(400);
  });

  it('runs a qwen3-asr-flash-filetrans task with the §6.3 shapes', async () => {
    const upload = await uploadSpeech('qwen3-asr-flash-filetrans');
    const submit = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'qwen3-asr-flash-filetrans', input: { file_url: upload }, parameters: { language: 'en', enable_words: false } }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    const done = await poll(submit.body.output.task_id);
    expect(done.output.result.transcription_url).toContain('/results/');
    expect(done.output.results).toBeUndefined();
    expect(done.usage.seconds).toBeGreaterThan(0);
    const result = (await (await fetch(done.output.result.transcription_url)).json()) as any;
    expect(result.audio_info).toEqual({ format: 'pcm_s16le', sample_rate: 16000 });
    expect(result.transcripts[0].sentences[0]).toMatchObject({ sentence_id: 0, language: 'en', emotion: 'neutral', text: 'hello big world' });
    expect(result.transcripts[0].sentences[0].words).toBeUndefined();
  });

  it('refuses an oss:// file uploaded for another model; fails a task whose file is gone; cancel needs PENDING; unknown ids are UNKNOWN', async () => {
    const upload = await uploadSpeech('paraformer-v2');
    const other = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'qwen3-asr-flash-filetrans', input: { file_url: upload } }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    expect(other).toMatchObject({ status: 400, body: { code: 'invalid_parameter_error' } });
    const submit = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'qwen3-asr-flash-filetrans', input: { file_url: 'http://127.0.0.1:9/gone.wav' } }, headers: async });
    const done = await poll(submit.body.output.task_id);
    expect(done.output).toMatchObject({ task_status: 'FAILED', code: 'FILE_DOWNLOAD_FAILED', message: 'FILE_DOWNLOAD_FAILED' });
    expect((await call(`/api/v1/tasks/${submit.body.output.task_id}/cancel`, { method: 'POST' })).status).toBe(400);
    expect((await call('/api/v1/tasks/no-such-task')).body.output).toEqual({ task_id: 'no-such-task', task_status: 'UNKNOWN' });
    const list = await call('/api/v1/tasks?page_no=1&page_size=10');
    expect(list.body).toMatchObject({ total: 1, page_no: 1, data: [{ task_id: submit.body.output.task_id, status: 'FAILED' }] });
  });
});

describe('emulator: uploads', () => {
  it('hands out a policy whose upload_host is the emulator, and the storage checks signature and field order', async () => {
    const policy = (await call('/api/v1/uploads?action=getPolicy&model=fun-asr')).body.data;
    expect(policy).toMatchObject({ upload_host: `${h.url}/oss`, expire_in_seconds: 300, max_file_size_mb: 100, x_oss_object_acl: 'private', x_oss_forbid_overwrite: 'true' });
    const form = (fields: Record<string, string>, fileFirst = false): FormData => {
      const f = new FormData();
      if (fileFirst) f.append('file', new Blob([Buffer.from('RIFF')]), 'a.wav');
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      if (!fileFirst) f.append('file', new Blob([Buffer.from('RIFF')]), 'a.wav');
      return f;
    };
    const fields = { OSSAccessKeyId: policy.oss_access_key_id, Signature: policy.signature, policy: policy.policy, key: `${policy.upload_dir}/a.wav`, 'x-oss-object-acl': 'private', 'x-oss-forbid-overwrite': 'true', success_action_status: '200' };
    expect((await fetch(policy.upload_host, { method: 'POST', body: form({ ...fields, Signature: 'forged' }) })).status).toBe(403);
    expect((await fetch(policy.upload_host, { method: 'POST', body: form(fields, true) })).status).toBe(400);
    expect((await fetch(policy.upload_host, { method: 'POST', body: form({ ...fields, key: 'elsewhere/a.wav' }) })).status).toBe(403);
    const ok = await fetch(policy.upload_host, { method: 'POST', body: form(fields) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('');
    expect((await fetch(policy.upload_host, { method: 'POST', body: form(fields) })).status).toBe(409);
  });
});

describe('emulator: compatible-mode chat completions', () => {
  it('streams role, content, finish and usage chunks then [DONE] for Omni', async () => {
    const res = await fetch(`${h.url}/compatible-mode/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'qwen3.5-omni-flash', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: speechUrl(), format: 'wav' } }] }], stream: true, stream_options: { include_usage: true }, modalities: ['text'] }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const blocks = (await res.text()).split('\n\n').filter(Boolean);
    expect(blocks.at(-1)).toBe('data: [DONE]');
    const chunks = blocks.slice(0, -1).map((b) => JSON.parse(b.slice('data: '.length)));
    expect(chunks[0].choices[0].delta).toEqual({ content: '', role: 'assistant' });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('hello big world');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], object: 'chat.completion.chunk', usage: { prompt_tokens_details: { audio_tokens: expect.any(Number) } } });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].id).toMatch(/^chatcmpl-/);
  });

  it('answers qwen3-asr-flash without streaming, with annotations', async () => {
    const { body } = await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-asr-flash', messages: [{ role: 'system', content: [{ text: 'ctx' }] }, { role: 'user', content: [{ type: 'input_audio', input_audio: { data: speechUrl() } }] }], stream: false, asr_options: { language: 'en' } } });
    expect(body).toMatchObject({ object: 'chat.completion', model: 'qwen3-asr-flash', choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: 'hello big world', annotations: [{ type: 'audio_info', language: 'en', emotion: 'neutral' }] } }], usage: { seconds: expect.any(Number) } });
  });

  it('refuses non-stream Omni, two audios, oversize and overlong audio, and unknown models', async () => {
    const audio = { type: 'input_audio', input_audio: { data: speechUrl(), format: 'wav' } };
    const nonStream = await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-omni-flash', messages: [{ role: 'user', content: [audio] }] } });
    expect(nonStream.status).toBe(400);
    expect(nonStream.body.error.message).toContain('This model only support stream mode');
    expect((await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-asr-flash', messages: [{ role: 'user', content: [audio, audio] }] } })).status).toBe(400);
    const big = `data:;base64,${Buffer.alloc(8 * 1024 * 1024).toString('base64')}`;
    const oversize = await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-asr-flash', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: big } }] }] } });
    expect(oversize.body.error.message).toContain('Multimodal file size is too large');
    const sixMinutes = wav(6 * 60 * 8000); // 8 kHz keeps it under the 10 MB payload cap
    const long = await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-asr-flash', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:audio/wav;base64,${sixMinutes.toString('base64')}` } }] }] } });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toContain('The audio is too long');
    expect((await call('/compatible-mode/v1/chat/completions', { body: { model: 'gpt-4o', messages: [] } })).body.error.code).toBe('model_not_found');
  });
});

describe('emulator: exact both ways (what the service accepts, and what it refuses)', () => {
  const sse = async (body: unknown): Promise<any[]> => {
    const res = await fetch(`${h.url}/compatible-mode/v1/chat/completions`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const blocks = (await res.text()).split('\n\n').filter(Boolean);
    expect(blocks.at(-1)).toBe('data: [DONE]');
    return blocks.slice(0, -1).map((b) => JSON.parse(b.slice('data: '.length)));
  };

  it('§7.1 a text-only Omni turn is answered (different turns may use different modalities)', async () => {
    const chunks = await sse({ model: 'qwen3-omni-flash', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'say ok' }] }], stream: true, modalities: ['text'] });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('say ok');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    const plain = await sse({ model: 'qwen3.5-omni-flash', messages: [{ role: 'user', content: 'hello there' }], stream: true, modalities: ['text'] });
    expect(plain.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('hello there');
    // qwen3-asr-flash still needs its one audio item (§6.1).
    expect((await call('/compatible-mode/v1/chat/completions', { body: { model: 'qwen3-asr-flash', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] } })).status).toBe(400);
  });

  it('§7.3 Omni with audio output (the default modalities) streams delta.audio chunks, the last with the transcript; ["text"] streams none', async () => {
    const audio = { type: 'input_audio', input_audio: { data: speechUrl(), format: 'wav' } };
    const spoken = await sse({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: [audio] }], stream: true, audio: { voice: 'Cherry', format: 'wav' } });
    const audios = spoken.map((c) => c.choices[0]?.delta?.audio).filter(Boolean);
    expect(audios.length).toBeGreaterThan(0);
    expect(audios[0]).toMatchObject({ data: expect.any(String), expires_at: expect.any(Number), id: expect.stringMatching(/^audio_/) });
    expect(audios.at(-1).transcript).toBe('hello big world');
    expect(spoken.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('hello big world');
    const textOnly = await sse({ model: 'qwen3-omni-flash', messages: [{ role: 'user', content: [audio] }], stream: true, modalities: ['text'] });
    expect(textOnly.some((c) => c.choices[0]?.delta?.audio)).toBe(false);
  });

  it('§1.4/§1.7 task queries can answer 503 then 504 (the statuses the SDK wait() retries), then the task as usual', async () => {
    h.ctx.faults = { taskQueryUnavailableFirst: 2 };
    const submit = await call('/api/v1/services/audio/asr/transcription', { headers: async, body: { model: 'fun-asr', input: { file_urls: [speechUrl()] }, parameters: {} } });
    const id = submit.body.output.task_id as string;
    const first = await call(`/api/v1/tasks/${id}`);
    const second = await call(`/api/v1/tasks/${id}`);
    expect([first.status, second.status]).toEqual([503, 504]);
    expect(first.body).toMatchObject({ code: 'ServiceUnavailable', request_id: expect.any(String) });
    expect((await poll(id)).output.task_status).toBe('SUCCEEDED');
  });

  it('§4 / §9.5: a list of more than 500 words is accepted; an account holds at most 10 lists (limits.vocabularies), other accounts are not counted', async () => {
    const create = (n: number, key = KEY) =>
      call('/api/v1/services/audio/asr/customization', { headers: { authorization: `Bearer ${key}` }, body: { model: 'speech-biasing', input: { action: 'create_vocabulary', target_model: 'fun-asr', prefix: 'p', vocabulary: Array.from({ length: n }, (_, i) => ({ text: `word${i}`, weight: 3 })) } } });
    expect((await create(600)).status).toBe(200);
    for (let i = 1; i < 10; i++) expect((await create(1)).status).toBe(200);
    const eleventh = await create(1);
    expect(eleventh.status).toBe(400);
    expect(eleventh.body).toMatchObject({ code: 'InvalidParameter', message: expect.stringMatching(/at most 10/) });
    h.ctx.apiKeys.add('sk-test-other-account');
    expect((await create(1, 'sk-test-other-account')).status).toBe(200);
    h.ctx.limits = { vocabularies: 11 };
    expect((await create(1)).status).toBe(200);
  });
});

function wav(samples: number): Buffer {
  return Buffer.concat([wavHeader(samples * 2, 8000), Buffer.alloc(samples * 2, 1)]);
}

async function uploadSpeech(model: string): Promise<string> {
  const { uploadFile } = await import('../../../src/transports/dashscope/upload.js');
  const { DashScopeHttp } = await import('../../../src/transports/dashscope/http.js');
  const http = new DashScopeHttp({ apiKey: KEY });
  const url = await uploadFile(http, `${h.url}/api/v1`, model, makeSpeech({ sentences: SENTENCES.slice(0, 1) }).path);
  await http.close();
  return url;
}

describe('emulator: memory', () => {
  it('drops expired results, tasks, objects and policies', async () => {
    const { stateOf, sweep } = await import('../../../src/emulator/http/state.js');
    await call('/api/v1/uploads?action=getPolicy&model=fun-asr');
    const upload = await uploadSpeech('fun-asr');
    const submit = await call('/api/v1/services/audio/asr/transcription', { body: { model: 'fun-asr', input: { file_urls: [upload] } }, headers: { ...async, 'x-dashscope-ossresourceresolve': 'enable' } });
    await poll(submit.body.output.task_id);
    const s = stateOf(h.ctx);
    expect([s.results.size, s.tasks.size, s.objects.size, s.policies.size]).toEqual([1, 1, 1, 2]);
    sweep(h.ctx, 24 * 3600_000, Date.now() + 60 * 3600_000);
    expect([s.results.size, s.tasks.size, s.objects.size, s.policies.size]).toEqual([0, 0, 0, 0]);
  });
});

describe('emulator: native qwen3-asr-flash (§6.2)', () => {
  const body = (stream: boolean): Record<string, unknown> => ({
    model: 'qwen3-asr-flash',
    input: { messages: [{ role: 'system', content: [{ text: 'context' }] }, { role: 'user', content: [{ audio: speechUrl() }] }] },
    parameters: { asr_options: { language: 'en', enable_itn: false }, ...(stream ? { incremental_output: true } : {}) },
  });

  it('answers with output.choices[0].message content and annotations', async () => {
    const res = await call('/api/v1/services/aigc/multimodal-generation/generation', { body: body(false) });
    expect(res.body).toMatchObject({ output: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: [{ text: 'hello big world' }], annotations: [{ language: 'en', type: 'audio_info', emotion: 'neutral' }] } }] }, usage: { seconds: expect.any(Number) }, request_id: expect.any(String) });
  });

  it('streams native SSE blocks with X-DashScope-SSE: enable (deltas, no [DONE])', async () => {
    const res = await call('/api/v1/services/aigc/multimodal-generation/generation', { body: body(true), headers: { 'x-dashscope-sse': 'enable' } });
    const blocks = res.text.split('\n\n').filter(Boolean);
    expect(blocks[0]).toMatch(/^id:1\nevent:result\n:HTTP_STATUS\/200\ndata:\{/);
    const data = blocks.map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data:'))!.slice(5)));
    expect(data.map((d) => d.output.choices[0].message.content[0]?.text ?? '').join('')).toBe('hello big world');
    expect(data.at(-1).output.choices[0].finish_reason).toBe('stop');
    expect(data.at(-1).usage).toBeDefined();
    expect(res.text).not.toContain('[DONE]');
  });

  it('refuses Omni models and requests without audio', async () => {
    expect((await call('/api/v1/services/aigc/multimodal-generation/generation', { body: { model: 'qwen3-omni-flash', input: { messages: [{ role: 'user', content: [{ audio: speechUrl() }] }] } } })).status).toBe(400);
    expect((await call('/api/v1/services/aigc/multimodal-generation/generation', { body: { model: 'qwen3-asr-flash', input: { messages: [] } } })).body.code).toBe('BadRequest.EmptyInput');
  });
});
