/**
 * `earshot worker`: serve a model's chunk queue until SIGTERM or Ctrl-C, then finish the jobs held and exit.
 */
import { startWorker } from '../queue/worker.js';
import type { WorkerCommand } from './queue-args.js';
import type { CliIo } from './transcribe.js';

/**
 * Run a worker to its end: resolves after a signal once the jobs it held are done; rejects with
 * EARSHOT_QUEUE_UNAVAILABLE when Redis is unreachable at start or lost for too long.
 */
export async function runWorker(cmd: WorkerCommand, io: CliIo): Promise<void> {
  const log = (line: string): void => {
    if (!cmd.quiet) io.stderr.write(`earshot worker: ${line}\n`);
  };
  const worker = await startWorker({
    connection: cmd.queue,
    model: cmd.model,
    transportOptions: { env: io.env },
    ...(cmd.concurrency ? { concurrency: cmd.concurrency } : {}),
    ...(cmd.rate !== undefined ? { limiter: cmd.rate } : {}),
    ...(cmd.lockDurationMs ? { lockDurationMs: cmd.lockDurationMs } : {}),
    ...(cmd.stalledIntervalMs ? { stalledIntervalMs: cmd.stalledIntervalMs } : {}),
    ...(cmd.reconnectTimeoutMs ? { reconnectTimeoutMs: cmd.reconnectTimeoutMs } : {}),
    onJob: (r) => log(r.ok ? `job ${r.id} done in ${Math.round(r.ms)} ms` : `job ${r.id} failed: ${r.error!.toLine()}`),
  });
  // Always said, even with -q: scripts wait for it.
  io.stderr.write(`earshot worker: ready on queue ${worker.queue} (model ${worker.model}, pid ${process.pid})\n`);
  const stop = (): void => {
    log('stopping: finishing the jobs held, taking no more');
    void worker.close();
  };
  process.once('SIGTERM', stop);
  const sub = io.interrupt.subscribe(stop);
  try {
    await worker.done;
    log(`stopped after ${worker.completed} jobs`);
  } finally {
    process.off('SIGTERM', stop);
    sub.unsubscribe();
  }
}
