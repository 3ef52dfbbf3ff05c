import { describe, expect, it } from 'vitest';
import { parseCommand, parseDuration } from '../../src/cli/args.js';

describe('cli args', () => {
  it('parses a transcribe command with outputs and defaults', () => {
    const c = parseCommand(['transcribe', 'talk.mp3', '--srt', 'a.srt', '--jsonl', 'a.jsonl']);
    expect(c).toMatchObject({ command: 'transcribe', input: 'talk.mp3', model: 'local', srt: 'a.srt', jsonl: 'a.jsonl', windowMs: 5000, diarize: false });
  });

  it('parses durations, hotwords, emotions and modes', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseCommand(['transcribe', 'x.wav', '--hotwords', 'Model Studio:5, DashScope'])).toMatchObject({
      hotwords: [
        { text: 'Model Studio', weight: 5 },
        { text: 'DashScope', weight: 4 },
      ],
    });
    const c = parseCommand(['transcribe', 'x.wav', '--mode', 'near-realtime', '--window', '3s', '--emotion', 'Angry,sad']);
    expect(c).toMatchObject({ mode: 'near-realtime', windowMs: 3000, emotions: ['angry', 'sad'] });
    expect(parseCommand(['transcribe', 'x.wav', '--mode', 'near-realtime', '--live-windows'])).toMatchObject({ liveWindows: true });
    expect(parseCommand(['transcribe', 'x.wav', '--mode', 'near-realtime', '--whole-windows'])).toMatchObject({ liveWindows: false });
    expect(parseCommand(['transcribe', 'x.wav', '--mode', 'near-realtime'])).not.toHaveProperty('liveWindows');
  });

  it('refuses misuse with coded errors', () => {
    expect(() => parseCommand(['transcribe'])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => parseCommand(['transcribe', 'a.wav', '--mode', 'fast'])).toThrow(/--mode/);
    expect(() => parseCommand(['transcribe', 'a.wav', '--bogus'])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => parseCommand(['transcribe', 'x.wav', '--hotwords', 'term:9'])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    // said in CLI terms, on every model (fun-asr's transport said 'speakers needs diarize: true'; local ignored it)
    expect(() => parseCommand(['transcribe', 'x.wav', '--speakers', '2'])).toThrow('--speakers needs --diarize');
    expect(() => parseCommand(['transcribe', 'x.wav', '--live-windows', '--whole-windows'])).toThrow('give one of them'); // not: live wins
    expect(parseCommand(['transcribe', 'x.wav', '--speakers', '2', '--diarize'])).toMatchObject({ speakers: 2, diarize: true });
    expect(() => parseCommand(['frobnicate'])).toThrow(/unknown command/);
    expect(() => parseCommand(['emulator', '--port', '70000'])).toThrow(/port/);
  });

  it('parses models, emulator, live and help', () => {
    expect(parseCommand(['models', '--json'])).toEqual({ command: 'models', json: true });
    expect(parseCommand(['emulator', '--port', '8080'])).toMatchObject({ command: 'emulator', port: 8080, host: '127.0.0.1' });
    expect(parseCommand(['live', '--mic', '--model', 'fun-asr-realtime'])).toMatchObject({ command: 'live', model: 'fun-asr-realtime' });
    expect(parseCommand([])).toEqual({ command: 'help' });
  });

  it('parses a report command: transcribe options plus --out and --events, a file input only', () => {
    expect(parseCommand(['report', 'dir/talk.mp3', '--mode', 'near-realtime', '--window', '3s'])).toMatchObject({ command: 'report', input: 'dir/talk.mp3', out: 'talk.report.html', mode: 'near-realtime', windowMs: 3000 });
    expect(parseCommand(['report', 'a.wav', '--out', 'r.html', '--events', 'a.jsonl', '--jsonl', 'b.jsonl'])).toMatchObject({ out: 'r.html', events: 'a.jsonl', jsonl: 'b.jsonl' });
    expect(() => parseCommand(['report', '-'])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
    expect(() => parseCommand(['report', 'rtp://127.0.0.1:5004'])).toThrow(/audio file/);
    // not silently dropped (the page would show the channels mixed, as one speaker)
    expect(() => parseCommand(['report', 'call.wav', '--channels', 'separate'])).toThrow('earshot report draws one audio stream');
    expect(() => parseCommand(['transcribe', 'a.wav', '--out', 'r.html'])).toThrow(expect.objectContaining({ code: 'EARSHOT_INVALID_ARGUMENT' }));
  });
});
