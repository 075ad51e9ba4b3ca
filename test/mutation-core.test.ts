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
import { MmioBus } from '../simulator/devices/mmio_device';
import { Memslot } from '../simulator/kvm/memslots';

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
      expect(walks(x)[0]).toEqual({ addr: '0xffffffff81000020', pferr: '0x10' });
      // 8b 07 = mov eax,[rdi]; the rest of the 16-byte slot is zero.
      const ins = x.events.find((e) => e.name === 'kvm_emulate_insn')!;
      expect(ins.fields).toEqual({ rip: '0xffffffff81000020', len: 2, insn: '0x78b', failed: false });
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
      // kvm_read_guest_virt: `u32 access = (kvm_x86_ops->get_cpl(vcpu) == 3) ? PFERR_USER_MASK : 0;`
      expect(w[2]).toEqual({ addr: '0x7f0000000008', pferr: '0x4' });
      expect(w).toHaveLength(3);
      expect(x.r).toBe(EMULATE_DO_MMIO);
      expect(g.v.readLo).toBe(0x1234);
      // A store: kvm_mmu_gva_to_gpa_write / vcpu_mmio_gva_to_gpa: `access |= PFERR_WRITE_MASK` on top of U.
      const y = exec(g, W4, USER_NIC_VPN, 8, { cpl: 3, lo: 5 });
      expect(walks(y)).toEqual([{ addr: '0x7ff000000060', pferr: '0x14' }, { addr: '0x7f0000000008', pferr: '0x6' }]);
      expect(y.r).toBe(EMULATE_DO_MMIO);
    });

    it(`${kernel}: an instruction that does not decode: handle_emulation_failure, ++insn_emulation_fail, the vCPU stops (EMULATE_FAIL)`, () => {
      const g = rig(kernel);
      // Slot 100 was never assembled: the fetched bytes are 00 00 (add [rax],al), not a MOV the decoder knows.
      const x = exec(g, 100, NIC_VPN, 8);
      expect(x.r).toBe(EMULATE_FAIL);
      expect([x.d('emulator_fetches'), x.d('insn_emulation'), x.d('insn_emulation_fail')]).toEqual([1, 1, 1]);
      expect(x.events.find((e) => e.name === 'kvm_emulate_insn')!.fields).toMatchObject({ rip: '0xffffffff81000640', insn: '0x0', failed: true });
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

const ev = (name: string, fields: Record<string, string | number | boolean> = {}) => ({ name, fields });
const insn = (slot: number, bytes: string, len: number) => ev('kvm_emulate_insn', { rip: `0x${(0xffffffff81000000n + BigInt(slot * 16)).toString(16)}`, len, insn: bytes, failed: false });
/** kvm_mmio (include/trace/events/kvm.h): type, len, gpa, val. */
const mmio = (type: string, len: number, gpa: number, val: string) => ev('kvm_mmio', { type, len, gpa: `0x${gpa.toString(16)}`, val });
/** trace_kvm_userspace_exit(vcpu->run->exit_reason, r): KVM_EXIT_MMIO = 6 (include/linux/kvm.h). */
const uexit = ev('kvm_userspace_exit', { reason: 6 });

describe('emulator_read_emulated: vcpu_mmio_read, KVM_EXIT_MMIO and the completion (x86.c 3.0.1:3872, 3.1.10:4048; §6)', () => {
  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: a userspace device: two operand walks, kvm_read_guest misses, unsatisfied-read, the exit, then READ at the completion`, () => {
      const g = rig(kernel);
      const x = exec(g, R4, NIC_VPN, 8);
      // `trace_kvm_mmio(KVM_TRACE_MMIO_READ_UNSATISFIED, bytes, gpa, 0); vcpu->mmio_needed = 1;
      // vcpu->run->exit_reason = KVM_EXIT_MMIO;` then on the next KVM_RUN complete_mmio ->
      // EMULTYPE_NO_DECODE -> `trace_kvm_mmio(KVM_TRACE_MMIO_READ, bytes, vcpu->mmio_phys_addr, *(u64 *)val);`
      expect(nonWalk(x)).toEqual([insn(R4, '0x78b', 2), mmio('unsatisfied-read', 4, 0xfebf0008, '0x0'), uexit, mmio('read', 4, 0xfebf0008, '0x1234')]);
      // kvm_mmu_gva_to_gpa_read (3.0.1) / vcpu_mmio_gva_to_gpa's walk (3.1.10, nothing cached), then
      // kvm_read_guest_virt's own walk; neither has PFERR_WRITE_MASK.
      expect(walks(x).map((w) => w.pferr)).toEqual(['0x10', '0x0', '0x0']);
      expect([x.d('memslot_lookups'), x.d('memslot_misses'), x.d('guest_walks')]).toEqual([FETCH + 4 + 4 + 1, 1, 3]);
      expect([x.d('userspace_exits'), x.d('mmio_reads'), x.d('mmio_writes'), x.d('pf_guest')]).toEqual([1, 1, 0, 0]);
      expect([x.c('emulation'), x.c('device_userspace'), x.c('device_kernel')]).toEqual([W.emulate_decode + W.emulate_execute, W.vmm_round_trip, 0]);
      // EMULATE_DO_MMIO; the completion's writeback moves RIP past the MOV, once.
      expect(x.r).toBe(EMULATE_DO_MMIO);
      expect(x.rip).toBe(2);
      expect([g.v.readLo, g.v.readHi]).toEqual([0x1234, 0]);
    });

    it(`${kernel}: an in-kernel device (KVM_MMIO_BUS): vcpu_mmio_read handles it, READ traced there, no exit, EMULATE_DONE`, () => {
      const g = rig(kernel);
      const x = exec(g, R8, EXTRA_VPN, 0x10);
      // vcpu_mmio_read: `trace_kvm_mmio(KVM_TRACE_MMIO_READ, n, addr, *(u64 *)v);` and `if (handled == bytes) return X86EMUL_CONTINUE;`
      expect(nonWalk(x)).toEqual([insn(R8, '0x78b48', 3), mmio('read', 8, 0xfebf1010, '0x89abcdef')]);
      expect([x.d('memslot_lookups'), x.d('memslot_misses')]).toEqual([FETCH + 4 + 4 + 1, 1]);
      expect([x.d('userspace_exits'), x.d('mmio_reads')]).toEqual([0, 1]);
      expect([x.c('device_kernel'), x.c('device_userspace')]).toEqual([W.device_kernel, 0]);
      expect(x.clock).toBe(x.c('emulation') + x.c('device_kernel') + x.c('memslot_search') + x.c('guest_walk') + x.c('mmio_cache'));
      expect(x.r).toBe(EMULATE_DONE);
      expect(x.rip).toBe(3);
      expect([g.v.readLo, g.v.readHi]).toEqual([0x89abcdef, 0]);
    });

    it(`${kernel}: the APIC page goes to mmio: without kvm_read_guest_virt (\`(gpa & PAGE_MASK) == APIC_DEFAULT_PHYS_BASE\`)`, () => {
      const g = rig(kernel);
      const x = exec(g, R4, APIC_VPN, 0x30);
      expect(nonWalk(x)).toEqual([insn(R4, '0x78b', 2), mmio('read', 4, 0xfee00030, '0x50014')]);
      expect([x.d('memslot_lookups'), x.d('memslot_misses'), x.d('guest_walks')]).toEqual([FETCH + 4, 0, 2]);
      expect(x.r).toBe(EMULATE_DONE);
      expect(g.v.readLo).toBe(0x50014);
    });

    it(`${kernel}: RAM: kvm_read_guest_virt succeeds (\`== X86EMUL_CONTINUE\`): no kvm_mmio, no exit; the bytes of the access size`, () => {
      const g = rig(kernel);
      g.m.guest.ram.write64(0x100008, 0x89abcdef, 0x01234567);
      const x = exec(g, R8, RAM_VPN + 0x100, 8);
      expect(nonWalk(x)).toEqual([insn(R8, '0x78b48', 3)]);
      // Two 3-level walks through the 2M mapping, kvm_read_guest's hit.
      expect([x.d('memslot_lookups'), x.d('memslot_misses'), x.d('guest_walks')]).toEqual([FETCH + 3 + 3 + 1, 0, 3]);
      expect([x.d('mmio_reads'), x.d('userspace_exits')]).toEqual([0, 0]);
      expect(x.r).toBe(EMULATE_DONE);
      expect(x.rip).toBe(3);
      expect([g.v.readLo, g.v.readHi]).toEqual([0x89abcdef, 0x01234567]);
      const y = exec(g, R2, RAM_VPN + 0x100, 8);
      expect([g.v.readLo, g.v.readHi, y.rip]).toEqual([0xcdef, 0, 3]);
    });

    it(`${kernel}: nothing claims the address: the VMM's all-ones, kept to the access size (\`memcpy(val, vcpu->mmio_data, bytes)\`)`, () => {
      const g = rig(kernel);
      const want: [number, number, number, number][] = [
        [R1, 1, 0xff, 0],
        [R2, 2, 0xffff, 0],
        [R4, 4, 0xffffffff, 0],
        [R8, 8, 0xffffffff, 0xffffffff],
      ];
      for (const [slot, size, lo, hi] of want) {
        g.v.readLo = g.v.readHi = 0x5a5a5a5a;
        const x = exec(g, slot, NOTHING_VPN, 8);
        expect(nonWalk(x).slice(1)).toEqual([mmio('unsatisfied-read', size, 0xfebf2008, '0x0'), uexit, mmio('read', size, 0xfebf2008, '0xffffffffffffffff')]);
        expect([x.d('userspace_exits'), x.d('mmio_reads')]).toEqual([1, 0]);
        expect([x.r, x.rip]).toEqual([EMULATE_DO_MMIO, LEN[slot]]);
        expect([g.v.readLo, g.v.readHi]).toEqual([lo, hi]);
      }
    });

    it(`${kernel}: an operand walk that faults: X86EMUL_PROPAGATE_FAULT -> inject_emulated_exception -> kvm_inject_page_fault (++pf_guest)`, () => {
      const g = rig(kernel);
      const x = exec(g, R4, HOLE_VPN, 8);
      // kvm_inject_page_fault (x86.c:344): `++vcpu->stat.pf_guest; ... kvm_queue_exception_e(vcpu, PF_VECTOR, fault->error_code);`
      // A not-present read at CPL 0: error code 0.
      expect(nonWalk(x)).toEqual([insn(R4, '0x78b', 2), ev('kvm_mmu_walker_error', { pferr: '0x0' }), ev('kvm_inj_exception', { exception: 14, error_code: '0x0', address: '0xffffc90000003008' })]);
      expect([x.d('pf_guest'), x.d('guest_faults'), x.d('userspace_exits'), x.d('mmio_reads')]).toEqual([1, 1, 0, 0]);
      expect([x.d('memslot_lookups'), x.d('guest_walks')]).toEqual([FETCH + 4, 2]); // no kvm_read_guest
      expect(x.r).toBe(EMULATE_DONE);
      expect([g.v.guestFault, g.v.guestFaultCode, g.v.exitClass]).toEqual([true, 0, CLASS_GUEST_PF]);
      // RIP stays on the faulting MOV: x86_emulate_insn's fault path `goto done` skips `ctxt->eip =
      // ctxt->_eip;` (3.1.10 emulate.c; 3.0.1 `ctxt->eip = c->eip;`), and x86_emulate_instruction
      // writes back the unchanged eip (`kvm_rip_write(vcpu, ctxt->eip)`).
      expect(x.rip).toBe(0);
      // A user read of a supervisor page: P | U (PFERR_PRESENT_MASK | PFERR_USER_MASK).
      const u = exec(g, 8, NIC_VPN, 8, { cpl: 3 });
      expect(nonWalk(u).at(-1)).toEqual(ev('kvm_inj_exception', { exception: 14, error_code: '0x5', address: '0xffffc90000000008' }));
      expect([g.v.guestFault, g.v.guestFaultCode]).toEqual([true, 5]);
    });
  }
});

