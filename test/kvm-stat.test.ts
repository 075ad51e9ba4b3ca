// `perf kvm stat report --event=mmio|ioport|vmexit [--vcpu=N] [--key=sample|time]`.
// Intervals (tools/perf/arch/x86/util/kvm-stat.c, mmio_event_begin/end, and builtin-kvm.c,
// handle_begin_event/handle_end_event; docs/kernel-paths.md "perf kvm stat"): an MMIO write runs
// from kvm_mmio(WRITE) to kvm_entry, an MMIO read from kvm_exit to kvm_mmio(READ). Layout: the
// printf pieces of builtin-kvm.c print_result (cost-anchors §4.2). Where the kernel fires them
// (arch/x86/kvm/x86.c, 3.0.1 / 3.1.10): emulator_write_emulated_onepage 3963 / 4138
// `mmio: trace_kvm_mmio(KVM_TRACE_MMIO_WRITE, bytes, gpa, *(u64 *)val);` before vcpu_mmio_write;
// vcpu_mmio_read 3706 / 3845 `trace_kvm_mmio(KVM_TRACE_MMIO_READ, n, addr, *(u64 *)v);`; the
// completion after KVM_EXIT_MMIO, emulator_read_emulated 3884 / 4060; kvm_entry in vcpu_enter_guest
// 5455 / 5668 `trace_kvm_entry(vcpu->vcpu_id);`.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { run, vm, vmVcpus, NIC, APIC } from './helpers/scenario';
import { formatKvmStat, kvmStatLines } from '../simulator/report/kvm_stat_text';
import { parseScenario } from '../simulator/scenario/parse';
import { runScenario } from '../simulator/run/run';
import { MMIO_KEYS, mmioKey } from '../simulator/run/mmio_times';
import type { KvmStatRow, RunResult } from '../simulator/run/result';

// westmere-2011 (simulator/cost/profiles.ts, docs/cost-model.md): the VMM's share of a
// KVM_EXIT_MMIO (vmm_round_trip: the devices here declare no `cost`, so they are trivial), the
// in-kernel device, and the per-exit handler charged from kvm_exit on.
const DEVICE_USERSPACE = 11_600;
const DEVICE_KERNEL = 600;
const EXIT_HANDLER = 800;

const nicAt = (off: number) => '0x' + (BigInt(NIC) + BigInt(off)).toString(16);
const apicAt = (off: number) => '0x' + (BigInt(APIC) + BigInt(off)).toString(16);
const step = (s: string) => `      - ${s}`;

/** vCPU 0: two doorbell writes to the userspace NIC, three reads of the in-kernel APIC's version
 *  register; vCPU 1: two reads of the NIC register 0x8, two EOI writes. */
const TWO_VCPUS = vmVcpus('v3.1', [
  [
    step(`{ write: ${nicAt(0x50)}, size: 4, value: 1 }`),
    step(`{ write: ${nicAt(0x50)}, size: 4, value: 1 }`),
    step(`{ read: ${apicAt(0x30)}, size: 4 }`),
    step(`{ read: ${apicAt(0x30)}, size: 4 }`),
    step(`{ read: ${apicAt(0x30)}, size: 4 }`),
  ].join('\n'),
  [
    step(`{ read: ${nicAt(0x8)}, size: 4 }`),
    step(`{ read: ${nicAt(0x8)}, size: 4 }`),
    step(`{ write: ${apicAt(0xb0)}, size: 4, value: 0 }`),
    step(`{ write: ${apicAt(0xb0)}, size: 4, value: 0 }`),
  ].join('\n'),
]);

function row(rows: KvmStatRow[], key: string): KvmStatRow {
  const r = rows.find((x) => x.key === key);
  if (!r) throw new Error(`no row ${key} in ${rows.map((x) => x.key).join(', ')}`);
  return r;
}

/**
 * The intervals perf would measure, recomputed from the trace by perf's rules. The simulator stamps
 * kvm_exit after exit_handler, while the handling time starts before it (docs/cost-model.md), so a
 * read's interval is kvm_mmio(READ) - kvm_exit + exit_handler.
 */
