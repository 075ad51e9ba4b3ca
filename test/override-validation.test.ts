// The module API: runScenario(sc, { overrides }) checks overrides as a `compare:` variant is checked
// and throws one typed error (OverrideError) naming the problem; valid overrides still run.
import { describe, it, expect } from 'vitest';
import { runScenario, OverrideError } from '../simulator/run/run';
import type { ScenarioOverrides } from '../simulator/scenario/types';
import { kernelVariants } from '../simulator/run/kernel_variants';
import { MODES } from './helpers/modes';
import { RAM, scenario, vm } from './helpers/scenario';

const sc = () => scenario(vm('v3.0', `  - { read: ${RAM}, size: 8 }`));

function refusal(o: unknown): OverrideError {
  try {
    runScenario(sc(), { overrides: o as ScenarioOverrides });
  } catch (e) {
    expect(e).toBeInstanceOf(OverrideError);
    return e as OverrideError;
  }
  throw new Error('ran');
}

describe('module API overrides', () => {
  it.each([
    [{ profile: 'bogus' }, 'override `profile` must be one of westmere-2011, modern, got "bogus"'],
    [{ maxphyaddr: 0 }, 'override `maxphyaddr` must be an integer from 36 to 52, got 0'],
    [{ maxphyaddr: 40.5 }, 'override `maxphyaddr` must be an integer from 36 to 52, got 40.5'],
    [{ kernel: 'v9' }, 'override `kernel` must be one of v3.0, v3.1, got "v9"'],
    [{ tdp: 'yes' }, 'override `tdp` must be true or false, got "yes"'],
    [{ memslot_count: 33 }, 'override `memslot_count` must be an integer from 1 to 32, got 33'],
    [{ cr4_smep: true }, 'override `cr4_smep` must be false, got true'],
    [{ kernal: 'v3.1' }, 'unknown override `kernal`; did you mean `kernel`?'],
    [{ kernel: 'v3.1', bypass_guest_pf: true }, 'mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it'],
    [{ tdp: true, bypass_guest_pf: true }, 'mmu.bypass_guest_pf: true is not possible: VMX forces it off when EPT is in use'],
    [{ memslot_count: 0 }, 'override `memslot_count` must be an integer from 1 to 32, got 0'],
    // Found by test/fuzz-api.test.ts: names every object inherits were taken for rules (a TypeError),
    // NaN was shown as JSON's null, and a BigInt made JSON.stringify throw.
    [{ valueOf: 0 }, 'unknown override `valueOf`'],
    [Object.fromEntries([['__proto__', 1]]), 'unknown override `__proto__`'],
    [{ maxphyaddr: NaN }, 'override `maxphyaddr` must be an integer from 36 to 52, got NaN'],
    [{ profile: 'x'.repeat(100) }, `override \`profile\` must be one of westmere-2011, modern, got "${'x'.repeat(56)}...`],
  ])('%j is refused', (o, message) => {
    const e = refusal(o);
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]!.startsWith(message)).toBe(true);
    expect(e.message).toBe(`invalid overrides: ${e.problems[0]}`);
  });

  it('shows a BigInt without throwing', () => {
    expect(refusal({ memslot_count: 40n }).problems).toEqual(['override `memslot_count` must be an integer from 1 to 32, got 40']);
  });

  it('shows a cyclic value without throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusal({ kernel: cyclic }).problems).toEqual(['override `kernel` must be one of v3.0, v3.1, got an unprintable object']);
  });

  it('maxphyaddr must cover the memslots and devices', () => {
    const s = sc();
    s.memslots[0]!.gpa = 2 ** 36; // as a scenario built in code could have it
    expect(() => runScenario(s, { overrides: { maxphyaddr: 36 } })).toThrowError(
      new OverrideError(['host.maxphyaddr: 36 (limit 0x1000000000) does not cover memslot 0 [0x1000000000, 0x1004000000)']),
    );
  });

  it('valid overrides run: every test mode, and every Compare Kernels variant', () => {
    for (const [, o] of MODES) expect(runScenario(sc(), { overrides: o }).kernel).toBe(o.kernel);
    const variants = kernelVariants(sc(), ['v3.0', 'v3.1'], [false, true]);
    expect(variants.length).toBeGreaterThan(1);
    for (const v of variants) expect(runScenario(sc(), { overrides: v.overrides }).kernel).toBe(v.overrides.kernel);
    expect(runScenario(sc(), { overrides: { maxphyaddr: 40, memslot_count: 32, profile: 'modern' } }).maxphyaddr).toBe(40);
  });
});
