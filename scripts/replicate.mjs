// `npm run replicate`: regenerate docs/seed-replication.md. Runs the two seed workloads' `compare:`
// variants (through `mmu-lab compare --json`, so on worker threads), sets the six figures the cover
// letters measured next to the simulator's, and runs the seeds again with each uncertain parameter at
// the ends of the range its sources allow (the sensitivity table).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The measured runs, three per configuration, in the order the letters list them.
// v1: "[PATCH 0/15] KVM: optimize for MMIO handled", Xiao Guangrong, 7 Jun 2011 (the shared reference
//     seed-cover-letter.txt), an x86_64 host.
// v2: the v2 cover letter of the same series, 22 Jun 2011, Message-ID 4E01FBC9.3020009@cn.fujitsu.com
//     (https://lore.kernel.org/all/4E01FBC9.3020009@cn.fujitsu.com/), an x86_32 host; kernbench times
//     converted from m:ss.sss.
const HOSTS = {
  v1: 'x86_64 host (v1 letter)',
  v2: 'x86_32 host (v2 letter)',
};
const SEED = {
  netperf: {
    title: 'netperf TCP_RR (transactions/s, higher is better)',
    short: 'netperf',
    file: 'examples/seed/netperf-tcp-rr.mmio.yaml',
    higherIsBetter: true,
    v1: { ept: { before: [709.58, 715.4, 713.45], after: [734.6, 723.75, 724.22] }, ept0: { before: [706.1, 709.38, 695.9], after: [709.63, 715.8, 710.7] } },
    v2: { ept: { before: [677.28, 670.93, 677.19], after: [697.58, 703.94, 692.17] }, ept0: { before: [648.06, 644.71, 650.8], after: [725.54, 729.56, 724.67] } },
  },
  kernbench: {
    title: 'kernbench (elapsed seconds, lower is better)',
    short: 'kernbench',
    file: 'examples/seed/kernbench.mmio.yaml',
    higherIsBetter: false,
    v1: { ept: { before: [154.749, 154.651, 154.543], after: [153.482, 153.161, 154.271] }, ept0: { before: [283.467, 285.225, 287.029], after: [281.873, 281.668, 280.128] } },
    v2: { ept: { before: [89.525, 87.101, 85.552], after: [86.904, 86.423, 86.07] }, ept0: { before: [195.126, 196.09, 194.428], after: [191.754, 190.382, 189.056] } },
  },
};

/**
 * The uncertain parameters: each rewrites the seed's text (every rewrite must match exactly as often as
 * stated, so a changed seed fails here rather than silently measuring nothing). `base` is the seed's
 * value; `low` and `high` the ends of what the sources allow (docs/seed-replication.md cites them).
 */
