/**
 * earshot as a dependency, the way a user gets it: `npm pack` of a clean copy of the repository (no dist/: the
 * `prepare` script must build it), the tarball installed into a new project offline, then imported (ESM and
 * `require`), run through `npx earshot`, and type-checked in a strict project (`skipLibCheck: false`) under the
 * three module resolutions a TypeScript user may have.
 *
 * Offline: the new project gets a lockfile made from this repository's (the same versions, the tarballs are in
 * the npm cache since this repository's own `npm ci`), so `npm ci --offline` needs no registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/dist.js';

const run = promisify(execFile);
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface LockEntry {
  version?: string;
  dev?: boolean;
  [key: string]: unknown;
}
interface Lock {
  packages: Record<string, LockEntry>;
}
interface Manifest {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
  exports: Record<string, unknown>;
}

let work: string;
let project: string;
let tarball: string;

/** A clean copy of the repository as a clone would have it: tracked and new files, no dist/, no node_modules. */
async function cleanCopy(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 << 20 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(ROOT, file), join(to, file));
  }
  // the build needs the dev dependencies (typescript, @types/*): the ones installed here
  symlinkSync(join(ROOT, 'node_modules'), join(to, 'node_modules'), 'dir');
}

/** A user project depending on the tarball, with a lockfile taken from this repository's for an offline `npm ci`. */
function userProject(dir: string, tgz: string): void {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const packages: Record<string, LockEntry> = {};
  for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev) packages[path] = entry;
  const spec = `file:${tgz}`;
  packages['node_modules/earshot'] = {
    version: manifest.version,
    resolved: spec,
    integrity: `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`,
    license: manifest.license,
    dependencies: manifest.dependencies,
    ...(manifest.optionalDependencies ? { optionalDependencies: manifest.optionalDependencies } : {}),
    bin: manifest.bin,
    engines: manifest.engines,
  };
  const pkg = { name: 'earshot-user', version: '1.0.0', private: true, type: 'module', dependencies: { earshot: spec } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  const root = { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { '': root, ...packages } }, null, 2));
  mkdirSync(join(dir, 'src'));
  // public API from both entry points, types included
  writeFileSync(
    join(dir, 'src/main.ts'),
    [
      "import { lastValueFrom } from 'rxjs';",
      "import { decode, EarshotError, fromFile, local, resample, toSrt, transcribeBatch, vadChunk, type TranscriptEvent } from 'earshot';",
      "import { startEmulator, type Emulator, type EmulatorOptions } from 'earshot/emulator';",
      '',
      "const options: EmulatorOptions = { apiKeys: ['sk-test'] };",
      'const emulator: Emulator = await startEmulator(options);',
      'await emulator.close();',
      'try {',
      '  const last: TranscriptEvent | undefined = await lastValueFrom(',
      "    fromFile('talk.mp3').pipe(decode(), resample(16000), vadChunk(), transcribeBatch(local()), toSrt('talk.srt')),",
      '    { defaultValue: undefined },',
      '  );',
      '  console.log(last?.text);',
      '} catch (err) {',
      '  if (err instanceof EarshotError) console.error(err.code);',
      '}',
      '',
    ].join('\n'),
  );
  // and every other entry point of the exports map, whole
  const names = subpaths(manifest);
  writeFileSync(join(dir, 'src/subpaths.ts'), names.map((name, i) => `import * as entry${i} from '${name}';\nconsole.log(Object.keys(entry${i}).length);\n`).join(''));
}

/** The package names of every entry point in the exports map: `earshot`, `earshot/streams`, … */
function subpaths(manifest: Manifest): string[] {
  return Object.keys(manifest.exports).filter((key) => key !== './package.json').map((key) => (key === '.' ? 'earshot' : `earshot/${key.slice(2)}`));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'earshot-package-'));
  const clone = join(work, 'clone');
  mkdirSync(clone);
  await cleanCopy(clone);
  const env = { ...process.env, EARSHOT_SKIP_BUILD: '' };
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone, env, maxBuffer: 64 << 20 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, packed!.filename);
  project = join(work, 'project');
  mkdirSync(project);
  userProject(project, tarball);
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, maxBuffer: 64 << 20 });
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack of a clean clone', () => {
  it('builds dist/ (prepare) and ships the code, its declarations and the CLI', () => {
    const installed = join(project, 'node_modules/earshot');
    for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/emulator/index.js', 'dist/src/emulator/index.d.ts', 'dist/src/cli/main.js', 'README.md', 'samples/sample.wav']) {
      expect(existsSync(join(installed, file)), file).toBe(true);
    }
    expect(readdirSync(join(installed, 'dist'))).toEqual(['src']);
  });
});

describe('the installed package', () => {
  const names = (): string[] => subpaths(JSON.parse(readFileSync(join(project, 'node_modules/earshot/package.json'), 'utf8')) as Manifest);

  it('imports as ESM from every entry point', async () => {
    const code = `for (const name of ${JSON.stringify(names())}) console.log(name, Object.keys(await import(name)).length);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: project });
    const counts = stdout.trim().split('\n').map((line) => Number(line.split(' ')[1]));
    expect(counts).toHaveLength(names().length);
    for (const n of counts) expect(n).toBeGreaterThan(0);
    const direct = "import { fromFile, local } from 'earshot'; import { startEmulator } from 'earshot/emulator'; console.log(typeof fromFile, typeof local, typeof startEmulator);";
    expect((await run(process.execPath, ['--input-type=module', '-e', direct], { cwd: project })).stdout.trim()).toBe('function function function');
  });

  it('loads every entry point with require() on a Node that can require ESM synchronously', async () => {
    const features = process.features as { require_module?: boolean };
    const code = `for (const name of ${JSON.stringify(names())}) console.log(name, Object.keys(require(name)).length);`;
    if (features.require_module) {
      const { stdout } = await run(process.execPath, ['-e', code], { cwd: project });
      const counts = stdout.trim().split('\n').map((line) => Number(line.split(' ')[1]));
      expect(counts).toHaveLength(names().length);
      for (const n of counts) expect(n).toBeGreaterThan(0);
    } else {
      await expect(run(process.execPath, ['-e', code], { cwd: project })).rejects.toThrow(/ERR_REQUIRE_ESM/);
    }
  });

  it('runs as npx earshot: models, and a transcription with the embedded engine', async () => {
    const env = { ...process.env, npm_config_offline: 'true' };
    const models = await run('npx', ['earshot', 'models'], { cwd: project, env });
    expect(models.stdout).toMatch(/^model +mode/);
    expect(models.stdout).toContain('fun-asr-realtime');
    const text = await run('npx', ['earshot', 'transcribe', 'node_modules/earshot/samples/sample.wav', '-q'], { cwd: project, env });
    expect(text.stdout).toContain('the weather will be cold and windy');
  });

  it.each([
    ['node16', 'node16'],
    ['nodenext', 'nodenext'],
    ['esnext', 'bundler'],
  ])('type-checks a strict project with skipLibCheck false (module %s, moduleResolution %s)', async (module, moduleResolution) => {
    const config = join(project, `tsconfig.${moduleResolution}.json`);
    const compilerOptions = { strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true, target: 'es2022', module, moduleResolution };
    writeFileSync(config, JSON.stringify({ compilerOptions, include: ['src'] }));
    const result = await run(process.execPath, [TSC, '-p', config], { cwd: project }).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }));
    expect(result.stdout).toBe('');
    expect('failed' in result).toBe(false);
  });
});
