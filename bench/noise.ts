/**
 * How noisy the bench is: the rows of one area from several runs folded into one table, each figure of each cell
 * replaced by its min–max (or median) over the runs. Used by `npm run bench -- --repeat 3 decode engine`.
 *
 * Rows are matched across runs by their first column (`case`, `measure`, `what`, …), its figures aside; a value
 * repeated within a run is matched by its occurrence. Figures are the numbers inside a cell, in order: "604 / 1,046 / 1,063 ms" has
 * three, and comes out as "590–620 / 1,001–1,090 / 1,040–1,100 ms". Words around the numbers stay as they are; a
 * number glued to a word (`p95`, `s16le`) is part of the word. A cell whose words differ between runs ("yes" in
 * one, "NO" in another) is shown as its distinct values joined by " | ".
 */

/** One table row of a bench area, as the areas return them. */
export type Row = Record<string, string | number>;

/** How the figures of the runs are summarised: `range` = min–max, `median` = the median. */
export type Summary = 'range' | 'median';

// A number not glued to a word or to another number (`p95`, `s16le`, the parts of `1221-135766`): an optional
// sign (ASCII or Unicode minus), thousands separators, decimals.
const NUMBER = /(?<![\p{L}\p{N}_.,])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?/gu;

interface Figure {
  raw: string;
  value: number;
  decimals: number;
  grouped: boolean;
  minus: string;
}

/** A cell split into its words (`text`, one more than the figures) and its figures. */
function parse(cell: string): { text: string[]; figures: Figure[] } {
  const text: string[] = [];
  const figures: Figure[] = [];
  let last = 0;
  for (const m of cell.matchAll(NUMBER)) {
    text.push(cell.slice(last, m.index));
    const raw = m[0];
    const minus = raw.startsWith('−') ? '−' : '-';
    const plain = raw.replace(/,/g, '').replace('−', '-');
    figures.push({ raw, value: Number(plain), decimals: plain.split('.')[1]?.length ?? 0, grouped: raw.includes(','), minus });
    last = m.index + raw.length;
  }
  text.push(cell.slice(last));
  return { text, figures };
}

/** `x` written like the figures it summarises: as many decimals as the most precise, grouped if any was. */
function format(x: number, like: Figure[]): string {
  const decimals = Math.max(...like.map((f) => f.decimals));
  const grouped = like.some((f) => f.grouped);
  const s = grouped
    ? Math.abs(x).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : Math.abs(x).toFixed(decimals);
  return x < 0 ? `${like[0]!.minus}${s}` : s;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** One figure over the runs: its raw text when every run wrote the same, else min–max or the median. */
function summarise(like: Figure[], summary: Summary, nextToDash: boolean): string {
  if (like.every((f) => f.raw === like[0]!.raw)) return like[0]!.raw;
  const values = like.map((f) => f.value);
  if (summary === 'median') return format(median(values), like);
  const lo = format(Math.min(...values), like);
  const hi = format(Math.max(...values), like);
  if (lo === hi) return lo;
  // "0.12–0.16" summarised as "0.11–0.13–0.15–0.17" would not read: bracket a range that touches a dash.
  return nextToDash ? `[${lo}–${hi}]` : `${lo}–${hi}`;
}

/**
 * One cell over the runs.
 *
 * @param cells - the cell as each run gave it (runs without the row left out).
 * @param summary - `range` for min–max of each figure, `median` for its median.
 * @returns the cell with each figure summarised; a number when every run gave the same number or the cells were
 *   numbers summarised as a median; the distinct cells joined by " | " when their words differ.
 * @example
 * summariseCell(['604 / 1,063 ms', '650 / 998 ms', '590 / 1,100 ms'], 'range'); // '590–650 / 998–1,100 ms'
 */
export function summariseCell(cells: Array<string | number>, summary: Summary): string | number {
  if (cells.length === 0) return '';
  if (cells.every((c) => c === cells[0])) return cells[0]!;
  const parsed = cells.map((c) => parse(String(c)));
  const words = parsed[0]!.text;
  const sameWords = parsed.every((p) => p.text.length === words.length && p.text.every((t, i) => t === words[i]));
  if (!sameWords) return [...new Set(cells.map(String))].join(' | ');
  let out = words[0]!;
  for (let i = 0; i < words.length - 1; i++) {
    const dash = /[-–−]$/.test(words[i]!) || /^[-–−]/.test(words[i + 1]!);
    out += summarise(parsed.map((p) => p.figures[i]!), summary, dash) + words[i + 1]!;
  }
  const allNumbers = cells.every((c) => typeof c === 'number');
  return allNumbers && summary === 'median' ? Number(out) : out;
}

/**
 * The match key of each row of one run: its first column's words (its figures may differ between runs, as in
 * "load 8.1 on 2 cores"), then `#2`, `#3` for repeats within the run.
 */
function keys(rows: Row[]): string[] {
  const seen = new Map<string, number>();
  return rows.map((row) => {
    const first = String(Object.values(row)[0] ?? '').replace(NUMBER, '#');
    const n = (seen.get(first) ?? 0) + 1;
    seen.set(first, n);
    return n === 1 ? first : `${first} #${n}`;
  });
}

/**
 * Fold the rows of several runs of one bench area into one table.
 *
 * @param runs - each run's rows, in run order.
 * @param summary - `range` (min–max of each figure, the default) or `median`.
 * @returns one row per first-column value (its figures aside), in the order first seen; each cell summarised by {@link summariseCell}
 *   over the runs that have it; a `runs` column ("2 of 3") on rows some run lacked.
 * @example
 * summariseRuns([[{ case: 'rtf', value: 0.11 }], [{ case: 'rtf', value: 0.13 }]]); // [{ case: 'rtf', value: '0.11–0.13' }]
 */
export function summariseRuns(runs: Row[][], summary: Summary = 'range'): Row[] {
  const byKey = new Map<string, Row[]>();
  runs.forEach((rows) => {
    const k = keys(rows);
    rows.forEach((row, i) => {
      const list = byKey.get(k[i]!) ?? [];
      list.push(row);
      byKey.set(k[i]!, list);
    });
  });
  return [...byKey.values()].map((rows) => {
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const out: Row = {};
    for (const col of columns) {
      const cells = rows.map((r) => r[col]).filter((c): c is string | number => c !== undefined);
      out[col] = summariseCell(cells, summary);
    }
    if (rows.length < runs.length) out.runs = `${rows.length} of ${runs.length}`;
    return out;
  });
}
