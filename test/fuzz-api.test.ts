// Random overrides through the module API (issue 14): runScenario and runVariant answer any
// `overrides` object, of right or wrong types, with a result or a documented error whose message
// names the bad key, never a TypeError, RangeError or plain Error from deep in the machine.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestSetupError, OverrideError, parseScenario, runScenario, runVariant, type Scenario, type ScenarioOverrides } from '../simulator/index';
import { fuzzParams, fuzzTimeout } from './helpers/mutator';
import { expectReadable, expectResultOrDocumentedError } from './helpers/fuzz_checks';

/** A scenario object of its own (each run may change it). */
function fresh(name: string): Scenario {
  return structuredClone(EXAMPLES.find((e) => e.name === name)!.scenario);
}

// Small examples (each runs in well under a second): one per kernel, shadow and EPT, two vCPUs, a `compare:` file.
const FILES = ['doorbell', 'shadow-doorbell', 'bypass-guest-pf', 'race-zap-during-walk', 'memslot-sweep', 'stale-mmio-spte-after-slot-recreate'];
const EXAMPLES = FILES.map((name) => {
  const file = `${name}.mmio.yaml`;
  const r = parseScenario(readFileSync(new URL(`../examples/${file}`, import.meta.url), 'utf8'), file);
  if (!('scenario' in r)) throw new Error(`${file} does not parse`);
  return { name, scenario: r.scenario };
});

/** Every key ScenarioOverrides has. */
const KEYS: readonly (keyof ScenarioOverrides)[] = ['kernel', 'tdp', 'mmio_caching', 'bypass_guest_pf', 'oos_shadow', 'enable_vpid', 'profile', 'maxphyaddr', 'memslot_count', 'cr4_smep', 'cr4_smap', 'cr4_pke', 'skip_lockless_waits'];

/** Values of the right type for each key (some still refused, as a `compare:` variant's would be). */
const RIGHT: Record<keyof ScenarioOverrides, fc.Arbitrary<unknown>> = {
  kernel: fc.constantFrom('v3.0', 'v3.1'),
  tdp: fc.boolean(),
  mmio_caching: fc.boolean(),
  bypass_guest_pf: fc.boolean(),
  oos_shadow: fc.boolean(),
  enable_vpid: fc.boolean(),
  profile: fc.constantFrom('westmere-2011', 'modern'),
  maxphyaddr: fc.integer({ min: 36, max: 52 }),
  memslot_count: fc.integer({ min: 1, max: 32 }),
  cr4_smep: fc.constant(false),
  cr4_smap: fc.constant(false),
  cr4_pke: fc.constant(false),
  skip_lockless_waits: fc.constant(true),
};

/** Values of any type: strings, numbers (NaN, infinities, negative, huge), big integers, objects, arrays, null, undefined, symbols, functions. */
const ANY: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('v3.0', 'v3.1', 'v9', 'on', 'true', 'modern', '40', ''),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, -0, 2 ** 53, 1e308, Number.MAX_SAFE_INTEGER + 2, 36.5),
  fc.integer(),
  fc.bigInt(),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1, maxKeys: 3 }),
);

/** Keys: the real ones, near misses, and names every object inherits. */
const KEY: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KEYS) },
  fc.constantFrom('kernal', 'TDP', 'mmio-caching', 'memslots', 'host.maxphyaddr', '', ' kernel', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'),
  fc.string({ minLength: 1, maxLength: 10 }),
);

/** An overrides object: some keys with right-typed values, some with anything; built with own properties only (even `__proto__`). */
const overrides: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.array(fc.constantFrom(...KEYS).chain((k) => RIGHT[k].map((v) => [k, v] as const)), { maxLength: 4 }), fc.array(fc.tuple(KEY, ANY), { maxLength: 3 }))
  .map(([right, any]) => Object.fromEntries([...right, ...any]));

/** The names a problem with `key` goes by in a message. */
function namesOf(key: string): string[] {
  return key === 'memslot_count' ? [key, 'memslots'] : [key];
}

function safe(v: unknown): string {
  try {
    return typeof v === 'bigint' ? String(v) : String(JSON.stringify(v));
  } catch {
    return '';
  }
}

/** How the runs ended, so that a test can see both outcomes were exercised. */
const seen = { ran: 0, refused: 0 };

