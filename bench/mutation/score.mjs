// Prints the mutation score of each Stryker JSON report given (one per area) and of all together:
// killed and timed out count as detected; survived and not covered do not; errors are left out.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const all = { detected: 0, undetected: 0, survived: 0, noCoverage: 0 };
console.log(`${'area'.padEnd(10)} ${'mutants'.padStart(8)} ${'detected'.padStart(9)} ${'survived'.padStart(9)} ${'no cover'.padStart(9)} ${'score'.padStart(7)}`);
for (const path of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const area = { detected: 0, undetected: 0, survived: 0, noCoverage: 0 };
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      if (DETECTED.has(m.status)) area.detected++;
      if (UNDETECTED.has(m.status)) area.undetected++;
      if (m.status === 'Survived') area.survived++;
      if (m.status === 'NoCoverage') area.noCoverage++;
    }
  }
  for (const k of Object.keys(all)) all[k] += area[k];
  print(basename(path, '.json'), area);
}
print('all', all);

function print(name, c) {
  const total = c.detected + c.undetected;
  const score = total ? ((100 * c.detected) / total).toFixed(1) : '-';
  console.log(`${name.padEnd(10)} ${String(total).padStart(8)} ${String(c.detected).padStart(9)} ${String(c.survived).padStart(9)} ${String(c.noCoverage).padStart(9)} ${String(score).padStart(6)}%`);
}