function intervalsFromTrace(r: RunResult): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const start = new Map<number, number>();
  const pending = new Map<number, string | null>();
  const add = (vcpu: number, key: string, d: number) => {
    for (const k of [key, `${vcpu}/${key}`]) out.set(k, [...(out.get(k) ?? []), d]);
  };
  for (const e of r.trace.events) {
    if (e.name === 'kvm_exit') {
      start.set(e.vcpu, e.cycles - EXIT_HANDLER);
      pending.set(e.vcpu, null);
    } else if (e.name === 'kvm_mmio' && e.fields.type === 'write') {
      start.set(e.vcpu, e.cycles);
      pending.set(e.vcpu, `${e.fields.gpa}:W`);
    } else if (e.name === 'kvm_mmio' && e.fields.type === 'read' && start.has(e.vcpu)) {
      add(e.vcpu, pending.get(e.vcpu) ?? `${e.fields.gpa}:R`, e.cycles - start.get(e.vcpu)!);
      start.delete(e.vcpu);
    } else if (e.name === 'kvm_entry' && start.has(e.vcpu) && pending.get(e.vcpu)) {
      add(e.vcpu, pending.get(e.vcpu)!, e.cycles - start.get(e.vcpu)!);
      start.delete(e.vcpu);
      pending.set(e.vcpu, null);
    }
  }
  return out;
}

describe('MMIO accesses per (vCPU, gpa, direction)', () => {
  const r = run(TWO_VCPUS, { traceCapacity: 100_000 });
  const mmio = r.kvm_stat.mmio;

  it('keys rows by gpa and W/R, as "%#lx:%s"', () => {
    expect(mmio.all.map((x) => x.key).sort()).toEqual(['0xfebf0008:R', '0xfebf0050:W', '0xfee00030:R', '0xfee000b0:W']);
    expect(mmioKey(0, true)).toBe('0:W'); // %#lx prints 0 without the 0x
    expect(mmioKey(0xfee00380, false)).toBe('0xfee00380:R');
  });

  it('a write to a userspace device takes vmm_round_trip (+ its cost, none here); to an in-kernel one, device_kernel', () => {
    // Nothing but the device is charged between kvm_mmio(WRITE) and kvm_entry (vcpu_mmio_write or
    // KVM_EXIT_MMIO, then back into the guest).
    const nic = row(mmio.all, '0xfebf0050:W');
    expect([nic.count, nic.min_cycles, nic.max_cycles, nic.total_cycles, nic.stddev_cycles]).toEqual([2, DEVICE_USERSPACE, DEVICE_USERSPACE, 2 * DEVICE_USERSPACE, 0]);
    const eoi = row(mmio.all, '0xfee000b0:W');
    expect([eoi.count, eoi.min_cycles, eoi.max_cycles, eoi.total_cycles]).toEqual([2, DEVICE_KERNEL, DEVICE_KERNEL, 2 * DEVICE_KERNEL]);
  });

  it('a read runs from kvm_exit to kvm_mmio(READ): the whole handling time of its exit', () => {
    // A warm v3.1 read from the VMM: the in-kernel path (4,310) + vmm_round_trip (cost-model.md (b)).
    expect(row(mmio.all, '0xfebf0008:R').max_cycles).toBe(4_310 + DEVICE_USERSPACE);
    // kvm_mmio(READ) is the last charge of a read's exit, so reads sum to their exits' times: vCPU 0's
    // exits are its two writes and three reads.
    const v0 = r.kvm_stat.vmexit_by_vcpu[0]!.reduce((n, e) => n + e.total_cycles, 0);
    const v0mmio = r.kvm_stat.mmio.by_vcpu[0]!;
    expect(row(v0mmio, '0xfee00030:R').total_cycles).toBe(v0 - 2 * DEVICE_USERSPACE - writesInKernel(r, 0));
  });

  it('every interval matches the trace read with perf rules (count, total, min, max, Welford)', () => {
    const want = intervalsFromTrace(r);
    for (const [view, rows] of [[-1, mmio.all], [0, mmio.by_vcpu[0]!], [1, mmio.by_vcpu[1]!]] as const) {
      expect(rows.length).toBe([...want.keys()].filter((k) => (view === -1 ? !k.includes('/') : k.startsWith(`${view}/`))).length);
      for (const x of rows) {
        const d = want.get(view === -1 ? x.key : `${view}/${x.key}`)!;
        const mean = d.reduce((a, b) => a + b, 0) / d.length;
        const s = d.length < 2 ? 0 : Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
        expect(x.count).toBe(d.length);
        expect(x.total_cycles).toBe(d.reduce((a, b) => a + b, 0));
        expect(x.min_cycles).toBe(Math.min(...d));
        expect(x.max_cycles).toBe(Math.max(...d));
        expect(x.mean_cycles).toBeCloseTo(mean, 6);
        expect(x.stddev_cycles).toBeCloseTo(s, 6);
      }
    }
  });

  it('keeps each vCPU apart, and all vCPUs together', () => {
    expect(mmio.by_vcpu[0]!.map((x) => x.key).sort()).toEqual(['0xfebf0050:W', '0xfee00030:R']);
    expect(mmio.by_vcpu[1]!.map((x) => x.key).sort()).toEqual(['0xfebf0008:R', '0xfee000b0:W']);
    expect(row(mmio.all, '0xfee00030:R').count).toBe(3);
    // Per-vCPU exits add up to the all-vCPU table.
    const per = r.kvm_stat.vmexit_by_vcpu.flat().reduce((n, e) => n + e.count, 0);
    expect(per).toBe(r.exit_stats.reduce((n, e) => n + e.count, 0));
  });

  it('has no port I/O: the simulator models no IO_INSTRUCTION exit, so no kvm_pio', () => {
    expect(r.kvm_stat.ioport).toEqual({ all: [], by_vcpu: [[], []] });
    expect(formatKvmStat(r, { event: 'ioport', vcpu: -1, key: 'sample' })).toBe(
      '\n\nAnalyze events for all VMs, all VCPUs:\n\n' +
        '      IO Port Access    Samples  Samples%     Time%    Min Time    Max Time         Avg time \n\n' +
        '\nTotal Samples:0, Total events handled time:0.00us.\n\n',
    );
  });
});

