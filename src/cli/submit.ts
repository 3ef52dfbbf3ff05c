/**
 * `earshot submit | status | result`: whole files as queue jobs, and the dispatch of every queue command.
 */
import { from } from 'rxjs';
import { EarshotError } from '../core/errors.js';
import { result, status, submit } from '../queue/submit.js';
import type { QueueCommand } from './queue-args.js';
import { writeOutputs, type CliIo } from './transcribe.js';
import { runWorker } from './worker.js';

/**
 * Run `earshot worker`, `submit`, `status` or `result`; resolves to the exit code.
 *
 * @throws the command's EarshotError (the CLI prints its code): EARSHOT_RESULT_PENDING from `result` while the file
 *   is not done, EARSHOT_TASK_FAILED naming the chunks that failed (after writing the others).
 */
export async function runQueueCommand(cmd: QueueCommand, io: CliIo): Promise<number> {
  switch (cmd.command) {
    case 'worker':
      await runWorker(cmd, io);
      return 0;
    case 'submit': {
      const options = {
        ...(cmd.language ? { language: cmd.language } : {}),
        ...(cmd.hotwords ? { hotwords: cmd.hotwords } : {}),
        ...(cmd.context ? { context: cmd.context } : {}),
      };
      const done = await submit(cmd.input, {
        connection: cmd.queue,
        model: cmd.model,
        ...(cmd.id ? { id: cmd.id } : {}),
        ...(Object.keys(options).length ? { options } : {}),
        ...(cmd.attempts ? { retry: { attempts: cmd.attempts } } : {}),
      });
      io.stdout.write(`${done.id}\n`);
      return 0;
    }
    case 'status': {
      const s = await status(cmd.id, { connection: cmd.queue });
      io.stdout.write(cmd.json ? `${JSON.stringify(s)}\n` : `${s.state}: ${s.done} chunks done, ${s.pending} pending, ${s.failed} failed\n`);
      return 0;
    }
    case 'result': {
      const r = await result(cmd.id, { connection: cmd.queue });
      await writeOutputs(from(r.events), cmd, io);
      if (r.failures.length === 0) return 0;
      const list = r.failures.map((f) => `chunk ${f.chunk} at ${(f.startMs / 1000).toFixed(1)} s (${f.code}: ${f.message})`).join('; ');
      throw new EarshotError('EARSHOT_TASK_FAILED', `${r.failures.length} of ${r.chunks} chunks failed, the others are written: ${list}`, { details: { failures: r.failures } });
    }
  }
}
