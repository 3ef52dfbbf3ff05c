import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, throwError, concat, of, toArray, Subject } from 'rxjs';
import { buildCues, captions, charCount, cueCharCount, CueBuilder, isCjkText, resolveCaptionLimits, type Cue } from '../../src/sinks/captions.js';
import type { TranscriptEvent, Word } from '../../src/core/types.js';
import { EarshotError } from '../../src/core/errors.js';
import { rng } from '../helpers/random.js';


const LATIN = 'abcdefghijklmnopqrstuvwxyz';
const HAN = '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';

function genEvents(seed: number): TranscriptEvent[] {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const events: TranscriptEvent[] = [];
  let t = Math.floor(r() * 3000);
  const n = 1 + Math.floor(r() * 25);
  for (let e = 0; e < n; e++) {
    const cjk = r() < 0.25;
    const speaker = r() < 0.5 ? undefined : pick(['Speaker 1', 'Speaker 2']);
    const words: Word[] = [];
    const count = 1 + Math.floor(r() * 30);
    const fast = r() < 0.2; // faster than the reading-speed limit
    for (let w = 0; w < count; w++) {
      let text = '';
      if (cjk) {
        const len = 1 + Math.floor(r() * 3);
        for (let k = 0; k < len; k++) text += pick(Array.from(HAN));
        if (r() < 0.1) text += pick(['，', '。', '？']);
      } else {
        const len = r() < 0.03 ? 43 + Math.floor(r() * 60) : 1 + Math.floor(r() * 11);
        for (let k = 0; k < len; k++) text += pick(Array.from(LATIN));
        if (r() < 0.1) text += pick([',', '.', '?', '!']);
      }
      const dur = fast ? Math.floor(r() * 60) : 50 + Math.floor(r() * 700);
      const gap = r() < 0.05 ? 1000 + Math.floor(r() * 2000) : r() < 0.1 ? -Math.floor(r() * 100) : Math.floor(r() * 300);
      t = Math.max(0, t + gap);
      words.push({ text, startMs: t + r() * 0.9, endMs: t + dur });
      t += dur;
    }
    const event: TranscriptEvent = { type: 'final', text: words.map((w) => w.text).join(cjk ? '' : ' '), startMs: words[0]!.startMs, endMs: t };
    if (r() < 0.7) event.words = words;
    if (speaker) event.speaker = speaker;
    if (cjk && r() < 0.5) event.language = 'zh';
    if (r() < 0.2) events.push({ type: 'partial', text: 'ignored partial', startMs: event.startMs, endMs: event.endMs });
    events.push(event);
    t += Math.floor(r() * 2500);
  }
  return events;
}

/** Every rule as a list of violations (empty when the cue is fine), so a failure names the cue and the rule. */
function violations(cue: Cue, prev: Cue | undefined, lim: ReturnType<typeof resolveCaptionLimits>): string[] {
  const bad: string[] = [];
  const cjk = cue.script === 'cjk';
  const maxLine = cjk ? lim.cjkMaxCharsPerLine : lim.maxCharsPerLine;
  const cps = cjk ? lim.cjkMaxCharsPerSecond : lim.maxCharsPerSecond;
  const dur = cue.endMs - cue.startMs;
  if (cue.lines.length < 1 || cue.lines.length > lim.maxLines) bad.push('line count');
  for (const line of cue.lines) {
    if (charCount(line) > maxLine) bad.push('line length');
    if (line.length === 0 || line.trim() !== line) bad.push('blank or padded line');
  }
  if (!Number.isInteger(cue.startMs) || !Number.isInteger(cue.endMs) || cue.startMs < 0) bad.push('times');
  if (dur < lim.minDurationMs) bad.push('too short');
  if (dur > lim.maxDurationMs) bad.push('too long');
  if (cueCharCount(cue) * 1000 > cps * dur) bad.push('reading speed'); // chars / seconds <= cps, in integers
  if (prev && cue.startMs - prev.endMs < lim.minGapMs) bad.push('gap');
  return bad;
}

function checkRules(cues: Cue[], opts: Parameters<typeof resolveCaptionLimits>[0] = {}): void {
  const lim = resolveCaptionLimits(opts);
  let prev: Cue | undefined;
  for (const cue of cues) {
    const bad = violations(cue, prev, lim);
    if (bad.length) expect.fail(`${bad.join(', ')}: ${JSON.stringify(cue)} after ${JSON.stringify(prev)}`);
    prev = cue;
  }
  expect(cues.every((c) => violations(c, undefined, lim).length === 0)).toBe(true);
}