describe('emulator_write_emulated_onepage (x86.c 3.0.1:3941, 3.1.10:4116)', () => {
  for (const kernel of ['v3.0', 'v3.1'] as const) {
    it(`${kernel}: a userspace device: kvm_write_guest misses, WRITE traced before vcpu_mmio_write, the exit; RIP retired before it`, () => {
      const g = rig(kernel);
      const x = exec(g, W8, NIC_VPN, 8, { lo: 0xcafe, hi: 0x12 });
      // mmio: `trace_kvm_mmio(KVM_TRACE_MMIO_WRITE, bytes, gpa, *(u64 *)val);` then the exit.
      expect(nonWalk(x)).toEqual([insn(W8, '0x78948', 3), mmio('write', 8, 0xfebf0008, '0x120000cafe'), uexit]);
      expect(walks(x).map((w) => w.pferr)).toEqual(['0x10', '0x2']); // kvm_mmu_gva_to_gpa_write: PFERR_WRITE_MASK
      expect([x.d('memslot_lookups'), x.d('memslot_misses'), x.d('guest_walks')]).toEqual([FETCH + 4 + 1, 1, 2]);
      expect([x.d('userspace_exits'), x.d('mmio_writes'), x.d('mmio_reads')]).toEqual([1, 1, 0]);
      expect([x.c('device_userspace'), x.c('device_kernel')]).toEqual([W.vmm_round_trip, 0]);
      // x86_emulate_instruction: `if (!vcpu->mmio_is_write) writeback = false;`: a write is written back now.
      expect([x.r, x.rip]).toEqual([EMULATE_DO_MMIO, 3]);
      const nic = g.kvm.bus.find(0xfebf0008)!;
      nic.read(0xfebf0008, 8);
      expect([nic.lo, nic.hi]).toEqual([0xcafe, 0x12]);
    });

    it(`${kernel}: an in-kernel device: vcpu_mmio_write handles it (\`handled == bytes\`), no exit, EMULATE_DONE`, () => {
      const g = rig(kernel);
      const x = exec(g, W2, EXTRA_VPN, 0x20, { lo: 0xbeef });
      expect(nonWalk(x)).toEqual([insn(W2, '0x78966', 3), mmio('write', 2, 0xfebf1020, '0xbeef')]);
      expect([x.d('userspace_exits'), x.d('mmio_writes')]).toEqual([0, 1]);
      expect([x.c('device_kernel'), x.c('device_userspace')]).toEqual([W.device_kernel, 0]);
      expect([x.r, x.rip]).toEqual([EMULATE_DONE, 3]);
      const dev = g.kvm.bus.find(0xfebf1020)!;
      dev.read(0xfebf1020, 4);
      expect(dev.lo).toBe(0xbeef);
    });

    it(`${kernel}: nothing claims the address: the exit, nothing written`, () => {
      const g = rig(kernel);
      const x = exec(g, W4, NOTHING_VPN, 0x20, { lo: 7 });
      expect(nonWalk(x)).toEqual([insn(W4, '0x789', 2), mmio('write', 4, 0xfebf2020, '0x7'), uexit]);
      expect([x.d('userspace_exits'), x.d('mmio_writes')]).toEqual([1, 0]);
      expect([x.r, x.rip]).toEqual([EMULATE_DO_MMIO, 2]);
    });

    it(`${kernel}: the APIC page goes to mmio without emulator_write_phys`, () => {
      const g = rig(kernel);
      const x = exec(g, W4, APIC_VPN, 0xb0, { lo: 0 });
      expect(nonWalk(x)).toEqual([insn(W4, '0x789', 2), mmio('write', 4, 0xfee000b0, '0x0')]);
      expect([x.d('memslot_lookups'), x.d('memslot_misses')]).toEqual([FETCH + 4, 0]);
      expect([x.r, x.rip]).toEqual([EMULATE_DONE, 2]);
    });

    it(`${kernel}: RAM: emulator_write_phys -> kvm_write_guest (gfn_to_hva + mark_page_dirty), no kvm_mmio`, () => {
      const g = rig(kernel);
      g.m.guest.ram.write64(0x100020, 0xffffffff, 0xffffffff);
      const x = exec(g, W1, RAM_VPN + 0x100, 0x20, { lo: 0x12345678 });
      expect(nonWalk(x)).toEqual([insn(W1, '0x788', 2)]);
      expect([x.d('memslot_lookups'), x.d('memslot_misses'), x.d('guest_walks')]).toEqual([FETCH + 3 + 2, 0, 2]);
      expect([x.d('userspace_exits'), x.d('mmio_writes')]).toEqual([0, 0]);
      // emulator_write_phys: `kvm_mmu_pte_write(vcpu, gpa, val, bytes, 1);`: 3.0.1 takes mmu_lock and
      // `++vcpu->kvm->stat.mmu_pte_write;` for every write; 3.1.10 returns first, EPT having no
      // indirect page (`if (!ACCESS_ONCE(vcpu->kvm->arch.indirect_shadow_pages)) return;`).
      expect(x.d('mmu_pte_write')).toBe(kernel === 'v3.0' ? 1 : 0);
      expect(x.c('mmu_lock')).toBe(kernel === 'v3.0' ? W.mmu_lock : 0);
      expect([x.r, x.rip]).toEqual([EMULATE_DONE, 2]);
      const m = g.m.guest.ram.read64(0x100020);
      expect([m.lo >>> 0, m.hi >>> 0]).toEqual([0xffffff78, 0xffffffff]); // one byte written
      exec(g, W8, RAM_VPN + 0x100, 0x20, { lo: 0x11223344, hi: 0x55667788 });
      const n = g.m.guest.ram.read64(0x100020);
      expect([n.lo >>> 0, n.hi >>> 0]).toEqual([0x11223344, 0x55667788]);
    });

    it(`${kernel}: a write the walk refuses: #PF with the walk's error code, nothing written`, () => {
      const g = rig(kernel);
      // A supervisor write to a read-only page with CR0.WP: P | W.
      const x = exec(g, W4, RO_VPN, 0, { lo: 1 });
      expect(nonWalk(x).at(-1)).toEqual(ev('kvm_inj_exception', { exception: 14, error_code: '0x3', address: '0xffffc90000100000' }));
      expect([x.d('pf_guest'), x.d('guest_faults'), x.d('memslot_lookups')]).toEqual([1, 1, FETCH + 4]);
      expect([x.r, g.v.guestFault, g.v.guestFaultCode]).toEqual([EMULATE_DONE, true, 3]);
      expect(x.rip).toBe(0); // the faulting MOV is not skipped (`goto done` before `ctxt->eip = ctxt->_eip;`)
      expect(g.m.guest.ram.read64(0x300000).lo).toBe(0);
      // A not-present write: W only.
      const y = exec(g, W4, HOLE_VPN, 0, { lo: 1 });
      expect(nonWalk(y).at(-1)).toEqual(ev('kvm_inj_exception', { exception: 14, error_code: '0x2', address: '0xffffc90000003000' }));
    });
  }
});

