/**
 * The public API in layers, as a user imports it: every subpath of package.json `exports` resolves (through the
 * package's own name, from dist/), holds what it is for, and internals stay off the root.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { built, ROOT } from './helpers/dist.js';

built('src/index.js');

/** The names a subpath exports at run time, imported by a separate Node process as a user would. */
function exportsOf(specifier: string): string[] {
  const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
}

describe('package exports', () => {
  it('maps every subpath to a built entry', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { types: string; import: string }> };
    expect(Object.keys(pkg.exports)).toEqual(['.', './streams', './rtp', './dashscope', './engine', './testing', './queue', './emulator', './report', './server', './package.json']);
    for (const [path, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(target.import.replace(/\.js$/, '.d.ts'), path).toBe(target.types);
    }
  });

  it('keeps the root to what pipelines are built from, internals in their subpaths', () => {
    const root = exportsOf('earshot');
    for (const name of ['fromFile', 'fromRtp', 'decode', 'vadChunk', 'transcribe', 'transcribeBatch', 'transcribeRealtime', 'transcribeMode', 'toSrt', 'toJsonl', 'textSink', 'local', 'funAsr', 'omni', 'createTransport', 'registerTransport', 'listModels', 'chooseModel', 'withCapabilities', 'EarshotError', 'TransportError']) {
      expect(root, name).toContain(name);
    }
    for (const name of ['EnginePool', 'DashScopeHttp', 'parseRtp', 'codecPayloads', 'RtpDepacketizer', 'redactSecrets', 'formatModelTable', 'modelsJson', 'decodeStream', 'runVirtual', 'Vocabularies', 'openVad']) {
      expect(root, name).not.toContain(name);
    }
    expect(exportsOf('earshot/streams')).toEqual(expect.arrayContaining(['decodeStream', 'transcribeStream', 'srtStream', 'toReadable', 'toAsyncIterable', 'fromAsyncIterable', 'operatorToTransform']));
    expect(exportsOf('earshot/rtp')).toEqual(expect.arrayContaining(['parseRtp', 'buildRtp', 'RtpDepacketizer', 'payloadsFromSdp']));
    expect(exportsOf('earshot/dashscope')).toEqual(expect.arrayContaining(['Vocabularies', 'createTemporaryKey', 'DashScopeHttp', 'resolveDashScope']));
    expect(exportsOf('earshot/engine')).toEqual(expect.arrayContaining(['EnginePool', 'DEFAULT_MODEL_DIR', 'openVad']));
    expect(exportsOf('earshot/testing')).toEqual(['fakeTransport', 'runVirtual']);
    expect(exportsOf('earshot/queue')).toEqual(expect.arrayContaining(['queued', 'startWorker', 'submit', 'status', 'result', 'openQueueLink']));
    expect(root).not.toContain('queued');
    expect(exportsOf('earshot/emulator')).toContain('startEmulator');
    expect(exportsOf('earshot/report')).toEqual(expect.arrayContaining(['report', 'ReportCollector', 'readJsonl', 'PeakBuilder']));
    expect(root).not.toContain('report');
  });
});
