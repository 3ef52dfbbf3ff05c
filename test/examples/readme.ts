/** The README's fenced code blocks and its shell command lines, read as a user would copy them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/dist.js';

/** One fenced block: its info string (`ts`, `sh`, …), the line of its opening fence, its text. */
export interface Fence {
  lang: string;
  line: number;
  code: string;
}

/** Every fenced block of the README, in order. */
export function readmeFences(): Fence[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !lines[i]!.startsWith('```')) body.push(lines[i]!);
    out.push({ lang: open[1]!, line: start + 1, code: body.join('\n') });
  }
  return out;
}

/**
 * One shell line as words, the way sh would split it for a simple command: single and double quotes (no expansion
 * inside single ones), `$NAME` / `${NAME}` from `env`, a `#` comment after whitespace, and a trailing `&`.
 */
export function shellWords(line: string, env: NodeJS.ProcessEnv): { words: string[]; background: boolean } {
  const words: string[] = [];
  let word: string | undefined;
  const expand = (s: string): string => s.replace(/\$\{?([A-Za-z_]\w*)\}?/g, (_, name: string) => env[name] ?? '');
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === '#' && word === undefined) break;
    else if (ch === "'" || ch === '"') {
      const end = line.indexOf(ch, i + 1);
      if (end < 0) throw new Error(`unterminated ${ch} in: ${line}`);
      const quoted = line.slice(i + 1, end);
      word = (word ?? '') + (ch === '"' ? expand(quoted) : quoted);
      i = end;
    } else {
      let j = i;
      while (j < line.length && !/[\s'"]/.test(line[j]!)) j++;
      word = (word ?? '') + expand(line.slice(i, j));
      i = j - 1;
    }
  }
  if (word !== undefined) words.push(word);
  const background = words[words.length - 1] === '&';
  return { words: background ? words.slice(0, -1) : words, background };
}
