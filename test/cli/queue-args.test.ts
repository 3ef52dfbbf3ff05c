import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/cli/args.js';
import { redisOptions } from '../../src/queue/connection.js';

describe('cli args: queue commands', () => {
  it('parses worker, submit, status and result', () => {
    expect(parseCommand(['worker', '--queue', 'redis://h:1', '--model', 'qwen3.5-omni-flash', '--concurrency', '8', '--rate', '50/1s', '--lock-duration', '10s', '--stalled-interval', '5s', '--reconnect-timeout', '1m'])).toEqual({
      command: 'worker',
      queue: 'redis://h:1',
      model: 'qwen3.5-omni-flash',
      concurrency: 8,
      rate: { max: 50, duration: 1000 },
      lockDurationMs: 10_000,
      stalledIntervalMs: 5000,
      reconnectTimeoutMs: 60_000,
      quiet: false,
    });
    expect(parseCommand(['worker', '--queue', 'redis://h:1', '--rate', 'none'])).toMatchObject({ model: 'local', rate: false });
    expect(parseCommand(['submit', 'talk.mp3', '--queue', 'redis://h:1', '--id', 'talk', '--attempts', '5'])).toEqual({ command: 'submit', input: 'talk.mp3', queue: 'redis://h:1', model: 'local', id: 'talk', attempts: 5 });
    expect(parseCommand(['status', 'talk', '--queue', 'redis://h:1', '--json'])).toEqual({ command: 'status', id: 'talk', queue: 'redis://h:1', json: true });
    expect(parseCommand(['result', 'talk', '--queue', 'redis://h:1', '--srt', 'a.srt'])).toEqual({ command: 'result', id: 'talk', queue: 'redis://h:1', srt: 'a.srt' });
    expect(parseCommand(['transcribe', 'a.wav', '--queue', 'redis://h:1'])).toMatchObject({ command: 'transcribe', queue: 'redis://h:1' });
  });

  it('refuses misuse with coded errors', () => {
    const invalid = expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' });
    expect(() => parseCommand(['worker'])).toThrow(invalid);
    expect(() => parseCommand(['worker', '--queue', 'redis://h:1', '--rate', 'fast'])).toThrow(invalid);
    expect(() => parseCommand(['submit', '--queue', 'redis://h:1'])).toThrow(invalid);
    expect(() => parseCommand(['result', 'a', 'b', '--queue', 'redis://h:1'])).toThrow(invalid);
    expect(() => parseCommand(['status', 'a'])).toThrow(/--queue/);
  });

  it('reads Redis URLs, never keeping a bad one', () => {
    expect(redisOptions('redis://u:p%40ss@10.0.0.5:6380/2')).toEqual({ host: '10.0.0.5', port: 6380, username: 'u', password: 'p@ss', db: 2 });
    expect(redisOptions('rediss://cache.example')).toEqual({ host: 'cache.example', port: 6379, tls: {} });
    expect(() => redisOptions('http://x')).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => redisOptions('redis://h/x')).toThrow(/database/);
  });
});
