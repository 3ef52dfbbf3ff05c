/**
 * The hotword vocabulary API (§4): `POST /api/v1/services/audio/asr/customization` with model `speech-biasing` and
 * actions create / list / query / update / delete. Lists are kept per API key, at most
 * {@link VOCABULARIES_PER_ACCOUNT} per account (§4 community notes, §9.5: the number of lists is capped; the
 * 500-words-per-list figure is unverified and is not enforced).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hotword } from '../../transports/transport.js';
import type { EmulatorContext } from '../context.js';
import { hex32, nativeError, readJson, sendJson, serviceTimeSeconds } from './reply.js';
import { stateOf, type VocabularyRecord } from './state.js';

/** Check a vocabulary list against the service's rules; returns a message when it breaks one. */
function invalid(list: unknown): string | Hotword[] {
  if (!Array.isArray(list) || list.length === 0) return 'vocabulary must be a non-empty list';
  const out: Hotword[] = [];
  for (const item of list as Record<string, unknown>[]) {
    const text = item?.text;
    const weight = item?.weight;
    if (typeof text !== 'string' || text.trim() === '') return 'every entry needs a text';
    // eslint-disable-next-line no-control-regex
    const ascii = /^[\x00-\x7f]*$/.test(text);
    if (!ascii && [...text].length > 15) return `"${text}" is longer than 15 characters`;
    if (ascii && text.trim().split(/\s+/).length > 7) return `"${text}" has more than 7 words`;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 5) return `the weight of "${text}" must be an integer from 1 to 5`;
    const entry: Hotword = { text, weight };
    if (typeof item.lang === 'string') entry.lang = item.lang;
    out.push(entry);
  }
  return out;
}

/** Lists one account may hold (§4: "community says 10 lists"); `EmulatorContext.limits.vocabularies` overrides it. */
export const VOCABULARIES_PER_ACCOUNT = 10;

function ok(res: ServerResponse, output: unknown): void {
  sendJson(res, 200, { output, usage: { count: 1 }, request_id: randomUUID() });
}

/** `POST /api/v1/services/audio/asr/customization`. */
export async function customization(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, apiKey: string): Promise<void> {
  const body = await readJson(req);
  if (!body) return nativeError(res, 400, 'InvalidParameter', 'The request body is not valid JSON.');
  if (body.model !== 'speech-biasing') return nativeError(res, 400, 'InvalidParameter', 'Model not exist.');
  const input = (body.input ?? {}) as Record<string, unknown>;
  const vocabularies = stateOf(ctx).vocabularies;
  const find = (): VocabularyRecord | undefined => {
    const v = vocabularies.get(String(input.vocabulary_id ?? ''));
    return v && v.apiKey === apiKey ? v : undefined;
  };
  switch (input.action) {
    case 'create_vocabulary': {
      const prefix = input.prefix;
      if (typeof prefix !== 'string' || !/^[a-z0-9]{1,10}$/.test(prefix)) return nativeError(res, 400, 'InvalidParameter', 'prefix must be 1 to 10 lowercase letters or digits');
      if (typeof input.target_model !== 'string' || input.target_model === '') return nativeError(res, 400, 'InvalidParameter', 'Required parameter "target_model" missing.');
      const list = invalid(input.vocabulary);
      if (typeof list === 'string') return nativeError(res, 400, 'InvalidParameter', list);
      const cap = ctx.limits?.vocabularies ?? VOCABULARIES_PER_ACCOUNT;
      let held = 0;
      for (const v of vocabularies.values()) if (v.apiKey === apiKey) held++;
      if (held >= cap) return nativeError(res, 400, 'InvalidParameter', `the account already holds ${held} vocabularies (at most ${cap}): delete one first`);
      const now = Date.now();
      const id = `vocab-${prefix}-${hex32()}`;
      vocabularies.set(id, { id, prefix, targetModel: input.target_model, vocabulary: list, createdMs: now, modifiedMs: now, apiKey });
      return ok(res, { vocabulary_id: id });
    }
    case 'list_vocabulary': {
      const pageIndex = Math.max(0, Number(input.page_index ?? 0) || 0);
      const pageSize = Math.min(100, Math.max(1, Number(input.page_size ?? 10) || 10));
      const mine = [...vocabularies.values()].filter((v) => v.apiKey === apiKey && (input.prefix === undefined || v.prefix === input.prefix));
      const page = mine.slice(pageIndex * pageSize, (pageIndex + 1) * pageSize);
      return ok(res, { vocabulary_list: page.map((v) => ({ gmt_create: serviceTimeSeconds(v.createdMs), gmt_modified: serviceTimeSeconds(v.modifiedMs), status: 'OK', vocabulary_id: v.id })) });
    }
    case 'query_vocabulary': {
      const v = find();
      if (!v) return nativeError(res, 404, 'InvalidParameter', `vocabulary ${String(input.vocabulary_id ?? '')} does not exist`);
      return ok(res, { gmt_create: serviceTimeSeconds(v.createdMs), gmt_modified: serviceTimeSeconds(v.modifiedMs), status: 'OK', target_model: v.targetModel, vocabulary: v.vocabulary });
    }
    case 'update_vocabulary': {
      const v = find();
      if (!v) return nativeError(res, 404, 'InvalidParameter', `vocabulary ${String(input.vocabulary_id ?? '')} does not exist`);
      const list = invalid(input.vocabulary);
      if (typeof list === 'string') return nativeError(res, 400, 'InvalidParameter', list);
      v.vocabulary = list;
      v.modifiedMs = Date.now();
      return ok(res, {});
    }
    case 'delete_vocabulary': {
      const v = find();
      if (!v) return nativeError(res, 404, 'InvalidParameter', `vocabulary ${String(input.vocabulary_id ?? '')} does not exist`);
      vocabularies.delete(v.id);
      return ok(res, {});
    }
    default:
      return nativeError(res, 400, 'InvalidParameter', `unknown action ${String(input.action)}`);
  }
}