describe('vcpu_mmio_gva_to_gpa (3.1.10 x86.c:4013) and its absence in 3.0.1', () => {
  /** vcpu_cache_mmio_info's three fields, set as a previous fault would have left them. */
  const cache = (g: Rig, gvaVpn: number, gfn: number, access: number) => {
    g.v.mmioGvaVpn = gvaVpn;
    g.v.mmioGfn = gfn;
    g.v.mmioAccess = access;
  };

  it('GVA match: no walk; `*gpa = vcpu->arch.mmio_gfn << PAGE_SHIFT | (gva & (PAGE_SIZE - 1))`, traced with gpa_match false', () => {
    const g = rig('v3.1');
    // The cached gfn is the kernel device's although RDI is in the NIC's page: the gpa comes from the cache.
    cache(g, NIC_VPN, EXTRA_GFN, 7);
    const x = exec(g, R4, NIC_VPN, 0x10);
    expect(nonWalk(x)).toEqual([
      insn(R4, '0x78b', 2),
      ev('vcpu_match_mmio', { gva: '0xffffc90000000010', gpa: '0xfebf1010', write: false, gpa_match: false }),
      mmio('read', 4, 0xfebf1010, '0x89abcdef'),
    ]);
    expect([x.d('memslot_lookups'), x.d('guest_walks')]).toEqual([FETCH, 1]); // the fetch only
    expect([x.r, g.v.readLo]).toEqual([EMULATE_DONE, 0x89abcdef]);
    const w = exec(g, W4, NIC_VPN, 0x14, { lo: 9 });
    expect(nonWalk(w).slice(1, 3)).toEqual([
      ev('vcpu_match_mmio', { gva: '0xffffc90000000014', gpa: '0xfebf1014', write: true, gpa_match: false }),
      mmio('write', 4, 0xfebf1014, '0x9'),
    ]);
    expect([w.d('memslot_lookups'), w.d('guest_walks')]).toEqual([FETCH, 1]);
  });

  it('GPA match after the walk: `trace_vcpu_match_mmio(gva, *gpa, write, true); return 1;`: no kvm_read_guest_virt, no kvm_write_guest', () => {
    const g = rig('v3.1');
    cache(g, 0, NIC_GFN, 7); // a direct MMU caches gva 0 (handle_mmio_page_fault_common: `if (direct) addr = 0;`)
    const r = exec(g, R4, NIC_VPN, 8);
    expect(nonWalk(r)).toEqual([
      insn(R4, '0x78b', 2),
      ev('vcpu_match_mmio', { gva: '0xffffc90000000008', gpa: '0xfebf0008', write: false, gpa_match: true }),
      mmio('unsatisfied-read', 4, 0xfebf0008, '0x0'),
      uexit,
      mmio('read', 4, 0xfebf0008, '0x1234'),
    ]);
    expect([r.d('memslot_lookups'), r.d('memslot_misses'), r.d('guest_walks')]).toEqual([FETCH + 4, 0, 2]);
    const w = exec(g, W4, NIC_VPN, 8, { lo: 3 });
    expect(nonWalk(w).slice(1)).toEqual([ev('vcpu_match_mmio', { gva: '0xffffc90000000008', gpa: '0xfebf0008', write: true, gpa_match: true }), mmio('write', 4, 0xfebf0008, '0x3'), uexit]);
    expect([w.d('memslot_lookups'), w.d('memslot_misses')]).toEqual([FETCH + 4, 0]);
  });

  it('the APIC page is MMIO before the GPA test: no vcpu_match_mmio even when the gfn is cached', () => {
    const g = rig('v3.1');
    cache(g, 0, 0xfee00, 7);
    const x = exec(g, R4, APIC_VPN, 0x30);
    expect(nonWalk(x)).toEqual([insn(R4, '0x78b', 2), mmio('read', 4, 0xfee00030, '0x50014')]);
  });

  it('v3.0 has no MMIO info cache: the same vCPU state changes nothing (three walks, kvm_read_guest)', () => {
    const g = rig('v3.0');
    cache(g, NIC_VPN, EXTRA_GFN, 7);
    const x = exec(g, R4, NIC_VPN, 8);
    expect(nonWalk(x).map((e) => e.name)).toEqual(['kvm_emulate_insn', 'kvm_mmio', 'kvm_userspace_exit', 'kvm_mmio']);
    expect([x.d('memslot_lookups'), x.d('guest_walks')]).toEqual([FETCH + 4 + 4 + 1, 3]);
    const w = exec(g, W4, NIC_VPN, 8, { lo: 1 });
    expect(nonWalk(w).map((e) => e.name)).toEqual(['kvm_emulate_insn', 'kvm_mmio', 'kvm_userspace_exit']);
    expect(w.d('memslot_lookups')).toBe(FETCH + 4 + 1);
  });

  // check_write_user_access (3.1.10 mmu.h):
  //   if (unlikely(write_fault && !is_writable_pte(pte) && (user_fault || is_write_protection(vcpu)))) return false;
  //   if (unlikely(user_fault && !(pte & PT_USER_MASK))) return false;
  // with pte = vcpu->arch.access (ACC_WRITE_MASK = PT_WRITABLE_MASK 2, ACC_USER_MASK = PT_USER_MASK 4).
  // A refused GVA match walks; the GPA test then matches (the cached gfn is the NIC's), traced with gpa_match true.
  const cases: [string, { write: boolean; cpl: 0 | 3; wp: boolean; access: number }, boolean][] = [
    ['a write, access without W, CR0.WP: refused', { write: true, cpl: 0, wp: true, access: 4 }, false],
    ['a write, access without W, no CR0.WP, CPL 0: allowed', { write: true, cpl: 0, wp: false, access: 4 }, true],
    ['a write, access without W, CPL 3, no CR0.WP: refused', { write: true, cpl: 3, wp: false, access: 4 }, false],
    ['a write, access W|U, CPL 3: allowed', { write: true, cpl: 3, wp: true, access: 6 }, true],
    ['a read, access without U, CPL 3: refused', { write: false, cpl: 3, wp: true, access: 2 }, false],
    ['a read, access without U, CPL 0: allowed', { write: false, cpl: 0, wp: true, access: 2 }, true],
    ['a read, access without W, CPL 0, CR0.WP: allowed (W matters only to writes)', { write: false, cpl: 0, wp: true, access: 0 }, true],
  ];
  for (const [name, c, gvaMatch] of cases) {
    it(`check_write_user_access: ${name}`, () => {
      const g = rig('v3.1');
      if (!c.wp) g.v.cr0 &= ~X86_CR0_WP;
      cache(g, USER_NIC_VPN, NIC_GFN, c.access);
      const x = exec(g, c.write ? W4 : c.cpl === 3 ? 8 : R4, USER_NIC_VPN, 8, { cpl: c.cpl, lo: 1 });
      const match = nonWalk(x).find((e) => e.name === 'vcpu_match_mmio')!;
      expect(match.fields).toEqual({ gva: '0x7f0000000008', gpa: '0xfebf0008', write: c.write, gpa_match: !gvaMatch });
      expect(x.d('guest_walks')).toBe(gvaMatch ? 1 : 2);
    });
  }
});

