import { describe, it, expect } from 'vitest';
import { COMPONENTS } from '../simulator/cost/profile';
import type { Component } from '../simulator/cost/profile';
import { fixed, formatRunText, relStddev, sprintf } from '../simulator/report/text';
import type { ExitStats, RunResult } from '../simulator/run/result';
import { KVM_STATS, SIM_STATS } from '../simulator/trace/stats';

function byComponent(parts: Partial<Record<Component, number>>): Record<Component, number> {
  const out = {} as Record<Component, number>;
  for (const c of COMPONENTS) out[c] = parts[c] ?? 0;
  return out;
}

function exit(reason: string, code: number, count: number, min: number, max: number, total: number, stddev: number): ExitStats {
  return { reason, code, count, min_cycles: min, max_cycles: max, total_cycles: total, stddev_cycles: stddev };
}

/** A small run: 999 warm MMIO exits (EPT_MISCONFIG) and one cold one (EPT_VIOLATION), at 2.0 GHz. */
function smallRun(over: Partial<RunResult> = {}): RunResult {
  return {
    file: 'examples/warm.mmio.yaml',
    name: 'warm-mmio',
    kernel: 'v3.1',
    tdp: true,
    mmio_caching: true,
    bypass_guest_pf: false,
    oos_shadow: true,
    enable_vpid: true,
    profile: 'westmere-2011',
    maxphyaddr: 40,
    vcpus: 1,
    memslots: 1,
    exits: { EPT_MISCONFIG: 999, EPT_VIOLATION: 1 },
    exit_stats: [
      // EPT_VIOLATION first on purpose: the report must sort by Samples.
      exit('EPT_VIOLATION', 48, 1, 20_000, 20_000, 20_000, 0),
      exit('EPT_MISCONFIG', 49, 999, 2_000, 20_000, 3_996_000, 4_000),
    ],
    kvm_stat: { vmexit_by_vcpu: [[]], mmio: { all: [], by_vcpu: [[]], keys: 128 }, ioport: { all: [], by_vcpu: [[]] } },
    faults: { 'mmio-fast': 998, 'mmio-slow': 1, 'ram': 1, 'guest': 0 },
    fault_classes: [
      { class: 'ram', count: 1, ret: { fn: 'tdp_page_fault', value: 0, meaning: 'fixed' } },
      { class: 'mmio-slow', count: 1, ret: { fn: 'handle_mmio_page_fault_common', value: 0, meaning: 'retry' } },
      { class: 'guest', count: 0, ret: { fn: 'kvm_inject_page_fault', value: 0, meaning: 'injected' } },
      { class: 'mmio-fast', count: 998, ret: { fn: 'handle_mmio_page_fault_common', value: 1, meaning: 'emulate' } },
    ],
    stats: { exits: 1000, mmio_exits: 0, pf_fixed: 1, memslot_lookups: 4003, guest_walks: 999 },
    cycles: {
      total: 4_000_000,
      elapsed: 4_000_000,
      idle: 0,
      ghz: 2.0,
      by_component: byComponent({ emulation: 3_000_000, vm_exit_entry: 900_000, memslot_search: 100_000 }),
    },
    labels: { poll: { count: 999, cycles: 3_996_000 }, idle: { count: 0, cycles: 0 } },
    steps: 2000,
    lines: [],
    expect: [
      { path: 'exits.EPT_MISCONFIG', expected: '>= 1', actual: 999, ok: true, line: 30, col: 5 },
      { path: 'stats.pf_fixed', expected: '== 0', actual: 1, ok: false, line: 31, col: 5 },
      { path: 'faults.nope', expected: '> 0', actual: null, ok: false, line: 32, col: 7 },
    ],
    guest_page_tables: [],
    shadow_tables: { mode: 'ept', kernel: 'v3.1', afterStep: null, pages: [], fields: { leaf: [], nonleaf: [], mmio: [], trap: [], notrap: [], nonpresent: [] } },
    memslot_table: { nmemslots: 1, generation: 1, slots: [] },
    trace: { total: 0, dropped: 0, events: [] },
    flame: { all: { functions: [], nodes: [{ fn: -1, parent: -1, self: 0, total: 4_000_000 }] }, by_class: {}, by_line: {} },
    warnings: [],
    ...over,
  };
}