/** The words of the finals, and the words of the cues, with spaces and line breaks taken out. */
function letters(s: string): string {
  return s.replace(/\s+/g, '');
}

describe('caption layout rules (property, 400 random inputs)', () => {
  it('every cue meets every rule, no word is lost, and a speaker change starts a new cue', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const events = genEvents(seed);
      const cues = buildCues(events);
      checkRules(cues);
      const finals = events.filter((e) => e.type === 'final');
      expect(letters(cues.map((c) => c.lines.join('')).join('')), `seed ${seed}`).toBe(letters(finals.map((e) => e.words ? e.words.map((w) => w.text).join('') : e.text).join('')));
      // Each cue's text comes from finals of one speaker: walk the finals' letters alongside the cues.
      let f = 0;
      let pos = 0;
      for (const cue of cues) {
        let need = letters(cue.lines.join(''));
        while (need.length > 0) {
          const fin = finals[f]!;
          const text = letters(fin.words ? fin.words.map((w) => w.text).join('') : fin.text);
          expect(fin.speaker, `seed ${seed}`).toBe(cue.speaker);
          const take = Math.min(need.length, text.length - pos);
          need = need.slice(take);
          pos += take;
          if (pos === text.length) { f++; pos = 0; }
        }
      }
    }
  });

  it('holds with other limits too (30 fps, 3 lines, 32 characters, 15 cps)', () => {
    const opts = { fps: 30, maxLines: 3, maxCharsPerLine: 32, maxCharsPerSecond: 15, minDurationMs: 1000 };
    for (let seed = 500; seed < 600; seed++) checkRules(buildCues(genEvents(seed), opts), opts);
  });

  it('incremental building gives the same cues as one shot, and memory stays bounded', () => {
    for (let seed = 700; seed < 740; seed++) {
      const events = genEvents(seed);
      const builder = new CueBuilder();
      const streamed: Cue[] = [];
      for (const e of events) streamed.push(...builder.push(e));
      streamed.push(...builder.flush());
      expect(streamed).toEqual(buildCues(events));
    }
    // An endless monologue without pauses still hands cues out as it goes.
    const builder = new CueBuilder();
    let out = 0;
    for (let i = 0; i < 2000; i++) out += builder.push({ type: 'final', text: 'one two three four five', startMs: i * 1500, endMs: i * 1500 + 1400 }).length;
    expect(out).toBeGreaterThan(500);
    expect(builder.flush().length).toBeLessThanOrEqual(3);
  });
});

describe('caption layout details', () => {
  const w = (text: string, startMs: number, endMs: number): Word => ({ text, startMs, endMs });

  it('keeps a short line whole and breaks long text into balanced lines', () => {
    expect(buildCues([{ type: 'final', text: 'hello world', startMs: 0, endMs: 900 }])).toEqual([{ startMs: 0, endMs: 900, lines: ['hello world'], script: 'latin' }]);
    const text = 'the weather will be cold and windy tomorrow morning in the north';
    const [cue] = buildCues([{ type: 'final', text, startMs: 0, endMs: 4000 }]);
    expect(cue!.lines.join(' ')).toBe(text);
    expect(cue!.lines).toHaveLength(2);
    expect(Math.abs(cue!.lines[0]!.length - cue!.lines[1]!.length)).toBeLessThan(12);
  });

  it('extends a short cue into the silence after it, and delays the next cue rather than overlap', () => {
    const cues = buildCues([
      { type: 'final', text: 'yes', startMs: 1000, endMs: 1200, words: [w('yes', 1000, 1200)] },
      { type: 'final', text: 'no', startMs: 5000, endMs: 5300, words: [w('no', 5000, 5300)] },
    ]);
    expect(cues.map((c) => [c.startMs, c.endMs])).toEqual([[1000, 1834], [5000, 5834]]);
    const tight = buildCues([
      { type: 'final', text: 'yes', startMs: 1000, endMs: 1200, speaker: 'Speaker 1' },
      { type: 'final', text: 'no', startMs: 1300, endMs: 1500, speaker: 'Speaker 2' },
    ]);
    expect(tight.map((c) => [c.startMs, c.endMs, c.speaker])).toEqual([[1000, 1834, 'Speaker 1'], [1914, 2748, 'Speaker 2']]);
  });

  it('cuts on word times: a long pause starts a new cue', () => {
    const cues = buildCues([{ type: 'final', text: 'a b c d', startMs: 0, endMs: 4000, words: [w('alpha', 0, 300), w('beta', 300, 600), w('gamma', 2000, 2300), w('delta', 2300, 2600)] }]);
    expect(cues.map((c) => c.lines.join(' '))).toEqual(['alpha beta', 'gamma delta']);
    expect(cues[1]!.startMs).toBe(2000);
  });

  it('spreads text without word times over the event in proportion to characters', () => {
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const cues = buildCues([{ type: 'final', text: long, startMs: 0, endMs: 20000 }]);
    expect(cues.length).toBeGreaterThan(2);
    checkRules(cues);
    expect(cues[0]!.startMs).toBe(0);
    expect(cues.at(-1)!.endMs).toBe(20000);
  });

  it('lays Chinese out at 16 characters a line and 9 a second, without spaces', () => {
    const text = '今天天气很好我们一起去公园散步吧然后再去吃饭好不好我觉得这个主意不错';
    const cues = buildCues([{ type: 'final', text, startMs: 0, endMs: 3000, language: 'zh' }]);
    checkRules(cues);
    expect(cues.every((c) => c.script === 'cjk')).toBe(true);
    expect(cues.map((c) => c.lines.join('')).join('')).toBe(text);
    expect(isCjkText(text)).toBe(true);
    expect(isCjkText('hello 世界 and more words')).toBe(false);
  });

  it('splits a word longer than a line', () => {
    const cues = buildCues([{ type: 'final', text: 'x'.repeat(100), startMs: 0, endMs: 2000 }]);
    checkRules(cues);
    expect(cues.map((c) => c.lines.join('')).join('')).toBe('x'.repeat(100));
  });

  it('ignores partials and empty finals; empty input gives no cues', () => {
    expect(buildCues([])).toEqual([]);
    expect(buildCues([{ type: 'partial', text: 'hi', startMs: 0, endMs: 100 }, { type: 'final', text: '  ', startMs: 0, endMs: 100 }])).toEqual([]);
  });

  it('rejects contradictory limits when built', () => {
    expect(() => new CueBuilder({ maxCharsPerSecond: 1 })).toThrow(EarshotError);
    expect(() => captions({ minDurationMs: 9000 })).toThrow(/exceeds/);
    expect(() => resolveCaptionLimits({ maxLines: 0 })).toThrow(/maxLines/);
  });
});

