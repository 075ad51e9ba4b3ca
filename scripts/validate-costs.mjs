// `npm run validate-costs`: regenerate the validation table of docs/cost-model.md (between its
// validate-costs markers) from the built simulator (dist/sim.mjs). test/cost-validation.test.ts
// fails when the table in the doc differs from what the sources give.
import { readFileSync, writeFileSync } from 'node:fs';
import * as sim from '../dist/sim.mjs';
import { replaceTable, validationTable } from './validate_costs_lib.mjs';

const DOC = 'docs/cost-model.md';
const before = readFileSync(DOC, 'utf8');
const after = replaceTable(before, validationTable(sim));
if (after === before) console.log(`${DOC}: validation table unchanged`);
else {
  writeFileSync(DOC, after);
  console.log(`${DOC}: validation table rewritten`);
}
