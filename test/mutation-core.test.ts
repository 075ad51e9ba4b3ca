// Mutation tests for the VM-wide services and the emulator: simulator/kvm/kvm.ts (struct kvm's
// counters, memslot lookups, SPTE stores, kvm_flush_remote_tlbs), simulator/kvm/x86/emulate.ts
// (x86_emulate_instruction and its operand callbacks, per era), simulator/kvm/mmu/inspect.ts (the
// shadow-table snapshot) and simulator/kvm/vcpu.ts. Every expected value is worked out from the
// kernel sources (/work/ksrc/v3.0.1 and /work/ksrc/v3.1 = 3.1.10: arch/x86/kvm/x86.c, emulate.c,
// mmu.c, virt/kvm/kvm_main.c; docs/kernel-paths.md §5-§7 and §11 quote them), from the SPTE layouts
// of the era (spte.ts header, docs/kernel-paths.md §14) or, for cycles, from the westmere-2011 cost
// profile (docs/cost-model.md), never copied from the simulator's output.
//
// The emulator is driven directly: a machine is built (its code pages hold one MOV per workload
// step, 16 bytes apart, encoded as the SDM gives them) and RDI / RAX / RIP are set as the guest's
// instruction would have them, then Emulator.emulate runs x86_emulate_instruction for it.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import type { Machine } from '../simulator/run/machine';
import { Kvm } from '../simulator/kvm/kvm';
import { Vcpu, X86_CR0_PE, X86_CR0_PG, X86_CR0_WP, X86_CR4_PAE, X86_CR4_PKE, X86_CR4_SMAP, X86_CR4_SMEP, EFER_LMA, EFER_LME, EFER_NX } from '../simulator/kvm/vcpu';
import { EMULATE_DONE, EMULATE_DO_MMIO, EMULATE_FAIL } from '../simulator/kvm/x86/emulate';
import { snapshotShadowTables } from '../simulator/kvm/mmu/inspect';
import { spteFields } from '../simulator/kvm/mmu/spte';
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_INVALID, ROLE_NXE, ROLE_SMEP_ANDNOT_WP } from '../simulator/kvm/mmu/shadow_pages';
import { CLASS_GUEST_PF, FAULT_CLASSES } from '../simulator/kvm/fault_class';
import { profileByName } from '../simulator/cost/profiles';
import { C } from '../simulator/cost/accounting';
import { S } from '../simulator/trace/stats';
import { E, EVENT_LIST } from '../simulator/trace/events';
import { MmioBus } from '../simulator/devices/mmio_device';

/** westmere-2011 (docs/cost-model.md), the scenarios' default profile. */
const W = profileByName('westmere-2011');

const NIC_GFN = 0xfebf0;
const EXTRA_GFN = 0xfebf1;
/** Guest-virtual page numbers of the mappings below. */
const NIC_VPN = 0xffffc90000000000 / 4096; // -> 0xfebf0000 (userspace device), 0xfebf1000 (kernel device), 0xfebf2000 (nothing)
const EXTRA_VPN = NIC_VPN + 1;
const NOTHING_VPN = NIC_VPN + 2;
const HOLE_VPN = NIC_VPN + 3; // not mapped by the guest
const APIC_VPN = 0xffffffffff5fb000 / 4096;
const RAM_VPN = 0xffff880000000000 / 4096; // -> gpa 0, 2M pages
const USER_NIC_VPN = 0x7f0000000000 / 4096; // -> 0xfebf0000 with U
const RO_VPN = 0xffffc90000100000 / 4096; // -> 0x300000, read-only, supervisor
const XVOID_VPN = 0xffffc90000200000 / 4096; // -> 0xfebf2000, executable

const yaml = (kernel: 'v3.0' | 'v3.1', tdp = true) => `kernel: ${kernel}
mmu: { tdp: ${tdp} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace, registers: { 0x8: 0x1234 } }
  - { name: lapic, gpa: 0xfee00000, size: 4K, handler: kernel, registers: { 0x30: 0x50014 } }
  - { name: extra, gpa: 0xfebf1000, size: 4K, handler: kernel, registers: { 0x10: 0x89abcdef } }
  - { name: void, gpa: 0xfebf2000, size: 4K, handler: userspace }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 12K, flags: "p w a d pcd nx" }
    - { gva: 0xffffffffff5fb000, gpa: 0xfee00000, size: 4K, flags: "p w a d pcd nx" }
    - { gva: 0x7f0000000000, gpa: 0xfebf0000, size: 4K, flags: "p w u a d pcd nx" }
    - { gva: 0xffffc90000100000, gpa: 0x300000, size: 4K, flags: "p a d nx" }
    - { gva: 0xffffc90000200000, gpa: 0xfebf2000, size: 4K, flags: "p w a d pcd" }
workload:
  - { read: 0xffffc90000000000, size: 1 }
  - { read: 0xffffc90000000000, size: 2 }
  - { read: 0xffffc90000000000, size: 4 }
  - { read: 0xffffc90000000000, size: 8 }
  - { write: 0xffffc90000000000, size: 1, value: 1 }
  - { write: 0xffffc90000000000, size: 2, value: 1 }
  - { write: 0xffffc90000000000, size: 4, value: 1 }
  - { write: 0xffffc90000000000, size: 8, value: 1 }
  - { read: 0x7f0000000000, size: 4, cpl: 3 }
`;

