/**
 * The Node Streams face of every operator: one generic adapter that runs an RxJS operator inside a Duplex (or a
 * Writable), so the stream face and the RxJS face share one implementation of each capability.
 *
 * Backpressure both ways, through {@link FlowControl}:
 * - writable side → operator: every Buffer written becomes a `ByteChunk` carrying the adapter's FlowControl (audio
 *   and byte chunks written as objects get it too, replacing the upstream stage's). When the operator holds it (a
 *   full ffmpeg stdin, a transport's full queue) the write callback waits, so the writable side fills and the stage
 *   upstream pauses.
 * - operator → readable side: when `push()` reports a full buffer, the adapter holds its own FlowControl (no more
 *   writes are taken) and the FlowControl of the item just pushed (e.g. `decode()` pauses ffmpeg's stdout), until
 *   the consumer reads again.
 *
 * Errors and teardown: an operator error destroys the stream with that same coded error; destroying the stream
 * (by `pipeline()` when another stage fails, or by hand) unsubscribes, which runs the operator's teardown
 * (child processes killed, sessions closed). The writable side's `'finish'` comes only after the operator has
 * completed, so for a sink it means the output file is flushed and closed.
 */
import { Duplex, Writable, type DuplexOptions } from 'node:stream';
import { Observable, type OperatorFunction, type Subscriber, type Subscription } from 'rxjs';
import { InvalidArgumentError, toEarshotError } from '../core/errors.js';
import { FlowControl } from '../core/flow.js';
import type { ByteChunk } from '../core/types.js';

/** Options of {@link operatorToTransform}. */
export interface TransformOptions {
  /**
   * The FlowControl the adapter attaches to incoming chunks and holds while its readable side is full. Pass the
   * same one to an operator that takes a `flow` option (the sinks do) to let it pause the writable side. Default:
   * a new one.
   */
  flow?: FlowControl;
  /** Items (object mode) or bytes buffered on the readable side before the operator is paused. Default 16 items. */
  readableHighWaterMark?: number;
  /** Chunks buffered on the writable side before the writer is paused. Default 4. */
  writableHighWaterMark?: number;
  /** Emit the operator's output as objects (default) or, when false, as bytes (strings are UTF-8 encoded). */
  readableObjectMode?: boolean;
}

function isFlowControl(value: unknown): value is FlowControl {
  return value instanceof FlowControl;
}

/** Give a written chunk the adapter's flow control: Buffers become ByteChunks; audio and byte chunks are re-tagged. */
function adopt(chunk: unknown, flow: FlowControl): unknown {
  if (Buffer.isBuffer(chunk)) return { kind: 'bytes', data: chunk, flow } satisfies ByteChunk;
  if (chunk instanceof Uint8Array) return { kind: 'bytes', data: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), flow } satisfies ByteChunk;
  if (typeof chunk === 'object' && chunk !== null) {
    const kind = (chunk as { kind?: unknown }).kind;
    if (kind === 'bytes' || kind === 'audio') return { ...chunk, flow };
  }
  return chunk;
}

/** Callbacks from the bridge to the stream that hosts it. */
interface BridgeHost<O> {
  /** Deliver one output item; return false when the consumer is full. */
  push(item: O): boolean;
  /** The operator completed. */
  end(): void;
  /** The operator failed. */
  fail(err: Error): void;
}

/**
 * Runs one subscription of an operator fed by stream writes. Shared by the Duplex and Writable faces.
 */
class OperatorBridge<I, O> {
  readonly flow: FlowControl;
  readonly #op: OperatorFunction<I, O>;
  readonly #host: BridgeHost<O>;
  #input: Subscriber<I> | undefined;
  #sub: Subscription | undefined;
  #started = false;
  #completed = false;
  #failed = false;
  #finalCallbacks: Array<(err?: Error | null) => void> = [];
  #holds: Array<() => void> = [];

  constructor(op: OperatorFunction<I, O>, flow: FlowControl, host: BridgeHost<O>) {
    this.#op = op;
    this.flow = flow;
    this.#host = host;
  }

  /** Subscribe on first use (so building a stream spawns nothing). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const input = new Observable<I>((subscriber) => {
      this.#input = subscriber;
      return () => {
        this.#input = undefined;
      };
    });
    let output: Observable<O>;
    try {
      output = this.#op(input);
    } catch (err) {
      this.#error(err);
      return;
    }
    this.#sub = output.subscribe({
      next: (item) => {
        if (this.#host.push(item)) return;
        // The consumer is full: take no more input, and pause whatever produced this item.
        if (this.#holds.length === 0) {
          this.#holds.push(this.flow.hold());
          const own = (item as { flow?: unknown } | null)?.flow;
          if (isFlowControl(own) && own !== this.flow) this.#holds.push(own.hold());
        }
      },
      error: (err: unknown) => this.#error(err),
      complete: () => {
        this.#completed = true;
        this.#host.end();
        this.#settleFinal();
      },
    });
  }

  /** The consumer wants more: let producers go on. */
  resume(): void {
    const holds = this.#holds;
    this.#holds = [];
    for (const release of holds) release();
  }

