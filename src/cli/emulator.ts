/**
 * `earshot emulator`: serve the offline emulator of the Qwen Cloud speech APIs until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { firstValueFrom } from 'rxjs';
import { InvalidArgumentError } from '../core/errors.js';
import type { ScriptedUtterance } from '../emulator/context.js';
import { startEmulator } from '../emulator/server.js';
import type { EmulatorCommand } from './args.js';
import type { CliIo } from './transcribe.js';

function readScript(path: string): ScriptedUtterance[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new InvalidArgumentError(`--script ${path}: not a readable JSON file`, { cause });
  }
  if (!Array.isArray(parsed)) throw new InvalidArgumentError(`--script ${path}: expected a JSON array of {"text", "emotion"?, "delayMs"?}`);
  return parsed as ScriptedUtterance[];
}

/** Start the emulator, print its base URL, and stop it on the first Ctrl-C. */
export async function runEmulator(cmd: EmulatorCommand, io: CliIo): Promise<void> {
  const emulator = await startEmulator({
    port: cmd.port,
    host: cmd.host,
    ...(cmd.apiKey ? { apiKeys: [cmd.apiKey] } : {}),
    ...(cmd.script ? { script: readScript(cmd.script) } : {}),
    ...(cmd.allowHosts ? { allowHosts: cmd.allowHosts } : {}),
  });
  io.stdout.write(`earshot emulator listening on ${emulator.url}\n`);
  // Lines to paste into a shell: what follows a setting is a shell comment.
  io.stdout.write(`  export DASHSCOPE_BASE_URL=${emulator.url}\n`);
  io.stdout.write(cmd.apiKey ? '  # and DASHSCOPE_API_KEY set to the key given with --api-key (only it is accepted)\n' : '  export DASHSCOPE_API_KEY=sk-anything   # any non-empty key is accepted\n');
  await firstValueFrom(io.interrupt, { defaultValue: undefined });
  await emulator.close();
}
