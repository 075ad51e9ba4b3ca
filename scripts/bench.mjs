// `npm run bench`: how fast the simulator runs (issue 15 item 3). A benchmark, never a timed test:
// bare JavaScript baselines and the simulator's cases measured in one process with tinybench, medians
// of rounds, each case as ops/s, ns/op and its ratio to its baseline; then the netperf seed through
// the CLI and peak RSS. Prints a table; `--json FILE` (or BENCH_JSON=FILE) writes the result, `--doc`
// rewrites docs/performance.md from it. BENCH_QUICK=1: tiny counts, to check the suite works.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { parseScenario, runScenario } from '../dist/sim.mjs';
import { memslotScan, softTlb, walk1d, walk2d } from './bench/baselines.mjs';
import { MEMSLOTS_NOT_MODELLED, simulatorCases } from './bench/simulator_cases.mjs';
import { netperf, rssOfLoop } from './bench/processes.mjs';
import { loadAverage, machineInfo } from './bench/machine.mjs';
import { formatTable, performanceDoc } from './bench/report.mjs';

const args = process.argv.slice(2);
const jsonAt = args.includes('--json') ? args[args.indexOf('--json') + 1] : process.env.BENCH_JSON;
const doc = args.includes('--doc');
const quick = process.env.BENCH_QUICK === '1';

const settings = quick
  ? { rounds: 2, warmupRounds: 1, ops: { baseline: 20_000, memslotScan: 2_000, ram: 20_000, mmio: 4_000, cold: 256, memslot: 4_000, netperf: 1_000, rssShort: 1_000, rssLong: 100_000 } }
  : { rounds: 7, warmupRounds: 1, ops: { baseline: 1_000_000, memslotScan: 100_000, ram: 200_000, mmio: 100_000, cold: 8_192, memslot: 50_000, netperf: 1_000_000, rssShort: 100_000, rssLong: 10_000_000 } };
if (process.env.BENCH_ROUNDS) settings.rounds = Number(process.env.BENCH_ROUNDS);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the tasks (name -> fn) with tinybench: `rounds` timed calls each after the warm-up; samples in ms. */
async function measure(tasks) {
  const bench = new Bench({ iterations: settings.rounds, time: 0, warmupIterations: settings.warmupRounds, warmupTime: 0, throws: true });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.warmup();
  await bench.run();
  return new Map(bench.tasks.map((t) => [t.name, t.result.samples]));
}

const rows = [];
const loadStart = loadAverage();

// Bare baselines: each sample is one batch of `ops` operations.
const baselines = [
  ['bare/walk-2d', 'bare 2D walk: guest 4-level walk, each address through a 4-level EPT walk (typed arrays)', walk2d(), settings.ops.baseline],
  ['bare/walk-1d', 'bare 1D walk: one 4-level walk (typed arrays)', walk1d(), settings.ops.baseline],
  ['bare/soft-tlb', 'bare software TLB lookup: direct-mapped, 4096 sets, tag compare (every lookup hits)', softTlb(), settings.ops.baseline],
  ...[1, 8, 32, ...MEMSLOTS_NOT_MODELLED].map((n) => [`bare/memslot-scan-${n}`, `bare memslot search missing all of ${n} slots (linear scan)`, memslotScan(n), settings.ops.memslotScan]),
];
for (const [id, label, fn, ops] of baselines) {
  let sink = 0;
  const samples = (await measure([[id, () => { sink += fn(ops); }]])).get(id);
  if (!Number.isFinite(sink)) throw new Error(`${id}: no checksum`);
  const perRound = samples.map((ms) => (ms * 1e6) / ops);
  rows.push({ id, group: 'Bare baselines (plain JavaScript, same process)', label, ops, nsPerRound: perRound, baseline: null });
}

// Simulator cases: each sample is one runScenario of `ops` operations, less the VM's setup (the same
// scenario stopped after its first step, measured alongside).
for (const c of simulatorCases(settings.ops)) {
  const parsed = parseScenario(c.text, 'bench.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error(`${c.id}: ${JSON.stringify(parsed.diagnostics)}`);
  const options = { traceCapacity: 10_000, ...c.options };
  const samples = await measure([
    ['setup', () => runScenario(parsed.scenario, { ...options, stopAfterStep: 0 })],
    ['run', () => runScenario(parsed.scenario, options)],
  ]);
  const setup = median(samples.get('setup'));
  const perRound = samples.get('run').map((ms) => ((ms - setup) * 1e6) / c.ops);
  rows.push({ id: c.id, group: c.group, label: c.label, ops: c.ops, nsPerRound: perRound, setupMs: setup, baseline: c.baseline });
}

for (const r of rows) {
  r.nsPerOp = median(r.nsPerRound);
  r.opsPerSecond = 1e9 / r.nsPerOp;
}
for (const r of rows) {
  const base = r.baseline === null ? null : rows.find((b) => b.id === r.baseline);
  r.ratio = base ? r.nsPerOp / base.nsPerOp : null;
}
const notMeasured = MEMSLOTS_NOT_MODELLED.map((n) => ({
  id: `memslots/${n}`,
  label: `v3.0 MMIO write, EPT, ${n} user memslots`,
  reason: `the simulated kernels (3.0.1, 3.1.10) have 32 user memslots (KVM_MEMORY_SLOTS); see bare/memslot-scan-${n}`,
}));

const np = netperf(settings.ops.netperf);
const short = rssOfLoop(settings.ops.rssShort);
const long = rssOfLoop(settings.ops.rssLong);

const result = {
  suite: 'mmu-lab bench',
  quick,
  date: new Date().toISOString(),
  machine: machineInfo(),
  loadAverage: { start: loadStart, end: loadAverage() },
  settings,
  notes: ['No TLB is modelled yet: ram/* rows are TLB hits and misses together (every access walks).'],
  rows: rows.map(({ id, group, label, ops, opsPerSecond, nsPerOp, nsPerRound, baseline, ratio, setupMs }) => ({ id, group, label, ops, opsPerSecond, nsPerOp, nsPerRound, baseline, ratio, ...(setupMs === undefined ? {} : { setupMs }) })),
  notMeasured,
  netperf: np,
  memory: { short, long, ratio: long.maxRSS / short.maxRSS },
};

console.log(`mmu-lab bench${quick ? ' (quick mode: tiny counts, figures not meaningful)' : ''}: ${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node}; load average ${loadStart.join(' ')} at start, ${result.loadAverage.end.join(' ')} at end; median of ${settings.rounds} rounds`);
console.log(formatTable(result));
if (jsonAt) writeFileSync(jsonAt, JSON.stringify(result, null, 2) + '\n');
if (doc) {
  const at = fileURLToPath(new URL('../docs/performance.md', import.meta.url));
  writeFileSync(at, performanceDoc(result));
  console.log(`wrote ${at}`);
}
