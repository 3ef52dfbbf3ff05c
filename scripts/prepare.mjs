// npm runs `prepare` on `npm pack`, on `npm install` from git or a folder, and after `npm ci`/`npm install` in
// this repository: build dist/ there, so a package installed from anything but the registry has its code.
// scripts/setup.sh and .ci/run set EARSHOT_SKIP_BUILD=1: they build (or `npm test` builds) once, themselves.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

if (process.env.EARSHOT_SKIP_BUILD !== '1') {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
