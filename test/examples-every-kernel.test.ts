// Every bundled example under every modelled kernel, as `npm run demo` runs them: either it runs to
// its end with no warning, or the kernel cannot run it and the run is refused before it starts with
// one located message (never a run that stops half-way with vCPUs asleep). The race example waits on
// mmu_spte_get_lockless, which 3.0.1 does not have (3.1.10 mmu.c:563 walk_shadow_page_lockless_begin
// came with the MMIO series): refused under v3.0 at its resume_at; Compare Kernels leaves the wait out.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from './helpers/scenario';
import { runScenario, GuestSetupError } from '../simulator/run/run';
import { kernelVariants } from '../simulator/run/kernel_variants';
import { KERNELS } from '../simulator/scenario/types';

const EXAMPLES = readdirSync('examples').filter((f) => f.endsWith('.mmio.yaml'));
const RACE = 'race-zap-during-walk.mmio.yaml';

describe('every example under every kernel: clean, or refused up front', () => {
  for (const file of EXAMPLES) {
    for (const kernel of KERNELS) {
      it(`${file} under ${kernel}`, () => {
        const sc = scenario(readFileSync(join('examples', file), 'utf8'), file);
        let refused: GuestSetupError | null = null;
        try {
          const r = runScenario(sc, { overrides: { kernel }, traceCapacity: 0 });
          expect(r.warnings).toEqual([]);
        } catch (e) {
          if (!(e instanceof GuestSetupError)) throw e;
          refused = e;
        }
        if (file === RACE && kernel === 'v3.0') {
          expect(refused?.message).toMatch(/^vcpus\[1\] resume_at point mmu_spte_get_lockless: v3\.0 \(3\.0\.1\) has no lockless shadow walk/);
          const text = readFileSync(join('examples', file), 'utf8').split('\n');
          expect(text[refused!.line - 1]!.slice(refused!.col - 1)).toMatch(/^\{ memslot: add, .*resume_at: \{ vcpu: 0, point: mmu_spte_get_lockless/);
        } else {
          expect(refused?.message).toBeUndefined();
        }
      });
    }
  }

  it('Compare Kernels runs the race example under v3.0 without the lockless waits, and says so', () => {
    const sc = scenario(readFileSync(join('examples', RACE), 'utf8'), RACE);
    const [v30, v31] = kernelVariants(sc, KERNELS, [true]);
    expect(v30!.overrides.skip_lockless_waits).toBe(true);
    expect(v30!.notes.some((n) => n.startsWith('vcpus[1] resume_at mmu_spte_get_lockless (line 47) and every other wait on the lockless walk left out'))).toBe(true);
    expect(v31!.overrides.skip_lockless_waits).toBeUndefined();
    const r = runScenario(sc, { overrides: v30!.overrides, traceCapacity: 0 });
    expect(r.warnings).toEqual([]);
    // No lockless walk and no MMIO SPTE in 3.0.1: every MMIO access is the slow path.
    expect(r.faults['mmio-slow']).toBe(r.stats.mmio_writes);
  });
});
