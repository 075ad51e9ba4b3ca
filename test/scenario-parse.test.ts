import { describe, it, expect } from 'vitest';
import { parseScenario } from '../simulator/scenario/parse';
import { isCanonical48, parseIntText, splitGva, splitU64 } from '../simulator/scenario/numbers';
import type { Diagnostic, Scenario } from '../simulator/scenario/types';

const EXAMPLE = `name: Doorbell writes to an emulated NIC      # string, default: the file name
kernel: v3.1
host: { maxphyaddr: 40, profile: westmere-2011 }
mmu: { tdp: true, mmio_caching: true }
scheduler: { seed: 1, preempt: 0 }
memslots:
  - { slot: 0, gpa: 0x0, size: 256M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace, registers: { 0x50: 0, 0x58: 0x1234 } }
guest:
  paging: 4-level
  cpu: { cr0_wp: true, efer_nx: true, cpl: 0 }
  page_tables_top: 0x10000000
  code: { gva: 0xffffffff81000000, gpa: 0x1000000 }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 256M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w pcd nx" }
workload:
  - repeat: 1000
    label: transaction
    steps:
      - { write: 0xffffc90000000050, size: 4, value: 1 }
      - { read: 0xffff880000100000, size: 8 }
      - { compute: 20000 }
  - { memslot: add, slot: 1, gpa: 0xfebf0000, size: 4K }
  - { memslot: delete, slot: 1 }
  - { set: { mmio_caching: false } }
expect:
  exits.EPT_MISCONFIG: 999
  faults.mmio-slow: ">= 1"
`;

/** A small valid scenario that the error cases below each break in one place. */
const BASE = `memslots:
  - { slot: 0, gpa: 0x0, size: 256M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  cpu: { efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 256M, page: 2M }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w pcd nx" }
workload:
  - repeat: 10
    label: loop
    steps:
      - { write: 0xffffc90000000050, size: 4, value: 1 }
      - { compute: 100 }
expect:
  exits.EPT_MISCONFIG: 9
`;

/** Shadow paging: every new key and step of the format, once. */
const SHADOW = `kernel: v3.0
mmu: { tdp: false, mmio_caching: true, bypass_guest_pf: true }
memslots:
  - { slot: 0, gpa: 0x0, size: 2G }
guest:
  cpu: { cr0_wp: true, efer_nx: false, cpl: 3, cr4_smep: true, cr4_smap: true, cr4_pke: false, pkru: 0xc, eflags_ac: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 1G, page: 1G, flags: "p w u a d nx pkey=3" }
    - { gva: 0x400000, gpa: 0x40000000, size: 4K, pte: "p w a d bit52", pde: "p w u a", pdpte: "p w u a", pml4e: "p w u a bit8", space: 1 }
    - { gva: 0x400000, gpa: 0x40200000, size: 2M, page: 2M, pde: "p u ps", space: 2 }
    - { gva: 0x7f0000000000, gpa: 0x40400000, size: 8K, pml4e: "p w", space: 0 }
workload:
  - { read: 0x400000, cpl: 3 }
  - { write: 0xffff880000000008, size: 4, value: 7, cpl: 0 }
  - { fetch: 0x400123 }
  - { fetch: 0xffff880000000000, cpl: 0 }
  - { pte: 0x400000, flags: "p w u" }
  - { pte: 0x400000, level: 2, flags: "p w u ps bit13", gpa: 0x40200000, space: 2 }
  - repeat: 2
    steps:
      - { cr3: 1 }
      - { invlpg: 0x400000 }
      - { pte: 0x400000, flags: "", space: 3 }
  - { cr3: 0 }
expect:
  faults.wp-emulate: 1
  exits.CR_ACCESS: ">= 1"
  exits.INVLPG: 2
  exits.EXCEPTION_NMI: 0
`;

/** `metric` and `compare`: every form of a variant, once. */
const COMPARE = `name: netperf TCP_RR
kernel: v3.0
memslots:
  - { slot: 0, gpa: 0x0, size: 256M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 256M, page: 2M }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w pcd nx" }
workload:
  - repeat: 100
    label: transaction
    steps:
      - { write: 0xffffc90000000050, size: 4, value: 1 }
      - { compute: 20000 }
metric: { label: transaction, unit: tps }
compare:
  - { label: "ept, before",   kernel: v3.0, mmu: { tdp: true } }
  - { label: "ept, after",    kernel: v3.1, mmu: { tdp: true } }
  - { label: "ept=0, before", kernel: v3.0, mmu: { tdp: false, bypass_guest_pf: false } }
  - { label: "ept=0, after",  kernel: v3.1, mmu: { tdp: false } }
  - { label: "modern host",   host: { profile: modern, maxphyaddr: 46 }, memslots: 32, mmu: { mmio_caching: false } }
`;

/** The CPU settings every scenario gets unless it says otherwise. */
const CPU_DEFAULTS = { cr0_wp: true, efer_nx: true, cpl: 0, cr4_smep: false, cr4_smap: false, cr4_pke: false, pkru: 0, eflags_ac: false };

function ok(text: string, file = 'scenarios/test.mmio.yaml'): Scenario {
  const r = parseScenario(text, file);
  if ('diagnostics' in r) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return r.scenario;
}

function diagnostics(text: string): Diagnostic[] {
  const r = parseScenario(text, 'bad.mmio.yaml');
  expect('scenario' in r).toBe(false);
  return 'diagnostics' in r ? r.diagnostics : [];
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function loc(text: string, needle: string): { line: number; col: number } {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`test bug: ${JSON.stringify(needle)} not in text`);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

function replaced(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`test bug: ${JSON.stringify(from)} not in text`);
  return text.replace(from, to);
}

/** Asserts exactly one diagnostic, at `needle`, with this message. */
function expectOne(text: string, needle: string, message: string): void {
  const diags = diagnostics(text);
  expect(diags.map((d) => d.message)).toEqual([message]);
  expect({ line: diags[0]!.line, col: diags[0]!.col }).toEqual(loc(text, needle));
  expect(diags[0]!.file).toBe('bad.mmio.yaml');
}

describe('numbers', () => {
  it('reports a wrong value and a page-crossing access together', () => {
    const d = diagnostics(BASE.replace('0xffffc90000000050, size: 4, value: 1', '0xffffc90000000ffe, size: 4, value: 0x100000000'));
    expect(d.map((x) => x.message)).toEqual([
      'workload[0].steps[0].write: an access of 4 bytes at page offset 0xffe crosses a 4K page boundary',
      'workload[0].steps[0].value: 0x100000000 does not fit in 4 bytes',
    ]);
  });

  it('page_tables_top must sit just above RAM', () => {
    const d = diagnostics(BASE.replace('  cpu: { efer_nx: true }', '  cpu: { efer_nx: true }\n  page_tables_top: 0x20000000'));
    expect(d.map((x) => x.message)).toEqual(['guest.page_tables_top: 0x20000000 is not just above guest RAM: no memslot holds the page below it']);
  });

  it('parses sizes, hex and decimal', () => {
    expect(parseIntText('4K')).toBe(4096n);
    expect(parseIntText('2M')).toBe(0x200000n);
    expect(parseIntText('256M')).toBe(0x10000000n);
    expect(parseIntText('1G')).toBe(0x40000000n);
    expect(parseIntText('4096')).toBe(4096n);
    expect(parseIntText('0x1000')).toBe(4096n);
    expect(parseIntText('0xffff880000000000')).toBe(0xffff880000000000n);
    expect(parseIntText('1.5')).toBeNull();
    expect(parseIntText('-1')).toBeNull();
    expect(parseIntText('4X')).toBeNull();
  });

  it('splits GVAs and 64-bit values without losing bits', () => {
    expect(splitGva(0xffffc90000000050n)).toEqual({ vpn: 0xffffc90000000, offset: 0x50 });
    expect(splitGva(0x7ffffffff123n)).toEqual({ vpn: 0x7ffffffff, offset: 0x123 });
    expect(splitU64(0xdeadbeefcafef00dn)).toEqual({ lo: 0xcafef00d, hi: 0xdeadbeef });
    expect(isCanonical48(0xffff800000000000n)).toBe(true);
    expect(isCanonical48(0x00007fffffffffffn)).toBe(true);
    expect(isCanonical48(0x0000800000000000n)).toBe(false);
    expect(isCanonical48(0xffff7fffffffffffn)).toBe(false);
  });
});

