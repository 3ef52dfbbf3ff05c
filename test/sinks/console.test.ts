import { PassThrough } from 'node:stream';
import { concat, from, lastValueFrom, of, throwError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EarshotError } from '../../src/core/errors.js';
import type { TranscriptEvent } from '../../src/core/types.js';
import { toConsole } from '../../src/sinks/console.js';

function terminal(tty: boolean, columns = 40): PassThrough & { isTTY: boolean; columns: number; text: () => string } {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; text: () => string };
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  stream.isTTY = tty;
  stream.columns = columns;
  stream.text = () => chunks.join('');
  return stream;
}

const EVENTS: TranscriptEvent[] = [
  { type: 'partial', text: 'hello', startMs: 0, endMs: 300 },
  { type: 'partial', text: 'hello wor', startMs: 0, endMs: 500 },
  { type: 'final', text: 'hello world', startMs: 0, endMs: 600, speaker: 'Speaker 1' },
  { type: 'partial', text: 'a very long partial line that does not fit in forty columns at all', startMs: 700, endMs: 900 },
  { type: 'final', text: 'second\nline', startMs: 700, endMs: 1000 },
];

describe('toConsole', () => {
  it('on a TTY, partials rewrite the line and finals are printed as lines', async () => {
    const out = terminal(true);
    const passed = await lastValueFrom(from(EVENTS).pipe(toConsole({ stream: out }), toArray()));
    expect(passed).toEqual(EVENTS);
    expect(out.text()).toBe(
      '\r\x1b[2Khello' + '\r\x1b[2Khello wor' + '\r\x1b[2KSpeaker 1: hello world\n' +
      `\r\x1b[2K…${'a very long partial line that does not fit in forty columns at all'.slice(-38)}` + '\r\x1b[2Ksecond line\n',
    );
    expect(out.writableEnded).toBe(false);
  });

  it('elsewhere, only finals, one per line', async () => {
    const out = terminal(false);
    await lastValueFrom(from(EVENTS).pipe(toConsole({ stream: out, speakers: false })));
    expect(out.text()).toBe('hello world\nsecond line\n');
  });

  it('clears a pending partial on error and forwards the error; empty input prints nothing', async () => {
    const out = terminal(true);
    const boom = new EarshotError('EARSHOT_MIC_FAILED', 'mic gone');
    await expect(lastValueFrom(concat(of(EVENTS[0]!), throwError(() => boom)).pipe(toConsole({ stream: out })))).rejects.toBe(boom);
    expect(out.text()).toBe('\r\x1b[2Khello\r\x1b[2K');
    const quiet = terminal(false);
    await lastValueFrom(from([] as TranscriptEvent[]).pipe(toConsole({ stream: quiet })), { defaultValue: undefined });
    expect(quiet.text()).toBe('');
  });
});
