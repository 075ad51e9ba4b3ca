// The command-line runner as a user calls it (the bundle `npm run build` writes to dist/cli.js).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
let dir = '';

beforeAll(() => {
  if (!existsSync('dist/cli.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'mmu-lab-'));
});

describe('mmu-lab run', () => {
  it('prints the perf kvm stat table and exits 0 when every expectation holds', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml');
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time ');
    expect(p.stdout).toMatch(/^ {7}EPT_MISCONFIG {8}999 /m);
  });

  it('--json prints one object per file, in order, with 64-bit values as hex strings', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', 'examples/apic-eoi.mmio.yaml', '--json');
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((r) => r.name)).toEqual(['Doorbell writes to an emulated NIC', 'Local APIC EOI loop (in-kernel device)']);
    const r = lines[0];
    for (const k of ['kernel', 'tdp', 'exits', 'faults', 'stats', 'cycles', 'labels', 'expect', 'guest_page_tables']) expect(r).toHaveProperty(k);
    for (const k of ['exits', 'pf_fixed', 'pf_guest', 'mmio_exits', 'insn_emulation', 'memslot_lookups', 'memslot_compares', 'guest_walks', 'mmio_sptes_created', 'mmu_shadow_zapped']) expect(r.stats).toHaveProperty(k);
    expect(r.cycles.total).toBeGreaterThan(0);
    expect(r.labels.transaction.count).toBe(1000);
    expect(r.guest_page_tables[1].entries.at(-1).value).toBe('0x80000000febf0073'); // NX | gfn | D A PCD W P
  });

  it('--kernel overrides the scenario; expectations written for v3.1 then fail with status 1', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v3.0', '--json');
    expect(p.status).toBe(1);
    const r = JSON.parse(p.stdout);
    expect(r.kernel).toBe('v3.0');
    expect(r.expect.find((e: { path: string }) => e.path === 'exits.EPT_MISCONFIG')).toMatchObject({ ok: false, actual: 0 });
  });

  it('--accesses lists every access with its value', () => {
    const p = cli('run', 'examples/memslot-over-mmio.mmio.yaml', '--json', '--accesses');
    const r = JSON.parse(p.stdout);
    expect(r.accesses[0]).toMatchObject({ op: 'read', result: 'ok', value: '0xaa55', gva: '0xffffc90000100000', cpl: 0 });
    expect(r.accesses.at(-1)).toMatchObject({ op: 'read', value: '0x1122334455667788' });
  });

  it('bad input: file:line:col on stderr, exit status 2, nothing run; the worst status wins', () => {
    const bad = join(dir, 'bad.mmio.yaml');
    writeFileSync(bad, 'memslots:\n  - { slot: 0, gpa: 0x0, size: 0x1800 }\nguest: { mappings: [] }\nworkload:\n  - { compute: 1 }\n');
    const p = cli('run', 'examples/doorbell.mmio.yaml', bad, '--json');
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/bad\.mmio\.yaml:2:\d+: error: .*size/);
    expect(p.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('--trace adds the last events, named after KVM tracepoints', () => {
    const r = JSON.parse(cli('run', 'examples/doorbell.mmio.yaml', '--json').stdout);
    expect(r.trace.events).toEqual([]);
    expect(r.trace.total).toBeGreaterThan(0);
    const t = JSON.parse(cli('run', 'examples/alternating-pages.mmio.yaml', '--json', '--trace').stdout);
    const names = new Set(t.trace.events.map((e: { name: string }) => e.name));
    for (const n of ['kvm_exit', 'kvm_entry', 'handle_mmio_page_fault', 'kvm_emulate_insn', 'vcpu_match_mmio', 'kvm_mmio', 'kvm_mmu_pagetable_walk']) expect(names.has(n)).toBe(true);
  });

  it('--trace-cmd prints the trace buffer as trace-cmd report text instead of the report', () => {
    const p = cli('run', 'examples/race-zap-during-walk.mmio.yaml', '--kernel', 'v3.1', '--trace-cmd');
    expect(p.status).toBe(0);
    const lines = p.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^# mmu-lab v3\.1: 0 earlier events dropped by the trace buffer; \d+ kept$/);
    expect(lines[1]).toBe('cpus=2');
    expect(p.stdout).not.toContain('VM-EXIT'); // no perf kvm stat table
    // pevent_print_event: "%16s-%-5d [%03d] %5lu.%06lu: %s: ", the name padded to 20 (trace-cmd parse-events.c)
    for (const l of lines.slice(2)) expect(l).toMatch(/^ {8}qemu-kvm-100[01]  \[00[01]\] {5}\d\.\d{6}: [a-z_]+: /);
    expect(lines.some((l) => / kvm_exit: {13}reason EPT_(VIOLATION|MISCONFIG) rip 0xffffffff81000/.test(l))).toBe(true);
    expect(lines.some((l) => / mark_mmio_spte: {7}sptep:0xffff8800[0-9a-f]{8} gfn [0-9a-f]+ access [0-9a-f]+$/.test(l))).toBe(true);
    expect(p.stdout).not.toContain('__direct_map');
    expect(p.stdout).not.toContain('vcpu_switch');
    const v30 = cli('run', 'examples/race-zap-during-walk.mmio.yaml', '--kernel', 'v3.0', '--trace-cmd');
    expect(v30.stdout).toContain(' kvm_exit: ');
    expect(v30.stdout).not.toContain('mark_mmio_spte');
    expect(v30.stdout).not.toContain('handle_mmio_page_fault');
  });

  it("--trace-cmd -e selects events like trace-cmd: -e 'kvmmmu:*', -e kvm:kvm_exit, several add up", () => {
    const names = (...e: string[]) => {
      const p = cli('run', 'examples/race-zap-during-walk.mmio.yaml', '--kernel', 'v3.1', '--trace-cmd', ...e);
      expect(p.status).toBe(0);
      return new Set(p.stdout.trimEnd().split('\n').slice(2).map((l) => /: ([a-z_]+): /.exec(l)![1]));
    };
    const mmu = names('-e', 'kvmmmu:*');
    expect(mmu.has('mark_mmio_spte')).toBe(true);
    expect(mmu.has('kvm_exit')).toBe(false);
    expect([...names('-e', 'kvm:kvm_exit')]).toEqual(['kvm_exit']);
    expect([...names('-e', 'kvm:kvm_exit', '-e', 'kvm_entry')].sort()).toEqual(['kvm_entry', 'kvm_exit']);
    const kvm = names('-e', 'kvm');
    expect(kvm.has('kvm_mmio') && kvm.has('kvm_exit') && !kvm.has('mark_mmio_spte')).toBe(true);
  });

  it('--trace-cmd with an unknown -e: one message naming the valid events, usage, exit 2, nothing run', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '-e', 'kvm:kvm_nope');
    expect(p.status).toBe(2);
    expect(p.stdout).toBe('');
    expect(p.stderr).toContain("unknown event 'kvm:kvm_nope' for -e; valid systems: kvm, kvmmmu; valid events: ");
    expect(p.stderr).toContain('kvmmmu:mark_mmio_spte');
    expect(p.stderr).toContain('usage: mmu-lab run');
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '-e').status).toBe(2);
    expect(cli('run', 'examples/doorbell.mmio.yaml', '-e', 'kvm').stderr).toContain('-e selects events for --trace-cmd');
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--trace-cmd', '--json').status).toBe(2);
  });

  it('usage errors exit 2', () => {
    expect(cli().status).toBe(2);
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v9').status).toBe(2);
    expect(cli('run', 'nonexistent.mmio.yaml').stderr).toContain('cannot read');
  });
});
