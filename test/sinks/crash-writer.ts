/**
 * Child process for the crash test: writes many finals through toSrt, toVtt and toJsonl without end, printing
 * `ready` once the files are well under way, then keeps writing until it is killed.
 */
import { statSync } from 'node:fs';
import { Subject } from 'rxjs';
import type { TranscriptEvent } from '../../src/core/types.js';
import { toJsonl } from '../../src/sinks/jsonl.js';
import { toSrt } from '../../src/sinks/srt.js';
import { toVtt } from '../../src/sinks/vtt.js';

const [base] = process.argv.slice(2);
const input = new Subject<TranscriptEvent>();
input.pipe(toSrt(`${base}.srt`), toVtt(`${base}.vtt`), toJsonl(`${base}.jsonl`)).subscribe();
let i = 0;
let told = false;
const tick = (): void => {
  for (let k = 0; k < 200; k++, i++) {
    input.next({ type: 'final', text: `sentence number ${i} & <more> words to fill a line of text here`, startMs: i * 3000, endMs: i * 3000 + 2500 });
  }
  if (!told) {
    try {
      if (statSync(`${base}.srt`).size > 200_000) {
        told = true;
        process.stdout.write('ready\n');
      }
    } catch {
      // not created yet
    }
  }
  setImmediate(tick);
};
tick();
