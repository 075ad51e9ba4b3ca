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

  it('--folded prints folded stacks (root-most frame first, integer counts) summing to the run total', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--folded');
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split('\n');
    // frames may hold a space ([guest memory]): flamegraph.pl takes the count after the last one
    for (const l of lines) expect(l).toMatch(/^[^;]+(;[^;]+)* [1-9]\d*$/);
    const total = JSON.parse(cli('run', 'examples/doorbell.mmio.yaml', '--json').stdout).cycles.total;
    expect(lines.reduce((s, l) => s + Number(l.split(' ').at(-1)), 0)).toBe(Math.round(total));
    // 3.1.10 vmx.c handle_ept_misconfig -> mmu.c handle_mmio_page_fault_common -> quickly_check_mmio_pf
    expect(lines.some((l) => l.startsWith('vcpu_enter_guest;vmx_handle_exit;handle_ept_misconfig;handle_mmio_page_fault_common;quickly_check_mmio_pf;vcpu_match_mmio_gpa '))).toBe(true);
    expect(lines.some((l) => l.startsWith('guest '))).toBe(true);
  });

  it('--folded and --json together are bad input: one message, usage, exit 2', () => {
    const p = cli('run', 'examples/doorbell.mmio.yaml', '--folded', '--json');
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/^--json and --folded cannot be combined\nusage: mmu-lab run/);
    expect(p.stdout).toBe('');
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

  it('usage errors exit 2', () => {
    expect(cli().status).toBe(2);
    expect(cli('run', 'examples/doorbell.mmio.yaml', '--kernel', 'v9').status).toBe(2);
    expect(cli('run', 'nonexistent.mmio.yaml').stderr).toContain('cannot read');
  });
});
