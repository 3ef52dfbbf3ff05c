/**
 * Diarization error rate, scored the way NIST md-eval does it: time within `collarMs` of any reference turn boundary
 * is not scored; elsewhere, per 10 ms frame, missed speech + false alarm + speaker confusion over the reference
 * speaker time, with reference and hypothesis speakers paired one-to-one to overlap most.
 */
import { readFileSync } from 'node:fs';

/** One speaker's turn, in ms. */
export interface LabelledTurn {
  startMs: number;
  endMs: number;
  speaker: string;
}

/** Parse an RTTM file's `SPEAKER` lines into turns. */
export function readRttm(path: string): LabelledTurn[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('SPEAKER '))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      const start = Number(f[3]) * 1000;
      return { startMs: start, endMs: start + Number(f[4]) * 1000, speaker: f[7]! };
    });
}

/** DER and its parts (fractions of the scored reference speech). */
export interface DerResult {
  der: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  /** Scored reference speaker time, ms. */
  totalMs: number;
}

const STEP = 10;

/** Score `hypothesis` against `reference` with a collar (default 250 ms). */
export function der(reference: readonly LabelledTurn[], hypothesis: readonly LabelledTurn[], collarMs = 250): DerResult {
  const end = Math.max(0, ...reference.map((t) => t.endMs), ...hypothesis.map((t) => t.endMs));
  const frames = Math.ceil(end / STEP);
  const refSpeakers = [...new Set(reference.map((t) => t.speaker))];
  const hypSpeakers = [...new Set(hypothesis.map((t) => t.speaker))];
  const at = (turns: readonly LabelledTurn[], names: string[], t: number): number[] =>
    [...new Set(turns.filter((x) => t >= x.startMs && t < x.endMs).map((x) => names.indexOf(x.speaker)))];
  const scored: { r: number[]; h: number[] }[] = [];
  for (let f = 0; f < frames; f++) {
    const t = f * STEP + STEP / 2;
    if (reference.some((x) => Math.abs(t - x.startMs) < collarMs || Math.abs(t - x.endMs) < collarMs)) continue;
    scored.push({ r: at(reference, refSpeakers, t), h: at(hypothesis, hypSpeakers, t) });
  }
  // Overlap of each (reference, hypothesis) pair, then the one-to-one pairing with the most overlap.
  const overlap = refSpeakers.map(() => new Array<number>(hypSpeakers.length).fill(0));
  for (const { r, h } of scored) for (const a of r) for (const b of h) overlap[a]![b]! += 1;
  const best = bestPairing(overlap, 0, new Set());
  let total = 0;
  let missed = 0;
  let falseAlarm = 0;
  let errorConf = 0;
  for (const { r, h } of scored) {
    total += r.length;
    missed += Math.max(0, r.length - h.length);
    falseAlarm += Math.max(0, h.length - r.length);
    const correct = r.filter((a) => best.pairs.has(a) && h.includes(best.pairs.get(a)!)).length;
    errorConf += Math.min(r.length, h.length) - correct;
  }
  const denom = Math.max(1, total);
  return { der: (missed + falseAlarm + errorConf) / denom, missed: missed / denom, falseAlarm: falseAlarm / denom, confusion: errorConf / denom, totalMs: total * STEP };
}

function bestPairing(overlap: number[][], a: number, used: Set<number>): { score: number; pairs: Map<number, number> } {
  if (a === overlap.length) return { score: 0, pairs: new Map() };
  let best = bestPairing(overlap, a + 1, used); // reference speaker `a` unpaired
  for (let b = 0; b < (overlap[a]?.length ?? 0); b++) {
    if (used.has(b)) continue;
    used.add(b);
    const rest = bestPairing(overlap, a + 1, used);
    used.delete(b);
    if (rest.score + overlap[a]![b]! > best.score) best = { score: rest.score + overlap[a]![b]!, pairs: new Map(rest.pairs).set(a, b) };
  }
  return best;
}