describe('captions() operator', () => {
  const final = (text: string, startMs: number, endMs: number): TranscriptEvent => ({ type: 'final', text, startMs, endMs });

  it('emits cues as finals arrive, not only at the end', () => {
    const input = new Subject<TranscriptEvent>();
    const seen: Cue[] = [];
    input.pipe(captions()).subscribe((c) => seen.push(c));
    input.next(final('first words here', 0, 1000));
    expect(seen).toHaveLength(0); // may still merge with what follows
    input.next(final('after a long pause', 5000, 6000));
    expect(seen.map((c) => c.lines.join(' '))).toEqual(['first words here']);
    input.complete();
    expect(seen).toHaveLength(2);
  });

  it('flushes settled cues then forwards an upstream error', async () => {
    const src = concat(of(final('kept words', 0, 1000)), throwError(() => new EarshotError('EARSHOT_DECODE_FAILED', 'boom')));
    const seen: Cue[] = [];
    await expect(lastValueFrom(src.pipe(captions()))).rejects.toMatchObject({ code: 'EARSHOT_DECODE_FAILED' });
    src.pipe(captions()).subscribe({ next: (c) => seen.push(c), error: () => undefined });
    expect(seen.map((c) => c.lines[0])).toEqual(['kept words']);
  });

  it('completes empty on empty input, and unsubscribing stops it', async () => {
    expect(await lastValueFrom(from([] as TranscriptEvent[]).pipe(captions(), toArray()))).toEqual([]);
    const input = new Subject<TranscriptEvent>();
    const sub = input.pipe(captions()).subscribe();
    sub.unsubscribe();
    expect(input.observed).toBe(false);
  });
});

describe('caption timing on ordinary speech', () => {
  it('cues start with their first word and leave the gap before the next', () => {
    let t = 500;
    const events: TranscriptEvent[] = ['the weather will be cold and windy tomorrow morning', 'please send the report to my office before noon and then call me back when you can'].map((s) => {
      const words = s.split(' ').map((w) => {
        const st = t;
        t += w.length * 65 + 60; // about 13 characters a second
        return { text: w, startMs: st, endMs: t - 40 };
      });
      t += 700;
      return { type: 'final', text: s, startMs: words[0]!.startMs, endMs: words.at(-1)!.endMs, words };
    });
    const words = events.flatMap((e) => e.words!);
    const cues = buildCues(events);
    checkRules(cues);
    let w = 0;
    for (const cue of cues) {
      expect(cue.startMs).toBe(words[w]!.startMs);
      w += cue.lines.join(' ').split(' ').length;
    }
  });
});
