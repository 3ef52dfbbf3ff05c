/** Tests of the compiled CLI and examples run what `npm test` built; a bare `vitest` run builds it first. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');

/** Path of a compiled file under dist/, building the project once if it is missing. */
export function built(relative: string): string {
  const path = join(ROOT, 'dist', relative);
  if (!existsSync(path)) execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  return path;
}
