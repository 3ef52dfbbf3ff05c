// Prints the closing line CI reads, "N passed, N failed, N skipped", from vitest's JSON report.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'test-results/report.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A file that failed to load counts as a failure even if it held no test that ran.
const brokenFiles = (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