describe('parseScenario: the full example', () => {
  const s = ok(EXAMPLE, 'examples/doorbell.mmio.yaml');

  it('reads the top-level settings', () => {
    expect(s.file).toBe('examples/doorbell.mmio.yaml');
    expect(s.name).toBe('Doorbell writes to an emulated NIC');
    expect(s.kernel).toBe('v3.1');
    expect(s.host).toEqual({ maxphyaddr: 40, profile: 'westmere-2011', costs: {} });
    expect(s.mmu).toEqual({ tdp: true, mmio_caching: true, bypass_guest_pf: null, oos_shadow: true, enable_vpid: true });
    expect(s.scheduler).toEqual({ seed: 1, preempt: 0 });
  });

  it('reads memslots and devices with their positions', () => {
    expect(s.memslots).toEqual([{ slot: 0, gpa: 0, size: 0x10000000, readonly: false, pos: { line: 7, col: 5 } }]);
    expect(s.devices).toEqual([
      {
        name: 'nic',
        gpa: 0xfebf0000,
        size: 4096,
        handler: 'userspace',
        cost: 0, // no `cost` key: a trivial device
        registers: [
          { offset: 0x50, lo: 0, hi: 0 },
          { offset: 0x58, lo: 0x1234, hi: 0 },
        ],
        pos: { line: 9, col: 5 },
      },
    ]);
  });

  it('reads the guest, splitting GVAs into vpn and offset', () => {
    const g = s.guest;
    expect(g.paging).toBe('4-level');
    expect(g.cpu).toEqual({ ...CPU_DEFAULTS, cr0_wp: true, efer_nx: true, cpl: 0 });
    expect(g.address_spaces).toBe(1);
    expect(g.page_tables_top).toBe(0x10000000);
    expect(g.code).toEqual({ gva: { vpn: 0xffffffff81000, offset: 0 }, gpa: 0x1000000, pos: loc(EXAMPLE, '{ gva: 0xffffffff81000000') });
    expect(g.mappings).toEqual([
      {
        gva: { vpn: 0xffff880000000, offset: 0 },
        gpa: 0,
        size: 0x10000000,
        page: '2M',
        entries: [null, null, { lo: 0x63, hi: 0x80000000 }, null, null],
        space: null,
        pos: { line: 16, col: 7 },
      },
      {
        gva: { vpn: 0xffffc90000000, offset: 0 },
        gpa: 0xfebf0000,
        size: 4096,
        page: '4K',
        entries: [null, { lo: 0x13, hi: 0x80000000 }, null, null, null],
        space: null,
        pos: { line: 17, col: 7 },
      },
    ]);
  });

  it('turns the top-level workload into vCPU 0, keeping each step position', () => {
    expect(s.vcpus).toHaveLength(1);
    const [vcpu] = s.vcpus;
    expect(vcpu!.id).toBe(0);
    expect(vcpu!.pos).toEqual({ line: 19, col: 3 });
    const [repeat, add, del, set] = vcpu!.workload;
    expect(repeat).toMatchObject({ kind: 'repeat', count: 1000, label: 'transaction', pos: { line: 19, col: 5 } });
    if (repeat?.kind !== 'repeat') throw new Error('expected a repeat step');
    expect(repeat.steps).toEqual([
      { kind: 'write', gva: { vpn: 0xffffc90000000, offset: 0x50 }, size: 4, lo: 1, hi: 0, cpl: null, raise: null, pos: { line: 22, col: 9 } },
      { kind: 'read', gva: { vpn: 0xffff880000100, offset: 0 }, size: 8, cpl: null, raise: null, pos: { line: 23, col: 9 } },
      { kind: 'compute', cycles: 20000, pos: { line: 24, col: 9 } },
    ]);
    expect(add).toEqual({
      kind: 'memslot-add',
      slot: 1,
      gpa: 0xfebf0000,
      size: 4096,
      readonly: false,
      resume_at: null,
      pos: { line: 25, col: 5 },
    });
    expect(del).toEqual({ kind: 'memslot-delete', slot: 1, gpa: null, resume_at: null, pos: { line: 26, col: 5 } });
    expect(set).toEqual({ kind: 'set', mmio_caching: false, pos: { line: 27, col: 5 } });
  });

  it('reads expectations', () => {
    expect(s.expect).toEqual([
      { path: 'exits.EPT_MISCONFIG', op: '==', value: 999, text: '== 999', pos: { line: 29, col: 3 } },
      { path: 'faults.mmio-slow', op: '>=', value: 1, text: '>= 1', pos: { line: 30, col: 3 } },
    ]);
  });
});

describe('parseScenario: defaults and other forms', () => {
  const minimal = `memslots:
  - { slot: 0, gpa: 0, size: 16M }
guest:
  mappings:
    - { gva: 0x400000, gpa: 0x100000, size: 8K }
workload:
  - { read: 0x400000 }
  - { write: 0x401ff8 }
  - { memslot: add, slot: 5, gpa: 0x2000000, size: 2M }
`;

  it('applies defaults for everything optional', () => {
    const s = ok(minimal, 'dir/sub/minimal.mmio.yaml');
    expect(s.name).toBe('minimal');
    expect(s.kernel).toBe('v3.1');
    expect(s.host).toEqual({ maxphyaddr: 40, profile: 'westmere-2011', costs: {} });
    expect(s.mmu).toEqual({ tdp: true, mmio_caching: true, bypass_guest_pf: null, oos_shadow: true, enable_vpid: true });
    expect(s.scheduler).toEqual({ seed: 1, preempt: 0 });
    expect(s.devices).toEqual([]);
    expect(s.expect).toEqual([]);
    expect(s.guest.paging).toBe('4-level');
    expect(s.guest.cpu).toEqual({
      cr0_wp: true, efer_nx: true, cpl: 0, cr4_smep: false, cr4_smap: false, cr4_pke: false, pkru: 0, eflags_ac: false,
    });
    expect(s.guest.address_spaces).toBe(1);
    expect(s.guest.page_tables_top).toBeNull();
    expect(s.guest.code).toBeNull();
    expect(s.guest.mappings[0]).toMatchObject({ page: '4K', entries: [null, { lo: 0x63, hi: 0 }, null, null, null], space: null, size: 8192 });
    const steps = s.vcpus[0]!.workload;
    expect(steps[0]).toMatchObject({ kind: 'read', size: 8, cpl: null });
    expect(steps[1]).toMatchObject({ kind: 'write', size: 8, lo: 0, hi: 0, gva: { vpn: 0x401, offset: 0xff8 } });
    expect(steps[2]).toMatchObject({ kind: 'memslot-add', readonly: false });
  });

  it('reads vcpus, wait_for, nested repeats, string values and condition forms', () => {
    const s = ok(`kernel: v3.0
host: { maxphyaddr: 52, profile: modern }
scheduler: { seed: 7, preempt: 0.25 }
memslots:
  - { slot: 31, gpa: "0x0", size: "1G", readonly: true }
guest:
  cpu: { cr0_wp: false, efer_nx: false, cpl: 3 }
  mappings:
    - { gva: 0x200000, gpa: 0x200000, size: 2M, page: 2M, flags: "p u" }
vcpus:
  - workload:
      - { write: 0x200000, value: "0xdeadbeefcafef00d" }
  - workload:
      - { wait_for: { vcpu: 0, point: mmu_spte_get_lockless, level: 1 } }
      - { wait_for: { vcpu: 0, point: kvm_exit } }
      - repeat: 2
        steps:
          - repeat: 3
            label: inner
            steps: [ { compute: 0 } ]
expect:
  labels.inner.cycles: "< 4K"
  cycles.by_component.guest_compute: 0
  stats.pf_fixed: "!= 0x10"
`);
    expect(s.kernel).toBe('v3.0');
    expect(s.host).toEqual({ maxphyaddr: 52, profile: 'modern', costs: {} });
    expect(s.scheduler).toEqual({ seed: 7, preempt: 0.25 });
    expect(s.memslots[0]).toMatchObject({ slot: 31, gpa: 0, size: 0x40000000, readonly: true });
    expect(s.guest.cpu).toEqual({ ...CPU_DEFAULTS, cr0_wp: false, efer_nx: false, cpl: 3 });
    expect(s.guest.mappings[0]!.entries).toEqual([null, null, { lo: 0x5, hi: 0 }, null, null]);
    expect(s.vcpus.map((v) => v.id)).toEqual([0, 1]);
    expect(s.vcpus[1]!.pos).toEqual({ line: 13, col: 5 });
    expect(s.vcpus[0]!.workload[0]).toMatchObject({ kind: 'write', lo: 0xcafef00d, hi: 0xdeadbeef });
    const [w1, w2, outer] = s.vcpus[1]!.workload;
    expect(w1).toEqual({ kind: 'wait-for', vcpu: 0, point: 'mmu_spte_get_lockless', level: 1, pos: { line: 14, col: 9 } });
    expect(w2).toMatchObject({ kind: 'wait-for', point: 'kvm_exit', level: null });
    expect(outer).toMatchObject({ kind: 'repeat', count: 2, label: null, steps: [{ kind: 'repeat', count: 3, label: 'inner' }] });
    expect(s.expect.map((e) => [e.path, e.op, e.value, e.text])).toEqual([
      ['labels.inner.cycles', '<', 4096, '< 4K'],
      ['cycles.by_component.guest_compute', '==', 0, '== 0'],
      ['stats.pf_fixed', '!=', 16, '!= 0x10'],
    ]);
  });

  it('accepts the base scenario the error cases start from', () => {
    expect(ok(BASE).vcpus[0]!.workload).toHaveLength(1);
  });
});