function bareKvm(o: { kernel?: 'v3.0' | 'v3.1'; tdp?: boolean; bypass?: boolean; vcpus?: number; mmioCaching?: boolean } = {}): Kvm {
  return new Kvm({
    kernel: o.kernel ?? 'v3.1',
    tdp: o.tdp ?? true,
    mmioCaching: o.mmioCaching ?? true,
    oosShadow: true,
    enableVpid: true,
    bypassGuestPf: o.bypass ?? true,
    maxphyaddr: 40,
    cost: W,
    traceCapacity: 100,
    vcpus: o.vcpus ?? 1,
    callPaths: true,
    fastPaths: true,
  });
}

const names = (kvm: Kvm) => kvm.trace.records().map((e) => e.name);

describe('struct kvm (kvm.ts): construction per era and mode', () => {
  it('bypass_guest_pf is in force only for 3.0.1 without EPT (vmx.c hardware_setup: `if (enable_ept) { bypass_guest_pf = 0;`; 3.1 has no such parameter)', () => {
    const cases: [Partial<Parameters<typeof bareKvm>[0]>, boolean][] = [
      [{ kernel: 'v3.0', tdp: false, bypass: true }, true],
      [{ kernel: 'v3.0', tdp: true, bypass: true }, false],
      [{ kernel: 'v3.1', tdp: false, bypass: true }, false],
      [{ kernel: 'v3.0', tdp: false, bypass: false }, false],
    ];
    for (const [cfg, on] of cases) {
      const kvm = bareKvm(cfg);
      expect(kvm.bypassGuestPf).toBe(on);
      // `if (bypass_guest_pf) kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);`: the trap value is ~0xffe.
      expect([kvm.fmt.trapLo >>> 0, kvm.fmt.trapHi >>> 0]).toEqual(on ? [0xfffff001, 0xffffffff] : [0, 0]);
    }
  });

  it('keeps the configuration; one struct kvm_vcpu per vCPU, numbered from 0', () => {
    const kvm = bareKvm({ kernel: 'v3.0', tdp: false, vcpus: 3 });
    expect([kvm.kernel, kvm.tdp, kvm.oosShadow, kvm.cost]).toEqual(['v3.0', false, true, W]);
    expect(kvm.vcpus.map((v) => v.id)).toEqual([0, 1, 2]);
    expect(kvm.srcu.inside).toHaveLength(3);
    expect(kvm.trace.capacity).toBe(100);
    expect([kvm.readerCounter, kvm.rcuPending, kvm.warnings, kvm.races.point(kvm.vcpus[0]!, 0, 0)]).toEqual([0, [], [], undefined]);
    // Nothing on the MMIO bus, no per-line counters and no finished flags until the machine sets them.
    expect([kvm.bus.devices, kvm.bus.find(0xfebf0000), kvm.lineFaults.length, kvm.finished.length]).toEqual([[], null, 0, 0]);
    expect([...kvm.faultCounts]).toEqual(new Array(FAULT_CLASSES.length).fill(0));
  });

  it('MMIO SPTEs: only 3.1 (kvm_set_mmio_spte_mask), and only with the runtime switch on', () => {
    expect(bareKvm({ kernel: 'v3.1', tdp: true }).mmioSptesEnabled).toBe(true);
    expect(bareKvm({ kernel: 'v3.1', tdp: false }).mmioSptesEnabled).toBe(true);
    expect(bareKvm({ kernel: 'v3.1', mmioCaching: false }).mmioSptesEnabled).toBe(false);
    expect(bareKvm({ kernel: 'v3.0', tdp: true }).mmioSptesEnabled).toBe(false);
    const k = bareKvm({ kernel: 'v3.1' });
    k.mmioCaching = false;
    expect(k.mmioSptesEnabled).toBe(false);
  });
});