  write(chunk: unknown, callback: (err?: Error | null) => void): void {
    this.start();
    if (this.#failed) return callback();
    this.#input?.next(adopt(chunk, this.flow) as I);
    if (!this.flow.paused) return callback();
    void this.flow.ready().then(() => callback());
  }

  final(callback: (err?: Error | null) => void): void {
    this.start();
    this.#finalCallbacks.push(callback);
    if (this.#completed || this.#failed) return this.#settleFinal();
    this.#input?.complete();
  }

  /** Teardown: unsubscribe (the operator releases everything it holds) and drop every hold. */
  destroy(): void {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.resume();
    // A pending end() is answered by the destroy itself.
    this.#finalCallbacks = [];
  }

  #error(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.resume();
    const error = err instanceof Error ? err : toEarshotError(err);
    this.#host.fail(error);
  }

  #settleFinal(): void {
    const callbacks = this.#finalCallbacks;
    this.#finalCallbacks = [];
    for (const cb of callbacks) cb();
  }
}

function checkOperator(op: unknown, what: string): void {
  if (typeof op !== 'function') throw new InvalidArgumentError(`${what} needs an RxJS operator (a function from Observable to Observable)`);
}

/**
 * Run an RxJS operator as a Node Duplex (object mode by default), with backpressure both ways.
 *
 * Buffers written become `ByteChunk`s carrying the adapter's {@link FlowControl}, so `decode()` can read a byte
 * stream; objects are passed as they are. The operator is subscribed on first use. See the module notes for how
 * holds pause each side, and how errors and teardown travel.
 *
 * @param op - any operator, e.g. `decode()`, `resample(16000)`, `transcribe(local())`, `srtText()`.
 * @param options - buffer sizes, output mode and the FlowControl to use.
 * @returns a Duplex: write the operator's input, read its output.
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when `op` is not a function. At run time the stream is
 *   destroyed with the operator's own coded error.
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(createReadStream('talk.wav'), operatorToTransform(decode()), operatorToTransform(resample(16000)), sink);
 * ```
 */
export function operatorToTransform<I, O>(op: OperatorFunction<I, O>, options: TransformOptions = {}): Duplex {
  checkOperator(op, 'operatorToTransform');
  const flow = options.flow ?? new FlowControl();
  let bridge: OperatorBridge<I, O>;
  const duplexOptions: DuplexOptions = {
    writableObjectMode: true,
    readableObjectMode: options.readableObjectMode ?? true,
    writableHighWaterMark: options.writableHighWaterMark ?? 4,
    ...(options.readableHighWaterMark === undefined ? {} : { readableHighWaterMark: options.readableHighWaterMark }),
    allowHalfOpen: true,
    write(chunk, _encoding, callback) {
      bridge.write(chunk, callback);
    },
    final(callback) {
      bridge.final(callback);
    },
    read() {
      bridge.start();
      bridge.resume();
    },
    destroy(err, callback) {
      bridge.destroy();
      callback(err);
    },
  };
  const duplex = new Duplex(duplexOptions);
  bridge = new OperatorBridge<I, O>(op, flow, {
    push: (item) => (duplex.destroyed ? true : duplex.push(item)),
    end: () => {
      if (!duplex.destroyed) duplex.push(null);
    },
    fail: (err) => duplex.destroy(err),
  });
  return duplex;
}

/**
 * Run an operator as a Node Writable: what is written goes through the operator, whose output is discarded.
 * Meant for sinks: the operator is subscribed at once (a file sink opens its file, as `fs.createWriteStream`
 * does), and `'finish'` comes only after the operator completed, i.e. after its file is flushed and closed.
 * Destroying the Writable unsubscribes: a file sink then closes its file with the records it has (chunks still
 * buffered in the Writable are dropped, as for any destroyed stream).
 *
 * @param op - typically a sink such as `toSrt('a.srt', { flow })`.
 * @param options - `flow`: pass the same FlowControl to the sink so a slow disk pauses the writer.
 * @returns a Writable (object mode).
 * @throws InvalidArgumentError (`EARSHOT_INVALID_ARGUMENT`) when `op` is not a function. At run time the Writable
 *   is destroyed with the operator's coded error (`EARSHOT_SINK_FAILED`, or an upstream error).
 * @example
 * ```ts
 * const flow = new FlowControl();
 * await pipeline(eventsReadable, toWritable(toSrt('talk.srt', { flow }), { flow }));
 * ```
 */
export function toWritable<I>(op: OperatorFunction<I, unknown>, options: Pick<TransformOptions, 'flow' | 'writableHighWaterMark'> = {}): Writable {
  checkOperator(op, 'toWritable');
  const flow = options.flow ?? new FlowControl();
  let bridge: OperatorBridge<I, unknown>;
  const writable = new Writable({
    objectMode: true,
    highWaterMark: options.writableHighWaterMark ?? 16,
    write(chunk, _encoding, callback) {
      bridge.write(chunk, callback);
    },
    final(callback) {
      bridge.final(callback);
    },
    destroy(err, callback) {
      bridge.destroy();
      callback(err);
    },
  });
  bridge = new OperatorBridge<I, unknown>(op, flow, {
    push: () => true,
    end: () => undefined,
    fail: (err) => writable.destroy(err),
  });
  // Like fs.createWriteStream, a sink Writable opens its output at once: a run that fails before the first write
  // still leaves a valid (empty) file.
  bridge.start();
  return writable;
}
