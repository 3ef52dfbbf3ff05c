/**
 * The fuzzers' mutator: a seeded generator and the mutations every fuzz target draws from — bit flips, truncation,
 * random bytes, overwritten integer fields (sizes that lie), spliced regions, and for JSON values wrong types, huge
 * fields and deep nesting. Deterministic: the same seed gives the same cases.
 */

/** A deterministic pseudo-random generator (mulberry32), so a failing randomised case reproduces from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The generator of case `n` of a run seeded `seed`: its own stream (a hash of both), so a case draws the same input
 * whatever ran before or beside it — cases can run concurrently and one case reproduces alone.
 *
 * @param seed - The run's seed.
 * @param n - The case number.
 * @returns the case's generator.
 * @example
 * const rand = caseRng(1, 4711); // case 4711 of seed 1, alone
 */
export function caseRng(seed: number, n: number): () => number {
  let h = Math.imul((seed >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ (n >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return rng((h ^ (h >>> 16)) >>> 0);
}

/** An integer in `[0, n)`. */
export function pick(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

/** `length` random bytes (at most `max` when no length is given). */
export function randomBytes(rand: () => number, max: number, length = pick(rand, max + 1)): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = pick(rand, 256);
  return out;
}

/** 32-bit values that break size arithmetic. */
const LYING_U32 = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/**
 * One mutation of `seed` (a copy; the seed is untouched): bit flips, a truncation, a lying 16/32-bit field at an
 * aligned or random offset, a duplicated or deleted region, appended garbage, or (rarely) pure noise.
 *
 * @param seed - A valid input to start from.
 * @param rand - The generator.
 * @returns the mutated bytes.
 * @example
 * const r = rng(1); const bad = mutateBytes(validWav, r);
 */
export function mutateBytes(seed: Uint8Array, rand: () => number): Buffer {
  let b = Buffer.from(seed);
  const mode = rand();
  if (b.length === 0 || mode < 0.05) return randomBytes(rand, 2048);
  if (mode < 0.35) {
    const flips = 1 + pick(rand, 8);
    for (let f = 0; f < flips; f++) b[pick(rand, b.length)]! ^= 1 << pick(rand, 8);
  } else if (mode < 0.5) {
    b = b.subarray(0, pick(rand, b.length));
  } else if (mode < 0.7 && b.length >= 4) {
    const at = rand() < 0.6 ? pick(rand, b.length >> 2) * 4 : pick(rand, b.length - 3);
    const v = rand() < 0.7 ? LYING_U32[pick(rand, LYING_U32.length)]! : pick(rand, 2 ** 32);
    if (rand() < 0.7) b.writeUInt32LE(v >>> 0, at);
    else b.writeUInt16LE(v & 0xffff, at);
  } else if (mode < 0.8) {
    const from = pick(rand, b.length);
    const len = 1 + pick(rand, Math.min(256, b.length - from));
    const region = b.subarray(from, from + len);
    b = rand() < 0.5 ? Buffer.concat([b.subarray(0, from), region, region, b.subarray(from + len)]) : Buffer.concat([b.subarray(0, from), b.subarray(from + len)]);
  } else if (mode < 0.9) {
    b = Buffer.concat([b, randomBytes(rand, 512)]);
  } else {
    const at = pick(rand, b.length);
    const junk = randomBytes(rand, 64);
    junk.copy(b, at);
  }
  return b;
}

/** Values of the wrong type, and sizes a parser may not expect. */
function oddValue(rand: () => number): unknown {
  switch (pick(rand, 12)) {
    case 0:
      return null;
    case 1:
      return -1;
    case 2:
      return 1e308;
    case 3:
      return 'x'.repeat(pick(rand, 200_000));
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return true;
    case 7:
      return Number.NaN; // serialises as null
    case 8:
      return '\u0000\ud800';
    case 9: {
      let v: unknown = 'deep';
      for (let i = 0, n = pick(rand, 2000); i < n; i++) v = [v];
      return v;
    }
    case 10:
      return Array.from({ length: pick(rand, 5000) }, (_, i) => i);
    default:
      return String(pick(rand, 1e9));
  }
}

/**
 * One mutation of a JSON value (a deep copy): a node replaced by a value of the wrong type, huge or deeply nested,
 * a key deleted or added.
 *
 * @param value - A valid message or reply.
 * @param rand - The generator.
 * @returns the mutated value.
 * @example
 * mutateJson({ type: 'session.update', session: {} }, rng(3));
 */
export function mutateJson(value: unknown, rand: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(value ?? null)) as unknown;
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
      walk(child, depth + 1);
    }
  };
  walk(copy, 0);
  if (nodes.length === 0) return oddValue(rand);
  const edits = 1 + pick(rand, 3);
  for (let e = 0; e < edits; e++) {
    const { parent, key } = nodes[pick(rand, nodes.length)]!;
    const r = rand();
    if (r < 0.15 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
    else if (r < 0.25 && !Array.isArray(parent)) (parent as Record<string, unknown>)[`x${pick(rand, 100)}`] = oddValue(rand);
    else (parent as Record<string | number, unknown>)[key] = oddValue(rand);
  }
  return copy;
}

/**
 * A mutated text frame for a JSON protocol: mostly `mutateJson` of a valid message, sometimes its text cut short,
 * bytes flipped or not JSON at all.
 *
 * @example
 * ws.send(mutateJsonText({ type: 'input_audio_buffer.commit' }, rng(9)));
 */
export function mutateJsonText(value: unknown, rand: () => number): string {
  const r = rand();
  if (r < 0.7) return JSON.stringify(mutateJson(value, rand));
  return mutateBytes(Buffer.from(JSON.stringify(value)), rand).toString('utf8');
}

/**
 * A mutated RTP datagram (the mutations the depacketizer's fuzz has always used): noise with a valid version,
 * flipped bits, truncation, any sequence/timestamp, many SSRCs, header bits at random, any payload type.
 *
 * @param seeds - Valid packets to start from.
 * @param rand - The generator.
 * @param n - The case number (spreads sequence numbers over SSRCs).
 * @example
 * depacketizer.push(mutateRtp(seeds, rng(2024), 0));
 */
export function mutateRtp(seeds: readonly Buffer[], rand: () => number, n: number): Buffer {
  if (rand() < 0.3) {
    const pkt = randomBytes(rand, 0, pick(rand, 1500));
    if (rand() < 0.5 && pkt.length > 0) pkt[0] = (pkt[0]! & 0x3f) | 0x80; // version 2, the rest random
    return pkt;
  }
  let pkt = Buffer.from(seeds[pick(rand, seeds.length)]!);
  const mode = rand();
  if (mode < 0.4) {
    const flips = 1 + pick(rand, 8);
    for (let f = 0; f < flips; f++) pkt[pick(rand, pkt.length)]! ^= 1 << pick(rand, 8);
  } else if (mode < 0.55) {
    pkt = pkt.subarray(0, pick(rand, pkt.length));
  } else if (mode < 0.7) {
    pkt.writeUInt16BE(pick(rand, 65536), 2); // any sequence
    pkt.writeUInt32BE(pick(rand, 2 ** 32), 4); // any timestamp
  } else if (mode < 0.8) {
    pkt.writeUInt32BE(pick(rand, 64), 8); // many SSRCs
    pkt.writeUInt16BE((n >> 1) & 0xffff, 2);
  } else if (mode < 0.9) {
    pkt[0] = 0x80 | pick(rand, 64); // padding/extension/CSRC bits at random
  } else {
    pkt[1] = pick(rand, 256); // any payload type, RTCP range included
  }
  return pkt;
}
