// `node scripts/bench/doc.mjs FILE.json [OUT.md]`: rewrites docs/performance.md (or OUT.md) from a
// saved run of the suite.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performanceDoc } from './report.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/bench/doc.mjs FILE.json [OUT.md] (FILE.json from npm run bench -- --json FILE.json)');
  process.exit(2);
}
const out = process.argv[3] ?? fileURLToPath(new URL('../../docs/performance.md', import.meta.url));
writeFileSync(out, performanceDoc(JSON.parse(readFileSync(file, 'utf8'))));
