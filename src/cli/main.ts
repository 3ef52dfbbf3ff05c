#!/usr/bin/env node
/**
 * `earshot`: the command line on top of the library. Exit codes: 0 done (also when stdout's reader has gone away),
 * 1 runtime failure, 2 usage error, 130 a file stopped by Ctrl-C (outputs flushed) or a second Ctrl-C.
 * Every failure is one line on stderr: `EARSHOT_CODE: message`.
 */
import { readFileSync } from 'node:fs';
import { EarshotError, redactSecrets, toEarshotError } from '../core/errors.js';
import { HELP, parseCommand, type Command } from './args.js';
import { interruptSignal, runTranscribe, type CliIo } from './transcribe.js';
import { printModels, registerTransportModules } from './models.js';
import { runEmulator } from './emulator.js';
import { runQueueCommand } from './submit.js';
import { runReport } from './report.js';
import { runServe } from './serve.js';
import { isClosedPipe } from './stop.js';
import { helpFor } from './help.js';
import { cliLine } from './messages.js';

/** Errors that mean the command asked for something impossible: exit code 2, like a usage error. */
const USAGE_CODES = new Set(['EARSHOT_INVALID_ARGUMENT', 'EARSHOT_CAPABILITY_MISSING', 'EARSHOT_UNKNOWN_MODEL']);

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Run one command; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0) {
    io.stderr.write(HELP); // no command: the usage, as a usage error
    return 2;
  }
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    io.stderr.write(`${toEarshotError(err, 'EARSHOT_INVALID_ARGUMENT').toLine()}\n`);
    return 2;
  }
  try {
    if (cmd.command === 'models' || cmd.command === 'transcribe' || cmd.command === 'live' || cmd.command === 'report') await registerTransportModules(io.env);
    switch (cmd.command) {
      case 'help':
        io.stdout.write(helpFor(cmd.topic));
        return 0;
      case 'version':
        io.stdout.write(`${version()}\n`);
        return 0;
      case 'models':
        printModels(io.stdout, cmd.json);
        return 0;
      case 'emulator':
        await runEmulator(cmd, io);
        return 0;
      case 'worker':
      case 'submit':
      case 'status':
      case 'result':
        return await runQueueCommand(cmd, io);
      case 'serve':
        await runServe(cmd.argv, io);
        return 0;
      case 'transcribe':
      case 'live':
        return await runTranscribe(cmd, io);
      case 'report':
        await runReport(cmd, io);
        return 0;
    }
  } catch (err) {
    const e = toEarshotError(err, 'EARSHOT_ENGINE_FAILED');
    const secrets = [io.env.DASHSCOPE_API_KEY ?? ''].filter(Boolean);
    const model = 'model' in cmd && typeof cmd.model === 'string' ? cmd.model : undefined;
    io.stderr.write(`${redactSecrets(cliLine(e, { ...(model ? { model } : {}), env: io.env }), secrets)}\n`);
    if (io.env.EARSHOT_DEBUG && e.stack) io.stderr.write(`${redactSecrets(e.stack, secrets)}\n`);
    return USAGE_CODES.has(e.code) ? 2 : 1;
  }
}

const entry = process.argv[1] ? new URL(`file://${process.argv[1]}`).pathname : '';
if (entry.endsWith('/cli/main.js') || entry.endsWith('/cli/bin.cjs') || entry.endsWith('/bin/earshot') || entry.endsWith('/earshot')) {
  // `earshot models | head -1`: a reader that has gone away is no failure (commands that keep working stop on it).
  process.stdout.on('error', (err) => {
    if (!isClosedPipe(err)) throw err;
  });
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, interrupt: interruptSignal(), env: process.env };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof EarshotError ? err.toLine() : 'EARSHOT_ENGINE_FAILED: unexpected failure'}\n`);
      process.exitCode = 1;
    },
  );
}