/** The in-kernel parts of a vCPU's write exits, kvm_exit to kvm_mmio(WRITE), from the trace. */
function writesInKernel(r: RunResult, vcpu: number): number {
  let exitAt = 0;
  let sum = 0;
  for (const e of r.trace.events) {
    if (e.vcpu !== vcpu) continue;
    if (e.name === 'kvm_exit') exitAt = e.cycles - EXIT_HANDLER;
    if (e.name === 'kvm_mmio' && e.fields.type === 'write') sum += e.cycles - exitAt;
  }
  return sum;
}

/** A run with hand-made rows at 1 GHz (1 cycle = 1 ns), for the layout. */
function fakeRun(all: KvmStatRow[], byVcpu: KvmStatRow[][] = [all]): RunResult {
  const r = run(vm('v3.1', step(`{ compute: 1 }`)));
  return { ...r, cycles: { ...r.cycles, ghz: 1 }, kvm_stat: { ...r.kvm_stat, mmio: { all, by_vcpu: byVcpu, keys: MMIO_KEYS } } };
}

function fake(key: string, count: number, total: number, min: number, max: number, stddev: number, created: number, mean = total / count): KvmStatRow {
  const [addr, dir] = key.split(':');
  return { key, addr: addr!, write: dir === 'W', count, total_cycles: total, min_cycles: min, max_cycles: max, mean_cycles: mean, stddev_cycles: stddev, created };
}

