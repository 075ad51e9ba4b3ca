// `npm run bench` in its quick mode (BENCH_QUICK=1), as CI runs it: only that the suite works, every
// row there with a figure, the JSON valid and docs/performance.md generated from it. No assertion on
// speed: the counts are tiny and the machine is shared. The one run also compares with a build
// (`--vs`, here this same dist/sim.mjs), so that path runs too.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const BASELINES = ['bare/walk-2d', 'bare/walk-1d', 'bare/soft-tlb', ...[1, 8, 32, 128, 509].map((n) => `bare/memslot-scan-${n}`)];
const CASES = [
  'ram/ept/tlb-hit', 'ram/shadow/tlb-hit', 'ram/ept/tlb-miss', 'ram/shadow/tlb-miss',
  'mmio/v3.0/ept', 'mmio/v3.0/shadow', 'mmio/v3.1/ept/cache-hit', 'mmio/v3.1/ept/lockless', 'mmio/v3.1/shadow/cache-hit', 'mmio/v3.1/shadow/lockless',
  'cold/ept', 'cold/shadow',
  'memslots/1', 'memslots/8', 'memslots/32',
  'call-paths/mmio/v3.1/ept/cache-hit', 'call-paths/ram/ept',
];

interface Row {
  id: string; opsPerSecond: number; nsPerOp: number; nsPerRound: number[]; baseline: string | null; ratio: number | null;
  vs?: { nsPerOp: number; ratio: number };
}
const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

let dir = '';
let run: ReturnType<typeof spawnSync>;
let result: {
  quick: boolean; vs?: string; rows: Row[]; notMeasured: { id: string }[];
  machine: { cpu: string; cores: number; node: string }; loadAverage: { start: number[]; end: number[] };
  netperf: { transactions: number; wallMs: number; transactionsPerSecond: number; maxRSS: number };
  memory: { short: { steps: number; maxRSS: number }; long: { steps: number; maxRSS: number }; ratio: number };
};

beforeAll(() => {
  if (!existsSync('dist/sim.mjs') || !existsSync('dist/cli.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'mmu-lab-bench-test-'));
  run = spawnSync(process.execPath, ['scripts/bench.mjs', '--json', join(dir, 'bench.json'), '--vs', 'dist/sim.mjs'], {
    encoding: 'utf8', env: { ...process.env, BENCH_QUICK: '1' }, maxBuffer: 1 << 24,
  });
  result = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8'));
}, 120_000);

describe('npm run bench, quick mode', () => {
  it('exits 0 and writes JSON with every baseline and case, each with a finite positive figure', () => {
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(result.quick).toBe(true);
    expect(result.rows.map((r) => r.id)).toEqual([...BASELINES, ...CASES]);
    for (const r of result.rows) {
      expect(positive(r.nsPerOp) && positive(r.opsPerSecond), r.id).toBe(true);
      expect(r.nsPerRound.length, r.id).toBeGreaterThanOrEqual(2);
      if (r.id.startsWith('bare/')) expect(r.baseline, r.id).toBeNull();
      else {
        expect(result.rows.some((b) => b.id === r.baseline), r.id).toBe(true);
        expect(positive(r.ratio), r.id).toBe(true);
      }
    }
    expect(result.notMeasured.map((m) => m.id)).toEqual(['memslots/128', 'memslots/509']);
  });

  it('with --vs, gives every simulator case the other build\'s figure and the median ratio, the baselines none', () => {
    expect(result.vs).toBe(join(process.cwd(), 'dist/sim.mjs'));
    for (const r of result.rows) {
      if (r.id.startsWith('bare/')) expect(r.vs, r.id).toBeUndefined();
      else expect(positive(r.vs?.nsPerOp) && positive(r.vs?.ratio), r.id).toBe(true);
    }
    expect(String(run.stdout)).toContain('this / --vs build');
  });

  it('reports the CLI netperf run, peak RSS and the machine', () => {
    expect(result.netperf.transactions).toBe(1000);
    expect(positive(result.netperf.wallMs) && positive(result.netperf.transactionsPerSecond) && positive(result.netperf.maxRSS)).toBe(true);
    expect([result.memory.short.steps, result.memory.long.steps]).toEqual([1000, 100_000]);
    expect(positive(result.memory.short.maxRSS) && positive(result.memory.long.maxRSS) && positive(result.memory.ratio)).toBe(true);
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.machine.node).toBe(process.version);
    expect(result.loadAverage.start).toHaveLength(3);
    expect(result.loadAverage.end).toHaveLength(3);
  });

  it('prints the table: every row', () => {
    const out = String(run.stdout);
    for (const id of [...BASELINES, ...CASES, 'memslots/128', 'memslots/509']) expect(out, id).toContain(id);
  });

  it.each([true, false])('generates docs/performance.md from the JSON (with --vs: %s): the machine and every target with met or not met', (withVs) => {
    const json = join(dir, `bench-${withVs}.json`);
    const { vs, ...plain } = result;
    writeFileSync(json, JSON.stringify(withVs ? result : { ...plain, rows: result.rows.map(({ vs: _vs, ...r }) => r) }));
    const md = join(dir, `performance-${withVs}.md`);
    const p = spawnSync(process.execPath, ['scripts/bench/doc.mjs', json, md], { encoding: 'utf8' });
    expect(p.status).toBe(0);
    const text = readFileSync(md, 'utf8');
    expect(text.includes('this / other build')).toBe(withVs);
    expect(text.includes(String(vs))).toBe(withVs);
    expect(text).toContain(result.machine.cpu);
    expect(text).toContain('Quick mode');
    const targets = text.split('\n').filter((l) => /^\| (Non-exiting|A TLB-miss|Warm v3\.1|Cold faults|1 M netperf|Memory flat)/.test(l));
    expect(targets).toHaveLength(6);
    for (const t of targets) expect(t).toMatch(/\| (met|\*\*not met\*\*) \|/);
    // The quick run's 1,000 transactions and 100,000 steps cannot meet the full-length targets.
    expect(targets.find((t) => t.startsWith('| 1 M netperf'))).toContain('**not met**');
    for (const id of CASES) expect(text, id).toContain(`\`${id}\``);
  });
});
