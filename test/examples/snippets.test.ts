/**
 * The TypeScript a user copies compiles against the built package, strict, in one compiler run:
 * - the `@example` blocks of src/operators/*.ts, each written to a module that imports what it names from the
 *   package (`earshot`, by its own name, or the operator's built module for names the root does not export) with a
 *   few declared fixtures;
 * - every `ts` block of the README exactly as written (its own imports, nothing added): a block that names something
 *   it does not import fails here. test/examples/readme.test.ts runs the blocks that can run offline.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { built, ROOT } from '../helpers/dist.js';
import { readmeFences } from './readme.js';

/** Free names an example may use without defining them. */
const FIXTURES: Record<string, string> = {
  transport: 'declare const transport: Transport;',
  samples: 'declare const samples: Int16Array;',
  now: 'declare const now: number;',
  alertSupervisor: 'declare function alertSupervisor(event: TranscriptEvent): void;',
  events$: 'declare const events$: Observable<TranscriptEvent>;',
};

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: true,
  noEmit: true,
  types: ['node'],
  lib: ['lib.es2023.d.ts'],
};

/** Every `@example` block of a source file (fences and the leading ` * ` removed). */
function examples(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/@example\n((?: \*(?: .*)?\n)+?)(?= \*\/| \* @)/g)) {
    out.push(
      m[1]!
        .split('\n')
        .map((l) => l.replace(/^ \* ?/, ''))
        .filter((l) => !l.startsWith('```'))
        .join('\n'),
    );
  }
  return out;
}

/** Names a module exports (values and types), read from its declaration file. */
function exportsOf(program: ts.Program, file: string): Set<string> {
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(file)!);
  return new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.name) : []);
}

describe('TypeScript snippets', () => {
  it('the operator TSDoc examples and the README blocks compile against the built package', () => {
    const index = built('src/index.d.ts');
    const dir = join(ROOT, 'src/operators');
    const modules = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    const dts = modules.map((f) => join(ROOT, 'dist/src/operators', f.replace(/\.ts$/, '.d.ts')));
    const exportsProgram = ts.createProgram([index, ...dts], OPTIONS);
    const root = exportsOf(exportsProgram, index);
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    const tmp = mkdtempSync(join(ROOT, '.tmp/examples-'));
    try {
      const files: string[] = [];
      modules.forEach((f, m) => {
        const own = exportsOf(exportsProgram, dts[m]!);
        examples(readFileSync(join(dir, f), 'utf8')).forEach((block, i) => {
          const imported = new Set([...block.matchAll(/import \{([^}]*)\} from 'earshot'/g)].flatMap((x) => x[1]!.split(',').map((n) => n.trim())));
          const words = new Set(block.match(/[A-Za-z_$][\w$]*/g) ?? []);
          const defined = (name: string) => new RegExp(`\\b(const|let|function|class)\\s+${name.replace('$', '\\$')}\\b`).test(block);
          const fromRoot = [...words].filter((w) => root.has(w) && !imported.has(w) && !defined(w));
          const fromOwn = [...words].filter((w) => own.has(w) && !root.has(w) && !defined(w));
          const fixtures = Object.keys(FIXTURES).filter((w) => words.has(w) && !defined(w));
          const header = [
            `import type { Transport, TranscriptEvent } from 'earshot';`,
            `import type { Observable } from 'rxjs';`,
            fromRoot.length ? `import { ${fromRoot.join(', ')} } from 'earshot';` : '',
            fromOwn.length ? `import { ${fromOwn.join(', ')} } from '${join(ROOT, 'dist/src/operators', f.replace(/\.ts$/, '.js'))}';` : '',
            ...fixtures.map((w) => FIXTURES[w]!),
            'export {};',
          ];
          const imports = block.split('\n').filter((l) => l.startsWith('import '));
          const body = block.split('\n').filter((l) => !l.startsWith('import '));
          const file = join(tmp, `${f.replace(/\.ts$/, '')}-${i}.ts`);
          writeFileSync(file, [...imports, ...header, ...body].join('\n'));
          files.push(file);
        });
      });
      expect(files.length).toBeGreaterThanOrEqual(modules.length);
      const readme = readmeFences().filter((f) => f.lang === 'ts');
      expect(readme.length).toBeGreaterThanOrEqual(8);
      for (const block of readme) {
        const file = join(tmp, `README-line-${block.line}.ts`);
        writeFileSync(file, `${block.code}\nexport {};\n`);
        files.push(file);
      }
      const program = ts.createProgram(files, OPTIONS);
      const problems = ts.getPreEmitDiagnostics(program).map((d) => {
        const where = d.file ? `${d.file.fileName.slice(tmp.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(problems).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
