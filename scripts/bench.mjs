// `npm run bench`: how fast the simulator runs (issue 15 item 3). A benchmark, never a timed test:
// bare JavaScript baselines and the simulator's cases measured in one process with tinybench, medians
// of rounds, each case as ops/s, ns/op and its ratio to its baseline; then the netperf seed through
// the CLI and peak RSS. Prints a table; `--json FILE` (or BENCH_JSON=FILE) writes the result, `--doc`
// rewrites docs/performance.md from it. BENCH_QUICK=1: tiny counts, to check the suite works.
// `--vs OTHER/dist/sim.mjs` (or BENCH_VS): also runs every simulator case on that build, alternating
// with this one round by round, and gives the median of the per-round ratios (this build / that one).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
const vsAt = args.includes('--vs') ? args[args.indexOf('--vs') + 1] : process.env.BENCH_VS;
const other = vsAt ? await import(pathToFileURL(resolve(vsAt)).href) : null;

// Quick mode's RAM reads are 100,000: fewer TLB hits take about as long as the VM's setup, whose
// fastest round is taken off, and two rounds' difference could come out negative.
const settings = quick
  ? { rounds: 2, warmupRounds: 1, ops: { baseline: 20_000, memslotScan: 2_000, ram: 100_000, mmio: 5_000, cold: 1_024, memslot: 5_000, netperf: 1_000, rssShort: 1_000, rssLong: 100_000 } }
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

/**
 * The same, one tinybench run per round with every task once (the warm-up only before the first),
 * so tasks measured against each other alternate and share the machine's load; the order flips
 * every round so neither always runs first.
 */
async function measureAlternating(tasks) {
  const samples = new Map(tasks.map(([name]) => [name, []]));
  for (let r = 0; r < settings.rounds; r++) {
    const bench = new Bench({ iterations: 1, time: 0, warmupIterations: r === 0 ? settings.warmupRounds : 0, warmupTime: 0, throws: true });
    for (const [name, fn] of r % 2 ? [...tasks].reverse() : tasks) bench.add(name, fn);
    if (r === 0) await bench.warmup();
    await bench.run();
    for (const t of bench.tasks) samples.get(t.name).push(t.result.samples[0]);
  }
  return samples;
}

const rows = [];
const loadStart = loadAverage();

// Bare baselines: each sample is one batch of `ops` operations.
const baselines = [
  ['bare/walk-2d', 'bare 2D walk: guest 4-level walk, each address through a 4-level EPT walk (typed arrays)', walk2d(), settings.ops.baseline],
  ['bare/walk-1d', 'bare 1D walk: one 4-level walk (typed arrays)', walk1d(), settings.ops.baseline],
  ['bare/soft-tlb', 'bare software TLB lookup: direct-mapped, 4096 sets, tag compare (every lookup hits)', softTlb(), settings.ops.baseline],
  ...[1, 8, 32, ...MEMSLOTS_NOT_MODELLED].map((n) => [`bare/memslot-scan-${n}`, `bare memslot search missing all of ${n} slot${n > 1 ? 's' : ''} (linear scan)`, memslotScan(n), settings.ops.memslotScan]),
];
const bare = new Map(baselines.map(([id, , fn, ops]) => [id, { fn, ops }]));
let sink = 0;
for (const [id, label, fn, ops] of baselines) {
  const samples = (await measure([[id, () => { sink += fn(ops); }]])).get(id);
  const perRound = samples.map((ms) => (ms * 1e6) / ops);
  rows.push({ id, group: 'Bare baselines (plain JavaScript, same process)', label, ops, nsPerRound: perRound, baseline: null, ratio: null });
}

// Simulator cases: each sample is one runScenario of `ops` operations, less the VM's setup (the same
// scenario stopped after its first step, or after its `warmSteps`, measured alongside; its fastest round).
const builds = [['', { parseScenario, runScenario }], ...(other ? [['vs ', other]] : [])];
for (const c of simulatorCases(settings.ops)) {
  const options = { traceCapacity: 10_000, ...c.options };
  const tasks = builds.flatMap(([prefix, sim]) => {
    const parsed = sim.parseScenario(c.text, 'bench.mmio.yaml');
    if ('diagnostics' in parsed) throw new Error(`${c.id}: ${JSON.stringify(parsed.diagnostics)}`);
    return [
      [`${prefix}setup`, () => sim.runScenario(parsed.scenario, { ...options, stopAfterStep: c.warmSteps ?? 0 })],
      [`${prefix}run`, () => sim.runScenario(parsed.scenario, options)],
      // The case's baseline runs alongside it, so its ratio is taken round by round: the bare loop,
      // or the same scenario with other options (call paths on against off).
      ...(bare.has(c.baseline) && prefix === ''
        ? [['baseline', () => { sink += bare.get(c.baseline).fn(bare.get(c.baseline).ops); }]]
        : []),
      ...(c.baselineOptions && prefix === ''
        ? [
            ['base setup', () => sim.runScenario(parsed.scenario, { traceCapacity: 10_000, ...c.baselineOptions, stopAfterStep: 0 })],
            ['base run', () => sim.runScenario(parsed.scenario, { traceCapacity: 10_000, ...c.baselineOptions })],
          ]
        : []),
    ];
  });
  const samples = await measureAlternating(tasks);
  const perRound = (prefix) => {
    // The fastest setup: a stall can only lengthen it, and it is a fixed cost taken off every round.
    const setup = Math.min(...samples.get(`${prefix}setup`));
    return { setup, ns: samples.get(`${prefix}run`).map((ms) => ((ms - setup) * 1e6) / c.ops) };
  };
  const mine = perRound('');
  const row = { id: c.id, group: c.group, label: c.label, ops: c.ops, nsPerRound: mine.ns, setupMs: mine.setup, baseline: c.baseline };
  const baseNs = c.baselineOptions ? perRound('base ').ns : samples.get('baseline').map((ms) => (ms * 1e6) / bare.get(c.baseline).ops);
  row.ratio = median(mine.ns.map((x, i) => x / baseNs[i]));
  if (other) {
    const theirs = perRound('vs ');
    row.vs = { nsPerOp: median(theirs.ns), ratio: median(mine.ns.map((x, i) => x / theirs.ns[i])) };
  }
  rows.push(row);
}

for (const r of rows) {
  r.nsPerOp = median(r.nsPerRound);
  r.opsPerSecond = 1e9 / r.nsPerOp;
}
if (!Number.isFinite(sink)) throw new Error('the baselines\' checksum is not a number');
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
  ...(other ? { vs: resolve(vsAt) } : {}),
  rows: rows.map(({ id, group, label, ops, opsPerSecond, nsPerOp, nsPerRound, baseline, ratio, setupMs, vs }) => ({ id, group, label, ops, opsPerSecond, nsPerOp, nsPerRound, baseline, ratio, ...(setupMs === undefined ? {} : { setupMs }), ...(vs ? { vs } : {}) })),
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