describe('struct kvm: memslot searches, host pages and SPTE stores', () => {
  it('gfn_to_memslot: one lookup, one compare per slot scanned (`for (i = 0; i < slots->nmemslots; ++i)`), a miss counted; memslot_lookup + n x memslot_compare cycles', () => {
    const kvm = bareKvm();
    const v = kvm.vcpus[0]!;
    kvm.memslots.install(new Memslot(0, 0, 0x100));
    kvm.memslots.install(new Memslot(3, 0x1000, 0x10));
    const st = kvm.stats;
    expect(kvm.gfnToMemslot(v, 0x1005)!.id).toBe(3); // slots 0..3 compared
    expect([st[S.memslot_lookups], st[S.memslot_compares], st[S.memslot_misses]]).toEqual([1, 4, 0]);
    expect(kvm.acct.byComponent[C.memslot_search]).toBe(W.memslot_lookup + 4 * W.memslot_compare);
    expect(v.clock).toBe(W.memslot_lookup + 4 * W.memslot_compare);
    expect(kvm.gfnToMemslot(v, 0x2000)).toBeNull(); // nmemslots = 4 compared
    expect([st[S.memslot_lookups], st[S.memslot_compares], st[S.memslot_misses]]).toEqual([2, 8, 1]);
    expect(kvm.acct.byComponent[C.memslot_search]).toBe(2 * W.memslot_lookup + 8 * W.memslot_compare);
    expect(kvm.gfnToMemslot(v, 0x10)!.id).toBe(0);
    expect([st[S.memslot_lookups], st[S.memslot_compares], st[S.memslot_misses]]).toEqual([3, 9, 1]);
  });

  it('a KVM_MEMSLOT_INVALID slot is found (a hit) but unusable: `if (!slot || slot->flags & KVM_MEMSLOT_INVALID) return bad_hva();`', () => {
    const kvm = bareKvm();
    const v = kvm.vcpus[0]!;
    const s = new Memslot(1, 0x100, 0x10);
    kvm.memslots.install(s);
    s.invalid = true;
    expect(kvm.gfnToMemslot(v, 0x105)).toBeNull();
    expect([kvm.stats[S.memslot_lookups], kvm.stats[S.memslot_compares], kvm.stats[S.memslot_misses]]).toEqual([1, 2, 0]);
    s.invalid = false;
    expect(kvm.gfnToMemslot(v, 0x105)).toBe(s);
  });

  it('kvm_is_visible_gfn: `for (i = 0; i < KVM_MEMORY_SLOTS; ++i)` skipping invalid slots; charged as a search', () => {
    const kvm = bareKvm();
    const v = kvm.vcpus[0]!;
    kvm.memslots.install(new Memslot(2, 0x100, 0x10));
    expect(kvm.isVisibleGfn(v, 0x100)).toBe(true);
    expect([kvm.stats[S.memslot_lookups], kvm.stats[S.memslot_compares], kvm.stats[S.memslot_misses]]).toEqual([1, 3, 0]);
    expect(kvm.isVisibleGfn(v, 0x200)).toBe(false);
    expect([kvm.stats[S.memslot_lookups], kvm.stats[S.memslot_compares], kvm.stats[S.memslot_misses]]).toEqual([2, 3 + 32, 1]);
    expect(v.clock).toBe(2 * W.memslot_lookup + 35 * W.memslot_compare);
  });

  it('gfn_to_pfn: the first touch faults the page in (host_pages, host_page_fault); later ones find it', () => {
    const kvm = bareKvm();
    const v = kvm.vcpus[0]!;
    const s = new Memslot(0, 0, 0x100);
    kvm.memslots.install(s);
    const pfn = kvm.slotPfn(v, s, 0x42);
    expect(pfn).toBeGreaterThan(0);
    expect(s.pfnOf(0x42)).toBe(pfn);
    expect(kvm.stats[S.host_pages]).toBe(1);
    expect(kvm.acct.byComponent[C.host_page_fault]).toBe(W.host_page_fault);
    expect(v.clock).toBe(W.host_page_fault);
    expect(kvm.slotPfn(v, s, 0x42)).toBe(pfn);
    expect(kvm.stats[S.host_pages]).toBe(1);
    expect(v.clock).toBe(W.host_page_fault);
    expect(kvm.slotPfn(v, s, 0x43)).not.toBe(pfn);
    expect(kvm.stats[S.host_pages]).toBe(2);
  });

  it('host frames for shadow pages count as host pages', () => {
    const kvm = bareKvm();
    const a = kvm.allocHostFrame();
    const b = kvm.allocHostFrame();
    expect(a).not.toBe(b);
    expect(kvm.stats[S.host_pages]).toBe(2);
    kvm.freeHostFrame(b);
    expect(kvm.allocHostFrame()).toBe(b); // the frame is free again
  });

  it('__set_spte stores both halves, counts and charges one SPTE write; a zap clears to notrap (0) or to the trap value, uncharged', () => {
    for (const [kernel, tdp, trap] of [['v3.0', false, [0xfffff001, 0xffffffff]], ['v3.0', true, [0, 0]], ['v3.1', false, [0, 0]]] as const) {
      const kvm = bareKvm({ kernel, tdp });
      const v = kvm.vcpus[0]!;
      const w = kvm.host.entryWord(kvm.allocHostFrame(), 5);
      kvm.setSpte(v, w, 0x12345007, 0x80000000);
      expect([kvm.host.words[w], kvm.host.words[w + 1]]).toEqual([0x12345007, 0x80000000]);
      expect(kvm.stats[S.sptes_written]).toBe(1);
      expect([kvm.acct.byComponent[C.spte_write], v.clock]).toEqual([W.spte_write, W.spte_write]);
      // drop_spte(kvm, sptep, shadow_trap_nonpresent_pte) (3.0.1) / mmu_spte_clear_track_bits (3.1.10)
      kvm.clearSpte(w);
      expect([kvm.host.words[w]! >>> 0, kvm.host.words[w + 1]! >>> 0]).toEqual(trap);
      expect(kvm.stats[S.sptes_written]).toBe(2);
      expect([kvm.acct.byComponent[C.spte_write], v.clock, kvm.acct.total]).toEqual([W.spte_write, W.spte_write, W.spte_write]);
    }
  });
});

describe('kvm_flush_remote_tlbs (kvm_main.c 3.0.1:198, 3.1.10:202) and make_all_cpus_request', () => {
  // `if (make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH)) ++kvm->stat.remote_tlb_flush;` where the
  // request returns true only when an IPI went out: `if (cpus != NULL && cpu != -1 && cpu != me &&
  // kvm_vcpu_exiting_guest_mode(vcpu) != OUTSIDE_GUEST_MODE) cpumask_set_cpu(cpu, cpus);`.
  const flush = (kvm: Kvm, id: number) => {
    kvm.trace.reset();
    const before = kvm.stats[S.remote_tlb_flush]!;
    const cyc = kvm.acct.byComponent[C.shadow_page]!;
    const v = kvm.vcpus[id]!;
    v.line = 7;
    const clock = v.clock;
    kvm.flushRemoteTlbs(v);
    const recs = kvm.trace.records();
    expect(recs.map((e) => [e.name, e.vcpu, e.line])).toEqual([['kvm_flush_remote_tlbs', id, 7]]); // traced every time
    return { counted: kvm.stats[S.remote_tlb_flush]! - before, cycles: kvm.acct.byComponent[C.shadow_page]! - cyc, clock: v.clock - clock };
  };

  it('a single vCPU: no other CPU to interrupt: not counted, not charged', () => {
    const kvm = bareKvm();
    kvm.finished = new Uint8Array(1);
    expect(flush(kvm, 0)).toEqual({ counted: 0, cycles: 0, clock: 0 });
  });

  it('another vCPU in guest mode: one IPI round, ++remote_tlb_flush, remote_tlb_flush cycles to the caller', () => {
    const kvm = bareKvm({ vcpus: 2 });
    kvm.finished = new Uint8Array(2);
    expect(flush(kvm, 0)).toEqual({ counted: 1, cycles: W.remote_tlb_flush, clock: W.remote_tlb_flush });
    expect(flush(kvm, 1)).toEqual({ counted: 1, cycles: W.remote_tlb_flush, clock: W.remote_tlb_flush });
  });

  it('a vCPU outside guest mode does not count: finished, inside an exit handler (kvm->srcu held), or running a memslot ioctl', () => {
    const kvm = bareKvm({ vcpus: 2 });
    kvm.finished = new Uint8Array(2);
    kvm.finished[1] = 1;
    expect(flush(kvm, 0).counted).toBe(0);
    kvm.finished[1] = 0;
    kvm.srcu.inside[1] = 1;
    expect(flush(kvm, 0).counted).toBe(0);
    kvm.srcu.inside[1] = 0;
    kvm.memslotUpdate.owner = 1;
    expect(flush(kvm, 0)).toEqual({ counted: 0, cycles: 0, clock: 0 });
    kvm.memslotUpdate.owner = 0; // the caller's own ioctl does not hide the other vCPU
    expect(flush(kvm, 0).counted).toBe(1);
    kvm.memslotUpdate.owner = -1;
    kvm.srcu.inside[0] = 1; // nor does the caller's own exit
    expect(flush(kvm, 0).counted).toBe(1);
  });

  it('any one vCPU in guest mode among several is enough (the loop goes on past one that is not)', () => {
    const kvm = bareKvm({ vcpus: 3 });
    kvm.finished = new Uint8Array(3);
    kvm.finished[1] = 1;
    expect(flush(kvm, 0).counted).toBe(1);
    kvm.finished[2] = 1;
    expect(flush(kvm, 0).counted).toBe(0);
    kvm.finished[0] = 1;
    kvm.finished[1] = 0;
    kvm.srcu.inside[1] = 1;
    expect(flush(kvm, 2).counted).toBe(0);
    kvm.srcu.inside[1] = 0;
    expect(flush(kvm, 2).counted).toBe(1);
  });

  it('kvm_reload_remote_mmus: make_all_cpus_request(kvm, KVM_REQ_MMU_RELOAD) reaches every vCPU, the caller included', () => {
    const kvm = bareKvm({ vcpus: 3 });
    kvm.reloadRemoteMmus();
    expect(kvm.vcpus.map((v) => v.reloadRequested)).toEqual([true, true, true]);
    expect(names(kvm)).toEqual([]);
  });
});

