/**
 * Seeded mutators for fuzzing wire protocols (the same frames on every run: a failure reproduces from its seed).
 * Feed them a generator from `rng()` in ./random.ts.
 */
/** Mutate bytes: flip, insert, delete, truncate, or duplicate a slice; never returns the input object. */
export function mutateBytes(input: Uint8Array, rand: () => number): Buffer {
  const b = Buffer.from(input);
  const op = Math.floor(rand() * 6);
  const at = Math.floor(rand() * Math.max(1, b.length));
  switch (op) {
    case 0:
      for (let i = 0; i < 1 + rand() * 4; i++) if (b.length) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b;
    case 1:
      return b.subarray(0, at);
    case 2:
      return Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), b.subarray(at)]);
    case 3:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 8)))]);
    case 4:
      return Buffer.concat([b, b.subarray(at)]);
    default: {
      const junk = Buffer.alloc(Math.floor(rand() * 64));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
      return junk;
    }
  }
}

/** Mutate a JSON message: change a field's value or type, drop a field, or fall back to byte mutation. */
export function mutateJson(message: string, rand: () => number): string {
  const r = rand();
  if (r < 0.3) return mutateBytes(Buffer.from(message), rand).toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(message);
  } catch {
    return message;
  }
  const values: unknown[] = [null, -1, 1e308, '', 'x', '-5', '1e999', [], {}, true, 'NaN', '99999999999999', 'not base64!', 0];
  const visit = (o: unknown, depth: number): void => {
    if (!o || typeof o !== 'object' || depth > 3) return;
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec);
    if (keys.length === 0) return;
    const k = keys[Math.floor(rand() * keys.length)]!;
    const p = rand();
    if (p < 0.25) delete rec[k];
    else if (p < 0.6) rec[k] = values[Math.floor(rand() * values.length)];
    else visit(rec[k], depth + 1);
  };
  visit(obj, 0);
  return JSON.stringify(obj);
}
