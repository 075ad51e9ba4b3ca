// `host.costs`: a scenario replaces some of its profile's cycle costs (what-if runs; the sensitivity
// table of docs/seed-replication.md varies the unanchored ones this way).
import { describe, it, expect } from 'vitest';
import { run, vm } from './helpers/scenario';
import { parseScenario } from '../simulator/scenario/parse';
import { formatRunText } from '../simulator/report/text';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';

const P = PROFILES_BY_NAME['westmere-2011'];
const TICK = '  - { interrupt: { vector: 0xef, source: timer } }';
const withCosts = (costs: string, workload = TICK) => `host: { costs: ${costs} }\n${vm('v3.1', workload)}`;

describe('host.costs', () => {
  it('replaces the named costs and only those', () => {
    const base = run(vm('v3.1', TICK));
    // One timer tick: vmexit_transition + exit_handler + irq_inject (test/interrupts.test.ts).
    expect(base.cycles.total).toBe(P.vmexit_transition + P.exit_handler + P.irq_inject);
    const r = run(withCosts('{ exit_handler: 1800, irq_inject: 0 }'));
    expect(r.cycles.total).toBe(P.vmexit_transition + 1800 + 0);
    expect(r.exits).toEqual(base.exits);
    expect(r.cost_overrides).toEqual({ exit_handler: 1800, irq_inject: 0 });
    expect(base.cost_overrides).toBeUndefined();
    expect(formatRunText(r)).toContain('profile westmere-2011 (2.93 GHz) with exit_handler=1800, irq_inject=0 ·');
    expect(formatRunText(base)).toContain('profile westmere-2011 (2.93 GHz) · maxphyaddr');
  });

  it('exit_pollution (off in both profiles) charges each exit once, after kvm_entry', () => {
    const r = run(withCosts('{ exit_pollution: 5000 }'));
    expect(P.exit_pollution).toBe(0);
    expect(r.cycles.total).toBe(3400 + 5000);
    expect(r.cycles.by_component.vm_exit_entry).toBe(P.vmexit_transition + P.exit_handler + 5000);
    // perf kvm stat times kvm_exit to kvm_entry: the guest's refill after the entry is not in it.
    const base = run(vm('v3.1', TICK));
    expect(r.exit_stats.map((e) => e.total_cycles)).toEqual(base.exit_stats.map((e) => e.total_cycles));
  });

  it('leaves the profile itself alone (each run gets its own copy)', () => {
    run(withCosts('{ exit_handler: 99999 }'));
    expect(PROFILES_BY_NAME['westmere-2011'].exit_handler).toBe(800);
    expect(run(vm('v3.1', TICK)).cycles.total).toBe(3400);
  });

  it.each([
    ['{ exit_handlr: 1 }', 'exit_handlr', 'unknown key `exit_handlr`'],
    ['{ exit_handler: -1 }', '-1', 'host.costs.exit_handler: must not be negative'],
    ['{ ghz: 3 }', 'ghz', 'unknown key `ghz`'],
  ])('rejects %s with file, line and column', (costs, at, message) => {
    const text = withCosts(costs);
    const r = parseScenario(text, 'bad.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('expected diagnostics');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toContain(message);
    expect(r.diagnostics[0]).toMatchObject({ file: 'bad.mmio.yaml', line: 1, col: text.indexOf(at) + 1 });
  });

  it('is the scenario\'s, not a compare variant\'s', () => {
    const text = `compare:\n  - { label: a, host: { costs: { exit_handler: 1 } } }\n${vm('v3.1', TICK)}`;
    const r = parseScenario(text, 'bad.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('expected diagnostics');
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain('unknown key `costs`');
  });
});