describe('struct kvm: fault counts, resetCounters, warnings', () => {
  it('countFault: per class, and per (line, class) when the line is in range', () => {
    const kvm = bareKvm();
    const v = kvm.vcpus[0]!;
    const N = FAULT_CLASSES.length;
    kvm.lineFaults = new Float64Array(3 * N);
    v.line = 2;
    kvm.countFault(v, 4);
    kvm.countFault(v, 4);
    v.line = 1;
    kvm.countFault(v, 0);
    expect(kvm.faultCounts[4]).toBe(2);
    expect(kvm.faultCounts[0]).toBe(1);
    expect(kvm.lineFaults[2 * N + 4]).toBe(2);
    expect(kvm.lineFaults[1 * N + 0]).toBe(1);
    expect([...kvm.lineFaults].reduce((a, b) => a + b, 0)).toBe(3);
    v.line = 3; // past the end: counted for the run only
    kvm.countFault(v, 1);
    expect(kvm.faultCounts[1]).toBe(1);
    expect([...kvm.lineFaults].reduce((a, b) => a + b, 0)).toBe(3);
    expect(kvm.lineFaults).toHaveLength(3 * N);
  });

  it('resetCounters forgets counters, cycles, trace and clocks but keeps the gauges of what setup built', () => {
    const g = rig('v3.1', false);
    const kvm = g.kvm;
    g.m.run();
    const N = FAULT_CLASSES.length;
    expect(kvm.stats[S.exits]).toBeGreaterThan(0);
    kvm.countFault(g.v, 2);
    kvm.sp.unsync[[...kvm.sp.active][0]!] = 1; // one page unsync: mmu_unsync is a gauge (++ and --)
    kvm.resetCounters();
    const inUse = kvm.sp.inUse;
    expect(inUse).toBeGreaterThan(0);
    const want = new Float64Array(kvm.stats.length);
    want[S.shadow_pages] = inUse;
    want[S.shadow_pages_max] = inUse;
    want[S.mmu_unsync] = 1;
    expect([...kvm.stats]).toEqual([...want]);
    expect([...kvm.faultCounts]).toEqual(new Array(N).fill(0));
    expect([...kvm.lineFaults].every((n) => n === 0)).toBe(true);
    expect([kvm.acct.total, [...kvm.acct.byComponent].every((n) => n === 0)]).toEqual([0, true]);
    expect([kvm.trace.total, kvm.trace.step]).toEqual([0, -1]);
    expect(kvm.vcpus.map((v) => v.clock)).toEqual([0]);
  });

  it('warn: "vcpu N, line L: message", at most 100 kept', () => {
    const kvm = bareKvm({ vcpus: 2 });
    const v = kvm.vcpus[1]!;
    v.line = 12;
    kvm.warn(v, 'first');
    expect(kvm.warnings).toEqual(['vcpu 1, line 12: first']);
    for (let i = 0; i < 150; i++) kvm.warn(v, `w${i}`);
    expect(kvm.warnings).toHaveLength(100);
    expect(kvm.warnings[99]).toBe('vcpu 1, line 12: w98');
  });
});

describe('struct kvm_vcpu (vcpu.ts): the state a vCPU starts with and the control-register bits', () => {
  it('starts in long mode (CR0.PE|PG, CR4.PAE, EFER.LME|LMA) at CPL 0, with INVALID_PAGE as root and no request pending', () => {
    const v = new Vcpu(5);
    expect(v.id).toBe(5);
    expect([v.cr0, v.cr4, v.efer]).toEqual([X86_CR0_PE | X86_CR0_PG, X86_CR4_PAE, EFER_LME | EFER_LMA]);
    // SDM bit positions: CR0.PE 0, WP 16, PG 31; CR4.PAE 5, SMEP 20, SMAP 21, PKE 22; EFER.LME 8, LMA 10, NXE 11.
    expect([X86_CR0_PE, X86_CR0_WP, X86_CR0_PG >>> 0, X86_CR4_PAE, X86_CR4_SMEP, X86_CR4_SMAP, X86_CR4_PKE, EFER_LME, EFER_LMA, EFER_NX]).toEqual([
      1, 0x10000, 0x80000000, 0x20, 0x100000, 0x200000, 0x400000, 0x100, 0x400, 0x800,
    ]);
    expect([v.cpl, v.defaultCpl, v.ac, v.pkru, v.clock]).toEqual([0, 0, false, 0, 0]);
    // kvm_mmu_create / init_kvm_mmu: `vcpu->arch.mmu.root_hpa = INVALID_PAGE;`; vcpu->requests = 0.
    expect([v.root, v.reloadRequested, v.syncRequested]).toEqual([-1, false, false]);
    // The MMIO info cache is empty (mmio_gva 0 never matches), no exit is being handled, nothing faulted.
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess, v.exitClass, v.guestFault, v.guestFaultCode, v.halted]).toEqual([0, 0, 0, -1, false, 0, false]);
    // kvm_mmu_pte_write's detector: `vcpu->arch.last_pte_updated` NULL, no table written yet.
    expect([v.lastPteUpdated, v.lastPtWriteCount]).toEqual([-1, 0]);
    expect(v.cr3s).toEqual([]);
  });

  it('is_write_protection / is_nx / SMEP / SMAP / PKE read their bits', () => {
    const v = new Vcpu(0);
    expect([v.cr0Wp, v.nx, v.smep, v.smap, v.pke]).toEqual([false, false, false, false, false]);
    v.cr0 |= X86_CR0_WP;
    v.efer |= EFER_NX;
    expect([v.cr0Wp, v.nx, v.smep, v.smap, v.pke]).toEqual([true, true, false, false, false]);
    v.cr4 |= X86_CR4_SMEP;
    expect([v.smep, v.smap, v.pke]).toEqual([true, false, false]);
    v.cr4 = X86_CR4_SMAP;
    expect([v.smep, v.smap, v.pke]).toEqual([false, true, false]);
    v.cr4 = X86_CR4_PKE;
    expect([v.smep, v.smap, v.pke]).toEqual([false, false, true]);
    v.cr0 = X86_CR0_PG;
    v.efer = EFER_LMA;
    expect([v.cr0Wp, v.nx]).toEqual([false, false]);
  });
});

