/**
 * A failure as the CLI tells it: the library's errors speak to a programmer (`pass { apiKey }`, `pass its path`);
 * here the same failure names the environment variable, the flag or the package to install instead.
 */
import type { EarshotError } from '../core/errors.js';
import { modelInfo } from '../transports/catalog.js';
import { DEFAULT_BASE_URL } from '../transports/dashscope/config.js';

/** What the command was doing when it failed. */
export interface FailureContext {
  /** The `--model` of the command, if it has one. */
  model?: string;
  env: NodeJS.ProcessEnv;
}

/** Errno codes of a host that cannot be reached at all (refused, unknown, unroutable, no answer to connect). */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/;

function errnoChain(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) errnoChain(inner).forEach((c) => codes.push(c));
  }
  return codes;
}

function providerOf(model: string | undefined): string | undefined {
  if (!model) return undefined;
  try {
    return modelInfo(model).provider;
  } catch {
    return undefined;
  }
}

/**
 * The one line the CLI prints for a failure: `EARSHOT_CODE: message`, with what to do in CLI terms.
 *
 * @param err - the failure.
 * @param context - the command's model and environment.
 * @example
 * ```ts
 * cliLine(new EarshotError('EARSHOT_MISSING_API_KEY', 'no API key: set DASHSCOPE_API_KEY or pass { apiKey }'), { model: 'fun-asr', env: {} });
 * // 'EARSHOT_MISSING_API_KEY: model fun-asr runs in Qwen Cloud and needs a key: set DASHSCOPE_API_KEY (or use the offline engine: --model local)'
 * ```
 */
export function cliLine(err: EarshotError, context: FailureContext): string {
  const provider = providerOf(context.model);
  switch (err.code) {
    case 'EARSHOT_MISSING_API_KEY':
      return `${err.code}: ${context.model ? `model ${context.model} runs in Qwen Cloud and needs a key` : 'no API key'}: set DASHSCOPE_API_KEY (or use the offline engine: --model local)`;
    case 'EARSHOT_FFMPEG_MISSING': {
      const program = typeof err.details?.program === 'string' ? err.details.program : 'ffmpeg';
      return `${err.code}: cannot run ${program}: install ffmpeg (it brings ffprobe; apt-get install ffmpeg) and make sure it is on PATH`;
    }
    case 'EARSHOT_CONNECTION_LOST':
    case 'EARSHOT_TIMEOUT':
      if (provider === 'dashscope' && errnoChain(err).some((c) => UNREACHABLE.test(c))) {
        const given = context.env.DASHSCOPE_BASE_URL?.trim();
        const tried = given ? `${given} (from DASHSCOPE_BASE_URL)` : `${DEFAULT_BASE_URL} (the default)`;
        return `${err.toLine()}; tried ${tried}: set DASHSCOPE_BASE_URL to the service's base URL (or the one the emulator prints)`;
      }
      return err.toLine();
    default:
      return err.toLine();
  }
}
