// `npm run bench`: how fast the simulator runs, as medians over repeated runs in one process
// (never a timed test). Reports MMIO accesses per second for the hot paths of each era, and what the
// call-path attribution (RunOptions.callPaths, off by default) costs when a run asks for it.
import { parseScenario } from '../dist/sim.mjs';
import { runScenario } from '../dist/sim.mjs';

const base = (kernel, body) => `
kernel: ${kernel}
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 8K, handler: kernel }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 8K, flags: "p w a d pcd nx" }
workload:
${body}
`;
const cases = [
  ['v3.1 warm MMIO, cache hit (mmio-cache)', 'v3.1', 1, '      - { write: 0xffffc90000000000, size: 4, value: 1 }'],
  ['v3.1 warm MMIO, lockless walk (mmio-fast)', 'v3.1', 2, '      - { write: 0xffffc90000000000, size: 4, value: 1 }\n      - { write: 0xffffc90000001000, size: 4, value: 1 }'],
  ['v3.0 MMIO (EPT violation, full path)', 'v3.0', 1, '      - { write: 0xffffc90000000000, size: 4, value: 1 }'],
  ['RAM reads (no exit)', 'v3.1', 1, '      - { read: 0xffff880000100000, size: 8 }'],
  ['v3.1 warm MMIO, cache hit, with call paths', 'v3.1', 1, '      - { write: 0xffffc90000000000, size: 4, value: 1 }', { callPaths: true }],
  ['RAM reads (no exit), with call paths', 'v3.1', 1, '      - { read: 0xffff880000100000, size: 8 }', { callPaths: true }],
];
const N = Number(process.env.BENCH_ACCESSES ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${N} accesses per run, median of ${RUNS} runs (after one warm-up)`);
for (const [label, kernel, perIter, steps, options = {}] of cases) {
  const parsed = parseScenario(base(kernel, `  - repeat: ${N / perIter}\n    steps:\n${steps}`), 'bench.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error(JSON.stringify(parsed.diagnostics));
  const times = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    runScenario(parsed.scenario, { traceCapacity: 10_000, ...options });
    if (i > 0) times.push(performance.now() - t0);
  }
  const ms = median(times);
  console.log(`  ${label.padEnd(44)} ${(N / ms / 1000).toFixed(2).padStart(7)} M accesses/s  (${(ms * 1e6 / N).toFixed(0)} ns each)`);
}
const mem = process.memoryUsage();
console.log(`  heap used after all runs: ${(mem.heapUsed / 2 ** 20).toFixed(1)} MiB`);
