/**
 * The project's own protocol notes are what the README, the code and the tests cite: every section cited (`§2.2`)
 * exists in docs/protocol-notes.md with its anchor, and nothing cites a document outside the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/dist.js';

const SECTION = '\u00a7'; // the section sign, spelled out so this file does not cite anything itself

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

describe('docs/protocol-notes.md', () => {
  const notes = readFileSync(join(ROOT, 'docs/protocol-notes.md'), 'utf8');
  const anchors = new Set([...notes.matchAll(/<a id="s(\d+(?:\.\d+)?)"><\/a>\n#+ (\d+(?:\.\d+)?)\.? /g)].filter((m) => m[1] === m[2]).map((m) => m[1]!));

  it('has a numbered heading with its anchor for each section, 1 to 9', () => {
    for (let n = 1; n <= 9; n++) expect(anchors.has(String(n)), `section ${n}`).toBe(true);
    expect(anchors.size).toBeGreaterThan(40);
  });

  it('is the protocol document the README, src/ and test/ cite, section by section', () => {
    const cited = new Map<string, string[]>();
    const sources = [join(ROOT, 'README.md'), ...files(join(ROOT, 'src')), ...files(join(ROOT, 'test'))];
    for (const path of sources) {
      const text = readFileSync(path, 'utf8');
      expect(text, relative(ROOT, path)).not.toMatch(/shared\/protocols|dashscope\.md/);
      for (const m of text.matchAll(new RegExp(`${SECTION} ?(\\d+(?:\\.\\d+)?)`, 'g'))) {
        cited.set(m[1]!, [...(cited.get(m[1]!) ?? []), relative(ROOT, path)]);
      }
    }
    expect(cited.size).toBeGreaterThan(20);
    const missing = [...cited].filter(([section]) => !anchors.has(section)).map(([section, where]) => `${SECTION}${section} in ${[...new Set(where)].join(', ')}`);
    expect(missing).toEqual([]);
  });
});
