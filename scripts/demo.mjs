// `npm run demo`: every bundled example, run under v3.0 and v3.1, side by side; shadow-paging
// examples also under v3.0 with bypass_guest_pf off, the cover letter's "ept=0 bypass_guest_pf=0".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

// The seed benchmarks (examples/seed/) come last, through `mmu-lab compare`.
const files = readdirSync('examples').filter((f) => f.endsWith('.mmio.yaml')).sort().map((f) => `examples/${f}`);
// Exit status 1 only says an expectation failed: the examples' expectations describe their own
// kernel, so the other era is expected to miss them. Exit status 2 is a run the kernel cannot do
// (a race point it does not have, a setting it lacks): the reason is printed instead of a column.
function run(file, kernel, extra = []) {
  const args = ['dist/cli.js', 'run', file, '--json', ...(kernel ? ['--kernel', kernel] : []), ...extra];
  const p = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (p.status === 2) return { refused: p.stderr.trim().replace(/^[^:]+:\d+:\d+: error: /, '') };
  if (p.status !== 0 && p.status !== 1) throw new Error(`${file} (${kernel}) failed:\n${p.stderr}`);
  return JSON.parse(p.stdout);
}
console.log(`Every bundled example under v3.0 and v3.1 (shadow-paging examples also with v3.0's bypass_guest_pf
off). "elapsed time change" is the simulated guest time of the run, against the first column:
negative means the later kernel (or setting) took less time for the same work.`);
const rows = [
  ['EPT_VIOLATION exits', (r) => r.exits.EPT_VIOLATION ?? 0, (r) => r.tdp],
  ['EPT_MISCONFIG exits', (r) => r.exits.EPT_MISCONFIG ?? 0, (r) => r.tdp],
  ['#PF exits (EXCEPTION_NMI)', (r) => r.exits.EXCEPTION_NMI ?? 0, (r) => !r.tdp],
  ['guest #PF without an exit', (r) => r.faults['guest-pf-direct'], (r) => !r.tdp],
  ['guest #PF injected by KVM', (r) => r.faults['guest-pf'], (r) => !r.tdp],
  ['faults', (r) => Object.entries(r.faults).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(', ') || '-'],
  ['memslot lookups', (r) => r.stats.memslot_lookups],
  ['  of which misses', (r) => r.stats.memslot_misses],
  ['  slot comparisons', (r) => r.stats.memslot_compares],
  ['guest walks (KVM)', (r) => r.stats.guest_walks],
  ['lockless walks', (r) => r.stats.lockless_walks],
  ['MMIO SPTEs created', (r) => r.stats.mmio_sptes_created],
  ['insn_emulation', (r) => r.stats.insn_emulation],
  ['exit handling (µs)', (r) => (r.exit_stats.reduce((s, e) => s + e.total_cycles, 0) / (r.cycles.ghz * 1000)).toFixed(1)],
  ['elapsed (ms)', (r) => (r.cycles.elapsed / (r.cycles.ghz * 1e6)).toFixed(3)],
];
let failed = false;
for (const file of files) {
  const a = run(file, 'v3.0');
  const b = run(file, 'v3.1');
  const mode = b.refused ? a : b;
  const runs = [['v3.0', a], ['v3.1', b]];
  if (!mode.tdp) runs.splice(1, 0, ['v3.0 bypass off', run(file, 'v3.0', ['--bypass-guest-pf', 'off'])]);
  if (!mode.tdp) runs[0][0] = 'v3.0 bypass on';
  console.log(`\n${mode.name}  (${file}; ${mode.tdp ? 'EPT' : 'shadow paging'})`);
  for (const [label, r] of runs) if (r.refused) console.log(`  ${label}: not run: ${r.refused}`);
  const ran = runs.filter(([, r]) => !r.refused);
  const shown = rows.filter(([, , when]) => !when || when(mode));
  const w0 = Math.max(...shown.map(([n]) => n.length));
  const cells = shown.map(([n, f]) => [n, ...ran.map(([, r]) => String(f(r)))]);
  const widths = ran.map(([label], i) => Math.max(label.length, ...cells.map((c) => c[i + 1].length)));
  console.log(`  ${''.padEnd(w0)}  ${ran.map(([label], i) => label.padEnd(widths[i])).join('  ')}`);
  for (const c of cells) console.log(`  ${c[0].padEnd(w0)}  ${c.slice(1).map((x, i) => x.padEnd(widths[i])).join('  ')}`);
  for (const [label, r] of ran.slice(1)) {
    const first = ran[0][1];
    const change = ((r.cycles.elapsed - first.cycles.elapsed) / first.cycles.elapsed) * 100;
    console.log(`  elapsed time change ${ran[0][0]} -> ${label}: ${change >= 0 ? '+' : ''}${change.toFixed(2)}%`);
  }
  for (const [label, r] of ran) for (const w of r.warnings) console.log(`  warning (${label}): ${w}`);
  const own = run(file, null); // the run under the scenario's own settings
  for (const e of own.expect.filter((x) => !x.ok)) {
    failed = true;
    console.log(`  expectation failed: ${e.path} ${e.expected}, actual ${e.actual}`);
  }
}
// Last, the cover letter's benchmarks, each under its four variants (npm run replicate writes the
// comparison with the measured numbers to docs/seed-replication.md).
for (const file of ['examples/seed/netperf-tcp-rr.mmio.yaml', 'examples/seed/kernbench.mmio.yaml']) {
  const p = spawnSync(process.execPath, ['dist/cli.js', 'compare', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  console.log('\n' + (p.status === 0 ? p.stdout : `compare ${file} failed:\n${p.stderr}`));
  if (p.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