describe('parseScenario: shadow paging', () => {
  const s = ok(SHADOW);

  it('reads the mmu settings and the new CPU state', () => {
    expect(s.mmu).toEqual({ tdp: false, mmio_caching: true, bypass_guest_pf: true, oos_shadow: true, enable_vpid: true });
    expect(s.guest.cpu).toEqual({
      cr0_wp: true, efer_nx: false, cpl: 3, cr4_smep: true, cr4_smap: true, cr4_pke: false, pkru: 0xc, eflags_ac: true,
    });
  });

  it('reads entry bits by level, with the leaf from flags or its level key, and the space', () => {
    const [huge, small, large, plain] = s.guest.mappings;
    expect(huge).toEqual({
      gva: { vpn: 0xffff880000000, offset: 0 },
      gpa: 0,
      size: 0x40000000,
      page: '1G',
      // nx (bit 63) and pkey 3 (bits 62:59) in hi; nx is allowed although efer_nx is false.
      entries: [null, null, null, { lo: 0x67, hi: 0x98000000 }, null],
      space: null,
      pos: loc(SHADOW, '{ gva: 0xffff880000000000'),
    });
    expect(small!.entries).toEqual([null, { lo: 0x63, hi: 0x100000 }, { lo: 0x27, hi: 0 }, { lo: 0x27, hi: 0 }, { lo: 0x127, hi: 0 }]);
    expect(small!.space).toBe(1);
    // PS is not added by the parser: here the scenario gives it.
    expect(large).toMatchObject({ page: '2M', entries: [null, null, { lo: 0x85, hi: 0 }, null, null], space: 2 });
    // The leaf defaults to "p w a d" when only an upper level is given.
    expect(plain).toMatchObject({ entries: [null, { lo: 0x63, hi: 0 }, null, null, { lo: 0x3, hi: 0 }], space: 0 });
  });

  it('counts address spaces from mappings, pte steps (nested ones too) and cr3 steps', () => {
    expect(s.guest.address_spaces).toBe(4);
    const cr3 = ok(replaced('      - { compute: 100 }\n', '      - { compute: 100 }\n  - { cr3: 5 }\n'));
    expect(cr3.guest.address_spaces).toBe(6);
    const mapped = ok(replaced('size: 4K, flags: "p w pcd nx" }', 'size: 4K, flags: "p w pcd nx", space: 2 }'));
    expect(mapped.guest.address_spaces).toBe(3);
  });

  it('reads cpl on accesses, fetches, pte, invlpg and cr3 steps', () => {
    const [read, write, fetch, fetch0, pte, pte2, repeat, cr3] = s.vcpus[0]!.workload;
    expect(read).toEqual({ kind: 'read', gva: { vpn: 0x400, offset: 0 }, size: 8, cpl: 3, raise: null, pos: loc(SHADOW, '{ read') });
    expect(write).toMatchObject({ kind: 'write', size: 4, lo: 7, hi: 0, cpl: 0 });
    expect(fetch).toEqual({ kind: 'fetch', gva: { vpn: 0x400, offset: 0x123 }, cpl: null, pos: loc(SHADOW, '{ fetch') });
    expect(fetch0).toMatchObject({ kind: 'fetch', gva: { vpn: 0xffff880000000, offset: 0 }, cpl: 0 });
    expect(pte).toEqual({
      kind: 'pte', gva: { vpn: 0x400, offset: 0 }, level: 1, bits: { lo: 0x7, hi: 0 }, gpa: null, space: 0, pos: loc(SHADOW, '{ pte'),
    });
    expect(pte2).toMatchObject({ kind: 'pte', level: 2, bits: { lo: 0x2087, hi: 0 }, gpa: 0x40200000, space: 2 });
    expect(repeat).toMatchObject({
      kind: 'repeat',
      steps: [
        { kind: 'cr3', space: 1 },
        { kind: 'invlpg', gva: { vpn: 0x400, offset: 0 } },
        { kind: 'pte', bits: { lo: 0, hi: 0 }, space: 3 },
      ],
    });
    expect(cr3).toEqual({ kind: 'cr3', space: 0, pos: loc(SHADOW, '{ cr3: 0') });
  });

  it('accepts the new fault kind and exit reasons in expect', () => {
    expect(s.expect.map((e) => e.path)).toEqual(['faults.wp-emulate', 'exits.CR_ACCESS', 'exits.INVLPG', 'exits.EXCEPTION_NMI']);
  });

  it.each([
    ['p w u pwt pcd a d ps g nx', { lo: 0x1ff, hi: 0x80000000 }],
    ['', { lo: 0, hi: 0 }],
    ['bit0', { lo: 0x1, hi: 0 }],
    ['bit31', { lo: 0x80000000, hi: 0 }],
    ['bit32 bit51', { lo: 0, hi: 0x80001 }],
    ['bit63', { lo: 0, hi: 0x80000000 }],
    ['pkey=0', { lo: 0, hi: 0 }],
    ['pkey=15', { lo: 0, hi: 0x78000000 }],
    ['p pkey=5 nx', { lo: 0x1, hi: 0xa8000000 }],
  ])('entry-bit tokens "%s"', (flags, bits) => {
    const m = ok(replaced('"p w pcd nx"', `"${flags}"`)).guest.mappings[1]!;
    expect(m.entries).toEqual([null, bits, null, null, null]);
  });

  it('takes the leaf level key as a synonym of flags at every page size', () => {
    const big = replaced('gpa: 0x0, size: 256M }', 'gpa: 0x0, size: 2G }');
    const with2M = ok(replaced('page: 2M }', 'page: 2M, pde: "p a", pdpte: "p w", pml4e: "p w u" }', big)).guest.mappings[0]!;
    expect(with2M.entries).toEqual([null, null, { lo: 0x21, hi: 0 }, { lo: 0x3, hi: 0 }, { lo: 0x7, hi: 0 }]);
    const add1G = replaced('flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x40000000, gpa: 0x40000000, size: 1G, page: 1G, pdpte: "p g", pml4e: "p" }', big);
    expect(ok(add1G).guest.mappings[2]).toMatchObject({
      gva: { vpn: 0x40000, offset: 0 }, gpa: 0x40000000, size: 0x40000000, page: '1G',
      entries: [null, null, null, { lo: 0x101, hi: 0 }, { lo: 0x1, hi: 0 }],
    });
    const defaulted1G = replaced('flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x40000000, gpa: 0x40000000, size: 1G, page: 1G }', big);
    expect(ok(defaulted1G).guest.mappings[2]!.entries).toEqual([null, null, null, { lo: 0x63, hi: 0 }, null]);
  });

  it('lets mappings in different address spaces share GVAs, and a shared one conflict with all', () => {
    const two = replaced('flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x400000, gpa: 0x0, size: 4K, space: 1 }\n    - { gva: 0x400000, gpa: 0x1000, size: 4K, space: 0 }');
    expect(ok(two).guest.mappings.map((m) => m.space)).toEqual([null, null, 1, 0]);
  });

  it('defaults bypass_guest_pf to null and accepts false anywhere, true with v3.0 shadow paging', () => {
    expect(ok(replaced('memslots:\n', 'mmu: { tdp: false }\nmemslots:\n')).mmu).toEqual({ tdp: false, mmio_caching: true, bypass_guest_pf: null, oos_shadow: true, enable_vpid: true });
    expect(ok(replaced('memslots:\n', 'mmu: { bypass_guest_pf: false }\nmemslots:\n')).mmu.bypass_guest_pf).toBe(false);
    const v30 = ok(replaced('memslots:\n', 'kernel: v3.0\nmmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n'));
    expect(v30.mmu).toEqual({ tdp: false, mmio_caching: true, bypass_guest_pf: true, oos_shadow: true, enable_vpid: true });
  });
});