function lines(s: string): string[] {
  return s.split('\n');
}

/** The lines of one section: from its title line up to the next blank line. */
function section(text: string, title: string): string[] {
  const all = lines(text);
  const start = all.indexOf(title);
  expect(start, `section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = all.indexOf('', start);
  return all.slice(start, end);
}

describe('sprintf and fixed', () => {
  it('right-aligns and never truncates', () => {
    expect(sprintf('%10s|', 'abc')).toBe('       abc|');
    expect(sprintf('%-5s|', 'ab')).toBe('ab   |');
    expect(sprintf('%3s|', 'abcdef')).toBe('abcdef|');
    expect(sprintf('%10llu ', 999)).toBe('       999 ');
    expect(sprintf('%8.2f%% ', 99.9)).toBe('   99.90% ');
    expect(sprintf('%9.2fus ', 1001118.99)).toBe('1001118.99us ');
    expect(sprintf('Total Samples:%llu, time:%.2fus.', 25898, 0)).toBe('Total Samples:25898, time:0.00us.');
  });

  it('rounds exact ties to even, like glibc printf', () => {
    expect(fixed(0.125, 2)).toBe('0.12'); // JavaScript's toFixed gives 0.13
    expect(fixed(0.375, 2)).toBe('0.38');
    expect(fixed(2.5, 0)).toBe('2');
    expect(fixed(1.005, 2)).toBe('1.00'); // not a tie: the double is 1.00499999...
    expect(fixed(13.333, 2)).toBe('13.33');
  });
});

describe('VM-EXIT table (perf kvm stat report layout)', () => {
  const text = formatRunText(smallRun());
  const all = lines(text);

  it('prints the title, the header with its trailing space, and blank lines where perf does', () => {
    const t = all.indexOf('Analyze events for all VMs, all VCPUs:');
    expect(t).toBeGreaterThan(0);
    expect(all[t + 1]).toBe('');
    expect(all[t + 2]).toBe(
      '             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ',
    );
    expect(all[t + 3]).toBe('');
  });

  it('prints a row computed by hand from the perf printf pieces, sorted by Samples', () => {
    // ghz 2.0, so 1 us = 2.0 * 1000 = 2000 cycles.
    // EPT_MISCONFIG: 999 of 1000 samples -> 99.90%; time 3,996,000 of 3,996,000 + 20,000 = 4,016,000
    //   cycles -> 99.5020% -> "99.50"; min 2,000 cyc = 1.00 us; max 20,000 cyc = 10.00 us;
    //   avg 3,996,000 / 999 = 4,000 cyc = 2.00 us; rel. stddev 100 * (4000 / sqrt(999)) / 4000
    //   = 100 / 31.6070 = 3.1639 -> "3.16".
    // "%20s " -> 7 spaces + EPT_MISCONFIG (13) + " "; "%10llu " -> 7 spaces + "999 ";
    // "%8.2f%% " -> "   99.90% " and "   99.50% "; "%9.2fus " -> "     1.00us ", "    10.00us ";
    // "%9.2fus ( +-%7.2f%% )" -> "     2.00us ( +-   3.16% )".
    const t = all.indexOf('Analyze events for all VMs, all VCPUs:');
    expect(all[t + 4]).toBe(
      '       EPT_MISCONFIG        999    99.90%    99.50%      1.00us     10.00us      2.00us ( +-   3.16% )',
    );
    // EPT_VIOLATION: 1 sample -> 0.10%; 20,000 / 4,016,000 -> 0.4980% -> "0.50"; every time 10.00 us;
    // n = 1 < 2, so the relative stddev is 0.
    expect(all[t + 5]).toBe(
      '       EPT_VIOLATION          1     0.10%     0.50%     10.00us     10.00us     10.00us ( +-   0.00% )',
    );
    expect(all[t + 6]).toBe('');
    // 4,016,000 cycles / 2000 = 2008.00 us.
    expect(all[t + 7]).toBe('Total Samples:1000, Total events handled time:2008.00us.');
  });

  it('breaks ties in Samples by name', () => {
    const r = smallRun({
      exit_stats: [exit('HLT', 12, 5, 2000, 2000, 10_000, 0), exit('CPUID', 10, 5, 2000, 2000, 10_000, 0)],
    });
    const t = lines(formatRunText(r));
    const i = t.indexOf('Analyze events for all VMs, all VCPUs:');
    expect(t[i + 4]!.trimStart().startsWith('CPUID ')).toBe(true);
    expect(t[i + 5]!.trimStart().startsWith('HLT ')).toBe(true);
  });

  it('computes the relative stddev as 100 * (s / sqrt(n)) / mean, 0 when n < 2 or mean is 0', () => {
    // n = 4, mean = 1000, s = 500: 100 * (500 / 2) / 1000 = 25.
    expect(relStddev(exit('X', 0, 4, 0, 0, 4000, 500))).toBe(25);
    expect(relStddev(exit('X', 0, 1, 7, 7, 7, 123))).toBe(0);
    expect(relStddev(exit('X', 0, 3, 0, 0, 0, 10))).toBe(0);
    const r = smallRun({ exit_stats: [exit('CPUID', 10, 4, 1000, 3000, 8000, 1000), exit('HLT', 12, 1, 9, 9, 9, 55)] });
    const t = lines(formatRunText(r));
    const i = t.indexOf('Analyze events for all VMs, all VCPUs:');
    // CPUID: mean 2000 cycles = 1.00 us; 100 * (1000 / 2) / 2000 = 25.00.
    expect(t[i + 4]).toMatch(/ {6}1\.00us \( \+- {2}25\.00% \)$/);
    // HLT: one sample, so a stddev given by mistake is ignored.
    expect(t[i + 5]).toMatch(/\( \+- {3}0\.00% \)$/);
  });

  it('prints an empty table when there were no exits', () => {
    const t = lines(formatRunText(smallRun({ exits: {}, exit_stats: [] })));
    const i = t.indexOf('Analyze events for all VMs, all VCPUs:');
    expect(t.slice(i, i + 6)).toEqual([
      'Analyze events for all VMs, all VCPUs:',
      '',
      '             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ',
      '',
      '',
      'Total Samples:0, Total events handled time:0.00us.',
    ]);
  });

  it('reproduces the rows of the real perf kvm stat output in cost-anchors §4.2', () => {
    // [reason, samples, min us, max us, avg us, relative stddev %], from the 0xba1a/blog_source example.
    const rows: [string, number, number, number, number, number][] = [
      ['MSR_WRITE', 9167, 0.45, 9554.94, 3.0, 41.94],
      ['EXTERNAL_INTERRUPT', 5877, 0.37, 1175.48, 2.43, 17.9],
      ['PREEMPTION_TIMER', 5728, 0.51, 21.14, 0.62, 0.87],
      ['HLT', 2232, 0.56, 1001118.99, 30567.94, 9.88],
      ['CPUID', 2160, 0.4, 12.82, 0.65, 1.29],
      ['PAUSE_INSTRUCTION', 390, 0.38, 1490.19, 8.27, 62.22],
      ['EPT_MISCONFIG', 303, 1.04, 167.13, 13.33, 8.61],
      ['EOI_INDUCED', 37, 0.62, 3.0, 1.24, 6.58],
      ['EXCEPTION_NMI', 4, 0.42, 0.56, 0.47, 6.81],
    ];
    // At 1 GHz a cycle is a nanosecond, perf's own unit. total = n * avg; the sample stddev s that gives
    // the printed relative error is rel / 100 * mean * sqrt(n), with mean = total / n.
    // The rows' n * avg sum to 68,281,691.60 us, the blog's footer says 68,281,638.61 us: 52.99 us less,
    // which the rounding of the averages allows. Take it off two totals, keeping their averages:
    //   MSR_WRITE (27,501,000 - 45,000) / 9,167 = 2,995.09 ns -> "3.00";
    //   EXTERNAL_INTERRUPT (14,281,110 - 7,990) / 5,877 = 2,428.64 ns -> "2.43".
    // EPT_MISCONFIG: total 303 * 13,330 = 4,038,990 cycles; Samples% 303 / 25,898 = 1.170% -> "1.17";
    // Time% 4,038,990 / 68,281,638,610 = 0.0059% -> "0.01"; min 1,040 ns, max 167,130 ns;
    // s = 0.0861 * 13,330 * sqrt(303), so 100 * (s / sqrt(303)) / 13,330 = 8.61.
    const adjust: Record<string, number> = { MSR_WRITE: -45_000, EXTERNAL_INTERRUPT: -7_990 };
    const stats = rows.map(([reason, n, min, max, avg, rel], i) => {
      const mean = Math.round(avg * 1000);
      const total = n * mean + (adjust[reason] ?? 0);
      return exit(reason, i, n, Math.round(min * 1000), Math.round(max * 1000), total, (rel / 100) * (total / n) * Math.sqrt(n));
    });
    const r = smallRun({ exit_stats: stats.slice().reverse(), cycles: { ...smallRun().cycles, ghz: 1 } });
    const t = lines(formatRunText(r));
    const i = t.indexOf('Analyze events for all VMs, all VCPUs:');
    expect(t[i + 4 + 6]).toBe(
      '       EPT_MISCONFIG        303     1.17%     0.01%      1.04us    167.13us     13.33us ( +-   8.61% )',
    );
    // The whole block of rows and the footer, as in the blog (whose header line lost its trailing space).
    expect(t.slice(i + 4, i + 13).join('\n')).toBe(
      [
        '           MSR_WRITE       9167    35.40%     0.04%      0.45us   9554.94us      3.00us ( +-  41.94% )',
        '  EXTERNAL_INTERRUPT       5877    22.69%     0.02%      0.37us   1175.48us      2.43us ( +-  17.90% )',
        '    PREEMPTION_TIMER       5728    22.12%     0.01%      0.51us     21.14us      0.62us ( +-   0.87% )',
        '                 HLT       2232     8.62%    99.92%      0.56us 1001118.99us  30567.94us ( +-   9.88% )',
        '               CPUID       2160     8.34%     0.00%      0.40us     12.82us      0.65us ( +-   1.29% )',
        '   PAUSE_INSTRUCTION        390     1.51%     0.00%      0.38us   1490.19us      8.27us ( +-  62.22% )',
        '       EPT_MISCONFIG        303     1.17%     0.01%      1.04us    167.13us     13.33us ( +-   8.61% )',
        '         EOI_INDUCED         37     0.14%     0.00%      0.62us      3.00us      1.24us ( +-   6.58% )',
        '       EXCEPTION_NMI          4     0.02%     0.00%      0.42us      0.56us      0.47us ( +-   6.81% )',
      ].join('\n'),
    );
    expect(t[i + 13]).toBe('');
    expect(t[i + 14]).toBe('Total Samples:25898, Total events handled time:68281638.61us.');
  });

  it('reproduces the synthetic example of cost-anchors §4.2 byte for byte, footer included', () => {
    // [reason, samples, min us, max us, avg us, relative stddev %]; at 2.0 GHz, 1 us = 2000 cycles.
    const rows: [string, number, number, number, number, number][] = [
      ['HLT', 25, 0.6, 5000.0, 900.0, 20.0],
      ['EPT_VIOLATION', 180, 3.2, 41.0, 5.6, 4.1],
      ['EPT_MISCONFIG', 12000, 1.1, 35.2, 2.4, 0.9],
      ['IO_INSTRUCTION', 40, 9.8, 60.3, 14.1, 7.2],
      ['EXTERNAL_INTERRUPT', 300, 0.4, 12.0, 1.9, 3.0],
    ];
    const stats = rows.map(([reason, n, min, max, avg, rel], i) => {
      const mean = Math.round(avg * 2000);
      return exit(reason, i, n, Math.round(min * 2000), Math.round(max * 2000), n * mean, (rel / 100) * mean * Math.sqrt(n));
    });
    const text = formatRunText(smallRun({ exit_stats: stats }));
    const expected = [
      'Analyze events for all VMs, all VCPUs:',
      '',
      '             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ',
      '',
      '       EPT_MISCONFIG      12000    95.66%    53.89%      1.10us     35.20us      2.40us ( +-   0.90% )',
      '  EXTERNAL_INTERRUPT        300     2.39%     1.07%      0.40us     12.00us      1.90us ( +-   3.00% )',
      '       EPT_VIOLATION        180     1.43%     1.89%      3.20us     41.00us      5.60us ( +-   4.10% )',
      '      IO_INSTRUCTION         40     0.32%     1.06%      9.80us     60.30us     14.10us ( +-   7.20% )',
      '                 HLT         25     0.20%    42.10%      0.60us   5000.00us    900.00us ( +-  20.00% )',
      '',
      'Total Samples:12545, Total events handled time:53442.00us.',
      '',
    ].join('\n');
    expect(text).toContain(expected);
  });
});

describe('the other sections', () => {
  const text = formatRunText(smallRun());

  it('starts with the scenario and every setting it ran with, as its kernel has them', () => {
    const t = lines(text);
    expect(t[0]).toBe('Scenario warm-mmio (examples/warm.mmio.yaml)');
    // 3.1.10 has no bypass_guest_pf (the MMIO series removed it from vmx.c); oos_shadow is mmu.c:90.
    expect(t[1]).toBe('kernel v3.1 · EPT (tdp) · mmio_caching on · oos_shadow on · bypass_guest_pf none in v3.1 · vpid on');
    expect(t[2]).toBe(`profile westmere-2011 (2 GHz) · maxphyaddr 40 · 1 vCPU · ${smallRun().memslots} memslot${smallRun().memslots === 1 ? '' : 's'}`);
    const shadow = lines(
      formatRunText(
        smallRun({ tdp: false, mmio_caching: false, kernel: 'v3.0', bypass_guest_pf: true, vcpus: 2, memslots: 3, cycles: { ...smallRun().cycles, ghz: 2.93 } }),
      ),
    );
    // 3.0.1 has no MMIO SPTE (mmio_caching changes nothing there); vmx.c:50 bypass_guest_pf = 1.
    expect(shadow[1]).toBe('kernel v3.0 · shadow paging · mmio_caching off (no MMIO SPTEs in v3.0) · oos_shadow on · bypass_guest_pf on · vpid on');
    expect(shadow[2]).toBe('profile westmere-2011 (2.93 GHz) · maxphyaddr 40 · 2 vCPUs · 3 memslots');
    // 3.0.1 vmx.c:4673 `bypass_guest_pf = 0;` when EPT is enabled.
    const ept30 = lines(formatRunText(smallRun({ kernel: 'v3.0', tdp: true, bypass_guest_pf: false })));
    expect(ept30[1]).toBe('kernel v3.0 · EPT (tdp) · mmio_caching on (no MMIO SPTEs in v3.0) · oos_shadow on · bypass_guest_pf off (EPT forces it off) · vpid on');
  });

  it('puts the sections in order', () => {
    const order = [
      'Analyze events for all VMs, all VCPUs:',
      'Fault classes',
      'kvm statistics - summary',
      'Cycle breakdown',
      'Labels',
      'Expectations (1 passed, 2 failed)',
    ].map((title) => lines(text).indexOf(title));
    expect(order.every((n) => n > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(text).not.toContain('Warnings');
    expect(text).not.toContain('Accesses');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('lists fault classes with a count, by count, with percent and return code', () => {
    const s = section(text, 'Fault classes');
    expect(s[1]).toMatch(/^ {2}class +count +percent +return code$/);
    expect(s[2]).toMatch(/^ {2}mmio-fast +998 +99\.80% +handle_mmio_page_fault_common → 1 \(emulate\)$/);
    // Ties by count are broken by name: mmio-slow before ram.
    expect(s[3]).toMatch(/^ {2}mmio-slow +1 +0\.10% +handle_mmio_page_fault_common → 0 \(retry\)$/);
    expect(s[4]).toMatch(/^ {2}ram +1 +0\.10% +tdp_page_fault → 0 \(fixed\)$/);
    expect(s).toHaveLength(5); // guest (count 0) is left out
  });

  it('lists every counter in the kvm_stat debugfs layout, zeros included', () => {
    const s = section(text, 'kvm statistics - summary');
    expect(s[1]).toBe(' Event                                        Total');
    expect(s[2]).toBe(' exits                                         1000');
    expect(s.slice(2).map((l) => l.trim().split(/ +/)[0])).toEqual([...KVM_STATS]);
    expect(s).toContain(' mmu_unsync                                       0');
    const all = lines(text);
    const sub = all.findIndex((l) => l.startsWith(' Simulator counters'));
    expect(all[sub - 1]).toBe('');
    const sim = all.slice(sub + 1, sub + 1 + SIM_STATS.length);
    expect(sim.map((l) => l.trim().split(/ +/)[0])).toEqual([...SIM_STATS]);
    expect(sim).toContain(' memslot_lookups                               4003');
    expect(sim).toContain(' memslot_updates                                  0');
  });

  it('breaks cycles down by component with bars, then totals', () => {
    const s = section(text, 'Cycle breakdown');
    // 3,000,000 / 4,000,000 = 75.00% -> 30 of 40 bar cells; 22.50% -> 9; 2.50% -> 1.
    expect(s[1]).toMatch(/^ {2}component +cycles +percent$/);
    expect(s[2]).toBe(`  emulation       3000000   75.00%  ${'█'.repeat(30)}`);
    expect(s[3]).toBe(`  vm_exit_entry    900000   22.50%  ${'█'.repeat(9)}`);
    expect(s[4]).toBe(`  memslot_search   100000    2.50%  █`);
    expect(s[5]).toBe('  total    4000000 cycles');
    // 4,000,000 cycles / 2000 = 2000.00 us = 2.000 ms.
    expect(s[6]).toBe('  elapsed  4000000 cycles = 2000.00 µs = 2.000 ms');
  });

  it('shows labels per iteration', () => {
    const s = section(text, 'Labels');
    // poll: 3,996,000 / 999 = 4000.00 cycles per iteration = 2.000 us.
    expect(s[2]).toMatch(/^ {2}poll +999 +3996000 +4000\.00 +2\.000$/);
    expect(s[3]).toMatch(/^ {2}idle +0 +0 +- +-$/);
  });

  it('marks expectations and locates the failures', () => {
    const s = section(text, 'Expectations (1 passed, 2 failed)');
    expect(s[1]).toMatch(/^ {2}✓ exits\.EPT_MISCONFIG +>= 1 +actual 999$/);
    expect(s[2]).toMatch(/^ {2}✗ stats\.pf_fixed +== 0 +actual 1 +examples\/warm\.mmio\.yaml:31:5$/);
    expect(s[3]).toMatch(/^ {2}✗ faults\.nope +> 0 +no such value +examples\/warm\.mmio\.yaml:32:7$/);
  });

  it('prints accesses only when asked and recorded, and warnings when there are some', () => {
    const r = smallRun({
      accesses: [
        { step: 0, vcpu: 0, op: 'read', gva: '0xffffc90000000000', cpl: 0, result: 'ok', error_code: null, value: '0x1', line: 40 },
        { step: 1, vcpu: 0, op: 'write', gva: '0x400000', cpl: 3, result: 'guest-fault', error_code: '0x7', value: '0x2a', line: 41 },
      ],
      accesses_truncated: true,
      warnings: ['WARN_ON(!is_mmio_spte(spte)) at mmu.c', 'KVM_EXIT_UNKNOWN'],
    });
    expect(formatRunText(r)).not.toContain('Accesses');
    const withAcc = formatRunText(r, { accesses: true });
    const s = section(withAcc, 'Accesses');
    expect(s[1]).toMatch(/^ {2}step +vcpu +op +gva +cpl +result +error_code +value +line$/);
    expect(s[2]).toMatch(/^ {5}0 +0 +read +0xffffc90000000000 +0 +ok +- +0x1 +40$/);
    expect(s[3]).toMatch(/^ {5}1 +0 +write +0x400000 +3 +guest-fault +0x7 +0x2a +41$/);
    expect(s[4]).toContain('later accesses were not recorded');
    expect(formatRunText(smallRun(), { accesses: true })).not.toContain('Accesses');
    const w = lines(withAcc);
    const wi = w.indexOf('Warnings');
    expect(wi).toBeGreaterThan(w.indexOf('Accesses'));
    expect(w.slice(wi + 1, wi + 3)).toEqual(['  WARN_ON(!is_mmio_spte(spte)) at mmu.c', '  KVM_EXIT_UNKNOWN']);
  });
});