describe('the text, byte for byte (builtin-kvm.c print_result)', () => {
  it('title, header, rows and footer from the printf pieces', () => {
    const r = fakeRun([fake('0xfebf0000:R', 1, 500, 500, 500, 0, 1), fake('0xfee00380:W', 3, 6000, 1000, 3000, 1000, 0)]);
    expect(formatKvmStat(r, { event: 'mmio', vcpu: -1, key: 'sample' })).toBe(
      // pr_info("\n\n"); print_vcpu_info: "Analyze events for " "all VMs, " "all VCPUs:\n\n"
      '\n\nAnalyze events for all VMs, all VCPUs:\n\n' +
        // "%*s " (20) "%10s " "%9s " "%9s " "%11s " "%11s " "%16s " then "\n\n"
        '         MMIO Access' + ' ' + '   Samples' + ' ' + ' Samples%' + ' ' + '    Time%' + ' ' + '   Min Time' + ' ' + '   Max Time' + ' ' + '        Avg time' + ' ' + '\n\n' +
        // 3 of 4 samples = 75.00%; 6000 of 6500 = 92.31%; avg 6000/3 ns = 2.00 us;
        // ( +- ) = 100 * (1000 / sqrt(3)) / 2000 = 28.87
        '        0xfee00380:W' + ' ' + '         3' + ' ' + '   75.00%' + ' ' + '   92.31%' + ' ' + '     1.00us' + ' ' + '     3.00us' + ' ' + '     2.00us ( +-  28.87% )' + '\n' +
        // n = 1 < 2: stddev 0
        '        0xfebf0000:R' + ' ' + '         1' + ' ' + '   25.00%' + ' ' + '    7.69%' + ' ' + '     0.50us' + ' ' + '     0.50us' + ' ' + '     0.50us ( +-   0.00% )' + '\n' +
        // "\nTotal Samples:%llu, Total events handled time:%.2fus.\n\n"
        '\nTotal Samples:4, Total events handled time:6.50us.\n\n',
    );
  });

  it('--vcpu N titles the table "VCPU N:" and shows that vCPU only', () => {
    const a = fake('0xfebf0050:W', 2, 80_000, 40_000, 40_000, 0, 0);
    const b = fake('0xfee000b0:W', 5, 3000, 600, 600, 0, 1);
    const r = fakeRun([a, b], [[a], [b]]);
    const t = formatKvmStat(r, { event: 'mmio', vcpu: 1, key: 'sample' }).split('\n');
    expect(t[2]).toBe('Analyze events for all VMs, VCPU 1:');
    expect(t[6]).toBe('        0xfee000b0:W          5   100.00%   100.00%      0.60us      0.60us      0.60us ( +-   0.00% )');
    expect(t[7]).toBe('');
    expect(t[8]).toBe('Total Samples:5, Total events handled time:3.00us.');
  });

  it('--key=sample sorts by count, --key=time by the mean, both descending', () => {
    const r = fakeRun([fake('0x1000:W', 1, 9000, 9000, 9000, 0, 0), fake('0x2000:W', 4, 400, 100, 100, 0, 1)]);
    const names = (key: 'sample' | 'time') => kvmStatLines(r, { event: 'mmio', vcpu: -1, key }).map((l) => l.name);
    expect(names('sample')).toEqual(['0x2000:W', '0x1000:W']);
    expect(names('time')).toEqual(['0x1000:W', '0x2000:W']);
  });

  it('on a real run, --key=time puts the VMM reads (40,000 + in-kernel cycles each) first, --key=sample the 3 APIC reads', () => {
    const r = run(TWO_VCPUS);
    const first = (key: 'sample' | 'time') => kvmStatLines(r, { event: 'mmio', vcpu: -1, key })[0]!.name;
    expect(first('sample')).toBe('0xfee00030:R');
    expect(first('time')).toBe('0xfebf0008:R');
  });

  it('ties keep perf order: hash bucket (key & 4095) ascending, the newest event first within one', () => {
    const r = fakeRun([
      fake('0xfebf0010:W', 2, 20, 10, 10, 0, 0),
      fake('0xfebf0000:W', 2, 20, 10, 10, 0, 1),
      fake('0xfebf0000:R', 2, 20, 10, 10, 0, 2),
      fake('0xfec00000:W', 2, 20, 10, 10, 0, 3),
    ]);
    expect(kvmStatLines(r, { event: 'mmio', vcpu: -1, key: 'sample' }).map((l) => l.name)).toEqual(['0xfec00000:W', '0xfebf0000:R', '0xfebf0000:W', '0xfebf0010:W']);
    // --key=time compares means truncated to whole ns (a u64): 10.2 and 10.9 ns tie.
    const t = fakeRun([fake('0x10:W', 1, 10.2, 10.2, 10.2, 0, 0), fake('0x20:W', 1, 10.9, 10.9, 10.9, 0, 1)]);
    expect(kvmStatLines(t, { event: 'mmio', vcpu: -1, key: 'time' }).map((l) => l.name)).toEqual(['0x10:W', '0x20:W']);
  });

  it('--event=vmexit --vcpu=N prints that vCPU\'s exits', () => {
    const r = run(TWO_VCPUS);
    const t = formatKvmStat(r, { event: 'vmexit', vcpu: 1, key: 'sample' }).split('\n');
    expect(t[2]).toBe('Analyze events for all VMs, VCPU 1:');
    expect(t[4]).toBe('             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ');
    // One row per exit reason vCPU 1 took, and its own total in the footer.
    const exits = r.kvm_stat.vmexit_by_vcpu[1]!;
    const n = exits.reduce((a, e) => a + e.count, 0);
    expect(t.filter((l) => / {2}\d+\.\d\d% /.test(l)).length).toBe(exits.length);
    expect(t.at(-3)).toMatch(new RegExp(`^Total Samples:${n}, `));
  });
});

