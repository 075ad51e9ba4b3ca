// `npm run demo`: every bundled example, run under v3.0 and v3.1, side by side.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const files = readdirSync('examples').filter((f) => f.endsWith('.mmio.yaml')).sort().map((f) => `examples/${f}`);
// Exit status 1 only says an expectation failed: the examples' expectations describe their own
// kernel, so the other era is expected to miss them.
function run(file, kernel) {
  const p = spawnSync(process.execPath, ['dist/cli.js', 'run', file, '--json', '--kernel', kernel], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (p.status !== 0 && p.status !== 1) throw new Error(`${file} (${kernel}) failed:\n${p.stderr}`);
  return JSON.parse(p.stdout);
}
const rows = [
  ['EPT_VIOLATION exits', (r) => r.exits.EPT_VIOLATION ?? 0],
  ['EPT_MISCONFIG exits', (r) => r.exits.EPT_MISCONFIG ?? 0],
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
  console.log(`\n${b.name}  (${file})`);
  const w0 = Math.max(...rows.map(([n]) => n.length));
  const cells = rows.map(([n, f]) => [n, String(f(a)), String(f(b))]);
  const w1 = Math.max(4, ...cells.map((c) => c[1].length));
  console.log(`  ${''.padEnd(w0)}  ${'v3.0'.padEnd(w1)}  v3.1`);
  for (const [n, x, y] of cells) console.log(`  ${n.padEnd(w0)}  ${x.padEnd(w1)}  ${y}`);
  const change = ((b.cycles.elapsed - a.cycles.elapsed) / a.cycles.elapsed) * 100;
  console.log(`  elapsed time change v3.0 -> v3.1: ${change >= 0 ? '+' : ''}${change.toFixed(2)}%`);
  for (const w of [...a.warnings, ...b.warnings]) console.log(`  warning: ${w}`);
  const own = b.kernel === 'v3.1' ? b : a; // the run under the scenario's own kernel
  for (const e of own.expect.filter((x) => !x.ok)) {
    failed = true;
    console.log(`  expectation failed: ${e.path} ${e.expected}, actual ${e.actual}`);
  }
}
process.exitCode = failed ? 1 : 0;