function checkRun(sc: Scenario, o: Record<string, unknown>, run: () => unknown): void {
  const shown = Object.keys(o).map((k) => JSON.stringify(k)).join(', ');
  try {
    const r = run() as { kernel: string };
    // A run means the overrides were valid: each key is one ScenarioOverrides has.
    for (const [k, v] of Object.entries(o)) if (v !== undefined) expect(KEYS as readonly string[], `ran with ${shown}`).toContain(k);
    expect(r.kernel).toBe(o.kernel ?? sc.kernel);
    seen.ran++;
  } catch (e) {
    if (!(e instanceof OverrideError) && !(e instanceof GuestSetupError)) throw e;
    seen.refused++;
    // What the caller wrote, which a message may quote back (NaN among the values, a key named `undefined`).
    const written = Object.entries(o).map(([k, v]) => `${k} ${typeof v === 'symbol' || typeof v === 'function' ? '' : safe(v)}`).join(' ') + ' nan';
    expectReadable(e.message, written);
    if (e instanceof OverrideError) {
      expect(e.problems.length).toBeGreaterThan(0);
      for (const p of e.problems) expect(Object.keys(o).some((k) => namesOf(k).some((n) => n !== '' && p.includes(n))) || p.includes('``'), `${p} names none of ${shown}`).toBe(true);
    }
  }
}

const example = fc.constantFrom(...EXAMPLES);

describe('random overrides through the module API', () => {
  it('runScenario: a result, or an OverrideError or GuestSetupError naming the bad key', () => {
    fc.assert(
      fc.property(example, overrides, (ex, o) => checkRun(ex.scenario, o, () => runScenario(ex.scenario, { overrides: o as ScenarioOverrides, traceCapacity: 0 }))),
      fuzzParams(60),
    );
  }, fuzzTimeout(120_000));

  it('runVariant: the same', () => {
    fc.assert(
      fc.property(example, overrides, (ex, o) => checkRun(ex.scenario, o, () => runVariant(ex.scenario, o as ScenarioOverrides))),
      fuzzParams(40),
    );
  }, fuzzTimeout(120_000));

  it('random well-typed Scenario objects built in code: a result or a documented error', () => {
    // An example's settings, guest CPU, scheduler and workload numbers replaced, without the parser's checks.
    const changes = fc.record(
      {
        kernel: fc.constantFrom('v3.0' as const, 'v3.1' as const),
        tdp: fc.boolean(),
        mmio_caching: fc.boolean(),
        oos_shadow: fc.boolean(),
        bypass_guest_pf: fc.constantFrom(null, true, false),
        maxphyaddr: fc.integer({ min: 36, max: 52 }),
        profile: fc.constantFrom('westmere-2011' as const, 'modern' as const),
        seed: fc.integer(),
        preempt: fc.integer({ min: 0, max: 1000 }),
        cpu: fc.record({ cr0_wp: fc.boolean(), efer_nx: fc.boolean(), cr4_smep: fc.boolean(), cr4_smap: fc.boolean(), cr4_pke: fc.boolean(), eflags_ac: fc.boolean(), cpl: fc.constantFrom(0 as const, 3 as const), pkru: fc.integer({ min: 0, max: 0xffffffff }) }, { requiredKeys: [] }),
        cycles: fc.integer({ min: 0, max: 1_000_000 }),
        count: fc.integer({ min: 0, max: 20 }),
      },
      { requiredKeys: [] },
    );
    const walk = (steps: Scenario['vcpus'][number]['workload'], c: { cycles?: number; count?: number }): void => {
      for (const st of steps) {
        if (st.kind === 'compute' && c.cycles !== undefined) st.cycles = c.cycles;
        if (st.kind === 'repeat') {
          if (c.count !== undefined) st.count = c.count;
          walk(st.steps, c);
        }
      }
    };
    fc.assert(
      fc.property(fc.constantFrom(...FILES), changes, (name, c) => {
        const sc = fresh(name);
        if (c.kernel) sc.kernel = c.kernel;
        for (const k of ['tdp', 'mmio_caching', 'oos_shadow', 'bypass_guest_pf'] as const) if (c[k] !== undefined) (sc.mmu as Record<string, unknown>)[k] = c[k];
        if (c.maxphyaddr !== undefined) sc.host.maxphyaddr = c.maxphyaddr;
        if (c.profile) sc.host.profile = c.profile;
        if (c.seed !== undefined) sc.scheduler.seed = c.seed;
        if (c.preempt !== undefined) sc.scheduler.preempt = c.preempt;
        Object.assign(sc.guest.cpu, c.cpu);
        for (const v of sc.vcpus) walk(v.workload, c);
        const r = expectResultOrDocumentedError(() => runScenario(sc, { traceCapacity: 0 }), JSON.stringify(c));
        if (!(r instanceof Error)) expect(Number.isFinite(r.cycles.elapsed) && r.cycles.elapsed >= 0).toBe(true);
      }),
      fuzzParams(40),
    );
  }, fuzzTimeout(120_000));

  it('exercised both outcomes: runs and refusals', () => {
    expect(seen.ran).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});
