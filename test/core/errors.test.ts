import { describe, expect, it } from 'vitest';
import {
  AbortError,
  CapabilityError,
  EarshotError,
  EngineError,
  InputError,
  InvalidArgumentError,
  SinkError,
  TransportError,
  type TransportErrorCode,
} from '../../src/core/errors.js';

describe('error classes fix their codes', () => {
  it('each subclass takes only its own codes (checked by the compiler: this file is typechecked)', () => {
    // @ts-expect-error a TransportError cannot carry a sink's code
    new TransportError('EARSHOT_SINK_FAILED', 'x');
    // @ts-expect-error nor an engine's
    new TransportError('EARSHOT_WORKER_CRASHED', 'x');
    // @ts-expect-error a SinkError carries EARSHOT_SINK_FAILED only
    new SinkError('EARSHOT_THROTTLED', 'x');
    // @ts-expect-error an EngineError does not carry input codes
    new EngineError('EARSHOT_DECODE_FAILED', 'x');
    // @ts-expect-error an InputError does not carry remote-API codes
    new InputError('EARSHOT_AUTH_FAILED', 'x');
    const code: TransportErrorCode = new TransportError('EARSHOT_THROTTLED', 'x').code;
    expect(code).toBe('EARSHOT_THROTTLED');
    expect(new InputError('EARSHOT_FILE_NOT_FOUND', 'x').code).toBe('EARSHOT_FILE_NOT_FOUND');
    expect(new AbortError().code).toBe('EARSHOT_ABORTED');
  });
});

describe('EarshotError.wrap', () => {
  it('keeps class, name, code and fields, with the original as cause', () => {
    const original = new TransportError('EARSHOT_THROTTLED', 'HTTP 429 Throttling: slow', { retryable: true, statusCode: 429, requestId: 'r1', providerCode: 'Throttling', retryAfterMs: 2000, details: { taskId: 't1' } });
    const wrapped = EarshotError.wrap(original, 'fun-asr: request failed after 3 attempts: slow', { retryable: false, details: { attempts: 3 } });
    expect(wrapped).toBeInstanceOf(TransportError);
    expect(wrapped).not.toBe(original);
    expect(wrapped).toMatchObject({ name: 'TransportError', code: 'EARSHOT_THROTTLED', statusCode: 429, requestId: 'r1', providerCode: 'Throttling', retryAfterMs: 2000, retryable: false, details: { taskId: 't1', attempts: 3 } });
    expect(wrapped.message).toBe('fun-asr: request failed after 3 attempts: slow');
    expect(wrapped.cause).toBe(original);
    expect(wrapped.toLine()).toBe('EARSHOT_THROTTLED: fun-asr: request failed after 3 attempts: slow');
    // retryable is kept unless overridden
    expect(EarshotError.wrap(original, 'again').retryable).toBe(true);
  });

  it('keeps the classes whose constructors take other arguments', () => {
    for (const err of [new AbortError('why'), new CapabilityError('m', 'hotwords'), new InvalidArgumentError('bad'), new EngineError('EARSHOT_WORKER_CRASHED', 'died', { retryable: true })]) {
      const wrapped = EarshotError.wrap(err, `wrapped: ${err.message}`);
      expect(wrapped).toBeInstanceOf(err.constructor as typeof EarshotError);
      expect(wrapped).toMatchObject({ name: err.name, code: err.code, retryable: err.retryable, message: `wrapped: ${err.message}` });
      expect(wrapped.cause).toBe(err);
    }
  });

  it('an error that is not an EarshotError becomes one with the given code, the original as cause', () => {
    const plain = new Error('socket hang up');
    const wrapped = EarshotError.wrap(plain, 'request failed', { code: 'EARSHOT_REQUEST_FAILED', retryable: true });
    expect(wrapped).toMatchObject({ name: 'EarshotError', code: 'EARSHOT_REQUEST_FAILED', retryable: true, cause: plain });
    expect(EarshotError.wrap('a string', 'boom').code).toBe('EARSHOT_ENGINE_FAILED');
  });

  it('redacts secrets in the new message like every message', () => {
    const wrapped = EarshotError.wrap(new TransportError('EARSHOT_AUTH_FAILED', 'no'), 'key sk-abcdef123456 refused');
    expect(wrapped.message).toBe('key *** refused');
  });
});
