// Sums vitest JSON reports into the closing line CI reads: `N passed, M failed`.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests ?? 0;
    failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
  } catch {
    // A report that is missing or unreadable means its tests did not run: count it as a failure.
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed`);
