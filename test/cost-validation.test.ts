import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as sim from '../simulator/index';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';
import { CASES, currentTable, measure, validationTable } from '../scripts/validate_costs_lib.mjs';

// The validation table of docs/cost-model.md is generated (scripts/validate_costs_lib.mjs, through
// `npm run validate-costs`). This regenerates it from the simulator's sources and fails when the
// doc is stale: any change of a constant or of a charged path must be followed by the script.

describe('cost validation table (docs/cost-model.md)', () => {
  it('the table in the doc is what the simulator gives now (run `npm run validate-costs` if not)', () => {
    const doc = readFileSync('docs/cost-model.md', 'utf8');
    expect(currentTable(doc)).toBe(validationTable(sim));
  });

  it('every case runs and produces its exit reason in both profiles', () => {
    const m = measure(sim);
    for (const p of ['westmere-2011', 'modern']) for (const c of CASES) expect(m[p]![c.id]!.min, `${c.id} ${p}`).toBeGreaterThan(0);
  });

  // Case (c) is the cheapest exit. v3.1 handle_invlpg -> kvm_mmu_invlpg (mmu.c:3739-3743) ->
  // FNAME(invlpg) (paging_tmpl.h:666 `spin_lock(&vcpu->kvm->mmu_lock)`; the leaf's shadow page is
  // not unsync, so :676-677 `if (!sp->unsync) break;`): the exit's handling is `exit_handler` plus
  // one mmu_lock pair, nothing else.
  it('case (c), INVLPG of a synced page, costs exit_handler + mmu_lock', () => {
    const m = measure(sim);
    for (const p of ['westmere-2011', 'modern'] as const) {
      const c = PROFILES_BY_NAME[p];
      expect(m[p]!.c!.min).toBe(c.exit_handler + c.mmu_lock);
      expect(m[p]!.c!.transition).toBe(c.vmexit_transition);
    }
  });
});
