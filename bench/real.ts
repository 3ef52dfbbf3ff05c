/**
 * Real recordings (`samples/real`, see its README): how earshot does on speech that flite does not make.
 *
 * - WER on the real read-speech set (LibriSpeech test-clean utterances, a JFK clip): `earshot transcribe` (the
 *   embedded engine through earshot's default pipeline) beside the bare engine (`pocketsphinx_continuous`, same model,
 *   same files, same run), per file and pooled. Goal: earshot never worse than the bare engine on a file.
 * - Diarization on the real conversations (RTTM references): DER (missed + false alarm + confusion over the reference
 *   speech, 250 ms collar, md-eval style) and the speaker count found, with and without the count given.
 *   Goal: DER ≤ 20 % and the right count on two-speaker conversations.
 *
 * Run alone: `node dist/bench/real.js` after `npm run build`; `npm run bench -- real`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_MODEL_DIR } from '../src/engine/pocketsphinx.js';
import { diarize } from '../src/media/speakers.js';
import { der, readRttm } from '../test/helpers/der.js';
import { wer } from '../test/helpers/speech.js';

type Row = Record<string, string | number>;

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const REAL = join(ROOT, 'samples/real');
const run = promisify(execFile);
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** earshot's answer: the CLI's default pipeline with the embedded engine, finals joined. */
async function earshot(file: string, dir: string): Promise<string> {
  const jsonl = join(dir, `${basename(file)}.jsonl`);
  await run(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'transcribe', file, '--jsonl', jsonl, '--quiet'], { timeout: 600_000 });
  return readFileSync(jsonl, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; text: string })
    .filter((e) => e.type === 'final')
    .map((e) => e.text)
    .join(' ');
}

/** The bare engine on the same audio (as 16 kHz mono WAV), its hypothesis lines joined. */
async function bare(file: string, dir: string): Promise<string> {
  const wav = join(dir, `${basename(file)}.wav`);
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', file, '-ac', '1', '-ar', '16000', '-sample_fmt', 's16', wav]);
  const m = DEFAULT_MODEL_DIR;
  const { stdout } = await run('pocketsphinx_continuous', ['-infile', wav, '-hmm', `${m}/en-us`, '-lm', `${m}/en-us.lm.bin`, '-dict', `${m}/cmudict-en-us.dict`, '-logfn', '/dev/null'], { timeout: 600_000, maxBuffer: 1 << 24 });
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

function pcmOf(file: string): Int16Array {
  const raw = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '16000', '-'], { maxBuffer: 1 << 28 });
  return new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
}

export async function benchReal(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'earshot-bench-real-'));
  try {
    const references = new Map(
      readFileSync(join(REAL, 'read/transcripts.txt'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.split('\t')[0]!, l.split('\t')[1]!] as const),
    );
    const pooled = { ref: [] as string[], earshot: [] as string[], bare: [] as string[] };
    for (const [id, reference] of references) {
      const file = join(REAL, 'read', `${id}.flac`);
      const [ours, theirs] = [await earshot(file, dir), await bare(file, dir)];
      pooled.ref.push(reference);
      pooled.earshot.push(ours);
      pooled.bare.push(theirs);
      const [w, b] = [wer(reference, ours), wer(reference, theirs)];
      rows.push({ case: `WER ${id}`, earshot: pct(w), 'bare engine': pct(b), goal: '≤ bare engine', met: w <= b + 1e-9 ? 'yes' : 'NO' });
    }
    const [w, b] = [wer(pooled.ref.join(' '), pooled.earshot.join(' ')), wer(pooled.ref.join(' '), pooled.bare.join(' '))];
    rows.push({ case: `WER pooled (${references.size} files)`, earshot: pct(w), 'bare engine': pct(b), goal: '≤ bare engine', met: w <= b + 1e-9 ? 'yes' : 'NO' });

    const conversations = readdirSync(join(REAL, 'conversation')).filter((f) => f.endsWith('.rttm')).map((f) => f.replace(/\.rttm$/, ''));
    for (const name of conversations) {
      const reference = readRttm(join(REAL, 'conversation', `${name}.rttm`));
      const speakers = new Set(reference.map((t) => t.speaker)).size;
      const pcm = pcmOf(join(REAL, 'conversation', `${name}.flac`));
      for (const given of [false, true]) {
        const started = performance.now();
        const turns = diarize(pcm, 16000, given ? { speakerCount: speakers } : {});
        const ms = performance.now() - started;
        const found = new Set(turns.map((t) => t.speaker)).size;
        const r = der(reference, turns.map((t) => ({ startMs: t.startMs, endMs: t.endMs, speaker: String(t.speaker) })));
        rows.push({
          case: `DER ${name} (${speakers} speakers${given ? ', count given' : ''})`,
          earshot: pct(r.der),
          'bare engine': `missed ${pct(r.missed)}, false alarm ${pct(r.falseAlarm)}, confusion ${pct(r.confusion)}; ${found} speakers found; ${Math.round(ms)} ms`,
          goal: '≤ 20 %, right count',
          met: r.der <= 0.2 && found === speakers ? 'yes' : 'NO',
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.table(await benchReal());
