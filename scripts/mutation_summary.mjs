// The mutation score per file from Stryker's JSON report (npm run mutate writes
// reports/mutation/mutation.json).
//
//   node scripts/mutation_summary.mjs [report.json ...] [--survivors]
//
// Several reports (runs over different files, e.g. with local configs that split the work) are
// merged; a source file in more than one report is taken from the last one given.
// Score = (killed + timed out) / (killed + timed out + survived + no coverage), as Stryker computes
// it; compile and runtime errors and ignored mutants do not count. --survivors also lists every
// mutant that survived or was not covered, as file:line:column, mutator and replacement.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const survivors = args.includes('--survivors');
const paths = args.filter((a) => !a.startsWith('--'));
if (paths.length === 0) paths.push('reports/mutation/mutation.json');

const report = { files: {} };
for (const file of paths) {
  try {
    Object.assign(report.files, JSON.parse(readFileSync(file, 'utf8')).files);
  } catch (e) {
    console.error(`mutation_summary: cannot read ${file}: ${e.message} (run npm run mutate first)`);
    process.exit(2);
  }
}

const UNDETECTED = new Set(['Survived', 'NoCoverage']);

const rows = [];
const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
const left = [];
for (const [name, f] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const n = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
  for (const m of f.mutants) {
    if (m.status === 'Killed') n.killed++;
    else if (m.status === 'Timeout') n.timeout++;
    else if (m.status === 'Survived') n.survived++;
    else if (m.status === 'NoCoverage') n.noCoverage++;
    else if (m.status === 'CompileError' || m.status === 'RuntimeError') n.errors++;
    if (UNDETECTED.has(m.status)) left.push({ name, m });
  }
  for (const k of Object.keys(total)) total[k] += n[k];
  rows.push([name, n]);
}

const score = (n) => {
  const valid = n.killed + n.timeout + n.survived + n.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * (n.killed + n.timeout)) / valid).toFixed(2)}%`;
};
const width = Math.max(4, ...rows.map(([name]) => name.length));
const line = (name, n) =>
  `${name.padEnd(width)}  ${String(n.killed).padStart(6)}  ${String(n.timeout).padStart(7)}  ${String(n.survived).padStart(8)}  ${String(n.noCoverage).padStart(6)}  ${String(n.errors).padStart(6)}  ${score(n).padStart(7)}`;
console.log(`${'file'.padEnd(width)}  killed  timeout  survived  no cov  errors    score`);
for (const [name, n] of rows) console.log(line(name, n));
if (rows.length > 1) console.log(line('all files', total));

if (survivors && left.length > 0) {
  console.log('\nsurvived / not covered:');
  for (const { name, m } of left) {
    const at = `${name}:${m.location.start.line}:${m.location.start.column}`;
    const tag = m.status === 'NoCoverage' ? ' (no coverage)' : '';
    console.log(`  ${at}  ${m.mutatorName}${tag}: ${JSON.stringify(m.replacement ?? '')}`);
  }
}
