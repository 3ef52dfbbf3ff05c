/** Strict parsers for the SRT and WebVTT files the sinks write (test helpers). */

export interface ParsedCue {
  startMs: number;
  endMs: number;
  text: string;
}

function ms(h: string, m: string, s: string, milli: string): number {
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(milli);
}

/** Parse SRT, throwing on anything malformed (a half-written cue included). */
export function parseSrt(text: string): ParsedCue[] {
  if (text === '') return [];
  if (!text.endsWith('\n\n')) throw new Error('SRT does not end with a blank line');
  const blocks = text.slice(0, -2).split('\n\n');
  return blocks.map((block, i) => {
    const lines = block.split('\n');
    if (lines[0] !== String(i + 1)) throw new Error(`bad SRT index ${lines[0]}`);
    const t = /^(\d{2,}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2,}):(\d{2}):(\d{2}),(\d{3})$/.exec(lines[1] ?? '');
    if (!t) throw new Error(`bad SRT timing ${lines[1]}`);
    const body = lines.slice(2);
    if (body.length === 0 || body.some((l) => l === '' || l.includes('-->'))) throw new Error(`bad SRT text in cue ${i + 1}`);
    return { startMs: ms(t[1]!, t[2]!, t[3]!, t[4]!), endMs: ms(t[5]!, t[6]!, t[7]!, t[8]!), text: body.join('\n') };
  });
}

/** Parse WebVTT (the subset the sinks write), throwing on anything malformed. */
export function parseVtt(text: string): Array<ParsedCue & { voice?: string }> {
  if (!text.startsWith('WEBVTT\n\n')) throw new Error('no WEBVTT header');
  const rest = text.slice('WEBVTT\n\n'.length);
  if (rest === '') return [];
  if (!rest.endsWith('\n\n')) throw new Error('VTT does not end with a blank line');
  return rest.slice(0, -2).split('\n\n').map((block) => {
    const lines = block.split('\n');
    const t = /^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$/.exec(lines[0] ?? '');
    if (!t) throw new Error(`bad VTT timing ${lines[0]}`);
    let body = lines.slice(1).join('\n');
    if (body === '' || body.includes('-->') || /&(?!amp;|lt;|gt;)/.test(body)) throw new Error(`bad VTT text ${body}`);
    let voice: string | undefined;
    const v = /^<v ([^>]+)>/.exec(body);
    if (v) {
      voice = v[1];
      body = body.slice(v[0].length);
    }
    if (/[<>]/.test(body)) throw new Error(`unescaped markup in ${body}`);
    const decoded = body.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    return { startMs: ms(t[1]!, t[2]!, t[3]!, t[4]!), endMs: ms(t[5]!, t[6]!, t[7]!, t[8]!), text: decoded, ...(voice ? { voice } : {}) };
  });
}