describe('the shadow-table snapshot (inspect.ts), decoded by the era\'s SPTE layouts', () => {
  const role = (level: number, access: number, extra = 0) => level | (access << ROLE_ACCESS_SHIFT) | extra;
  const put = (kvm: Kvm, id: number, i: number, lo: number, hi = 0) => {
    const w = kvm.host.entryWord(kvm.sp.pfn[id]!, i);
    kvm.host.words[w] = lo >>> 0;
    kvm.host.words[w + 1] = hi >>> 0;
  };
  const frame = (pfn: number) => (pfn * 4096) >>> 0; // pfns here are below 2^20

  it('EPT 3.1: pages by level (highest first), then gfn; every field of a page; non-leaf, leaf, MMIO, non-present entries', () => {
    const kvm = bareKvm({ kernel: 'v3.1', tdp: true, vcpus: 2 });
    const D = ROLE_DIRECT;
    const l1b = kvm.sp.create(0, 0x200, role(1, 7, D), -1);
    const l1a = kvm.sp.create(0, 0x100, role(1, 7, D), -1);
    const root = kvm.sp.create(0, 0, role(4, 7, D), -1);
    const l2 = kvm.sp.create(0, 0x300, role(2, 5, D | ROLE_INVALID), -1);
    const l3 = kvm.sp.create(0, 0, role(3, 7, D), -1);
    kvm.vcpus[0]!.root = root;
    kvm.vcpus[1]!.root = root;
    // Non-leaf: `__pa(sp->spt) | PT_PRESENT_MASK | PT_WRITABLE_MASK | shadow_x_mask` (RWX = 7).
    put(kvm, root, 0, frame(kvm.sp.pfn[l3]!) | 7);
    put(kvm, root, 1, frame(0x777) | 7); // not a shadow page's frame
    put(kvm, l3, 2, frame(kvm.sp.pfn[l2]!) | 3); // RW, no X
    put(kvm, l2, 0, frame(kvm.sp.pfn[l1b]!) | 7); // the child is page 0
    // Leaves: R bit 0, W 1, X 2, memory type 3-5 (6 = WB, 0 = UC), IPAT 6, SPTE_HOST_WRITEABLE bit 9.
    put(kvm, l1a, 0, frame(0x1234) | 0x277);
    put(kvm, l1a, 5, frame(0x1235) | 0x1);
    put(kvm, l1a, 6, frame(0x1236) | 0x41);
    put(kvm, l1a, 7, frame(0x1237) | 0x21);
    put(kvm, l1a, 8, frame(0x1238) | 0x35);
    put(kvm, l1a, 9, frame(0x1239) | 0x4); // X only: no P, not present (is_shadow_present_pte: `pte & PT_PRESENT_MASK`)
    put(kvm, l1a, 10, kvm.fmt.mmioLoOf(0xfebf0, 6), kvm.fmt.mmioHiOf(0xfebf0)); // 0x01FE0000FEBF0006
    put(kvm, l1a, 11, 0, 0x10); // only the high half
    put(kvm, l1a, 511, frame(0x123a) | 0x3);
    put(kvm, l1b, 0, frame(0x2000) | 0x7);
    const t = snapshotShadowTables(kvm, 4);
    expect([t.mode, t.kernel, t.afterStep]).toEqual(['ept', 'v3.1', 4]);
    expect(t.pages.map((p) => p.id)).toEqual([root, l3, l2, l1a, l1b]);
    const p = (id: number) => t.pages.find((x) => x.id === id)!;
    const { entries: rootEntries, ...rootPage } = p(root);
    // roleFields: 3.1.10 asm/kvm_host.h:199-208 `level:4; cr4_pae:1; quadrant:2; pad_for_nice_hex_output:6;
    // direct:1; access:3; invalid:1; nxe:1; cr0_wp:1; smep_andnot_wp:1;` (the zero padding left out).
    const f = (name: string, lo: number, width: number, value: number, text = String(value)) => ({ name, lo, width, value, text });
    expect(rootPage).toEqual({
      id: root, gfn: '0x0', level: 4, role: `0x${role(4, 7, D).toString(16)}`, direct: true, invalid: false, rootOf: [0, 1], access: 'wux', context: '',
      roleFields: [f('level', 0, 4, 4), f('cr4_pae', 4, 1, 0), f('quadrant', 5, 2, 0), f('direct', 13, 1, 1), f('access', 14, 3, 7, 'wux'), f('invalid', 17, 1, 0), f('nxe', 18, 1, 0), f('cr0_wp', 19, 1, 0), f('smep_andnot_wp', 20, 1, 0)],
    });
    expect(rootEntries).toEqual([
      { index: 0, value: `0x${(frame(kvm.sp.pfn[l3]!) | 7).toString(16)}`, kind: 'nonleaf', target: `page ${l3}`, flags: 'R W X', gfn: null },
      { index: 1, value: '0x777007', kind: 'nonleaf', target: '0x777', flags: 'R W X', gfn: null },
    ]);
    const { entries: l2Entries, ...l2Page } = p(l2);
    expect(l2Page).toMatchObject({ gfn: '0x300', level: 2, direct: true, invalid: true, rootOf: [], access: '-ux', context: '' });
    expect(l1b).toBe(0);
    expect(l2Entries).toEqual([{ index: 0, value: `0x${(frame(kvm.sp.pfn[l1b]!) | 7).toString(16)}`, kind: 'nonleaf', target: 'page 0', flags: 'R W X', gfn: null }]);
    expect(p(l3).entries).toEqual([{ index: 2, value: `0x${(frame(kvm.sp.pfn[l2]!) | 3).toString(16)}`, kind: 'nonleaf', target: `page ${l2}`, flags: 'R W', gfn: null }]);
    expect(p(l1a).entries).toEqual([
      { index: 0, value: '0x1234277', kind: 'leaf', target: '0x1234', flags: 'R W X mt=WB+IPAT H', gfn: '0x100' },
      { index: 5, value: '0x1235001', kind: 'leaf', target: '0x1235', flags: 'R', gfn: '0x105' },
      { index: 6, value: '0x1236041', kind: 'leaf', target: '0x1236', flags: 'R mt=UC+IPAT', gfn: '0x106' },
      { index: 7, value: '0x1237021', kind: 'leaf', target: '0x1237', flags: 'R mt=4', gfn: '0x107' },
      { index: 8, value: '0x1238035', kind: 'leaf', target: '0x1238', flags: 'R X mt=WB', gfn: '0x108' },
      { index: 9, value: '0x1239004', kind: 'nonpresent', target: '', flags: '', gfn: null },
      // get_mmio_spte_gfn / get_mmio_spte_access: the EPT mask covers W and X, so the access reads 0.
      { index: 10, value: '0x1fe0000febf0006', kind: 'mmio', target: '0xfebf0', flags: '---', gfn: '0xfebf0' },
      { index: 11, value: '0x1000000000', kind: 'nonpresent', target: '', flags: '', gfn: null },
      { index: 511, value: '0x123a003', kind: 'leaf', target: '0x123a', flags: 'R W', gfn: '0x2ff' },
    ]);
    expect(p(l1b).entries.map((e) => [e.index, e.gfn])).toEqual([[0, '0x200']]);
    for (const k of ['leaf', 'nonleaf', 'mmio', 'trap', 'notrap', 'nonpresent'] as const) expect(t.fields[k]).toEqual(spteFields(kvm.fmt, k));
    expect(Object.keys(t.fields)).toEqual(['leaf', 'nonleaf', 'mmio', 'trap', 'notrap', 'nonpresent']);
  });

  it('the entries of one page stop at index 511 (the next frame\'s first entry is not read)', () => {
    const kvm = bareKvm({ kernel: 'v3.1', tdp: true });
    const a = kvm.sp.create(0, 0x10, role(1, 7, ROLE_DIRECT), -1);
    const b = kvm.sp.create(0, 0x20, role(1, 7, ROLE_DIRECT), -1);
    expect(kvm.host.entryWord(kvm.sp.pfn[b]!, 0)).toBe(kvm.host.entryWord(kvm.sp.pfn[a]!, 512)); // adjacent frames
    put(kvm, b, 0, frame(0x99) | 7);
    const t = snapshotShadowTables(kvm, null);
    expect(t.afterStep).toBeNull();
    expect(t.pages.find((x) => x.id === a)!.entries).toEqual([]);
    expect(t.pages.find((x) => x.id === b)!.entries.map((e) => e.index)).toEqual([0]);
  });

  it('shadow 3.1: the role\'s paging context, indirect leaves through sp->gfns, P W U NX A D H, MMIO access bits', () => {
    const kvm = bareKvm({ kernel: 'v3.1', tdp: false });
    const root = kvm.sp.create(0, 0x1000, role(4, 7, ROLE_CR0_WP | ROLE_NXE), -1);
    const l1 = kvm.sp.create(0, 0x2000, role(1, 2, ROLE_SMEP_ANDNOT_WP), -1);
    const l1b = kvm.sp.create(0, 0x1800, role(1, 4), -1);
    put(kvm, root, 3, kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[l1]!)); // link_shadow_page: P | A | W | U
    kvm.sp.gfns[l1]![0] = 0x4242;
    kvm.sp.gfns[l1]![1] = 0x4243;
    // P 0, W 1, U 2, A 5, D 6, host-writable 9; NX is bit 63 (bit 31 of the high half).
    put(kvm, l1, 0, frame(0x555) | 0x267, 0x80000000);
    put(kvm, l1, 1, frame(0x556) | 0x1);
    put(kvm, l1, 2, frame(0x557) | 0x2); // no P: not present
    // mark_mmio_spte: `mask | access | gfn << PAGE_SHIFT`, mask = GENMASK(62, 40) | P (maxphyaddr 40).
    put(kvm, l1, 3, kvm.fmt.mmioLoOf(0xfebf0, 6), kvm.fmt.mmioHiOf(0xfebf0));
    put(kvm, l1, 4, kvm.fmt.mmioLoOf(0xfebf1, 2), kvm.fmt.mmioHiOf(0xfebf1));
    put(kvm, l1, 5, kvm.fmt.mmioLoOf(0xfebf2, 4), kvm.fmt.mmioHiOf(0xfebf2));
    const t = snapshotShadowTables(kvm, -1);
    expect([t.mode, t.kernel, t.afterStep]).toEqual(['shadow', 'v3.1', -1]);
    expect(t.pages.map((x) => x.id)).toEqual([root, l1b, l1]); // level 1: gfn 0x1800 before 0x2000
    const r = t.pages[0]!;
    expect([r.direct, r.invalid, r.access, r.context, r.rootOf]).toEqual([false, false, 'wux', 'cr0_wp nxe', []]);
    expect(r.entries).toEqual([{ index: 3, value: `0x${kvm.fmt.shadowNonLeafLo(kvm.sp.pfn[l1]!).toString(16)}`, kind: 'nonleaf', target: `page ${l1}`, flags: 'P W U A', gfn: null }]);
    const p1 = t.pages[2]!;
    expect([p1.access, p1.context]).toEqual(['w--', '!cr0_wp !nxe smep_andnot_wp']);
    expect([t.pages[1]!.access, t.pages[1]!.context]).toEqual(['-u-', '!cr0_wp !nxe']);
    // role.access = ACC_EXEC_MASK 1 | ACC_WRITE_MASK 2 | ACC_USER_MASK 4, named u w x.
    const names = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => {
      const k = bareKvm({ kernel: 'v3.1', tdp: false });
      k.sp.create(0, 0x10, role(2, a), -1);
      return snapshotShadowTables(k, null).pages[0]!.access;
    });
    expect(names).toEqual(['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux']);
    expect(p1.entries).toEqual([
      { index: 0, value: '0x8000000000555267', kind: 'leaf', target: '0x555', flags: 'P W U NX A D H', gfn: '0x4242' },
      { index: 1, value: '0x556001', kind: 'leaf', target: '0x556', flags: 'P', gfn: '0x4243' },
      { index: 2, value: '0x557002', kind: 'nonpresent', target: '', flags: '', gfn: null },
      { index: 3, value: '0x7fffff00febf0007', kind: 'mmio', target: '0xfebf0', flags: 'wu-', gfn: '0xfebf0' },
      { index: 4, value: '0x7fffff00febf1003', kind: 'mmio', target: '0xfebf1', flags: 'w--', gfn: '0xfebf1' },
      { index: 5, value: '0x7fffff00febf2005', kind: 'mmio', target: '0xfebf2', flags: '-u-', gfn: '0xfebf2' },
    ]);
  });

  it('EPT 3.0: any non-zero entry is present (no trap values under EPT), so an execute-only leaf shows X without R', () => {
    // 3.0.1 is_shadow_present_pte: `return pte != shadow_trap_nonpresent_pte && pte != shadow_notrap_nonpresent_pte;`,
    // both 0 with EPT (hardware_setup: `bypass_guest_pf = 0` under enable_ept). EPT bit 0 is R, bit 2 X.
    const kvm = bareKvm({ kernel: 'v3.0', tdp: true });
    const l1 = kvm.sp.create(0, 0x40, role(1, 7, ROLE_DIRECT), -1);
    put(kvm, l1, 3, frame(0x321) | 0x4);
    put(kvm, l1, 4, frame(0x322) | 0x2);
    const t = snapshotShadowTables(kvm, null);
    expect([t.mode, t.kernel]).toEqual(['ept', 'v3.0']);
    expect(t.pages[0]!.entries).toEqual([
      { index: 3, value: '0x321004', kind: 'leaf', target: '0x321', flags: 'X', gfn: '0x43' },
      { index: 4, value: '0x322002', kind: 'leaf', target: '0x322', flags: 'W', gfn: '0x44' },
    ]);
  });

  it('shadow 3.0 with bypass_guest_pf: the trap value (~0xffe) decodes as trap; no MMIO kind in 3.0', () => {
    const kvm = bareKvm({ kernel: 'v3.0', tdp: false, bypass: true });
    const l1 = kvm.sp.create(0, 0x10, role(1, 7), -1);
    put(kvm, l1, 0, 0xfffff001, 0xffffffff);
    // 3.0.1 is_shadow_present_pte: `pte != shadow_trap_nonpresent_pte && pte != shadow_notrap_nonpresent_pte`:
    // the 3.1 MMIO pattern is a present SPTE here.
    put(kvm, l1, 1, kvm.fmt.mmioLoOf(0xfebf0, 6) | 0x7 | frame(0xfebf0), 0x7fffff00);
    kvm.sp.gfns[l1]![1] = 0x77;
    const t = snapshotShadowTables(kvm, 0);
    expect(t.pages[0]!.entries.slice(0, 2)).toEqual([
      { index: 0, value: '0xfffffffffffff001', kind: 'trap', target: '', flags: '', gfn: null },
      // spte_to_pfn: `(pte & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT`, PT64_BASE_ADDR_MASK = bits 12-51.
      { index: 1, value: '0x7fffff00febf0007', kind: 'leaf', target: '0xfff00febf0', flags: 'P W U', gfn: '0x77' },
    ]);
    // The rest are 0: with bypass_guest_pf that is shadow_notrap_nonpresent_pte (vmx.c:4681
    // `kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);`), listed as notrap.
    const rest = t.pages[0]!.entries.slice(2);
    expect(rest.map((e) => e.index)).toEqual([...Array(510).keys()].map((i) => i + 2));
    expect(new Set(rest.map((e) => JSON.stringify([e.kind, e.value, e.target, e.flags, e.gfn])))).toEqual(new Set([JSON.stringify(['notrap', '0x0', '', '', null])]));
    expect(t.fields.trap).toEqual(spteFields(kvm.fmt, 'trap'));
    expect(t.fields.notrap).toEqual([{ name: 'notrap: 0', hi: 63, lo: 1 }, { name: 'P', hi: 0, lo: 0 }]);
    // Without bypass_guest_pf (trap = notrap = 0, x86.c:4910) a 0 entry is empty and not listed.
    const plain = bareKvm({ kernel: 'v3.0', tdp: false, bypass: false });
    const p0 = plain.sp.create(0, 0x10, role(1, 7), -1);
    put(plain, p0, 3, 0x1001);
    plain.sp.gfns[p0]![3] = 0x5;
    expect(snapshotShadowTables(plain, 0).pages[0]!.entries.map((e) => [e.index, e.kind])).toEqual([[3, 'leaf']]);
  });
});