describe('parseScenario: diagnostics', () => {
  it('reports YAML syntax errors with their position', () => {
    const text = replaced('- { slot: 0, gpa: 0x0, size: 256M }', '- { slot: 0, gpa: 0x0, size: 256M');
    const diags = diagnostics(text);
    expect(diags.length).toBeGreaterThan(0);
    expect(diags[0]!.message).toMatch(/^YAML: /);
    expect(diags[0]!.line).toBe(3);
  });

  it('reports duplicate keys over the whole key', () => {
    const text = replaced('size: 4, value: 1', 'size: 4, size: 1');
    const at = loc(text, 'size: 1');
    expect(diagnostics(text)).toEqual([
      { file: 'bad.mmio.yaml', ...at, endLine: at.line, endCol: at.col + 4, message: 'duplicate key `size`' },
    ]);
  });

  it('never throws, whatever prefix of a valid file it is given', () => {
    for (const text of [EXAMPLE, SHADOW, COMPARE]) {
      for (let end = 0; end < text.length; end += 3) {
        const r = parseScenario(text.slice(0, end), 'cut.mmio.yaml');
        const diags = 'diagnostics' in r ? r.diagnostics : [];
        expect(diags.filter((d) => d.message.startsWith('internal error'))).toEqual([]);
        for (const d of diags) expect(d.line >= 1 && d.col >= 1 && d.endLine >= d.line).toBe(true);
      }
    }
  });

  it('resolves aliases, and stops when they expand to too many nodes', () => {
    const aliased = replaced('{ compute: 100 }', '&c { compute: 100 }\n      - *c');
    expect(ok(aliased).vcpus[0]!.workload[0]).toMatchObject({ steps: [{}, { cycles: 100 }, { cycles: 100 }] });
    // Each level repeats the previous one twice: 2^13 alias uses, more than 100,000 nodes in all.
    const levels = Array.from({ length: 12 }, (_, i) => `      - &a${i + 1} { repeat: 1, steps: [ *a${i}, *a${i} ] }\n`);
    const bomb = replaced('      - { compute: 100 }\n', '      - &a0 { compute: 1 }\n' + levels.join(''));
    const diags = diagnostics(bomb);
    expect(diags.map((d) => d.message)).toEqual([expect.stringMatching(/: aliases expand to more than 100000 YAML nodes in this file \(each use of `\*a\d+` repeats its anchor's nodes\)$/)]);
  });

  it('requires a mapping at the top', () => {
    expect(diagnostics('- 1\n').map((d) => [d.line, d.col, d.message])).toEqual([
      [1, 1, 'a scenario must be a mapping with at least memslots, guest and workload'],
    ]);
  });

  it('reports the end of the offending node', () => {
    const text = replaced('size: 256M }', 'size: 0x1800 }');
    const [d] = diagnostics(text);
    expect(d).toEqual({
      file: 'bad.mmio.yaml',
      line: 2,
      col: 32,
      endLine: 2,
      endCol: 38,
      message: 'memslots[0].size: 0x1800 is not a multiple of the 4K page size',
    });
  });

  it('collects every problem instead of stopping at the first', () => {
    const text = replaced('gpa: 0x0, size: 256M }', 'gpa: 0x800, size: 0x1800 }');
    expect(diagnostics(replaced('nic,', 'nic, color: red,', text)).map((d) => d.message)).toEqual([
      'memslots[0].gpa: 0x800 is not aligned to the 4K page size',
      'memslots[0].size: 0x1800 is not a multiple of the 4K page size',
      'devices[0]: unknown key `color` (expected one of: name, gpa, size, handler, cost, registers)',
    ]);
  });

  // [what, from, to, needle where the diagnostic must start, message]
  const cases: [string, string, string, string, string][] = [
    // top level and sections
    ['unknown top-level key', 'memslots:\n', 'nmae: x\nmemslots:\n', 'nmae', 'unknown key `nmae`; did you mean `name`?'],
    ['bad kernel', 'memslots:\n', 'kernel: v5\nmemslots:\n', 'v5', 'kernel: expected one of v3.0, v3.1, got v5'],
    ['unknown mmu key', 'memslots:\n', 'mmu: { tdpp: true }\nmemslots:\n', 'tdpp', 'mmu: unknown key `tdpp`; did you mean `tdp`?'],
    ['maxphyaddr range', 'memslots:\n', 'host: { maxphyaddr: 35 }\nmemslots:\n', '35', 'host.maxphyaddr: must be between 36 and 52 (got 35)'],
    ['bad profile', 'memslots:\n', 'host: { profile: modrn }\nmemslots:\n', 'modrn', 'host.profile: expected one of westmere-2011, modern, got modrn; did you mean `modern`?'],
    ['preempt range', 'memslots:\n', 'scheduler: { preempt: 2 }\nmemslots:\n', '2 }', 'scheduler.preempt: expected a number between 0 and 1, got 2'],
    ['negative seed', 'memslots:\n', 'scheduler: { seed: -1 }\nmemslots:\n', '-1', 'scheduler.seed: must not be negative (got -1)'],
    ['missing guest', 'guest:\n  cpu: { efer_nx: true }\n  mappings:\n    - { gva: 0xffff880000000000, gpa: 0x0, size: 256M, page: 2M }\n    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w pcd nx" }\n', '', 'memslots', 'missing required key `guest`'],
    // memslots
    ['wrong type', 'size: 256M }', 'size: true }', 'true', 'memslots[0].size: expected an integer, got true'],
    ['float size', 'size: 256M }', 'size: 4096.0 }', '4096.0', 'memslots[0].size: expected an integer, got 4096.0'],
    ['missing size', '{ slot: 0, gpa: 0x0, size: 256M }', '{ slot: 0, gpa: 0x0 }', '{ slot: 0', 'memslots[0]: missing required key `size`'],
    ['unknown memslot key', 'size: 256M }', 'size: 256M, ro: true }', 'ro:', 'memslots[0]: unknown key `ro` (expected one of: slot, gpa, size, readonly)'],
    ['size not a page multiple', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x20000000, size: 0x1800 }', '0x1800', 'memslots[1].size: 0x1800 is not a multiple of the 4K page size'],
    ['misaligned gpa', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x20000800, size: 4K }', '0x20000800', 'memslots[1].gpa: 0x20000800 is not aligned to the 4K page size'],
    ['zero size', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x20000000, size: 0 }', '0 }', 'memslots[1].size: must be greater than 0'],
    ['beyond maxphyaddr', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0xffffff0000, size: 2M }', '2M }', 'memslots[1].size: 0xffffff0000 + 2M ends at 0x100001f0000, beyond maxphyaddr 40 (limit 0x10000000000)'],
    ['gpa beyond maxphyaddr', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x10000000000, size: 4K }', '0x10000000000', 'memslots[1].gpa: 0x10000000000 is beyond maxphyaddr 40 (limit 0x10000000000)'],
    ['duplicate slot', 'size: 256M }', 'size: 256M }\n  - { slot: 0, gpa: 0x20000000, size: 4K }', '0, gpa: 0x2', 'memslots[1].slot: slot 0 is already used by memslots[0]'],
    ['slot out of range', 'slot: 0,', 'slot: 32,', '32', 'memslots[0].slot: must be between 0 and 31 (got 32)'],
    ['memslot overlap', 'size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0xff00000, size: 2M }', '{ slot: 1', 'memslots[1]: gpa range [0xff00000, 0x10100000) overlaps memslots[0] [0x0, 0x10000000)'],
    ['empty memslots', '  - { slot: 0, gpa: 0x0, size: 256M }\n', '  []\n', '[]', 'memslots: must list at least one memslot'],
    // devices
    ['device overlaps memslot', 'gpa: 0xfebf0000, size: 4K, handler', 'gpa: 0x1000, size: 4K, handler', '{ name: nic', 'devices[0]: gpa range [0x1000, 0x2000) overlaps memslots[0] [0x0, 0x10000000)'],
    ['device overlaps device', 'handler: userspace }', 'handler: userspace }\n  - { name: nic2, gpa: 0xfebf0000, size: 4K, handler: kernel }', '{ name: nic2', 'devices[1]: gpa range [0xfebf0000, 0xfebf1000) overlaps devices[0] [0xfebf0000, 0xfebf1000)'],
    ['duplicate device name', 'handler: userspace }', 'handler: userspace }\n  - { name: nic, gpa: 0xfec00000, size: 4K, handler: kernel }', 'nic, gpa: 0xfec', 'devices[1].name: device name `nic` is already used by devices[0]'],
    ['empty device name', 'name: nic,', 'name: "",', '""', 'devices[0].name: must not be empty'],
    ['bad handler', 'handler: userspace', 'handler: user', 'user }', 'devices[0].handler: expected one of kernel, userspace, got user; did you mean `userspace`?'],
    ['missing handler', ', handler: userspace }', ' }', '{ name: nic', 'devices[0]: missing required key `handler`'],
    ['register offset alignment', 'handler: userspace }', 'handler: userspace, registers: { 0x54: 1 } }', '0x54', 'devices[0].registers.0x54: register offset 0x54 is not a multiple of 8'],
    ['register offset beyond size', 'handler: userspace }', 'handler: userspace, registers: { 0x1000: 1 } }', '0x1000:', 'devices[0].registers.0x1000: register offset 0x1000 is beyond the device size 4K'],
    ['register value too big', 'handler: userspace }', 'handler: userspace, registers: { 0x8: 0x10000000000000000 } }', '0x10000000000000000', 'devices[0].registers.0x8: 0x10000000000000000 does not fit in 64 bits'],
    // guest
    ['unknown guest key', 'guest:\n', 'guest:\n  pagin: 4-level\n', 'pagin', 'guest: unknown key `pagin`; did you mean `paging`?'],
    ['bad paging', 'guest:\n', 'guest:\n  paging: 5-level\n', '5-level', 'guest.paging: expected one of 4-level, got 5-level; did you mean `4-level`?'],
    ['bad cpl', 'efer_nx: true }', 'efer_nx: true, cpl: 1 }', '1 }', 'guest.cpu.cpl: expected 0 or 3, got 1'],
    ['unknown cpu key', 'efer_nx: true }', 'efer_nx: true, smep: true }', 'smep', 'guest.cpu: unknown key `smep` (expected one of: cr0_wp, efer_nx, cpl, cr4_smep, cr4_smap, cr4_pke, pkru, eflags_ac)'],
    ['code gva not canonical', 'guest:\n', 'guest:\n  code: { gva: 0x800000000000, gpa: 0x1000 }\n', '0x800000000000', 'guest.code.gva: 0x800000000000 is not canonical (bits 63:47 must all be equal)'],
    ['code gva misaligned', 'guest:\n', 'guest:\n  code: { gva: 0xffffffff81000010, gpa: 0x1000 }\n', '0xffffffff81000010', 'guest.code.gva: 0xffffffff81000010 is not aligned to the 4K page size'],
    ['page_tables_top misaligned', 'guest:\n', 'guest:\n  page_tables_top: 0x10000010\n', '0x10000010', 'guest.page_tables_top: 0x10000010 is not aligned to the 4K page size'],
    ['mapping gva not canonical', 'gva: 0xffff880000000000', 'gva: 0xff00880000000000', '0xff00880000000000', 'guest.mappings[0].gva: 0xff00880000000000 is not canonical (bits 63:47 must all be equal)'],
    ['2M mapping gva misaligned', 'gva: 0xffff880000000000', 'gva: 0xffff880000001000', '0xffff880000001000', 'guest.mappings[0].gva: 0xffff880000001000 is not aligned to the 2M page size'],
    ['2M mapping size', 'size: 256M, page: 2M', 'size: 3M, page: 2M', '3M', 'guest.mappings[0].size: 0x300000 is not a multiple of the 2M page size'],
    ['bad page size', 'page: 2M', 'page: 8K', '8K', 'guest.mappings[0].page: expected 4K, 2M or 1G, got 8K'],
    ['mapping leaves the canonical range', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x7ffffffff000, gpa: 0x0, size: 8K }', '8K', 'guest.mappings[2].size: mapping [0x7ffffffff000, 0x800000001000) runs past the canonical address range'],
    ['mappings overlap in GVA space', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0xffff880000200000, gpa: 0x0, size: 4K }', '0xffff880000200000', 'guest.mappings[2].gva: gva range [0xffff880000200000, 0xffff880000201000) overlaps guest.mappings[0] [0xffff880000000000, 0xffff880010000000)'],
    ['mapping onto nothing', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x0, gpa: 0xfffe000, size: 16K }', '{ gva: 0x0', 'guest.mappings[2]: gpa 0x10000000 (in [0xfffe000, 0x10002000)) is not backed by any memslot or device'],
    ['unknown flag', '"p w pcd nx"', '"p w pdc nx"', 'pdc', 'guest.mappings[1].flags: unknown flag `pdc`; did you mean `pcd`?'],
    ['flags not a string', '"p w pcd nx"', '[p, w]', '[p, w]', 'guest.mappings[1].flags: expected a string, got a list'],
    // steps
    ['step with two kinds', '{ compute: 100 }', '{ compute: 100, read: 0x1000 }', 'read', 'workload[0].steps[1]: a step has exactly one kind, but this one has both `compute` and `read`'],
    ['step with no kind', '{ compute: 100 }', '{ compte: 100 }', 'compte', 'workload[0].steps[1]: a step needs exactly one of read, write, fetch, pte, invlpg, cr3, compute, repeat, memslot, set, wait_for, interrupt, hlt, touch, fork, vfork, munmap, exit, exec, switch_mm; did you mean `compute`?'],
    ['unknown step key', '{ compute: 100 }', '{ compute: 100, size: 4 }', 'size: 4 }', 'workload[0].steps[1]: unknown key `size` (expected one of: compute)'],
    ['float cycles', '{ compute: 100 }', '{ compute: 1.5 }', '1.5', 'workload[0].steps[1].compute: expected an integer, got 1.5'],
    ['negative cycles', '{ compute: 100 }', '{ compute: -5 }', '-5', 'workload[0].steps[1].compute: must not be negative (got -5)'],
    ['access crosses a page', '0xffffc90000000050, size: 4', '0xffffc90000000ffe, size: 4', '0xffffc90000000ffe', 'workload[0].steps[0].write: an access of 4 bytes at page offset 0xffe crosses a 4K page boundary'],
    ['bad access size', 'size: 4, value', 'size: 3, value', '3, value', 'workload[0].steps[0].size: must be 1, 2, 4 or 8 (got 3)'],
    ['bad size near a page end: only the size is wrong', '0xffffc90000000050, size: 4', '0xffffc90000000ffc, size: 3', '3, value', 'workload[0].steps[0].size: must be 1, 2, 4 or 8 (got 3)'],
    ['cycles too large', '{ compute: 100 }', '{ compute: 9007199254740992 }', '9007199254740992', 'workload[0].steps[1].compute: must be at most 9007199254740991 (got 9007199254740992)'],
    ['memslot delete through an alias takes no size', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: &op delete, slot: 1 }\n  - { memslot: *op, slot: 2, size: 4K }\n', '4K }', 'workload[2].size: `size` does not apply to `memslot: delete` (it takes `slot`, `gpa` and `resume_at`)'],
    ['code outside RAM', 'flags: "p w pcd nx" }\nworkload:', 'flags: "p w pcd nx" }\n  code: { gva: 0xffffffff81000000, gpa: 0xfebf0000 }\nworkload:', '0xfebf0000 }\n', 'guest.code.gpa: 0xfebf0000 is not in a RAM memslot: the guest\'s code must live in RAM'],
    ['value too wide', 'size: 4, value: 1', 'size: 4, value: 0x100000000', '0x100000000', 'workload[0].steps[0].value: 0x100000000 does not fit in 4 bytes'],
    ['step gva not canonical', 'write: 0xffffc90000000050', 'write: 0x0000900000000050', '0x0000900000000050', 'workload[0].steps[0].write: 0x900000000050 is not canonical (bits 63:47 must all be equal)'],
    ['repeat count 0', 'repeat: 10', 'repeat: 0', '0\n    label', 'workload[0].repeat: must be at least 1 (got 0)'],
    ['repeat without steps', '    steps:\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { compute: 100 }\n', '', 'repeat', 'workload[0]: missing required key `steps`'],
    ['repeat with empty steps', '    steps:\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { compute: 100 }\n', '    steps: []\n', '[]', 'workload[0].steps: must list at least one step'],
    ['duplicate label', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - repeat: 2\n    label: loop\n    steps: [ { compute: 1 } ]\n', 'loop\n    steps: [', 'workload[1].label: label `loop` is already used at line 12'],
    ['memslot add misaligned', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: add, slot: 1, gpa: 0x20000000, size: 0x1800 }\n', '0x1800', 'workload[1].size: 0x1800 is not a multiple of the 4K page size'],
    ['memslot add beyond maxphyaddr', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: add, slot: 1, gpa: 0x20000000000, size: 4K }\n', '0x20000000000', 'workload[1].gpa: 0x20000000000 is beyond maxphyaddr 40 (limit 0x10000000000)'],
    ['memslot delete without slot', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: delete }\n', '{ memslot: delete', 'workload[1]: missing required key `slot`'],
    ['memslot delete with a misaligned gpa', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: delete, slot: 1, gpa: 0x800 }\n', '0x800 }', 'workload[1].gpa: 0x800 is not aligned to the 4K page size'],
    ['memslot delete beyond maxphyaddr', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: delete, slot: 1, gpa: 0x20000000000 }\n', '0x20000000000', 'workload[1].gpa: 0x20000000000 is beyond maxphyaddr 40 (limit 0x10000000000)'],
    ['memslot delete with readonly', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: delete, slot: 1, readonly: false }\n', 'false }', 'workload[1].readonly: `readonly` does not apply to `memslot: delete` (it takes `slot`, `gpa` and `resume_at`)'],
    ['resume_at in a single-vCPU scenario', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: add, slot: 1, gpa: 0x20000000, size: 4K, resume_at: { vcpu: 1, point: kvm_exit } }\n', '1, point', 'workload[1].resume_at.vcpu: vCPU 1 does not exist (the scenario has 1 vCPU)'],
    ['bad memslot op', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: remove, slot: 1 }\n', 'remove', 'workload[1].memslot: expected one of add, delete, got remove'],
    ['set with unknown key', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { set: { mmio_cache: false } }\n', 'mmio_cache', 'workload[1].set: unknown key `mmio_cache`; did you mean `mmio_caching`?'],
    ['wait_for a missing vCPU', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { wait_for: { vcpu: 1, point: kvm_exit } }\n', '1, point', 'workload[1].wait_for.vcpu: vCPU 1 does not exist (the scenario has 1 vCPU)'],
    ['wait_for itself', '      - { compute: 100 }\n', '      - { compute: 100 }\n  - { wait_for: { vcpu: 0, point: kvm_exit } }\n', '0, point', 'workload[1].wait_for.vcpu: vCPU 0 cannot wait for itself'],
    ['workload and vcpus', 'expect:\n', 'vcpus:\n  - workload: [ { compute: 1 } ]\nexpect:\n', '- workload: [', 'vcpus: use either `workload` (vCPU 0 only) or `vcpus`, not both'],
    ['no workload', 'workload:\n  - repeat: 10\n    label: loop\n    steps:\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { compute: 100 }\nexpect:\n  exits.EPT_MISCONFIG: 9\n', '', 'memslots', 'missing required key `workload` (or `vcpus`)'],
    // expectations
    ['unknown exit reason', 'exits.EPT_MISCONFIG', 'exits.EPT_MISCONFG', 'exits', 'expect.exits.EPT_MISCONFG: unknown VMX exit reason `EPT_MISCONFG`; did you mean `EPT_MISCONFIG`?'],
    ['unknown fault kind', 'exits.EPT_MISCONFIG', 'faults.mmio_slow', 'faults', 'expect.faults.mmio_slow: unknown fault kind `mmio_slow`; did you mean `mmio-slow`?'],
    ['unknown stat', 'exits.EPT_MISCONFIG', 'stats.pf_fix', 'stats', 'expect.stats.pf_fix: unknown stat `pf_fix`; did you mean `pf_fixed`?'],
    ['unknown cycles path', 'exits.EPT_MISCONFIG', 'cycles.totl', 'cycles', 'expect.cycles.totl: expected cycles.total, cycles.elapsed, cycles.idle or cycles.by_component.<component>; did you mean `total`?'],
    ['unknown component', 'exits.EPT_MISCONFIG', 'cycles.by_component.emulator', 'cycles', 'expect.cycles.by_component.emulator: unknown cost component `emulator`; did you mean `emulation`?'],
    ['unknown label', 'exits.EPT_MISCONFIG', 'labels.lop.count', 'labels', 'expect.labels.lop.count: unknown label `lop` (no repeat step has it); did you mean `loop`?'],
    ['unknown section', 'exits.EPT_MISCONFIG', 'exit.EPT_MISCONFIG', 'exit', 'expect.exit.EPT_MISCONFIG: unknown report section `exit`; did you mean `exits`? (expected one of: exits, faults, stats, cycles, labels, guest_os)'],
    ['bad condition', 'EPT_MISCONFIG: 9', 'EPT_MISCONFIG: "~ 9"', '"~ 9"', 'expect.exits.EPT_MISCONFIG: expected a number or a string "<op> <number>" with op one of == != >= <= > <, got "~ 9"'],
    // shadow paging: mmu
    ['bypass_guest_pf with v3.1', 'memslots:\n', 'mmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n', 'true }', 'mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0)'],
    ['bypass_guest_pf with tdp', 'memslots:\n', 'kernel: v3.0\nmmu: { bypass_guest_pf: true }\nmemslots:\n', 'true }', 'mmu.bypass_guest_pf: true is not possible: VMX forces it off when EPT is in use (tdp: true; use tdp: false)'],
    ['bypass_guest_pf with v3.1 and tdp', 'memslots:\n', 'mmu: { tdp: true, bypass_guest_pf: true }\nmemslots:\n', 'true }', 'mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0), and VMX forces it off when EPT is in use (tdp: true; use tdp: false)'],
    ['bypass_guest_pf not a bool', 'memslots:\n', 'mmu: { tdp: false, bypass_guest_pf: 1 }\nmemslots:\n', '1 }', 'mmu.bypass_guest_pf: expected true or false, got 1'],
    ['a bad kernel does not cascade into bypass_guest_pf', 'memslots:\n', 'kernel: v3\nmmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n', 'v3\n', 'kernel: expected one of v3.0, v3.1, got v3'],
    ['a bad tdp does not cascade into bypass_guest_pf', 'memslots:\n', 'kernel: v3.0\nmmu: { tdp: no, bypass_guest_pf: true }\nmemslots:\n', 'no,', 'mmu.tdp: expected true or false, got no'],
    // shadow paging: guest CPU
    ['pkru wider than 32 bits', 'efer_nx: true }', 'efer_nx: true, pkru: 0x100000000 }', '0x100000000', 'guest.cpu.pkru: 0x100000000 does not fit in 32 bits'],
    ['cr4_smep not a bool', 'efer_nx: true }', 'efer_nx: true, cr4_smep: 1 }', '1 }', 'guest.cpu.cr4_smep: expected true or false, got 1'],
    ['misspelt eflags_ac', 'efer_nx: true }', 'efer_nx: true, eflags_acc: true }', 'eflags_acc', 'guest.cpu: unknown key `eflags_acc`; did you mean `eflags_ac`?'],
    // shadow paging: entry-bit tokens
    ['flag given twice', '"p w pcd nx"', '"p w pcd p"', 'p"', 'guest.mappings[1].flags: flag `p` is given twice'],
    ['bitN on a named bit', '"p w pcd nx"', '"p w pcd bit1"', 'bit1', 'guest.mappings[1].flags: flag `bit1` and `w` both set bit 1'],
    ['bitN out of range', '"p w pcd nx"', '"p w pcd bit64"', 'bit64', 'guest.mappings[1].flags: flag `bit64`: the bit number must be between 0 and 63'],
    ['pkey out of range', '"p w pcd nx"', '"p w pcd pkey=16"', 'pkey=16', 'guest.mappings[1].flags: flag `pkey=16`: the protection key must be between 0 and 15'],
    ['two pkeys', '"p w pcd nx"', '"p w pkey=3 pkey=4"', 'pkey=4', 'guest.mappings[1].flags: flag `pkey=4` and `pkey=3` both set bits 62:59'],
    ['pkey over a bitN', '"p w pcd nx"', '"p bit60 pkey=2"', 'pkey=2', 'guest.mappings[1].flags: flag `pkey=2` and `bit60` both set bit 60'],
    ['malformed pkey', '"p w pcd nx"', '"p w pkey=x"', 'pkey=x', 'guest.mappings[1].flags: unknown flag `pkey=x`; did you mean `pkey=N`?'],
    ['unknown token lists the forms', '"p w pcd nx"', '"p w xyz"', 'xyz', 'guest.mappings[1].flags: unknown flag `xyz` (expected tokens from: p w u pwt pcd a d ps g nx bitN pkey=N)'],
    // shadow paging: level keys, page sizes and spaces
    ['level key below the leaf', 'page: 2M }', 'page: 2M, pte: "p w" }', '"p w" }', 'guest.mappings[0].pte: `pte` does not apply to a 2M page: its leaf entry is the PDE (`flags` or `pde`)'],
    ['flags and the leaf level key', 'page: 2M }', 'page: 2M, flags: "p w", pde: "p w a" }', '"p w a"', 'guest.mappings[0].pde: `flags` and `pde` both give the leaf entry (the PDE of a 2M page): give only one'],
    ['leaf level key and then flags', 'page: 2M }', 'page: 2M, pde: "p w a", flags: "p w" }', '"p w" }', 'guest.mappings[0].flags: `flags` and `pde` both give the leaf entry (the PDE of a 2M page): give only one'],
    ['pte and flags on a 4K page', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx", pte: "p" }', '"p" }', 'guest.mappings[1].pte: `flags` and `pte` both give the leaf entry (the PTE of a 4K page): give only one'],
    ['bad token in an upper level', 'page: 2M }', 'page: 2M, pml4e: "p w x" }', 'x" }', 'guest.mappings[0].pml4e: unknown flag `x` (expected tokens from: p w u pwt pcd a d ps g nx bitN pkey=N)'],
    ['upper level not a string', 'page: 2M }', 'page: 2M, pdpte: 7 }', '7 }', 'guest.mappings[0].pdpte: expected a string, got 7'],
    ['misspelt level key', 'page: 2M }', 'page: 2M, pml4: "p" }', 'pml4:', 'guest.mappings[0]: unknown key `pml4`; did you mean `pml4e`?'],
    ['space out of range', 'size: 4K, flags: "p w pcd nx" }', 'size: 4K, flags: "p w pcd nx", space: 16 }', '16 }', 'guest.mappings[1].space: must be between 0 and 15 (got 16)'],
    ['a bad space does not cascade into an overlap', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0xffff880000200000, gpa: 0x0, size: 4K, space: 99 }', '99', 'guest.mappings[2].space: must be between 0 and 15 (got 99)'],
    ['a mapping in a space overlaps a shared one', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0xffff880000200000, gpa: 0x0, size: 4K, space: 1 }', '0xffff880000200000', 'guest.mappings[2].gva: gva range [0xffff880000200000, 0xffff880000201000) overlaps guest.mappings[0] [0xffff880000000000, 0xffff880010000000)'],
    ['mappings overlap in one space', 'flags: "p w pcd nx" }', 'flags: "p w pcd nx" }\n    - { gva: 0x400000, gpa: 0x0, size: 4K, space: 1 }\n    - { gva: 0x400000, gpa: 0x1000, size: 4K, space: 1 }', '0x400000, gpa: 0x1000', 'guest.mappings[3].gva: gva range [0x400000, 0x401000) overlaps guest.mappings[2] [0x400000, 0x401000)'],
    // shadow paging: steps
    ['bad cpl on a write', 'size: 4, value: 1 }', 'size: 4, value: 1, cpl: 2 }', '2 }', 'workload[0].steps[0].cpl: expected 0 or 3, got 2'],
    ['bad cpl on a fetch', '{ compute: 100 }', '{ fetch: 0x1000, cpl: 2 }', '2 }', 'workload[0].steps[1].cpl: expected 0 or 3, got 2'],
    ['fetch has no size', '{ compute: 100 }', '{ fetch: 0x1000, size: 8 }', 'size: 8', 'workload[0].steps[1]: unknown key `size` (expected one of: fetch, cpl)'],
    ['fetch gva not canonical', '{ compute: 100 }', '{ fetch: 0x800000000000 }', '0x800000000000', 'workload[0].steps[1].fetch: 0x800000000000 is not canonical (bits 63:47 must all be equal)'],
    ['pte without flags', '{ compute: 100 }', '{ pte: 0x1000 }', '{ pte', 'workload[0].steps[1]: missing required key `flags`'],
    ['pte level out of range', '{ compute: 100 }', '{ pte: 0x1000, level: 5, flags: "p" }', '5,', 'workload[0].steps[1].level: must be between 1 and 4 (got 5)'],
    ['pte gpa misaligned', '{ compute: 100 }', '{ pte: 0x1000, flags: "p", gpa: 0x1800 }', '0x1800', 'workload[0].steps[1].gpa: 0x1800 is not aligned to the 4K page size'],
    ['pte gpa beyond maxphyaddr', '{ compute: 100 }', '{ pte: 0x1000, flags: "p", gpa: 0x10000000000 }', '0x10000000000', 'workload[0].steps[1].gpa: 0x10000000000 is beyond maxphyaddr 40 (limit 0x10000000000)'],
    ['pte space out of range', '{ compute: 100 }', '{ pte: 0x1000, flags: "p", space: 16 }', '16 }', 'workload[0].steps[1].space: must be between 0 and 15 (got 16)'],
    ['pte unknown token', '{ compute: 100 }', '{ pte: 0x1000, flags: "p ww" }', 'ww', 'workload[0].steps[1].flags: unknown flag `ww`; did you mean `w`?'],
    ['pte gva not canonical', '{ compute: 100 }', '{ pte: 0x800000000000, flags: "p" }', '0x800000000000', 'workload[0].steps[1].pte: 0x800000000000 is not canonical (bits 63:47 must all be equal)'],
    ['pte unknown key', '{ compute: 100 }', '{ pte: 0x1000, flags: "p", size: 8 }', 'size: 8', 'workload[0].steps[1]: unknown key `size` (expected one of: pte, level, flags, gpa, space)'],
    ['invlpg gva not canonical', '{ compute: 100 }', '{ invlpg: 0xffff000000000000 }', '0xffff000000000000', 'workload[0].steps[1].invlpg: 0xffff000000000000 is not canonical (bits 63:47 must all be equal)'],
    ['cr3 space out of range', '{ compute: 100 }', '{ cr3: 16 }', '16 }', 'workload[0].steps[1].cr3: must be between 0 and 15 (got 16)'],
    ['cr3 not a number', '{ compute: 100 }', '{ cr3: user }', 'user }', 'workload[0].steps[1].cr3: expected an integer (e.g. 4096, 0x1000 or 4K), got user'],
    ['invlpg and fetch in one step', '{ compute: 100 }', '{ invlpg: 0x1000, fetch: 0x1000 }', 'fetch', 'workload[0].steps[1]: a step has exactly one kind, but this one has both `invlpg` and `fetch`'],
    ['misspelt wp-emulate', 'exits.EPT_MISCONFIG', 'faults.wp-emulat', 'faults', 'expect.faults.wp-emulat: unknown fault kind `wp-emulat`; did you mean `wp-emulate`?'],
  ];

  it.each(cases)('%s', (_what, from, to, needle, message) => {
    expectOne(replaced(from, to), needle, message);
  });

  // Two vCPUs, so that wait_for has someone to wait for.
  const twoVcpus = (step: string) =>
    replaced(
      'workload:\n  - repeat: 10',
      `vcpus:\n  - workload: [ { compute: 1 } ]\n  - workload:\n    - ${step}\n    - repeat: 10`,
    ).replace(/\n {4}(label|steps|  - \{ (write|compute): )/g, '\n      $1');

  it('accepts wait_for between two vCPUs', () => {
    const s = ok(twoVcpus('{ wait_for: { vcpu: 0, point: walk_shadow_page_lockless_begin } }'));
    expect(s.vcpus[1]!.workload[0]).toMatchObject({ kind: 'wait-for', vcpu: 0, point: 'walk_shadow_page_lockless_begin' });
    expect(s.vcpus[1]!.workload[1]).toMatchObject({ kind: 'repeat', label: 'loop' });
  });

  it.each([
    ['unknown point', 'point: mmu_lok', 'mmu_lok', 'vcpus[1].workload[0].wait_for.point: expected one of kvm_exit, walk_shadow_page_lockless_begin, mmu_spte_get_lockless, walk_shadow_page_lockless_end, mmu_lock, synchronize_srcu_expedited, got mmu_lok; did you mean `mmu_lock`?'],
    ['level with another point', 'point: kvm_exit, level: 2', '2 } }', 'vcpus[1].workload[0].wait_for.level: is only allowed with point mmu_spte_get_lockless'],
    ['level out of range', 'point: mmu_spte_get_lockless, level: 5', '5 }', 'vcpus[1].workload[0].wait_for.level: must be between 1 and 4 (got 5)'],
    ['missing point', 'level: 1', '{ vcpu: 0, level', 'vcpus[1].workload[0].wait_for: missing required key `point`'],
    // A misspelt key is reported once, not also as a missing `point`.
    ['misspelt point', 'pont: kvm_exit', 'pont', 'vcpus[1].workload[0].wait_for: unknown key `pont`; did you mean `point`?'],
  ])('wait_for: %s', (_what, rest, needle, message) => {
    expectOne(twoVcpus(`{ wait_for: { vcpu: 0, ${rest} } }`), needle, message);
  });

  it('reads memslot steps with resume_at and a deletion gpa', () => {
    const s = ok(twoVcpus('{ memslot: delete, slot: 3, gpa: 0xfd000000, resume_at: { vcpu: 0, point: mmu_spte_get_lockless, level: 3 } }'));
    expect(s.vcpus[1]!.workload[0]).toMatchObject({ kind: 'memslot-delete', slot: 3, gpa: 0xfd000000, resume_at: { vcpu: 0, point: 'mmu_spte_get_lockless', level: 3 } });
    const add = ok(twoVcpus('{ memslot: add, slot: 3, gpa: 0x20000000, size: 4K, resume_at: { vcpu: 0, point: kvm_exit } }'));
    expect(add.vcpus[1]!.workload[0]).toMatchObject({ kind: 'memslot-add', slot: 3, resume_at: { vcpu: 0, point: 'kvm_exit', level: null } });
  });

  it.each([
    ['itself', 'vcpu: 1, point: kvm_exit', '1, point', 'vcpus[1].workload[0].resume_at.vcpu: vCPU 1 cannot wait for itself'],
    ['level with another point', 'vcpu: 0, point: mmu_lock, level: 2', '2 }', 'vcpus[1].workload[0].resume_at.level: is only allowed with point mmu_spte_get_lockless'],
    // The update holds kvm->slots_lock while it waits: no other update can reach its synchronize.
    ['a synchronize', 'vcpu: 0, point: synchronize_srcu_expedited', 'synchronize_srcu_expedited', 'vcpus[1].workload[0].resume_at.point: vCPU 0 cannot reach synchronize_srcu_expedited while this update holds kvm->slots_lock'],
    ['misspelt key', 'vcpu: 0, pont: kvm_exit', 'pont', 'vcpus[1].workload[0].resume_at: unknown key `pont`; did you mean `point`?'],
  ])('memslot resume_at: %s', (_what, rest, needle, message) => {
    expectOne(twoVcpus(`{ memslot: add, slot: 3, gpa: 0x20000000, size: 4K, resume_at: { ${rest} } }`), needle, message);
  });

  // A 2G memslot, so that a 1G mapping at 0x40000000 is backed.
  const big = replaced('gpa: 0x0, size: 256M }', 'gpa: 0x0, size: 2G }');
  const with1G = (mapping: string) => replaced('flags: "p w pcd nx" }', `flags: "p w pcd nx" }\n    - ${mapping}`, big);

  it.each([
    ['gva misaligned', '{ gva: 0x40200000, gpa: 0x40000000, size: 1G, page: 1G }', '0x40200000', 'guest.mappings[2].gva: 0x40200000 is not aligned to the 1G page size'],
    ['gpa misaligned', '{ gva: 0x40000000, gpa: 0x200000, size: 1G, page: 1G }', '0x200000', 'guest.mappings[2].gpa: 0x200000 is not aligned to the 1G page size'],
    ['size not a multiple', '{ gva: 0x40000000, gpa: 0x40000000, size: 2M, page: 1G }', '2M, page: 1G', 'guest.mappings[2].size: 0x200000 is not a multiple of the 1G page size'],
    ['pde below the leaf', '{ gva: 0x40000000, gpa: 0x40000000, size: 1G, page: 1G, pde: "p" }', '"p" }', 'guest.mappings[2].pde: `pde` does not apply to a 1G page: its leaf entry is the PDPTE (`flags` or `pdpte`)'],
    ['pte below the leaf', '{ gva: 0x40000000, gpa: 0x40000000, size: 1G, page: 1G, pte: "p" }', '"p" }', 'guest.mappings[2].pte: `pte` does not apply to a 1G page: its leaf entry is the PDPTE (`flags` or `pdpte`)'],
    ['flags and pdpte', '{ gva: 0x40000000, gpa: 0x40000000, size: 1G, page: 1G, flags: "p", pdpte: "p w" }', '"p w" }', 'guest.mappings[2].pdpte: `flags` and `pdpte` both give the leaf entry (the PDPTE of a 1G page): give only one'],
  ])('1G page: %s', (_what, mapping, needle, message) => {
    expectOne(with1G(mapping), needle, message);
  });
});

describe('parseScenario: metric and compare', () => {
  it('reads the metric and every form of a variant', () => {
    const s = ok(COMPARE);
    expect(s.metric).toEqual({ kind: 'rate', label: 'transaction', unit: 'tps', pos: loc(COMPARE, '{ label: transaction') });
    expect(s.compare).toEqual([
      { label: 'ept, before', overrides: { kernel: 'v3.0', tdp: true }, pos: loc(COMPARE, '{ label: "ept, before"') },
      { label: 'ept, after', overrides: { kernel: 'v3.1', tdp: true }, pos: loc(COMPARE, '{ label: "ept, after"') },
      { label: 'ept=0, before', overrides: { kernel: 'v3.0', tdp: false, bypass_guest_pf: false }, pos: loc(COMPARE, '{ label: "ept=0, before"') },
      { label: 'ept=0, after', overrides: { kernel: 'v3.1', tdp: false }, pos: loc(COMPARE, '{ label: "ept=0, after"') },
      {
        label: 'modern host',
        overrides: { profile: 'modern', maxphyaddr: 46, memslot_count: 32, mmio_caching: false },
        pos: loc(COMPARE, '{ label: "modern host"'),
      },
    ]);
    // Absent keys stay absent (not undefined-valued).
    expect(s.compare.map((v) => Object.keys(v.overrides).sort())).toEqual([
      ['kernel', 'tdp'],
      ['kernel', 'tdp'],
      ['bypass_guest_pf', 'kernel', 'tdp'],
      ['kernel', 'tdp'],
      ['maxphyaddr', 'memslot_count', 'mmio_caching', 'profile'],
    ]);
  });

  it('defaults to the elapsed time and no variants', () => {
    const s = ok(BASE);
    expect(s.metric).toEqual({ kind: 'elapsed', pos: null });
    expect(s.compare).toEqual([]);
  });

  it('reads `metric: elapsed`, a default unit, block forms and a variant without overrides', () => {
    const elapsed = replaced('expect:\n', 'metric: elapsed\nexpect:\n');
    expect(ok(elapsed).metric).toEqual({ kind: 'elapsed', pos: loc(elapsed, 'elapsed') });
    const block = replaced('expect:\n', 'metric:\n  label: loop\ncompare:\n  - label: baseline\n  - label: shadow\n    mmu:\n      tdp: false\nexpect:\n');
    const s = ok(block);
    expect(s.metric).toEqual({ kind: 'rate', label: 'loop', unit: 'per second', pos: loc(block, 'label: loop\ncompare') });
    expect(s.compare).toEqual([
      { label: 'baseline', overrides: {}, pos: loc(block, 'label: baseline') },
      { label: 'shadow', overrides: { tdp: false }, pos: loc(block, 'label: shadow') },
    ]);
    expect(Object.keys(s.compare[0]!.overrides)).toEqual([]);
  });

  it('finds a metric label in any vCPU, nested repeats included', () => {
    const nested = replaced('expect:\n', 'vcpus:\n  - workload:\n      - repeat: 2\n        steps:\n          - { repeat: 3, label: inner, steps: [ { compute: 1 } ] }\nmetric: { label: inner }\nexpect:\n', replaced('workload:\n  - repeat: 10\n    label: loop\n    steps:\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { compute: 100 }\n', ''));
    expect(ok(nested).metric).toMatchObject({ kind: 'rate', label: 'inner', unit: 'per second' });
  });

  it('judges each variant with its own kernel and tdp, else the scenario\'s', () => {
    // v3.0 shadow paging in the variant: bypass_guest_pf may be true although the scenario is v3.1 with EPT.
    const own = ok(replaced('expect:\n', 'compare:\n  - { label: a, kernel: v3.0, mmu: { tdp: false, bypass_guest_pf: true } }\nexpect:\n'));
    expect(own.compare[0]!.overrides).toEqual({ kernel: 'v3.0', tdp: false, bypass_guest_pf: true });
    // The scenario's v3.0 shadow paging with bypass_guest_pf: a variant may switch it off and use EPT.
    const shadow = replaced('memslots:\n', 'kernel: v3.0\nmmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n');
    const off = ok(replaced('expect:\n', 'compare:\n  - { label: a, kernel: v3.1, mmu: { tdp: true, bypass_guest_pf: false } }\n  - { label: b, mmu: { mmio_caching: false } }\nexpect:\n', shadow));
    expect(off.compare.map((v) => v.overrides)).toEqual([{ kernel: 'v3.1', tdp: true, bypass_guest_pf: false }, { mmio_caching: false }]);
    // Protection keys with EPT, and a variant that keeps EPT.
    const pke = replaced('cpu: { efer_nx: true }', 'cpu: { efer_nx: true, cr4_pke: true }');
    expect(ok(replaced('expect:\n', 'compare:\n  - { label: a, kernel: v3.0, mmu: { tdp: true } }\nexpect:\n', pke)).compare).toHaveLength(1);
  });

  it('accepts a wider or just wide enough maxphyaddr and a memslot count that leaves room for added slots', () => {
    const high = replaced('size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x1000000000, size: 4K }');
    const added = replaced('      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: add, slot: 5, gpa: 0x20000000, size: 4K }\n', high);
    const s = ok(replaced('expect:\n', 'compare:\n  - { label: a, host: { maxphyaddr: 37 }, memslots: 31 }\n  - { label: b, host: { maxphyaddr: 52 }, memslots: 2 }\nexpect:\n', added));
    expect(s.compare.map((v) => v.overrides)).toEqual([{ maxphyaddr: 37, memslot_count: 31 }, { maxphyaddr: 52, memslot_count: 2 }]);
  });

  const withMetric = (metric: string, text = BASE) => replaced('expect:\n', `metric: ${metric}\nexpect:\n`, text);
  const withCompare = (variants: string, text = BASE) => replaced('expect:\n', `compare:\n${variants}\nexpect:\n`, text);
  /** BASE with a second memslot at 64G (needs maxphyaddr 37) and a device at 128G (needs 38). */
  const high = replaced(
    'handler: userspace }',
    'handler: userspace }\n  - { name: rom, gpa: 0x2000000000, size: 4K, handler: kernel }',
    replaced('size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x1000000000, size: 4K }'),
  );
  /** BASE whose workload adds slots 3 and 7 (and re-adds the declared slot 0). */
  const adds = (slots: number[]) =>
    replaced('      - { compute: 100 }\n', '      - { compute: 100 }\n' + slots.map((n) => `  - { memslot: add, slot: ${n}, gpa: ${0x20000000 + n * 0x1000}, size: 4K }\n`).join(''));
  /** BASE as v3.0 shadow paging with bypass_guest_pf on. */
  const bypass = replaced('memslots:\n', 'kernel: v3.0\nmmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n');

  // [what, scenario text, needle where the diagnostic must start, message]
  it.each([
    // metric
    ['misspelt top-level key', replaced('expect:\n', 'comapre: []\nexpect:\n'), 'comapre', 'unknown key `comapre`; did you mean `compare`?'],
    ['misspelt elapsed', withMetric('elapse'), 'elapse\n', 'metric: expected elapsed or { label: <repeat label>, unit: <text> }, got elapse; did you mean `elapsed`?'],
    ['a bare label', withMetric('loop'), 'loop\nexpect', 'metric: expected elapsed or { label: <repeat label>, unit: <text> }, got loop; for the rate of the repeat labelled `loop`, write { label: loop }'],
    ['a number', withMetric('5'), '5\nexpect', 'metric: expected elapsed or { label: <repeat label>, unit: <text> }, got 5'],
    ['a list', withMetric('[loop]'), '[loop]', 'metric: expected elapsed or { label: <repeat label>, unit: <text> }, got a list'],
    ['unknown label', withMetric('{ label: lop, unit: tps }'), 'lop', 'metric.label: unknown label `lop` (no repeat step has it); did you mean `loop`?'],
    ['empty label', withMetric('{ label: "" }'), '"" }', 'metric.label: must not be empty'],
    ['label not a string', withMetric('{ label: [loop] }'), '[loop]', 'metric.label: expected a string, got a list'],
    ['missing label', withMetric('{ unit: tps }'), '{ unit', 'metric: missing required key `label`'],
    ['misspelt label key', withMetric('{ lable: loop }'), 'lable', 'metric: unknown key `lable`; did you mean `label`?'],
    ['unknown metric key', withMetric('{ label: loop, per: second }'), 'per:', 'metric: unknown key `per` (expected one of: label, unit)'],
    ['empty unit', withMetric('{ label: loop, unit: " " }'), '" "', 'metric.unit: must not be empty'],
    ['unit not a string', withMetric('{ label: loop, unit: 5 }'), '5 }', 'metric.unit: expected a string, got 5'],
    // compare: the list and labels
    ['empty compare', replaced('expect:\n', 'compare: []\nexpect:\n'), '[]', 'compare: must list at least one variant'],
    ['compare not a list', replaced('expect:\n', 'compare: { label: a }\nexpect:\n'), '{ label: a }', 'compare: expected a list of variants, got a mapping'],
    ['variant not a mapping', withCompare('  - ept'), 'ept', 'compare[0]: expected a mapping, got ept'],
    ['missing label', withCompare('  - { kernel: v3.0 }'), '{ kernel: v3.0 }', 'compare[0]: missing required key `label`'],
    ['empty label', withCompare('  - { label: "", kernel: v3.0 }'), '""', 'compare[0].label: must not be empty'],
    ['label not a string', withCompare('  - { label: 5, kernel: v3.0 }'), '5, kernel', 'compare[0].label: expected a string, got 5'],
    ['duplicate label', withCompare('  - { label: ept, kernel: v3.0 }\n  - { label: ept, kernel: v3.1 }'), 'ept, kernel: v3.1', 'compare[1].label: variant label `ept` is already used by compare[0]'],
    // compare: keys and values
    ['misspelt variant key', withCompare('  - { label: a, memslot: 2 }'), 'memslot:', 'compare[0]: unknown key `memslot`; did you mean `memslots`?'],
    ['mmu key at the variant level', withCompare('  - { label: a, tdp: false }'), 'tdp', 'compare[0]: unknown key `tdp` (expected one of: label, kernel, mmu, host, memslots)'],
    ['misspelt mmu key', withCompare('  - { label: a, mmu: { mmio_cachng: false } }'), 'mmio_cachng', 'compare[0].mmu: unknown key `mmio_cachng`; did you mean `mmio_caching`?'],
    ['unknown host key', withCompare('  - { label: a, host: { cpu: modern } }'), 'cpu: modern', 'compare[0].host: unknown key `cpu` (expected one of: maxphyaddr, profile)'],
    ['mmu not a mapping', withCompare('  - { label: a, mmu: ept }'), 'ept }', 'compare[0].mmu: expected a mapping, got ept'],
    ['bad kernel', withCompare('  - { label: a, kernel: v3.2 }'), 'v3.2', 'compare[0].kernel: expected one of v3.0, v3.1, got v3.2'],
    ['tdp not a bool', withCompare('  - { label: a, mmu: { tdp: off } }'), 'off', 'compare[0].mmu.tdp: expected true or false, got off'],
    ['mmio_caching not a bool', withCompare('  - { label: a, mmu: { mmio_caching: 0 } }'), '0 } }', 'compare[0].mmu.mmio_caching: expected true or false, got 0'],
    ['bad profile', withCompare('  - { label: a, host: { profile: modrn } }'), 'modrn', 'compare[0].host.profile: expected one of westmere-2011, modern, got modrn; did you mean `modern`?'],
    ['maxphyaddr range', withCompare('  - { label: a, host: { maxphyaddr: 53 } }'), '53', 'compare[0].host.maxphyaddr: must be between 36 and 52 (got 53)'],
    ['no memslots', withCompare('  - { label: a, memslots: 0 }'), '0 }\nexpect', 'compare[0].memslots: must be between 1 and 32 (got 0)'],
    ['too many memslots', withCompare('  - { label: a, memslots: 33 }'), '33', 'compare[0].memslots: must be between 1 and 32 (got 33)'],
    ['memslots as a list', withCompare('  - { label: a, memslots: [ { slot: 0 } ] }'), '[ { slot: 0 } ]', 'compare[0].memslots: expected an integer, got a list'],
    // compare: combinations
    ['bypass_guest_pf with the scenario\'s v3.1', withCompare('  - { label: a, mmu: { tdp: false, bypass_guest_pf: true } }'), 'true } }', 'compare[0].mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0)'],
    ['bypass_guest_pf with the scenario\'s tdp', withCompare('  - { label: a, kernel: v3.0, mmu: { bypass_guest_pf: true } }'), 'true } }', 'compare[0].mmu.bypass_guest_pf: true is not possible: VMX forces it off when EPT is in use (tdp: true; use tdp: false)'],
    ['bypass_guest_pf with the variant\'s v3.1 and tdp', withCompare('  - { label: a, kernel: v3.1, mmu: { tdp: true, bypass_guest_pf: true } }', bypass), 'true } }', 'compare[0].mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0), and VMX forces it off when EPT is in use (tdp: true; use tdp: false)'],
    ['a bad variant kernel does not cascade into bypass_guest_pf', withCompare('  - { label: a, kernel: v3, mmu: { tdp: false, bypass_guest_pf: true } }'), 'v3,', 'compare[0].kernel: expected one of v3.0, v3.1, got v3'],
    ['the scenario\'s bypass_guest_pf with the variant\'s tdp', withCompare('  - { label: ept, mmu: { tdp: true } }', bypass), 'true } }\nexpect', 'compare[0].mmu.tdp: true is not possible with the scenario\'s mmu.bypass_guest_pf: true: VMX forces it off when EPT is in use; give this variant mmu: { bypass_guest_pf: false }'],
    ['the scenario\'s bypass_guest_pf with the variant\'s kernel', withCompare('  - { label: after, kernel: v3.1 }', bypass), 'v3.1 }', 'compare[0].kernel: v3.1 is not possible with the scenario\'s mmu.bypass_guest_pf: true: kernel v3.1 no longer has it (the 2011 MMIO series removed it); give this variant mmu: { bypass_guest_pf: false }'],
    ['the scenario\'s bypass_guest_pf with both', withCompare('  - { label: after, kernel: v3.1, mmu: { tdp: true } }', bypass), 'v3.1,', 'compare[0].kernel: v3.1 is not possible with the scenario\'s mmu.bypass_guest_pf: true: kernel v3.1 no longer has it (the 2011 MMIO series removed it), and VMX forces it off when EPT is in use; give this variant mmu: { bypass_guest_pf: false }'],
    ['an invalid scenario bypass_guest_pf is not inherited', withCompare('  - { label: ept, mmu: { tdp: true } }', replaced('memslots:\n', 'mmu: { tdp: false, bypass_guest_pf: true }\nmemslots:\n')), 'true }\nmemslots', 'mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0)'],
    ['cr4_pke with the variant\'s shadow paging', withCompare('  - { label: shadow, mmu: { tdp: false } }', replaced('cpu: { efer_nx: true }', 'cpu: { efer_nx: true, cr4_pke: true }')), 'false } }', 'compare[0].mmu.tdp: false is not possible: guest.cpu.cr4_pke is true, and KVM does not offer protection keys with shadow paging'],
    ['maxphyaddr below a memslot', withCompare('  - { label: a, host: { maxphyaddr: 36 } }', replaced('size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x1000000000, size: 4K }')), '36', 'compare[0].host.maxphyaddr: 36 (limit 0x1000000000) does not cover memslots[1] [0x1000000000, 0x1000001000): this scenario needs at least 37'],
    ['maxphyaddr names the highest use', withCompare('  - { label: a, host: { maxphyaddr: 36 } }', high), '36', 'compare[0].host.maxphyaddr: 36 (limit 0x1000000000) does not cover devices[1] [0x2000000000, 0x2000001000): this scenario needs at least 38'],
    ['maxphyaddr below a pte step\'s frame', withCompare('  - { label: a, host: { maxphyaddr: 39 } }', replaced('{ compute: 100 }', '{ pte: 0x1000, flags: "p", gpa: 0xff00000000 }')), '39', 'compare[0].host.maxphyaddr: 39 (limit 0x8000000000) does not cover the `pte` step at line 15 [0xff00000000, 0xff00001000): this scenario needs at least 40'],
    ['maxphyaddr below an added memslot', withCompare('  - { label: a, host: { maxphyaddr: 36 } }', replaced('      - { compute: 100 }\n', '      - { compute: 100 }\n  - { memslot: add, slot: 1, gpa: 0x1000000000, size: 2M }\n')), '36', 'compare[0].host.maxphyaddr: 36 (limit 0x1000000000) does not cover the `memslot: add` step at line 16 [0x1000000000, 0x1000200000): this scenario needs at least 37'],
    ['fewer memslots than declared', withCompare('  - { label: a, memslots: 1 }', replaced('size: 256M }', 'size: 256M }\n  - { slot: 1, gpa: 0x20000000, size: 4K }')), '1 }\nexpect', 'compare[0].memslots: 1 is fewer than the 2 memslots the scenario declares'],
    ['no slot id left for an added memslot', withCompare('  - { label: a, memslots: 32 }', adds([0, 3])), '32 }', 'compare[0].memslots: 32 leaves no free slot id for slot 3, which the workload adds at line 17 (KVM has 32 user memslots): at most 31 here'],
    ['no slot ids left for added memslots', withCompare('  - { label: a, memslots: 31 }', adds([7, 3, 7])), '31', 'compare[0].memslots: 31 leaves no free slot id for slots 3, 7, which the workload adds (KVM has 32 user memslots): at most 30 here'],
  ])('%s', (_what, text, needle, message) => {
    expectOne(text, needle, message);
  });

  it('reports the variant\'s problems all at once, each at its own key', () => {
    const text = withCompare('  - { label: a, kernel: v9, mmu: { tdp: 1 }, host: { maxphyaddr: 30 }, memslots: 40 }\n  - { label: a, extra: 1 }');
    expect(diagnostics(text).map((d) => [d.line, d.col, d.message])).toEqual([
      [loc(text, 'v9').line, loc(text, 'v9').col, 'compare[0].kernel: expected one of v3.0, v3.1, got v9'],
      [loc(text, '1 }, host').line, loc(text, '1 }, host').col, 'compare[0].mmu.tdp: expected true or false, got 1'],
      [loc(text, '30').line, loc(text, '30').col, 'compare[0].host.maxphyaddr: must be between 36 and 52 (got 30)'],
      [loc(text, '40').line, loc(text, '40').col, 'compare[0].memslots: must be between 1 and 32 (got 40)'],
      [loc(text, 'a, extra').line, loc(text, 'a, extra').col, 'compare[1].label: variant label `a` is already used by compare[0]'],
      [loc(text, 'extra').line, loc(text, 'extra').col, 'compare[1]: unknown key `extra` (expected one of: label, kernel, mmu, host, memslots)'],
    ]);
  });
});
