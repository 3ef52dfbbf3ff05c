/**
 * `npm run bench -- --repeat N`: the rows of N runs folded into one table, each figure as min–max or median.
 */
import { describe, expect, it } from 'vitest';
import { summariseCell, summariseRuns, type Row } from '../../bench/noise.js';

describe('summariseCell', () => {
  it('replaces each figure of a cell by its min–max, keeping the words and the thousands separators', () => {
    const cells = ['604 / 1,046 / 1,063 ms', '650 / 998 / 1,100 ms', '590 / 1,020 / 1,080 ms'];
    expect(summariseCell(cells, 'range')).toBe('590–650 / 998–1,046 / 1,063–1,100 ms');
    expect(summariseCell(cells, 'median')).toBe('604 / 1,020 / 1,080 ms');
  });

  it('writes a summary with as many decimals as the most precise run', () => {
    expect(summariseCell(['0.11 x', '0.125 x', '0.1 x'], 'range')).toBe('0.100–0.125 x');
    expect(summariseCell(['2.0 s', '3 s', '9 s'], 'median')).toBe('3.0 s');
  });

  it('leaves a figure every run wrote the same as written, and numbers glued to words alone', () => {
    expect(summariseCell(['p95 0010 at 48k: 3', 'p95 0010 at 48k: 4'], 'range')).toBe('p95 0010 at 48k: 3–4');
    expect(summariseCell(['1221-135766-0001 7.5', '1221-135766-0001 9'], 'range')).toBe('1221-135766-0001 7.5–9.0');
  });

  it('brackets a range that touches a dash, and keeps a Unicode minus', () => {
    expect(summariseCell(['0.12–0.16 %', '0.11–0.17 %'], 'range')).toBe('[0.11–0.12]–[0.16–0.17] %');
    expect(summariseCell(['slope −1.6 MB', 'slope −0.4 MB'], 'range')).toBe('slope −1.6–−0.4 MB');
  });

  it('lists the distinct cells when their words differ, and keeps numbers as numbers', () => {
    expect(summariseCell(['yes', 'NO', 'yes'], 'range')).toBe('yes | NO');
    expect(summariseCell([3, 5, 4], 'median')).toBe(4);
    expect(summariseCell([3, 5, 4], 'range')).toBe('3–5');
    expect(summariseCell([7, 7], 'range')).toBe(7);
    expect(summariseCell([], 'range')).toBe('');
  });
});

describe('summariseRuns', () => {
  it('matches rows by their first column (figures aside) and its occurrence, whatever the order, and marks rows a run lacked', () => {
    const runs: Row[][] = [
      [
        { measure: 'decode', codec: 'pcmu', pps: 186_000 },
        { measure: 'decode', codec: 'pcma', pps: 350_000 },
        { measure: 'live', codec: 'pcmu', pps: '-' },
      ],
      [
        { measure: 'live', codec: 'pcmu', pps: '-' },
        { measure: 'decode', codec: 'pcmu', pps: 170_000 },
        { measure: 'decode', codec: 'pcma', pps: 360_000 },
      ],
      [
        { measure: 'decode', codec: 'pcmu', pps: 190_000 },
        { measure: 'decode', codec: 'pcma', pps: 340_000, lost: 2 },
      ],
    ];
    expect(summariseRuns(runs)).toEqual([
      { measure: 'decode', codec: 'pcmu', pps: '170000–190000' },
      { measure: 'decode', codec: 'pcma', pps: '340000–360000', lost: 2 },
      { measure: 'live', codec: 'pcmu', pps: '-', runs: '2 of 3' },
    ]);
    expect(summariseRuns(runs, 'median')[0]).toEqual({ measure: 'decode', codec: 'pcmu', pps: 186_000 });
    const loads: Row[][] = [[{ what: 'load 8.1 on 2 cores' }, { what: 'pool of 1', x: 1.4 }], [{ what: 'load 12.3 on 2 cores' }, { what: 'pool of 1', x: 2.5 }]];
    expect(summariseRuns(loads)).toEqual([{ what: 'load 8.1–12.3 on 2 cores' }, { what: 'pool of 1', x: '1.4–2.5' }]);
    expect(summariseRuns([])).toEqual([]);
  });
});
