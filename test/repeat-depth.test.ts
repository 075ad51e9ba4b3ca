// Nested repeats: the parser refuses nesting deeper than the limit, at the repeat that is too deep,
// and the machine's loop-counter stacks hold whatever nesting a program has, one stack per vCPU.
import { describe, it, expect } from 'vitest';
import { parseScenario } from '../simulator/scenario/parse';
import { MAX_REPEAT_DEPTH } from '../simulator/scenario/workload';
import { runScenario } from '../simulator/run/run';
import type { Step } from '../simulator/scenario/types';
import { RAM, scenario, vm, vmVcpus } from './helpers/scenario';

/** `levels` nested repeats at `indent` spaces: the outermost runs `outer` times and is labelled
 *  `${tag}_outer`, the innermost runs `inner` times over one read and is labelled `${tag}_inner`. */
function nest(levels: number, indent: number, tag: string, outer: number, inner: number): string {
  const lines: string[] = [];
  for (let k = 0; k < levels; k++) {
    const pad = ' '.repeat(indent + 4 * k);
    const count = k === 0 ? outer : k === levels - 1 ? inner : 1;
    const label = k === 0 ? `${tag}_outer` : k === levels - 1 ? `${tag}_inner` : null;
    lines.push(`${pad}- repeat: ${count}`);
    if (label) lines.push(`${pad}  label: ${label}`);
    lines.push(`${pad}  steps:`);
  }
  lines.push(`${' '.repeat(indent + 4 * levels)}- { read: ${RAM}, size: 8 }`);
  return lines.join('\n');
}

describe('nested repeats', () => {
  it('the limit is 64 levels', () => {
    expect(MAX_REPEAT_DEPTH).toBe(64);
  });

  it('64 levels run with the right counts and cycles', () => {
    const r = runScenario(scenario(vm('v3.1', nest(64, 2, 'a', 2, 3))));
    expect(r.labels['a_outer']!.count).toBe(2);
    expect(r.labels['a_inner']!.count).toBe(6);
    expect(r.labels['a_inner']!.cycles).toBeGreaterThan(0);
    expect(r.labels['a_outer']!.cycles).toBeGreaterThanOrEqual(r.labels['a_inner']!.cycles);
    expect(r.steps).toBe(6);
  });

  it('65 levels are refused at the 65th repeat, with its line and column', () => {
    const yaml = vm('v3.1', nest(65, 2, 'a', 2, 3));
    const r = parseScenario(yaml, 'deep.mmio.yaml');
    expect('diagnostics' in r).toBe(true);
    const ds = 'diagnostics' in r ? r.diagnostics : [];
    expect(ds).toHaveLength(1);
    const lines = yaml.split('\n');
    const line = lines.findIndex((l) => l.startsWith(' '.repeat(2 + 4 * 64) + '- repeat:')) + 1;
    expect(ds[0]).toMatchObject({ line, col: 2 + 4 * 64 + 3 });
    expect(ds[0]!.message).toMatch(/: `repeat` nested 65 deep; the limit is 64 levels$/);
  });

  it('two vCPUs at the limit keep their own loop counters', () => {
    const r = runScenario(scenario(vmVcpus('v3.1', [nest(64, 6, 'a', 2, 3), nest(64, 6, 'b', 5, 1)])));
    expect(r.labels['a_outer']!.count).toBe(2);
    expect(r.labels['a_inner']!.count).toBe(6);
    expect(r.labels['b_outer']!.count).toBe(5);
    expect(r.labels['b_inner']!.count).toBe(5);
    expect(r.steps).toBe(6 + 5);
  });

  it('the machine sizes its loop stacks from the program, whatever built the scenario', () => {
    // A Scenario built in code (the module API) skips the parser's limit: nest 80 levels by hand.
    const sc = scenario(vmVcpus('v3.1', [nest(1, 6, 'a', 2, 2), nest(1, 6, 'b', 3, 3)]));
    const wrap = (steps: Step[], n: number): Step[] => {
      for (let k = 0; k < n; k++) steps = [{ kind: 'repeat', count: 1, label: null, steps, pos: steps[0]!.pos }];
      return steps;
    };
    for (const v of sc.vcpus) v.workload = wrap(v.workload, 79);
    const r = runScenario(sc);
    expect(r.labels['a_outer']!.count).toBe(2);
    expect(r.labels['b_outer']!.count).toBe(3);
    expect(r.steps).toBe(2 + 3);
  });
});