/** Instruction slots of the workload above (one per access step, in order). */
const R1 = 0, R2 = 1, R4 = 2, R8 = 3, W1 = 4, W2 = 5, W4 = 6, W8 = 7;
/** The encodings (insn.ts, SDM MOV 88/89/8A/8B with ModRM 07 = [rdi]) and their lengths. */
const LEN: Record<number, number> = { [R1]: 2, [R2]: 3, [R4]: 2, [R8]: 3, [W1]: 2, [W2]: 3, [W4]: 2, [W8]: 3 };

interface Rig {
  m: Machine;
  kvm: Kvm;
  v: Vcpu;
}

function rig(kernel: 'v3.0' | 'v3.1', tdp = true): Rig {
  const m = machine(yaml(kernel, tdp));
  // The scenario format wants every mapped page backed; unplug `void` so that 0xfebf2000 is an
  // address no device claims (the VMM drops writes there and reads return all ones).
  m.kvm.bus = new MmioBus(m.kvm.bus.devices.filter((d) => d.name !== 'void'));
  return { m, kvm: m.kvm, v: m.kvm.vcpus[0]! };
}

interface Exec {
  r: number;
  /** How far RIP moved. */
  rip: number;
  events: { name: string; fields: Record<string, string | number | boolean> }[];
  /** Stats deltas. */
  d: (name: keyof typeof S) => number;
  /** Cycles charged per component. */
  c: (name: keyof typeof C) => number;
  clock: number;
}

/** Run the MOV in instruction slot `slot` with RDI = (vpn, offset) at `cpl`, RAX = lo:hi. */
function exec(g: Rig, slot: number, vpn: number, offset: number, o: { cpl?: 0 | 3; lo?: number; hi?: number } = {}): Exec {
  const { m, kvm, v } = g;
  const cpl = o.cpl ?? 0;
  v.cpl = cpl;
  v.rdiVpn = vpn;
  v.rdiOffset = offset;
  v.raxLo = o.lo ?? 0;
  v.raxHi = o.hi ?? 0;
  v.ripVpn = cpl === 3 ? m.guest.userCodeVpn : m.guest.codeVpn;
  v.ripOffset = slot * 16;
  v.guestFault = false;
  kvm.trace.reset();
  const stats = Float64Array.from(kvm.stats);
  const comps = Float64Array.from(kvm.acct.byComponent);
  const clock = v.clock;
  const rip = v.ripOffset;
  const r = m.emulator.emulate(v);
  return {
    r,
    rip: v.ripOffset - rip,
    events: kvm.trace.records().map((e) => ({ name: e.name, fields: e.fields })),
    d: (name) => kvm.stats[S[name]]! - stats[S[name]]!,
    c: (name) => kvm.acct.byComponent[C[name]]! - comps[C[name]]!,
    clock: v.clock - clock,
  };
}

/** The events other than the guest walk's (kvm_mmu_pagetable_walk / kvm_mmu_paging_element). */
const nonWalk = (x: Exec) => x.events.filter((e) => !e.name.startsWith('kvm_mmu_pag'));
const walks = (x: Exec) => x.events.filter((e) => e.name === 'kvm_mmu_pagetable_walk').map((e) => e.fields);

// Memslot lookups per step (docs/kernel-paths.md §5.6, from FNAME(walk_addr_generic)'s one
// kvm_read_guest_page per level and kvm_read_guest's gfn_to_hva): the instruction fetch is a
// 4-level walk plus kvm_read_guest = 5; an operand walk through a 4K mapping 4, through the 2M RAM
// mapping 3; kvm_read_guest / kvm_write_guest of the operand 1 (a miss for MMIO); a RAM write's
// kvm_write_guest_page adds mark_page_dirty's lookup.
const FETCH = 5;