const PARAMS = [
  {
    seed: 'netperf', name: 'round trip outside the guest (µs)', base: 40, low: 20, high: 80, continuous: true,
    source: 'host-local: tap, host TCP, netserver (v2 letter: the server ran on the host); loopback TCP_RR ~28 µs, a 2013 virtio-net guest\'s whole round trip 71-77 µs; ASSUMPTION 20-80',
    apply: (t, v) => rewrite(t, /wake_after: 117200/g, `wake_after: ${Math.round(v * 2930)}`, 1),
  },
  {
    seed: 'netperf', name: 'guest TCP/IP work per direction (µs)', base: 10, low: 5, high: 20, continuous: true,
    source: 'ASSUMPTION: nothing found measures a 2011 guest\'s network stack',
    apply: (t, v) => rewrite(t, /compute: 29300 \}/g, `compute: ${Math.round(v * 2930)} }`, 2),
  },
  {
    seed: 'netperf', name: 'QEMU e1000 register emulation per access (cycles)', base: 3500, low: 1000, high: 10000, continuous: true,
    source: 'ASSUMPTION: no per-access figure found; the PM timer\'s 4,041 cycles (kvm-unit-tests 00bfecaa) rescaled',
    apply: (t, v) => rewrite(t, /handler: userspace, cost: 3500,/g, `handler: userspace, cost: ${Math.round(v)},`, 1),
  },
  {
    seed: 'netperf', name: 'NO_HZ idle TMICT writes per transaction', base: 2, low: 0, high: 4,
    source: 'tick_nohz_stop_sched_tick / tick_nohz_restart: hrtimer_cancel and hrtimer_start may each reprogram (0 when the tick is not stopped)',
    apply: (t, v) => rewrite(t, /^( *- \{ write: 0xffffffffff5fb380, size: 4, value: 0x[0-9a-f]+ \}\n)/gm, (line) => line.repeat(v / 2), 2),
  },
  {
    seed: 'kernbench', name: 'page faults per CPU-second', base: 34950, low: 24800, high: 46000, continuous: true, runsUpTo: 4 * 46000,
    source: 'gcc kernel builds, perf "faults" per CPU-s: Vermeulen 24,843 / 28,107 / 35,617; Dufour v8/v9/v12 34,065 / 45,955 / 42,972',
    // cc1's heap takes the difference: 9,996 faults per 286 ms object, 5,900 of them cc1's heap in ten chunks.
    apply: (t, v) => cc1Heap(t, Math.round((v * 0.286 - (9996 - 5900)) / 10)),
  },
  {
    seed: 'kernbench', name: 'context switches (switch_mm) per CPU-second', base: 273, low: 133, high: 483,
    source: 'kernbench and perf counts 116-475 (Dufour v8/v9/v12, Garnier 2016: 254, Vermeulen ~2020: 447-475); here 18 per object from process starts and ends plus cc1\'s time slices (60 in the seed)',
    // cc1's 240 ms phase: 10 parts x p pairs x 2 slices of m ms, p x m = 12: (1, 12) -> 20 + 18, (6, 2) -> 120 + 18
    // switches per 286 ms object.
    apply: (t, v) => ccSlices(t, v === 133 ? [1, 12] : v === 483 ? [6, 2] : [3, 4]),
  },
  {
    seed: 'kernbench', name: 'processes started per CPU-second (at 34,950 faults/CPU-s)', base: 24.5, low: 12, high: 24.5,
    source: 'Vermeulen 4.13 builds on 2018 hardware: 23.0-26.0; ASSUMPTION: as low as 12 on a slower 2011 core (longer cc1 runs)',
    // 12/CPU-s: 583 ms per object, cc1's phase 537 ms: 3 pairs of 9 ms slices (540 ms, 586 ms per object),
    // and cc1's heap grown to keep 34,950 faults per CPU-second: (34,950 x 0.586 - 4,096) / 10 chunks.
    apply: (t, v) => (v === 24.5 ? t : cc1Heap(ccSlices(t, [3, 9]), Math.round((34950 * 0.586 - 4096) / 10))),
  },
  // Cost constants without an anchor (docs/cost-model.md tags them), through host.costs.
  costParam('netperf', 'memslot_compare_cold', 111, 40, 111, 'derived from Mammedov 2014\'s maxima (every slot from memory); at an L3 hit per slot ~40 (docs/cost-model.md)'),
  costParam('netperf', 'exit_handler', 800, 500, 1300, 'estimate; the cheapest simulated exit (830 cycles) is 0.73-1.45x of independent figures (docs/cost-model.md validation (c)): 500-1,300 keeps it within them'),
  costParam('netperf', 'exit_pollution', 0, 0, 18000, 'off in the profile: SplitX gives only a bound, indirect and handler costs "up to an order of magnitude" above the 2,000-cycle direct cost (cost-anchors §2.1): up to ~18,000 beyond the handler'),
  costParam('kernbench', 'exit_pollution', 0, 0, 18000, 'off in the profile: SplitX gives only a bound, indirect and handler costs "up to an order of magnitude" above the 2,000-cycle direct cost (cost-anchors §2.1): up to ~18,000 beyond the handler'),
  costParam('kernbench', 'exit_handler', 800, 500, 1300, 'estimate; the cheapest simulated exit (830 cycles) is 0.73-1.45x of independent figures (docs/cost-model.md validation (c)): 500-1,300 keeps it within them'),
  costParam('kernbench', 'spte_write', 150, 75, 600, 'estimate, no anchor (set_spte + rmap_add); ASSUMPTION 0.5-4x'),
  costParam('kernbench', 'shadow_page_zap', 2500, 1250, 10000, 'estimate, no anchor (a scan of 512 SPTEs, rmap and parent removal); ASSUMPTION 0.5-4x'),
  costParam('kernbench', 'guest_pte_read', 60, 30, 240, 'estimate from a weak anchor (a 4-level walk "a few hundred cycles"); ASSUMPTION 0.5-4x'),
];