describe('the doorbell', () => {
  const text = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: 1000 writes to 0xfebf0050, each vmm_round_trip long, no reads`, () => {
      const p = parseScenario(text, 'doorbell.mmio.yaml');
      if ('diagnostics' in p) throw new Error('bad example');
      const r = runScenario(p.scenario, { overrides: { kernel } });
      expect(r.kvm_stat.mmio.all.map((x) => x.key)).toEqual(['0xfebf0050:W']);
      const w = r.kvm_stat.mmio.all[0]!;
      expect([w.count, w.min_cycles, w.max_cycles]).toEqual([1000, DEVICE_USERSPACE, DEVICE_USERSPACE]);
      // 11,600 cycles at 2.93 GHz = 3.959 us; 1000 of them = 3959.04 us. (The doorbell's cold memslot
      // scans come before kvm_mmio(WRITE): a write's interval is the device alone.)
      expect(formatKvmStat(r, { event: 'mmio', vcpu: -1, key: 'sample' }).split('\n').slice(6, 9)).toEqual([
        '        0xfebf0050:W       1000   100.00%   100.00%      3.96us      3.96us      3.96us ( +-   0.00% )',
        '',
        'Total Samples:1000, Total events handled time:3959.04us.',
      ]);
    });
  }
});

describe('bounds', () => {
  it('counts every access even when the trace ring keeps only the last few events', () => {
    const p = parseScenario(readFileSync('examples/doorbell.mmio.yaml', 'utf8'), 'doorbell.mmio.yaml');
    if ('diagnostics' in p) throw new Error('bad example');
    const r = runScenario(p.scenario, { traceCapacity: 16 });
    expect(r.trace.dropped).toBeGreaterThan(0);
    expect(r.kvm_stat.mmio.all.map((x) => [x.key, x.count])).toEqual([['0xfebf0050:W', 1000]]);
  });

  it(`keeps ${MMIO_KEYS} distinct keys apart and counts the rest in one overflow row`, () => {
    const n = MMIO_KEYS + 3;
    const steps = Array.from({ length: n }, (_, i) => step(`{ write: ${nicAt(i * 8)}, size: 4, value: 1 }`)).join('\n');
    const r = run(vm('v3.1', steps));
    const rows = r.kvm_stat.mmio.all;
    expect(rows.length).toBe(MMIO_KEYS + 1);
    const other = rows.find((x) => x.addr === null)!;
    expect([other.key, other.count, other.write]).toEqual(['other keys', 3, null]);
    expect(rows.reduce((a, x) => a + x.count, 0)).toBe(n);
    expect(rows.filter((x) => x.addr !== null).every((x) => x.count === 1)).toBe(true);
  });
});

describe('mmu-lab stat', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'stat', ...args], { encoding: 'utf8' });
  beforeAll(() => {
    if (!existsSync('dist/cli.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  });

  it('prints the mmio table; --event mmio (space form) is the same', () => {
    const a = cli('examples/doorbell.mmio.yaml', '--event=mmio');
    const b = cli('examples/doorbell.mmio.yaml', '--event', 'mmio', '--vcpu', '0', '-k', 'sample');
    expect(a.status).toBe(0);
    expect(a.stdout.split('\n').slice(0, 5)).toEqual(['', '', 'Analyze events for all VMs, all VCPUs:', '', '         MMIO Access    Samples  Samples%     Time%    Min Time    Max Time         Avg time ']);
    expect(b.stdout).toBe(a.stdout.replace('all VCPUs:', 'VCPU 0:'));
  });

  it('takes --key=time and --vcpu=0 (the doorbell: EPT_MISCONFIG, 15.07 us, leads EPT_VIOLATION, 10.07 us, by time too)', () => {
    const t = cli('examples/doorbell.mmio.yaml', '--key=time', '--vcpu=0').stdout.split('\n');
    expect(t[2]).toBe('Analyze events for all VMs, VCPU 0:');
    expect(t.slice(6, 8).map((l) => l.trim().split(/ +/)[0])).toEqual(['EPT_MISCONFIG', 'EPT_VIOLATION']);
  });

  it('defaults to --event=vmexit', () => {
    const p = cli('examples/doorbell.mmio.yaml');
    expect(p.stdout).toMatch(/^ {7}EPT_MISCONFIG {8}999 /m);
  });

  it.each([
    [['--event=tlb'], /--event takes vmexit, mmio, ioport \(got "tlb"\)/],
    [['--key=avg'], /--key takes sample or time/],
    [['--vcpu=1'], /--vcpu 1: examples\/doorbell\.mmio\.yaml has 1 vCPU \(0\)/],
    [['--vcpu=-1'], /--vcpu takes a vCPU number/],
    [['--frob'], /unknown option "--frob"/],
  ])('%j: one message, usage, exit 2', (args, msg) => {
    const p = cli('examples/doorbell.mmio.yaml', ...args);
    expect(p.status).toBe(2);
    expect(p.stdout).toBe('');
    expect(p.stderr).toMatch(msg);
    expect(p.stderr).toContain('usage: mmu-lab run');
  });
});