describe('x86_emulate_instruction: decode (x86.c 3.0.1:4578 / 3.1.10:4766)', () => {
  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: one fetch through a FETCH walk, ++insn_emulation, kvm_emulate_insn with the bytes at RIP; decode + execute cycles`, () => {
      const g = rig(kernel);
      const x = exec(g, R4, EXTRA_VPN, 0x10);
      // `++vcpu->stat.insn_emulation;` once; kvm_fetch_guest_virt: `access | PFERR_FETCH_MASK` (0x10), CPL 0.
      expect([x.d('emulator_fetches'), x.d('insn_emulation'), x.d('insn_emulation_fail')]).toEqual([1, 1, 0]);
      expect(walks(x)[0]).toEqual({ addr: '0xfffff81000020', pferr: '0x10' });
      // 8b 07 = mov eax,[rdi]; the rest of the 16-byte slot is zero.
      const ins = x.events.find((e) => e.name === 'kvm_emulate_insn')!;
      expect(ins.fields).toEqual({ rip: '0xfffff81000020', len: 2, insn: '0x78b', failed: false });
      expect(x.c('emulation')).toBe(W.emulate_decode + W.emulate_execute);
      // An in-kernel device completes the instruction: EMULATE_DONE, RIP past the 2-byte MOV.
      expect(x.r).toBe(EMULATE_DONE);
      expect(x.rip).toBe(2);
    });

    it(`${kernel}: at CPL 3 the fetch walk has PFERR_USER_MASK (0x14) and the operand walk too (0x4)`, () => {
      const g = rig(kernel);
      // emulate.c's fetch: `ctxt->ops->fetch`, kvm_fetch_guest_virt: `u32 access = (kvm_x86_ops->get_cpl(vcpu) == 3) ? PFERR_USER_MASK : 0;`
      const x = exec(g, R4, USER_NIC_VPN, 8, { cpl: 3 });
      const w = walks(x);
      expect(w[0]).toEqual({ addr: '0x7ff000000020', pferr: '0x14' });
      expect(w[1]).toEqual({ addr: '0x7f0000000008', pferr: '0x4' });
      expect(x.r).toBe(EMULATE_DO_MMIO);
      expect(g.v.readLo).toBe(0x1234);
    });

    it(`${kernel}: an instruction that does not decode: handle_emulation_failure, ++insn_emulation_fail, the vCPU stops (EMULATE_FAIL)`, () => {
      const g = rig(kernel);
      // Slot 100 was never assembled: the fetched bytes are 00 00 (add [rax],al), not a MOV the decoder knows.
      const x = exec(g, 100, NIC_VPN, 8);
      expect(x.r).toBe(EMULATE_FAIL);
      expect([x.d('emulator_fetches'), x.d('insn_emulation'), x.d('insn_emulation_fail')]).toEqual([1, 1, 1]);
      expect(x.events.find((e) => e.name === 'kvm_emulate_insn')!.fields).toMatchObject({ rip: '0xfffff81000640', insn: '0x0', failed: true });
      expect(x.d('memslot_lookups')).toBe(FETCH); // no operand access
      expect(nonWalk(x).map((e) => e.name)).toEqual(['kvm_emulate_insn']);
      expect(x.c('emulation')).toBe(W.emulate_decode); // nothing executed
      expect(x.rip).toBe(0);
      expect(g.v.halted).toBe(true);
      expect(g.kvm.warnings).toHaveLength(1);
      expect(g.kvm.warnings[0]).toMatch(/^vcpu 0, line \d+: emulation failed/);
    });

    it(`${kernel}: a fetch whose walk fails reads nothing (no kvm_read_guest, no lookup beyond the walk)`, () => {
      const g = rig(kernel);
      g.v.cpl = 0;
      g.v.rdiVpn = NIC_VPN;
      g.v.rdiOffset = 8;
      g.v.ripVpn = HOLE_VPN; // RIP on a page the guest does not map
      g.v.ripOffset = 0;
      g.kvm.trace.reset();
      const l0 = g.kvm.stats[S.memslot_lookups]!;
      expect(g.m.emulator.emulate(g.v)).toBe(EMULATE_FAIL);
      // kvm_read_guest_virt_helper: `if (gpa == UNMAPPED_GVA) return X86EMUL_PROPAGATE_FAULT;` before kvm_read_guest.
      expect(g.kvm.stats[S.memslot_lookups]! - l0).toBe(4); // PML4E, PDPTE, PDE and the non-present PTE read
      const ins = g.kvm.trace.records().find((e) => e.name === 'kvm_emulate_insn')!;
      expect(ins.fields).toMatchObject({ insn: '0x0', failed: true });
    });

    it(`${kernel}: a fetch from a page with no memslot behind it reads nothing (kvm_read_guest fails)`, () => {
      const g = rig(kernel);
      g.v.cpl = 0;
      g.v.ripVpn = XVOID_VPN; // an executable mapping of a page with no memslot
      g.v.ripOffset = 0x10;
      g.kvm.trace.reset();
      const st = Float64Array.from(g.kvm.stats);
      expect(g.m.emulator.emulate(g.v)).toBe(EMULATE_FAIL);
      expect(g.kvm.stats[S.memslot_lookups]! - st[S.memslot_lookups]!).toBe(FETCH);
      expect(g.kvm.stats[S.memslot_misses]! - st[S.memslot_misses]!).toBe(1);
      expect(g.kvm.trace.records().find((e) => e.name === 'kvm_emulate_insn')!.fields).toMatchObject({ rip: '0xffffc90000200010', insn: '0x0', failed: true });
    });
  }
});