/** A parameter that is one of the profile's cycle costs: the seed runs with `host.costs` setting it. */
function costParam(seed, field, base, low, high, source) {
  return {
    seed, name: `${field} (cycles, cost profile)`, base, low, high, continuous: true, source,
    apply: (t, v) => rewrite(t, /^host: \{ maxphyaddr: 40, profile: westmere-2011 \}/gm, `host: { maxphyaddr: 40, profile: westmere-2011, costs: { ${field}: ${Math.round(v)} } }`, 1),
  };
}

function rewrite(text, re, replacement, count) {
  const n = (text.match(re) ?? []).length;
  if (n !== count) throw new Error(`replicate: ${re} matched ${n} times in the seed, expected ${count}: update PARAMS`);
  return text.replace(re, replacement);
}

/** cc1's heap in ten chunks of `pages` pages each, one after another from 0x2000000. */
function cc1Heap(text, pages) {
  let k = 0;
  return rewrite(text, /\{ touch: 0x[0-9a-f]+, size: \d+K \}( +# cc1 heap (\d+)\/10)/g, (_m, tail) => `{ touch: 0x${(0x2000000 + k++ * pages * 4096).toString(16)}, size: ${pages * 4}K }${tail}`, 10);
}

/** cc1's phase: in each of its ten parts, `pairs` x (cc1's slice, the other job's slice) of `ms` ms each. */
function ccSlices(text, [pairs, ms]) {
  return rewrite(text, /\{ repeat: 3, steps: \[ \{ repeat: 4,(.*)\{ switch_mm: 10 \}(.*)\{ repeat: 4,(.*# cc1 slices)/g,
    (_m, a, b, c) => `{ repeat: ${pairs}, steps: [ { repeat: ${ms},${a}{ switch_mm: 10 }${b}{ repeat: ${ms},${c}`, 10);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const pct = (a, b) => ((b - a) / a) * 100;
const f = (x, d = 2) => x.toFixed(d);
const signed = (x, d = 2) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}%`;

function compare(file) {
  const p = spawnSync(process.execPath, ['dist/cli.js', 'compare', file, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (p.status !== 0) throw new Error(`compare ${file} failed:\n${p.stderr}`);
  const c = JSON.parse(p.stdout);
  // A warning means the workload did not run as written (a pool exhausted, a fault outside a vma).
  for (const v of c.variants) if (v.report.warnings.length > 0) throw new Error(`compare ${file}, ${v.label}: ${v.report.warnings[0]}`);
  return c;
}

const find = (c, label) => {
  const v = c.variants.find((x) => x.label === label);
  if (!v) throw new Error(`${c.file}: no variant labelled "${label}"`);
  return v;
};

/** A variant's figure in the unit the letters measured: a rate metric of a benchmark measured as a time
 *  (kernbench's objects per second against its elapsed seconds) is inverted. */
const measuredUnit = (s, c, v) => (c.metric.kind === 'rate' && !s.higherIsBetter ? 1 / v.metric : v.metric);

/** The six figures of one seed as the simulator gives them: the two changes and the ept=0/EPT ratio. */
function simulatedFigures(s, c) {
  const m = (label) => measuredUnit(s, c, find(c, label));
  return { ept: pct(m('ept, before'), m('ept, after')), ept0: pct(m('ept=0, before'), m('ept=0, after')), ratio: m('ept=0, before') / m('ept, before') };
}

/** The same figures measured on one host: the mean and the range of the three paired runs. */
function measuredFigures(h) {
  const runs = (b, a) => b.map((x, i) => pct(x, a[i]));
  const range = (xs) => [Math.min(...xs), Math.max(...xs)];
  return {
    ept: { value: pct(mean(h.ept.before), mean(h.ept.after)), range: range(runs(h.ept.before, h.ept.after)) },
    ept0: { value: pct(mean(h.ept0.before), mean(h.ept0.after)), range: range(runs(h.ept0.before, h.ept0.after)) },
    ratio: { value: mean(h.ept0.before) / mean(h.ept.before), range: range(h.ept0.before.map((x, i) => x / h.ept.before[i])) },
  };
}

const FIGURES = [
  ['ept', 'change with EPT'],
  ['ept0', 'change with ept=0'],
  ['ratio', 'ept=0 / EPT before the series'],
];
const fmt = (key, x) => (key === 'ratio' ? f(x, 3) : signed(x));
const inside = (x, [lo, hi]) => x >= lo && x <= hi;

/** Per iteration of the metric's label (per transaction), or for the whole run. */
function savedActions(c, before, after) {
  const per = (v) => (c.metric.kind === 'rate' ? v.report.labels[c.metric.label].count : 1);
  const d = (k, get) => get(before) / per(before) - get(after) / per(after);
  const rows = [];
  const reasons = new Set([...Object.keys(before.report.exits), ...Object.keys(after.report.exits)]);
  for (const r of [...reasons].sort()) rows.push([`${r} exits`, d(r, (v) => v.report.exits[r] ?? 0)]);
  for (const k of ['memslot_lookups', 'memslot_compares', 'memslot_misses', 'guest_walks', 'guest_pte_reads', 'lockless_walks', 'userspace_exits', 'insn_emulation']) rows.push([k, d(k, (v) => v.report.stats[k])]);
  rows.push(['cycles', d('cycles', (v) => (c.metric.kind === 'rate' ? v.report.labels[c.metric.label].cycles : v.report.cycles.elapsed))]);
  return rows.filter(([, x]) => Math.abs(x) > 1e-9);
}

// ---- Run everything first
const results = {};
const sims = {};
for (const [key, s] of Object.entries(SEED)) {
  results[key] = compare(s.file);
  sims[key] = simulatedFigures(s, results[key]);
}
const dir = mkdtempSync(join(tmpdir(), 'mmu-lab-replicate-'));
/** The seed's figures with parameter `p` at `v`. */
function runAt(p, v) {
  const file = join(dir, `${p.seed}.mmio.yaml`);
  // The seed's `expect:` counts hold for the seed's values only.
  writeFileSync(file, p.apply(readFileSync(SEED[p.seed].file, 'utf8'), v).replace(/^expect:[\s\S]*$/m, ''));
  return simulatedFigures(SEED[p.seed], compare(file));
}
const sensitivity = [];
for (const p of PARAMS) {
  const at = { [p.base]: sims[p.seed] };
  for (const v of [p.low, p.high]) if (v !== p.base) at[v] = runAt(p, v);
  sensitivity.push({ ...p, at });
}

// ---- The report
const out = [];
out.push("# Reproducing the cover letter's measurements");
out.push('');
out.push('Generated by `npm run replicate` (scripts/replicate.mjs) from `examples/seed/*.mmio.yaml`; do not edit by hand.');
out.push("The measured numbers are the cover letters' three runs per configuration, on two hosts of the same");
out.push('author: the x86_64 host of the v1 letter (the shared reference) and the x86_32 host of the v2 letter');
out.push('(Message-ID 4E01FBC9.3020009@cn.fujitsu.com). Neither names its CPU. The simulator\'s numbers come from');
out.push('workloads built from cited rates (each parameter\'s source is in the scenario file) and the');
out.push('westmere-2011 cost profile; nothing was fitted to the measurements.');
out.push('');
out.push('## The six figures');
out.push('');
out.push('"Spread" is the range of the three paired runs (the n-th run before against the n-th after, as the');
out.push('letters list them; for the ratios, the n-th ept=0 run against the n-th EPT run).');
out.push('');
out.push(`| Figure | ${HOSTS.v1}: mean (spread) | ${HOSTS.v2}: mean (spread) | Simulated | Inside the v1 spread | Inside either host's | Direction agrees |`);
out.push('|---|---|---|---|---|---|---|');
const verdicts = [];
const outside = [];
for (const [key, s] of Object.entries(SEED)) {
  const m1 = measuredFigures(s.v1);
  const m2 = measuredFigures(s.v2);
  for (const [fk, name] of FIGURES) {
    const sim = sims[key][fk];
    const a = m1[fk], b = m2[fk];
    const in1 = inside(sim, a.range);
    const either = in1 || inside(sim, b.range) || inside(sim, [Math.min(a.range[0], b.range[0]), Math.max(a.range[1], b.range[1])]);
    // Direction: of the change (its sign), or of the ratio (shadow paging slower: tps ratio < 1, time ratio > 1).
    const dir = fk === 'ratio' ? Math.sign(sim - 1) === Math.sign(a.value - 1) : Math.sign(sim) === Math.sign(a.value);
    verdicts.push([`${s.short}, ${name}`, dir]);
    if (!in1) outside.push({ key, fk, name: `${s.short}, ${name}`, sim, target: a });
    out.push(`| ${s.short}, ${name} | ${fmt(fk, a.value)} (${fmt(fk, a.range[0])} .. ${fmt(fk, a.range[1])}) | ${fmt(fk, b.value)} (${fmt(fk, b.range[0])} .. ${fmt(fk, b.range[1])}) | ${fmt(fk, sim)} | ${in1 ? 'yes' : '**no**'} | ${either ? 'yes' : '**no**'} | ${dir ? 'yes' : '**no**'} |`);
  }
}
out.push('');

out.push('## Sensitivity: how the figures move across what the sources allow');
out.push('');
out.push('Each row runs the seed again with one parameter at one end of its range, the others as in the seed.');
out.push('');
for (const key of Object.keys(SEED)) {
  const s = SEED[key];
  out.push(`### ${s.title}`);
  out.push('');
  out.push(`| Parameter | Value | ${FIGURES.map(([, n]) => n).join(' | ')} |`);
  out.push(`|---|---|${FIGURES.map(() => '---').join('|')}|`);
  for (const p of sensitivity.filter((x) => x.seed === key)) {
    for (const v of [...new Set([p.low, p.base, p.high])].sort((x, y) => x - y)) {
      const r = p.at[v];
      out.push(`| ${v === p.low ? p.name : ''} | ${v}${v === p.base ? ' (seed)' : ''} | ${FIGURES.map(([fk]) => fmt(fk, r[fk])).join(' | ')} |`);
    }
  }
  out.push('');
  out.push('Sources of the ranges:');
  out.push('');
  for (const p of sensitivity.filter((x) => x.seed === key)) out.push(`* ${p.name}: ${p.source}.`);
  out.push('');
}

out.push('## What would bring each figure outside the spread into it');
out.push('');
out.push('For each figure outside the v1 spread: the value each parameter alone would need to bring it to the');
out.push("spread's nearer edge, and whether the sources allow that value. A parameter that takes any value is");
out.push('solved by running the seed (secant steps from the sensitivity points; "run there" gives the figure at');
out.push('the value found); a count or a structure only by interpolation through its points. "never": across');
out.push('its range the parameter moves the figure the wrong way or not at all.');
out.push('');
out.push('| Figure | Simulated | Nearer edge | Parameter | Value needed | Sources allow |');
out.push('|---|---|---|---|---|---|');
for (const o of outside) {
  const edge = o.sim < o.target.range[0] ? o.target.range[0] : o.target.range[1];
  for (const p of sensitivity.filter((x) => x.seed === o.key)) {
    const need = neededValue(p, o.fk, edge);
    const v = f(need?.value ?? 0, (need?.value ?? 0) < 100 ? 1 : 0);
    const cell = need === null ? 'never' : need.ran !== null ? `${v} (run there: ${fmt(o.fk, need.ran)})` : `~${v} (${need.extrapolated ? 'extrapolated' : 'interpolated'}, not run)`;
    const allowed = need === null ? '-' : need.value >= Math.min(p.low, p.base) - 1e-9 && need.value <= Math.max(p.high, p.base) + 1e-9 ? 'yes' : 'no';
    out.push(`| ${p === sensitivity.find((x) => x.seed === o.key) ? o.name : ''} | ${p === sensitivity.find((x) => x.seed === o.key) ? fmt(o.fk, o.sim) : ''} | ${p === sensitivity.find((x) => x.seed === o.key) ? fmt(o.fk, edge) : ''} | ${p.name} | ${cell} | ${allowed} |`);
  }
}
out.push('');
rmSync(dir, { recursive: true, force: true });

/**
 * The value of `p` at which figure `fk` reaches `y`. A continuous parameter is solved by running the
 * seed: secant steps from the sensitivity points, each run at the new estimate, until the figure is
 * within 2% of the distance it started from (at most 6 runs); `ran` is the figure at the value found.
 * A discrete one (a count, a structure), or a value past `runsUpTo` (too long to simulate), only by
 * interpolation or extrapolation through its points.
 */
function neededValue(p, fk, y) {
  const pts = Object.entries(p.at).map(([v, r]) => [Number(v), r[fk]]).sort((a, b) => a[0] - b[0]);
  let guess = solve(pts, y);
  // Far beyond the sources' range the seed would take too long to simulate; the extrapolation says enough.
  const runnable = (g) => p.continuous && g.value <= (p.runsUpTo ?? Infinity);
  if (guess === null || !runnable(guess)) return guess === null ? null : { value: guess.value, ran: null, extrapolated: guess.extrapolated };
  const tolerance = 0.02 * Math.abs(y - p.at[p.base][fk]);
  let ran = null;
  for (let i = 0; i < 6 && guess !== null && runnable(guess); i++) {
    const r = runAt(p, guess.value)[fk];
    ran = { value: guess.value, figure: r };
    if (Math.abs(r - y) <= tolerance) break;
    pts.push([guess.value, r]);
    pts.sort((a, b) => a[0] - b[0]);
    guess = solve(pts, y);
  }
  if (ran === null || (guess !== null && !runnable(guess))) return guess === null ? null : { value: guess.value, ran: null, extrapolated: true };
  return { value: ran.value, ran: ran.figure, extrapolated: false };
}

/** The parameter value at which the piecewise-linear curve through `pts` reaches `y`: inside the points
 *  if it can, else along the end segment that moves toward it. null when no segment does. */
function solve(pts, y) {
  for (let i = 0; i + 1 < pts.length; i++) {
    const [x0, y0] = pts[i], [x1, y1] = pts[i + 1];
    if ((y - y0) * (y - y1) <= 0 && y0 !== y1) return { value: x0 + ((y - y0) * (x1 - x0)) / (y1 - y0), extrapolated: false };
  }
  let best = null;
  for (const [[x0, y0], [x1, y1]] of [[pts[0], pts[1]], [pts.at(-2), pts.at(-1)]]) {
    const slope = (y1 - y0) / (x1 - x0);
    if (!Number.isFinite(slope) || Math.abs(slope * (x1 - x0)) < 1e-6 * Math.max(1, Math.abs(y))) continue;
    const x = x0 + (y - y0) / slope;
    const fromEnd = x < pts[0][0] ? pts[0][0] - x : x > pts.at(-1)[0] ? x - pts.at(-1)[0] : 0;
    if (fromEnd === 0) continue;
    if (x < 0) continue; // every parameter here is a count, a time or a rate
    if (best === null || fromEnd < best.fromEnd) best = { value: x, extrapolated: true, fromEnd };
  }
  return best;
}

for (const [key, s] of Object.entries(SEED)) {
  const c = results[key];
  out.push(`## ${s.title}: the runs`);
  out.push('');
  out.push(`Scenario: \`${s.file}\`. Figure of merit: ${c.metric.kind === 'rate' ? `${c.metric.label} per second (${c.metric.unit})` : 'elapsed time'}.`);
  out.push('');
  out.push('| Mode | Measured before (mean ± sd) | Measured after (mean ± sd) | Measured change | Per-run change (1st/2nd/3rd) | Simulated change |');
  out.push('|---|---|---|---|---|---|');
  for (const [mode, m, b, a] of [['ept', s.v1.ept, 'ept, before', 'ept, after'], ['ept=0 bypass_guest_pf=0', s.v1.ept0, 'ept=0, before', 'ept=0, after']]) {
    const measured = pct(mean(m.before), mean(m.after));
    const runs = m.before.map((x, i) => pct(x, m.after[i]));
    out.push(`| ${mode} | ${f(mean(m.before), 3)} ± ${f(sd(m.before), 3)} | ${f(mean(m.after), 3)} ± ${f(sd(m.after), 3)} | ${signed(measured)} | ${runs.map((x) => signed(x)).join(' / ')} | ${signed(pct(measuredUnit(s, c, find(c, b)), measuredUnit(s, c, find(c, a))))} |`);
  }
  out.push('');
  out.push(`Simulated figures (${c.metric.kind === 'rate' ? `${c.metric.label}s per second` : 'elapsed seconds'}): ${c.variants.map((v) => `${v.label}: ${c.metric.kind === 'rate' ? f(v.metric, 3) : f(v.metric, 4) + ' s'}`).join('; ')}.`);
  out.push('');
  for (const [mode, b, a] of [['ept', 'ept, before', 'ept, after'], ['ept=0', 'ept=0, before', 'ept=0, after']]) {
    const rows = savedActions(c, find(c, b), find(c, a));
    out.push(`What v3.1 saves with ${mode}, ${c.metric.kind === 'rate' ? `per ${c.metric.label}` : 'over the whole run'} (before minus after; negative: v3.1 does more):`);
    out.push('');
    out.push('| Action | Saved |');
    out.push('|---|---|');
    for (const [k, x] of rows) out.push(`| ${k} | ${Number.isInteger(x) ? x : f(x, 2)} |`);
    out.push('');
  }
}

// How large the effect is, in absolute terms, against what the measurements imply (cost-anchors §3.2).
const us = (v) => (1 / v.metric) * 1e6; // µs per transaction
const n = results.netperf;
const k = results.kernbench;
out.push('## Sizes behind the percentages');
out.push('');
out.push('| Benchmark, mode | Simulated | Measured, v1 host (from the means) |');
out.push('|---|---|---|');
for (const [mode, m, b, a] of [['ept', SEED.netperf.v1.ept, 'ept, before', 'ept, after'], ['ept=0', SEED.netperf.v1.ept0, 'ept=0, before', 'ept=0, after']]) {
  const measured = (1 / mean(m.before) - 1 / mean(m.after)) * 1e6;
  out.push(`| netperf, ${mode} | ${f(us(find(n, b)) - us(find(n, a)), 1)} µs saved per transaction of ${f(us(find(n, b)), 0)} µs | ${f(measured, 1)} µs saved per transaction of ${f(1e6 / mean(m.before), 0)} µs |`);
}
for (const [mode, m, b, a] of [['ept', SEED.kernbench.v1.ept, 'ept, before', 'ept, after'], ['ept=0', SEED.kernbench.v1.ept0, 'ept=0, before', 'ept=0, after']]) {
  const measured = ((mean(m.before) - mean(m.after)) / mean(m.before)) * 1000;
  const tb = measuredUnit(SEED.kernbench, k, find(k, b));
  const simulated = ((tb - measuredUnit(SEED.kernbench, k, find(k, a))) / tb) * 1000;
  out.push(`| kernbench, ${mode} | ${f(simulated, 2)} ms saved per second | ${f(measured, 2)} ms saved per second |`);
}
out.push('');
// The discussion: its numbers come from the runs above; what it says was checked against them.
const nB = find(n, 'ept, before');
const tps = (v) => v.metric;
const netperfUs = 1e6 / tps(nB);
const measuredUs = 1e6 / mean(SEED.netperf.v1.ept.before);
const kB = measuredUnit(SEED.kernbench, k, find(k, 'ept, before'));
const kS = measuredUnit(SEED.kernbench, k, find(k, 'ept=0, before'));
const shadowMs = (kS - kB) * 1000; // extra seconds per object under shadow paging, in ms
const faultsPerObject = 9996;
const pollution = sensitivity.find((p) => p.seed === 'kernbench' && p.name.startsWith('exit_pollution'));
const netPollution = sensitivity.find((p) => p.seed === 'netperf' && p.name.startsWith('exit_pollution'));
out.push('## Where the simulator disagrees, and why');
out.push('');
out.push('All six directions agree. Of the sizes, only the kernbench change with EPT and the netperf ratio');
out.push('come near their spreads; the rest are out by factors, and no parameter alone brings them in within');
out.push('what its sources allow (the table above). In detail:');
out.push('');
out.push(`* **netperf's transaction is ${f(measuredUs / netperfUs, 1)}x too short, so its percentages are too large.** The simulated`);
out.push(`  transaction takes ${f(netperfUs, 0)} µs; the v1 host's took ${f(measuredUs, 0)} µs. The saving per transaction is of the measured`);
out.push('  order (table "Sizes"; most of it is the cold memslot scans after each return to QEMU,');
out.push('  docs/decisions.md "Cold memslot scans"), but the time it is divided by is not. Every part of the');
out.push('  transaction the sources price is in: the e1000 driver\'s 12 register accesses and the 6 local APIC');
out.push('  ones, two interrupts (TXDW raised inside the TDT write, RXT0 waking the halted vCPU), the NO_HZ');
out.push('  timer writes around idle, the host-local round trip (the v2 letter: the server ran on the host).');
out.push('  To reach the spread the round trip would need several hundred µs where host-local figures give');
out.push('  20-80 µs, or the guest stack hundreds of µs per direction. Nothing found explains the measured');
out.push('  1.4 ms: qemu-kvm\'s I/O-thread latency, a wake-up quantised to the guest\'s 1 ms tick (1.4 ms is one');
out.push('  tick plus 0.4 ms) and the host scheduler are candidates, none verified. The gap stays open.');
out.push('* **netperf\'s ept=0 / EPT ratio.** In the simulation shadow paging adds almost nothing to a');
out.push('  transaction: the guest takes no page faults, and idling keeps netperf\'s mm (lazy TLB), so no CR3');
out.push('  loads either; what remains is the guest walks of the emulated MMIO. The v1 host measured 1.3%');
out.push('  (within its noise, cost-anchors §3.1), the v2 host 4.2%. With cold memslot scans at an L3 hit per');
out.push('  slot (the low end of their range) the ratio reaches the v1 spread\'s edge.');
out.push(`* **kernbench's shadow paging costs ${f(shadowMs, 0)} ms per ${f(kB * 1000, 0)} ms object (ratio ${f(kS / kB, 3)}); the hosts measured 1.84x and 2.23x.**`);
out.push(`  The rebuilt workload does, per object, what the sources measure for a gcc kernel build: ${faultsPerObject.toLocaleString('en-US')} page`);
out.push('  faults (a third on page-cache pages), 7 processes (3 vforks, 4 forks with their copy-on-write,');
out.push('  7 execs and exits), 78 context switches, 286 timer ticks. Under shadow paging each fault is two');
out.push('  exits (the #PF reflected to the guest, then the one that maps it, with bypass_guest_pf=0), and');
out.push(`  they cost about ${f((shadowMs / faultsPerObject) * 1000, 1)} µs per fault in all. The measured ratio would need about ten times that:`);
out.push('  ten times the faults, or an exit path ten times dearer (exit_handler or spte_write near 30,000');
out.push('  cycles), far outside every source. The largest lever within a source is the exits\' indirect cost');
out.push(`  (cache and TLB refill after each entry, off in the profiles): at SplitX\'s bound, ${pollution.high.toLocaleString('en-US')} cycles per exit, the`);
out.push(`  ratio reaches ${f(pollution.at[pollution.high].ratio, 3)}, and the netperf changes fall to ${signed(netPollution.at[netPollution.high].ept)} / ${signed(netPollution.at[netPollution.high].ept0)}. Even so, the model misses`);
out.push('  shadow-paging work a real build does, or prices it too low. Candidates, none priced by a source found: `gfn_to_pfn`');
out.push('  (get_user_pages_fast) on every shadow map fault, which the model does not charge; the SMP guest\'s');
out.push('  other vCPUs (the guest\'s TLB-shootdown IPIs, which the simulator now models between vCPUs,');
out.push('  docs/decisions.md "TLB shootdowns between vCPUs", and KVM\'s remote TLB flushes and mmu_lock contention;');
out.push('  the seed runs one vCPU because no shootdown rate for a build was found); shadow #PF cost on a 2011 host, for which no independent figure exists');
out.push('  (docs/cost-model.md, validation (e)).');
out.push('* **kernbench\'s changes are a quarter (EPT) to a seventh (ept=0) of the measured.** The series');
out.push('  changes only MMIO exits; the build\'s MMIO is the timer\'s EOI and TMICT (2,000 per CPU-second),');
out.push('  make\'s console output and the disk (assumptions in the scenario). With ept=0 the saving also');
out.push('  depends on the MMIO path\'s guest walks, which the per-fault question above shares. With EPT the');
out.push('  measured change is itself weak (p ≈ 0.09) and the simulated one sits at the edge of its spread.');
out.push('* **The local APIC path.** The simulator reaches the local APIC through the EPT or shadow MMIO');
out.push('  path, as a host without APIC-access virtualization (flexpriority) does; with it, APIC accesses');
out.push('  are APIC_ACCESS exits the series does not change, and the savings would be smaller still.');
out.push('');
out.push('## Summary');
out.push('');
for (const [name, same] of verdicts) out.push(`* ${name}: direction ${same ? 'reproduced' : '**not reproduced**'}.`);
out.push('');
out.push('Statistics: sd is the sample standard deviation of the three runs; "measured change" compares the');
out.push('means; "per-run change" pairs the runs by their order, as the cover letter lists them. With three');
out.push('runs, only differences well outside the per-run spread are meaningful (cost-anchors.md §3.1).');
out.push('');
writeFileSync('docs/seed-replication.md', out.join('\n'));
console.log(out.join('\n'));
