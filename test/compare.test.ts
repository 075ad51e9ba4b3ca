// `compare:` variants: in parallel through the CLI's worker threads, exactly what running them in
// turn gives; the figure of merit and its change; the memslot-count sweep.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { scenario } from './helpers/scenario';
import { compareScenario, metricValue } from '../simulator/run/compare';

const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
const SWEEP = 'examples/memslot-sweep.mmio.yaml';

beforeAll(() => {
  if (!existsSync('dist/compare-worker.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
});

describe('mmu-lab compare', () => {
  it('runs the variants on worker threads with the same results as running them in turn', () => {
    const p = cli('compare', SWEEP, '--json');
    expect(p.status).toBe(0);
    const parallel = JSON.parse(p.stdout);
    const serial = JSON.parse(JSON.stringify(compareScenario(scenario(readFileSync(SWEEP, 'utf8'), SWEEP))));
    expect(parallel).toEqual(serial);
    expect(parallel.variants.map((v: { label: string }) => v.label)).toEqual(['v3.0, 1 slot', 'v3.0, 8 slots', 'v3.0, 32 slots', 'v3.1, 1 slot', 'v3.1, 8 slots', 'v3.1, 32 slots']);
  });

  it("the figure of merit is the label's iterations per simulated second; the change is against the first variant", () => {
    const c = compareScenario(scenario(readFileSync(SWEEP, 'utf8'), SWEEP));
    for (const v of c.variants) {
      const l = v.report.labels.access!;
      expect(v.metric).toBeCloseTo(l.count / (l.cycles / (v.report.cycles.ghz * 1e9)), 6);
      expect(v.change_pct).toBeCloseTo(((v.metric - c.variants[0]!.metric) / c.variants[0]!.metric) * 100, 9);
      expect(metricValue(v.report, { kind: 'elapsed', pos: null })).toBeCloseTo(v.report.cycles.elapsed / (v.report.cycles.ghz * 1e9), 12);
    }
    expect(c.variants[0]!.change_pct).toBe(0);
    expect(c.metric).toMatchObject({ kind: 'rate', label: 'access', higher_is_better: true });
  });

  it('the memslot sweep: 35 comparisons per miss before the series whatever the user slots; none after', () => {
    const c = compareScenario(scenario(readFileSync(SWEEP, 'utf8'), SWEEP));
    const v30 = c.variants.slice(0, 3);
    const v31 = c.variants.slice(3);
    expect(v30.map((v) => v.settings.memslots)).toEqual([1, 8, 32]);
    for (const v of v30) expect(v.report.stats.memslot_compares).toBeGreaterThanOrEqual(v.report.stats.memslot_misses * 35);
    // The miss cost does not grow with the user slots: nmemslots is 35 (VMX's private slots: the TSS at
    // 32, and with EPT the identity page table at 34, IDENTITY_PAGETABLE_PRIVATE_MEMSLOT, asm/vmx.h).
    expect(new Set(v30.map((v) => v.report.stats.memslot_compares)).size).toBe(1);
    for (const v of v31) expect(v.report.stats.memslot_misses).toBe(2); // the first, cold access only
    for (let i = 0; i < 3; i++) expect(v31[i]!.metric).toBeGreaterThan(v30[i]!.metric);
  });

  it('prints a table with every variant, the metric and the change', () => {
    const p = cli('compare', SWEEP);
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('v3.1, 32 slots');
    expect(p.stdout).toMatch(/change vs first\s+-\s+[+-]\d/);
    expect(p.stdout).toMatch(/^access \(accesses\/s\)/m);
  });

  it('usage and bad input exit 2; a variant that cannot be built is reported at its position', () => {
    expect(cli('compare').status).toBe(2);
    expect(cli('compare', 'nonexistent.mmio.yaml').status).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'mmu-lab-'));
    const file = join(dir, 'long.mmio.yaml');
    writeFileSync(file, readFileSync(SWEEP, 'utf8').replace('repeat: 2000', 'repeat: 1000000000'));
    const p = cli('compare', file);
    expect(p.status).toBe(2);
    const lines = p.stderr.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/long\.mmio\.yaml:\d+:\d+: error: v3\.0, 1 slot: the workload would take about 8,000 s to simulate/);
    expect(lines[5]).toContain('v3.1, 32 slots');
  });
});
