// kvm_mmu_pte_write (arch/x86/kvm/mmu.c: 3.0.1:3222, 3.1.10:3529) driven directly, with every expected
// value worked out from the kernel sources (/work/ksrc/v3.0.1, /work/ksrc/v3.1), not from the
// simulator's output. Written to kill the mutants of simulator/kvm/mmu/pte_write.ts that the older
// tests let live (docs/mutation.md).
//
// The fixture: a 4-level guest (CR0.WP, EFER.NX) with 4K pages at 0x8000000000 -> gpa 0x2000000 whose
// PTEs are "p w u a d" (0x67), shadowed with oos_shadow = 0 (so its tables stay write-protected).
// Reading 0x8000000000 and 0x8000001000 makes KVM shadow the four guest tables (one indirect shadow
// page each) and map SPTEs 0 and 1 of the last-level page. Then the tests call kvmMmuPteWrite as
// emulator_write_phys does (`kvm_mmu_pte_write(vcpu, gpa, val, bytes, 1)`, after writing guest RAM)
// or as FNAME(invlpg) does (`kvm_mmu_pte_write(vcpu, pte_gpa, NULL, sizeof(pt_element_t), 0)`).
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';
import { kvmMmuPteWrite } from '../simulator/kvm/mmu/pte_write';
import { S } from '../simulator/trace/stats';
import { C } from '../simulator/cost/accounting';
import { EFER_NX, X86_CR0_WP } from '../simulator/kvm/vcpu';
import { TRAP_HI, TRAP_LO } from '../simulator/kvm/mmu/spte';

type Kernel = 'v3.0' | 'v3.1';

const YAML = (kernel: Kernel, mmu = 'tdp: false, oos_shadow: false') => `kernel: ${kernel}
mmu: { ${mmu} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d" }
    - { gva: 0x8000000000, gpa: 0x2000000, size: 16K, page: 4K, flags: "p w u a d", pde: "p w u a", pdpte: "p w u a", pml4e: "p w u a" }
workload:
  - { read: 0x8000000000, size: 4 }
  - { read: 0x8000001000, size: 4 }
`;

// Guest PTE bits (arch/x86/include/asm/pgtable_types.h): P 0x1, W 0x2, U 0x4, A 0x20, D 0x40; NX is
// bit 63, i.e. bit 31 of the high word.
const P = 0x1;
const W = 0x2;
const U = 0x4;
const A = 0x20;
const D = 0x40;
const NX_HI = 0x80000000;
/** SPTE_HOST_WRITEABLE (mmu.c: `#define SPTE_HOST_WRITEABLE (1ULL << PT_FIRST_AVAIL_BITS_SHIFT)`, 9). */
const HOST_W = 0x200;
/** The frame the fixture's first two leaf gPTEs map (gpa 0x2000000, 0x2001000). */
const DATA = 0x2000;

function setup(kernel: Kernel = 'v3.1', mmuYaml?: string) {
  const m = machine(YAML(kernel, mmuYaml));
  m.run();
  const kvm = m.kvm;
  const vcpu = kvm.vcpus[0]!;
  const mmu = m.shadow;
  const page = (level: number) => [...kvm.sp.active].find((id) => kvm.sp.level(id) === level && !kvm.sp.isDirect(id))!;
  const pt = page(1);
  const pd = page(2);
  const root = page(4);
  const ptGfn = kvm.sp.gfn[pt]!;
  const word = (i: number, id = pt) => kvm.host.entryWord(kvm.sp.pfn[id]!, i);
  const spte = (i: number, id = pt) => [kvm.host.words[word(i, id)]!, kvm.host.words[word(i, id) + 1]!];
  /** The host pfn behind a guest frame (0 if never faulted in). */
  const pfn = (gfn: number) => kvm.memslots.find(gfn)!.pfnOf(gfn);
  /** Guest RAM: the 8-byte entry `i` of guest frame `gfn`. */
  const gpte = (gfn: number, i: number, lo: number, hi = 0) => m.guest.ram.write64(gfn * 4096 + i * 8, lo, hi);
  const write = (gpa: number, bytes: number, guest = true) => kvmMmuPteWrite(kvm, mmu, vcpu, gpa, bytes, guest);
  /** FNAME(invlpg)'s re-read of the gPTE at index i of the last-level table. */
  const invlpg = (i: number, gfn = ptGfn) => write(gfn * 4096 + i * 8, 8, false);
  const stat = (name: keyof typeof S) => kvm.stats[S[name]]!;
  const remoteFlushes = () => kvm.trace.records().filter((e) => e.name === 'kvm_flush_remote_tlbs').length;
  kvm.resetCounters();
  return { m, kvm, vcpu, mmu, pt, pd, root, ptGfn, word, spte, pfn, gpte, write, invlpg, stat, remoteFlushes };
}

/** The leaf SPTE set_spte builds for FNAME(update_pte) (speculative: no A) from a gPTE with P, A, D
 *  and `bits` of W/U: `spte = PT_PRESENT_MASK; if (!speculative) spte |= shadow_accessed_mask;` ...
 *  `if (pte_access & ACC_USER_MASK) spte |= shadow_user_mask;` `if (host_writable) spte |=
 *  SPTE_HOST_WRITEABLE;` `spte |= (u64)pfn << PAGE_SHIFT;` W when ACC_WRITE_MASK and no write protection. */
const specSpte = (pfn: number, bits: number) => (pfn * 4096 + P + HOST_W + bits) >>> 0;

describe('the fixture (FNAME(fetch) on a read fault, set_spte with speculative = 0)', () => {
  it('maps SPTE 0 to the data frame with P, W, U, A and host-writable, and SPTE 1 to the next frame', () => {
    const f = setup();
    // set_spte: `if (!speculative) spte |= shadow_accessed_mask;` and W because the gPTE is dirty.
    expect(f.spte(0)).toEqual([(f.pfn(DATA) * 4096 + P + W + U + A + HOST_W) >>> 0, 0]);
    expect(f.spte(1)).toEqual([(f.pfn(DATA + 1) * 4096 + P + W + U + A + HOST_W) >>> 0, 0]);
    expect(f.spte(2)).toEqual([0, 0]);
    expect(f.kvm.sp.indirectCount).toBe(4);
  });
});

describe('3.1: "If we don\'t have indirect shadow pages ... we can exit simply"', () => {
  it('v3.1 with EPT (no indirect shadow page): nothing counted, mmu_lock not taken', () => {
    // 3.1.10 kvm_mmu_pte_write: `if (!ACCESS_ONCE(vcpu->kvm->arch.indirect_shadow_pages)) return;`
    // before `spin_lock(&vcpu->kvm->mmu_lock);` and `++vcpu->kvm->stat.mmu_pte_write;`.
    const m = machine(YAML('v3.1', 'tdp: true'));
    m.run();
    const kvm = m.kvm;
    const vcpu = kvm.vcpus[0]!;
    kvm.resetCounters();
    expect(kvm.sp.indirectCount).toBe(0);
    kvmMmuPteWrite(kvm, m.shadow, vcpu, 0x2000000, 8, true);
    expect(kvm.stats[S.mmu_pte_write]).toBe(0);
    expect(kvm.acct.byComponent[C.mmu_lock]).toBe(0);
    expect(vcpu.lastPtWriteGfn).toBe(-1); // the fork detector is after the return
  });

  it('v3.0 with EPT has no such test: every emulated RAM write takes mmu_lock and counts, and flushes nothing', () => {
    // 3.0.1 kvm_mmu_pte_write goes straight to `spin_lock(&vcpu->kvm->mmu_lock);`,
    // `++vcpu->kvm->stat.mmu_pte_write;` and the guest_initiated block (last_pt_write_gfn = gfn,
    // last_pt_write_count = 1); for_each_gfn_indirect_valid_sp finds nothing, so local_flush stays
    // false and mmu_pte_write_flush_tlb does nothing.
    const m = machine(YAML('v3.0', 'tdp: true'));
    m.run();
    const kvm = m.kvm;
    const vcpu = kvm.vcpus[0]!;
    kvm.resetCounters();
    m.guest.ram.write64(0x2000000, 0x2000067, 0);
    kvmMmuPteWrite(kvm, m.shadow, vcpu, 0x2000000, 8, true);
    expect(kvm.stats[S.mmu_pte_write]).toBe(1);
    expect(kvm.acct.byComponent[C.mmu_lock]).toBe(kvm.cost.mmu_lock);
    expect([vcpu.lastPtWriteGfn, vcpu.lastPtWriteCount]).toEqual([0x2000, 1]);
    expect(kvm.stats[S.tlb_flush]).toBe(0);
    expect(kvm.stats[S.sptes_written]).toBe(0);
    expect(kvm.stats[S.mmu_pte_updated]).toBe(0);
    expect(kvm.trace.records().filter((e) => e.name === 'kvm_flush_remote_tlbs')).toHaveLength(0);
  });

  it('v3.1 with shadow pages: the write is handled', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 5, 0);
    f.write(f.ptGfn * 4096 + 5 * 8, 8);
    expect(f.stat('mmu_pte_write')).toBe(1);
    expect(f.kvm.acct.byComponent[C.mmu_lock]).toBe(f.kvm.cost.mmu_lock);
  });

  it('a write to a frame no shadow page shadows: no flush (local_flush stays false)', () => {
    // `local_flush = true;` is set only inside for_each_gfn_indirect_valid_sp.
    const f = setup('v3.1');
    f.gpte(DATA, 0, 0x1234567, 0);
    f.write(DATA * 4096, 8);
    expect(f.stat('mmu_pte_write')).toBe(1);
    expect(f.stat('tlb_flush')).toBe(0);
    expect(f.remoteFlushes()).toBe(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
  });
});

describe('gentry: the written value, the re-read gPTE, or 0', () => {
  it('an 8-byte write brings its value (`gentry = *(const u64 *)new;`): no guest read, no memslot lookup', () => {
    const f = setup('v3.1');
    // Entry 5 is not present in the guest table nor in the shadow page; writing 0 there changes
    // nothing, so the only memslot search a re-read would add is kvm_read_guest's gfn_to_memslot.
    f.gpte(f.ptGfn, 5, 0);
    let before = f.stat('memslot_lookups');
    f.write(f.ptGfn * 4096 + 5 * 8, 8);
    expect(f.stat('memslot_lookups') - before).toBe(0);
    // `if ((is_pae(vcpu) && bytes == 4) || !new)` ... `r = kvm_read_guest(vcpu->kvm, gpa, &gentry,
    // min(bytes, 8));`: kvm_read_guest_page -> gfn_to_hva -> gfn_to_memslot, one search.
    before = f.stat('memslot_lookups');
    f.write(f.ptGfn * 4096 + 5 * 8, 4);
    expect(f.stat('memslot_lookups') - before).toBe(1);
    before = f.stat('memslot_lookups');
    f.invlpg(5);
    expect(f.stat('memslot_lookups') - before).toBe(1);
    // None of them was zero-sized work: three writes, no SPTE store (mmu_page_zap_pte stores
    // nothing for an entry that is neither present nor MMIO).
    expect(f.stat('mmu_pte_write')).toBe(3);
    expect(f.stat('sptes_written')).toBe(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
  });

  it('an 8-byte write at entry 2 (gpa offset 0x10): only SPTE 2 is zapped and remapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.write(f.ptGfn * 4096 + 0x10, 8);
    // mmu_pte_write_new_pte: `++vcpu->kvm->stat.mmu_pte_updated; vcpu->arch.mmu.update_pte(...)`.
    expect(f.stat('mmu_pte_updated')).toBe(1);
    expect(f.stat('mmu_pde_zapped')).toBe(0);
    expect(f.spte(2)).toEqual([specSpte(f.pfn(DATA), W + U), 0]);
    expect(f.spte(0)).toEqual([(f.pfn(DATA) * 4096 + P + W + U + A + HOST_W) >>> 0, 0]);
    expect(f.spte(1)).toEqual([(f.pfn(DATA + 1) * 4096 + P + W + U + A + HOST_W) >>> 0, 0]);
    expect(f.spte(16)).toEqual([0, 0]);
    // The old SPTE 2 was not present: need_remote_flush `if (!is_shadow_present_pte(old)) return
    // false;`, so mmu_pte_write_flush_tlb takes `else if (local_flush) kvm_mmu_flush_tlb(vcpu);`.
    expect(f.stat('tlb_flush')).toBe(1);
    expect(f.remoteFlushes()).toBe(0);
    // mmu_set_spte: `if (speculative) { vcpu->arch.last_pte_updated = sptep; vcpu->arch.last_pte_gfn = gfn; }`
    expect([f.vcpu.lastPteUpdated, f.vcpu.lastPteGfn]).toEqual([f.word(2), DATA]);
  });

  it('a 4-byte write of the low half re-reads the whole aligned gPTE (bytes = 8), high half included', () => {
    const f = setup('v3.1');
    // The high half (NX) is already in the table; the guest writes the low half.
    f.gpte(f.ptGfn, 2, 0, NX_HI);
    f.m.guest.ram.write(f.ptGfn * 4096 + 0x10, 4, DATA * 4096 + P + W + U + A + D, 0);
    f.write(f.ptGfn * 4096 + 0x10, 4);
    // `gpa &= ~(gpa_t)7; bytes = 8;` then `kvm_read_guest(..., &gentry, min(bytes, 8))`: the SPTE
    // gets NX from the high half (set_spte: `else spte |= shadow_nx_mask;` without ACC_EXEC_MASK).
    expect(f.stat('mmu_pte_updated')).toBe(1);
    expect(f.spte(2)).toEqual([specSpte(f.pfn(DATA), W + U), NX_HI]);
    expect(f.stat('mmu_flooded')).toBe(0);
  });

  it('FNAME(invlpg)\'s NULL write re-reads the gPTE too, and does not feed the fork detector', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 3, DATA * 4096 + P + U + A + D);
    f.invlpg(3);
    expect(f.stat('mmu_pte_updated')).toBe(1);
    expect(f.spte(3)).toEqual([specSpte(f.pfn(DATA), U), 0]); // not dirty-W: gPTE W clear
    // `if (guest_initiated) { kvm_mmu_access_page(vcpu, gfn); ... }` is skipped.
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount]).toEqual([-1, 0]);
  });

  it('a gPTE with only the high half set is still a gentry (`if (gentry && ...)` tests all 64 bits)', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, 0, NX_HI);
    f.invlpg(0);
    // mmu_pte_write_new_pte runs (++mmu_pte_updated); FNAME(update_pte) -> prefetch_invalid_gpte
    // drops the SPTE (the gPTE is not present).
    expect(f.stat('mmu_pte_updated')).toBe(1);
    expect(f.spte(0)).toEqual([0, 0]);
    // The old SPTE was present, the new one is not: `if (!is_shadow_present_pte(new)) return true;`
    expect(f.remoteFlushes()).toBe(1);
    expect(f.stat('tlb_flush')).toBe(0);
  });

  it('a zero gPTE is no gentry: the SPTE is zapped and nothing is remapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, 0, 0);
    f.invlpg(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    expect(f.stat('mmu_pde_zapped')).toBe(0);
    expect(f.spte(0)).toEqual([0, 0]);
    expect(f.remoteFlushes()).toBe(1);
  });

  it('a 6-byte write (aligned, not 4 or 8): `default: gentry = 0;` although RAM holds a present gPTE', () => {
    const f = setup('v3.1');
    // RAM still holds the fixture's gPTE 0x2000067 at entry 0. misaligned = (0 ^ 5) & ~7 = 0, and
    // bytes >= 4: not misaligned, so the SPTE is zapped and, gentry being 0, not remapped.
    f.write(f.ptGfn * 4096, 6);
    expect(f.stat('mmu_flooded')).toBe(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    expect(f.spte(0)).toEqual([0, 0]);
    expect(f.remoteFlushes()).toBe(1);
  });

  it('a re-read that fails gives gentry 0 (`if (r) gentry = 0;`): the memslot is being deleted', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    // A slot flagged KVM_MEMSLOT_INVALID: gfn_to_hva_many `if (!slot || slot->flags &
    // KVM_MEMSLOT_INVALID) return bad_hva();`, so kvm_read_guest returns -EFAULT.
    f.kvm.memslots.slots[0]!.invalid = true;
    const before = f.stat('memslot_lookups');
    f.invlpg(2);
    expect(f.stat('memslot_lookups') - before).toBe(1);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    expect(f.spte(2)).toEqual([0, 0]);
    expect(f.stat('tlb_flush')).toBe(1);
  });
});

describe('misaligned writes: `misaligned = (offset ^ (offset + bytes - 1)) & ~(pte_size - 1); misaligned |= bytes < 4;`', () => {
  const zapped = (f: ReturnType<typeof setup>) => {
    // `zap_page |= !!kvm_mmu_prepare_zap_page(vcpu->kvm, sp, &invalid_list); ++vcpu->kvm->stat.mmu_flooded;`
    expect(f.stat('mmu_flooded')).toBe(1);
    expect(f.stat('mmu_shadow_zapped')).toBe(1);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    // mmu_pte_write_flush_tlb: `if (zap_page) return;`; kvm_mmu_commit_zap_page flushes once for
    // the freed page (`kvm_flush_remote_tlbs(kvm);` when the invalid list is not empty).
    expect(f.stat('tlb_flush')).toBe(0);
    expect(f.remoteFlushes()).toBe(1);
    expect(f.kvm.sp.active.has(f.pt)).toBe(false);
    expect(f.kvm.sp.indirectOf(f.ptGfn)).toEqual([]);
    expect(f.kvm.sp.indirectCount).toBe(3);
  };

  it('8 bytes at offset 4: (4 ^ 11) & ~7 = 8, the whole page is zapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D);
    f.write(f.ptGfn * 4096 + 4, 8);
    zapped(f);
  });

  it('4 bytes at offset 4 (the high half): bytes becomes 8 but offset is taken before `gpa &= ~7`, so misaligned', () => {
    const f = setup('v3.1');
    f.write(f.ptGfn * 4096 + 4, 4);
    zapped(f);
  });

  it('2 bytes at offset 0 and 1 byte at offset 7: inside one entry, but bytes < 4', () => {
    let f = setup('v3.1');
    f.write(f.ptGfn * 4096, 2);
    zapped(f);
    f = setup('v3.1');
    f.write(f.ptGfn * 4096 + 7, 1);
    zapped(f);
    f = setup('v3.1');
    f.write(f.ptGfn * 4096 + 0x10, 3);
    zapped(f);
  });

  it('aligned 4- and 8-byte writes are not misaligned: (16 ^ 23) & ~7 = 0', () => {
    for (const bytes of [4, 8]) {
      const f = setup('v3.1');
      f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
      f.write(f.ptGfn * 4096 + 0x10, bytes);
      expect(f.stat('mmu_flooded')).toBe(0);
      expect(f.stat('mmu_shadow_zapped')).toBe(0);
      expect(f.stat('mmu_pte_updated')).toBe(1);
      expect(f.kvm.sp.active.has(f.pt)).toBe(true);
    }
  });

  it('a misaligned write to the root\'s table: the root stays (root_count), no flush at all', () => {
    const f = setup('v3.1');
    const rootGfn = f.kvm.sp.gfn[f.root]!;
    f.write(rootGfn * 4096 + 4, 8);
    // kvm_mmu_prepare_zap_page: `if (!sp->root_count) { ret++; list_move(..., invalid_list); ... }
    // else { list_move(&sp->link, &kvm->arch.active_mmu_pages); kvm_reload_remote_mmus(kvm); }`:
    // it returns 0, zap_page stays false, local_flush and remote_flush were never set, and the
    // invalid list is empty: neither kvm_mmu_flush_tlb nor kvm_flush_remote_tlbs.
    expect(f.stat('mmu_flooded')).toBe(1);
    expect(f.stat('mmu_shadow_zapped')).toBe(1);
    expect(f.stat('tlb_flush')).toBe(0);
    expect(f.remoteFlushes()).toBe(0);
    expect(f.kvm.sp.isInvalid(f.root)).toBe(true);
    expect(f.kvm.sp.active.has(f.root)).toBe(true);
    expect(f.vcpu.reloadRequested).toBe(true);
  });
});

describe('the fork detector (guest_initiated)', () => {
  const gpa5 = (f: ReturnType<typeof setup>, gfn = f.ptGfn) => gfn * 4096 + 5 * 8;

  it('three writes in a row to one table, nothing used in between: the third floods it', () => {
    const f = setup('v3.1');
    // Entry 5 stays 0: gentry 0, so no speculative SPTE (last_pte_updated stays NULL).
    f.write(gpa5(f), 8);
    // `vcpu->arch.last_pt_write_gfn = gfn; vcpu->arch.last_pt_write_count = 1;`
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount, f.stat('mmu_flooded')]).toEqual([f.ptGfn, 1, 0]);
    f.write(gpa5(f), 8);
    // `++vcpu->arch.last_pt_write_count;`
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount, f.stat('mmu_flooded')]).toEqual([f.ptGfn, 2, 0]);
    expect(f.stat('tlb_flush')).toBe(2); // local_flush each time
    f.write(gpa5(f), 8);
    // `if (vcpu->arch.last_pt_write_count >= 3) flooded = 1;` -> kvm_mmu_prepare_zap_page.
    expect([f.vcpu.lastPtWriteCount, f.stat('mmu_flooded'), f.stat('mmu_shadow_zapped')]).toEqual([3, 1, 1]);
    expect(f.kvm.sp.active.has(f.pt)).toBe(false);
    expect(f.stat('tlb_flush')).toBe(2);
    expect(f.stat('mmu_pte_write')).toBe(3);
  });

  it('a write to another table starts the count again; NULL writes do not count', () => {
    const f = setup('v3.1');
    const pdGfn = f.kvm.sp.gfn[f.pd]!;
    f.write(gpa5(f), 8);
    f.write(gpa5(f), 8);
    f.invlpg(5); // guest_initiated = 0: the detector is left alone
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount]).toEqual([f.ptGfn, 2]);
    f.write(gpa5(f, pdGfn), 8);
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount]).toEqual([pdGfn, 1]);
    f.write(gpa5(f), 8);
    f.write(gpa5(f), 8);
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount]).toEqual([f.ptGfn, 2]);
    expect(f.stat('mmu_flooded')).toBe(0);
    f.invlpg(5);
    expect(f.stat('mmu_flooded')).toBe(0);
    f.write(gpa5(f), 8);
    expect(f.stat('mmu_flooded')).toBe(1);
  });

  it('a new table forgets the last speculative SPTE (`vcpu->arch.last_pte_updated = NULL;`)', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.invlpg(2);
    expect(f.vcpu.lastPteUpdated).toBe(f.word(2));
    f.write(gpa5(f), 8);
    expect(f.vcpu.lastPteUpdated).toBe(-1);
  });

  it('the last speculative SPTE was used (A set by the processor): the count starts again', () => {
    const f = setup('v3.1');
    f.write(gpa5(f), 8); // count 1
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.invlpg(2); // last_pte_updated = SPTE 2, last_pte_gfn = DATA
    const w2 = f.word(2);
    expect(f.kvm.host.words[w2]! & A).toBe(0);
    f.kvm.host.words[w2] = (f.kvm.host.words[w2]! | A) >>> 0; // the guest touched the page
    f.write(gpa5(f), 8);
    // last_updated_pte_accessed: `return !!(spte && (*spte & shadow_accessed_mask));` -> the else
    // branch: gfn stays, count 1, last_pte_updated = NULL.
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([f.ptGfn, 1, -1]);
  });

  it('the last speculative SPTE was not used: the count goes on and the SPTE is kept', () => {
    const f = setup('v3.1');
    f.write(gpa5(f), 8);
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.invlpg(2);
    const w2 = f.word(2);
    f.write(gpa5(f), 8);
    // kvm_mmu_access_page: `vcpu->arch.last_pte_gfn == gfn` fails (DATA is not the table), so A
    // stays clear, and last_updated_pte_accessed is false.
    expect(f.kvm.host.words[w2]! & A).toBe(0);
    expect([f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([2, w2]);
    f.write(gpa5(f), 8);
    expect(f.stat('mmu_flooded')).toBe(1);
  });

  it('kvm_mmu_access_page: a write to the frame the last speculative SPTE maps sets its A bit', () => {
    const f = setup('v3.1');
    f.write(gpa5(f), 8); // count 1
    // Entry 2 now maps the table itself: FNAME(update_pte) maps it read-only (mmu_need_write_protect:
    // the gfn is shadowed and oos_shadow is 0), without A (speculative).
    f.gpte(f.ptGfn, 2, f.ptGfn * 4096 + P + W + U + A + D);
    f.invlpg(2);
    const w2 = f.word(2);
    expect(f.spte(2)).toEqual([specSpte(f.pfn(f.ptGfn), U), 0]);
    expect([f.vcpu.lastPteUpdated, f.vcpu.lastPteGfn]).toEqual([w2, f.ptGfn]);
    f.write(gpa5(f), 8);
    // `if (spte && vcpu->arch.last_pte_gfn == gfn && shadow_accessed_mask && !(*spte &
    // shadow_accessed_mask) && is_shadow_present_pte(*spte)) set_bit(PT_ACCESSED_SHIFT, ...);`,
    // then last_updated_pte_accessed is true: count 1 again.
    expect(f.spte(2)).toEqual([specSpte(f.pfn(f.ptGfn), U + A), 0]);
    expect([f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([1, -1]);
    f.write(gpa5(f), 8);
    f.write(gpa5(f), 8);
    expect([f.vcpu.lastPtWriteCount, f.stat('mmu_flooded')]).toEqual([3, 1]);
  });

  it('kvm_mmu_access_page leaves a non-present SPTE alone (v3.1: a zapped SPTE is 0)', () => {
    const f = setup('v3.1');
    f.write(gpa5(f), 8); // count 1
    f.gpte(f.ptGfn, 2, f.ptGfn * 4096 + P + W + U + A + D);
    f.invlpg(2); // last_pte_updated = SPTE 2, last_pte_gfn = the table
    f.gpte(f.ptGfn, 2, 0);
    f.invlpg(2); // mmu_page_zap_pte -> drop_spte: 0; nothing resets last_pte_updated
    const w2 = f.word(2);
    expect(f.vcpu.lastPteUpdated).toBe(w2);
    f.write(gpa5(f), 8);
    // `&& is_shadow_present_pte(*spte)` fails: no A; `*spte & shadow_accessed_mask` is 0: count 2.
    expect(f.spte(2)).toEqual([0, 0]);
    expect([f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([2, w2]);
  });

  it('kvm_mmu_access_page leaves an MMIO SPTE alone (v3.1: P is set, but is_shadow_present_pte says no)', () => {
    const f = setup('v3.1');
    // Entry 4 now maps gfn 0xfebf0, which has no memslot: FNAME(update_pte) -> mmu_set_spte ->
    // set_spte -> set_mmio_spte (`mark_mmio_spte(sptep, gfn, access)`), and `if (speculative)`
    // records it as last_pte_updated with last_pte_gfn = 0xfebf0.
    f.gpte(f.ptGfn, 4, 0xfebf0000 + P + W + U + A + D);
    f.invlpg(4);
    const w4 = f.word(4);
    const mmio = f.spte(4);
    expect(f.kvm.fmt.isMmioSpte(mmio[0]!, mmio[1]!)).toBe(true);
    expect([mmio[0]! & (P | A), f.vcpu.lastPteUpdated, f.vcpu.lastPteGfn]).toEqual([P, w4, 0xfebf0]);
    // kvm_mmu_pte_write itself does not ask whether gpa is RAM: a write to gfn 0xfebf0 reaches
    // kvm_mmu_access_page with last_pte_gfn == gfn and A clear, but is_shadow_present_pte(*spte)
    // is `(pte & PT_PRESENT_MASK) && !is_mmio_spte(pte)` (3.1 mmu.c), false here: no set_bit.
    f.write(0xfebf0000, 8);
    expect(f.spte(4)).toEqual(mmio);
    expect([f.vcpu.lastPtWriteGfn, f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([0xfebf0, 1, -1]);
  });

  it('v3.0 with bypass_guest_pf: a zapped last SPTE holds the trap value, which is not present and has A clear', () => {
    // 3.0.1: mmu_pte_write_zap_pte ends `__set_spte(spte, shadow_trap_nonpresent_pte);`, and the trap
    // value is ~0xffeull (vmx.c `kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);`): bits 11:1 clear,
    // so bit 5 (PT_ACCESSED_MASK) is clear. kvm_mmu_access_page: `!(*spte & shadow_accessed_mask)`
    // holds but `is_shadow_present_pte(*spte)` (`pte != shadow_trap_nonpresent_pte && ...`) fails.
    const f = setup('v3.0');
    f.write(gpa5(f), 8); // count 1
    f.gpte(f.ptGfn, 2, f.ptGfn * 4096 + P + W + U + A + D);
    f.invlpg(2);
    f.gpte(f.ptGfn, 2, 0);
    f.invlpg(2);
    const w2 = f.word(2);
    expect([TRAP_LO & A, TRAP_LO, TRAP_HI]).toEqual([0, 0xfffff001, 0xffffffff]);
    expect(f.spte(2)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.vcpu.lastPteUpdated).toBe(w2);
    f.write(gpa5(f), 8);
    expect(f.spte(2)).toEqual([TRAP_LO, TRAP_HI]);
    expect([f.vcpu.lastPtWriteCount, f.vcpu.lastPteUpdated]).toEqual([2, w2]);
  });
});

describe('mmu_pte_write_new_pte only for a page of the vCPU\'s mode: `!((sp->role.word ^ base_role.word) & mask.word)`', () => {
  it('same cr0_wp, cr4_pae and nxe: remapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.invlpg(2);
    expect(f.stat('mmu_pte_updated')).toBe(1);
    expect(f.spte(2)[0]).toBe(specSpte(f.pfn(DATA), W + U));
  });

  it('EFER.NX now clear (base_role.nxe 0, the page was made with nxe 1): zapped, not remapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D);
    f.vcpu.efer &= ~EFER_NX;
    f.invlpg(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    expect(f.spte(0)).toEqual([0, 0]);
    expect(f.remoteFlushes()).toBe(1);
  });

  it('CR0.WP now clear (base_role.cr0_wp 0): zapped, not remapped', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D);
    f.vcpu.cr0 &= ~X86_CR0_WP;
    f.invlpg(0);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    expect(f.spte(0)).toEqual([0, 0]);
  });

  it('an upper-level page: `if (sp->role.level != PT_PAGE_TABLE_LEVEL) { ++mmu_pde_zapped; return; }`', () => {
    const f = setup('v3.1');
    const pdGfn = f.kvm.sp.gfn[f.pd]!;
    // The PDE at index 0 (gva 0x8000000000) is present in RAM: the re-read gentry is not 0.
    f.invlpg(0, pdGfn);
    expect(f.stat('mmu_pde_zapped')).toBe(1);
    expect(f.stat('mmu_pte_updated')).toBe(0);
    // mmu_page_zap_pte on a non-leaf: drop_parent_pte clears it; old present, new not: remote flush.
    expect(f.spte(0, f.pd)).toEqual([0, 0]);
    expect(f.remoteFlushes()).toBe(1);
    expect(f.stat('tlb_flush')).toBe(0);
  });
});

describe('3.0.1 mmu_pte_write_zap_pte: `__set_spte(spte, shadow_trap_nonpresent_pte);` whatever the entry held', () => {
  it('v3.0, bypass_guest_pf: a notrap (0) entry becomes the trap value', () => {
    const f = setup('v3.0');
    // 3.0.1 FNAME(prefetch_page), when the page was made: `if (r || is_present_gpte(pt[j]))
    // sp->spt[i+j] = shadow_trap_nonpresent_pte; else sp->spt[i+j] = shadow_notrap_nonpresent_pte;`
    expect(f.spte(5)).toEqual([0, 0]);
    f.write(f.ptGfn * 4096 + 5 * 8, 8);
    expect(f.spte(5)).toEqual([TRAP_LO, TRAP_HI]);
    expect(f.stat('sptes_written')).toBe(1);
  });

  it('v3.0 without bypass_guest_pf: the trap value is 0', () => {
    // 3.0.1 x86.c kvm_arch_init: `kvm_mmu_set_nonpresent_ptes(0ull, 0ull);`; only vmx.c's
    // `if (bypass_guest_pf) kvm_mmu_set_nonpresent_ptes(~0xffeull, 0ull);` changes it.
    const f = setup('v3.0', 'tdp: false, oos_shadow: false, bypass_guest_pf: false');
    f.write(f.ptGfn * 4096 + 5 * 8, 8);
    expect(f.spte(5)).toEqual([0, 0]);
    f.gpte(f.ptGfn, 0, 0);
    f.invlpg(0);
    expect(f.spte(0)).toEqual([0, 0]);
  });

  it('v3.1 mmu_page_zap_pte stores nothing into an entry that is neither present nor MMIO', () => {
    const f = setup('v3.1');
    f.write(f.ptGfn * 4096 + 5 * 8, 8);
    expect(f.spte(5)).toEqual([0, 0]);
    expect(f.stat('sptes_written')).toBe(0);
  });
});

describe('need_remote_flush(entry, *spte), then mmu_pte_write_flush_tlb', () => {
  // Old SPTE 0: the data frame, P W U A, no NX. Each test re-reads a new gPTE for entry 0.
  const rewrite = (lo: number, hi = 0, kernel: Kernel = 'v3.1') => {
    const f = setup(kernel);
    f.gpte(f.ptGfn, 0, lo, hi);
    f.invlpg(0);
    return f;
  };
  const local = (f: ReturnType<typeof setup>) => {
    // `else if (local_flush) kvm_mmu_flush_tlb(vcpu);`
    expect(f.stat('tlb_flush')).toBe(1);
    expect(f.remoteFlushes()).toBe(0);
  };
  const remote = (f: ReturnType<typeof setup>) => {
    // `if (remote_flush) kvm_flush_remote_tlbs(vcpu->kvm);`
    expect(f.stat('tlb_flush')).toBe(0);
    expect(f.remoteFlushes()).toBe(1);
  };

  it('same frame and permissions (A alone differs): `return (old & ~new & PT64_PERM_MASK) != 0;` is false', () => {
    for (const kernel of ['v3.0', 'v3.1'] as const) {
      const f = rewrite(DATA * 4096 + P + W + U + A + D, 0, kernel);
      expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), W + U), 0]);
      local(f);
    }
  });

  it('W lost (the new gPTE has no W)', () => {
    const f = rewrite(DATA * 4096 + P + U + A + D);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), U), 0]);
    remote(f);
  });

  it('U lost', () => {
    const f = rewrite(DATA * 4096 + P + W + A + D);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), W), 0]);
    remote(f);
  });

  it('NX gained: `old ^= PT64_NX_MASK; new ^= PT64_NX_MASK;` turns it into a lost permission', () => {
    const f = rewrite(DATA * 4096 + P + W + U + A + D, NX_HI);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), W + U), NX_HI]);
    remote(f);
  });

  it('another frame: `if ((old ^ new) & PT64_BASE_ADDR_MASK) return true;`', () => {
    const f = rewrite((DATA + 1) * 4096 + P + W + U + A + D);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA + 1), W + U), 0]);
    remote(f);
  });

  it('gone: `if (!is_shadow_present_pte(new)) return true;`', () => {
    remote(rewrite(0));
  });

  it('the old SPTE was not present: `if (!is_shadow_present_pte(old)) return false;`', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 2, DATA * 4096 + P + W + U + A + D);
    f.invlpg(2);
    local(f);
  });

  it('permissions gained (W, and NX cleared): no remote flush', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + U + A + D, NX_HI);
    f.invlpg(0);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), U), NX_HI]);
    f.kvm.resetCounters();
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D, 0);
    f.invlpg(0);
    expect(f.spte(0)).toEqual([specSpte(f.pfn(DATA), W + U), 0]);
    local(f);
  });

  it('only NX cleared: old ^ NX has bit 63 clear, so nothing is lost', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D, NX_HI);
    f.invlpg(0);
    f.kvm.resetCounters();
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D, 0);
    f.invlpg(0);
    local(f);
  });

  it('NX gained at entry 1 while entry 0 keeps no NX: the high words compared are entry 1\'s', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 1, (DATA + 1) * 4096 + P + W + U + A + D, NX_HI);
    f.invlpg(1);
    expect(f.spte(1)).toEqual([specSpte(f.pfn(DATA + 1), W + U), NX_HI]);
    expect(f.spte(0)[1]).toBe(0);
    remote(f);
  });

  it('NX gained at entry 1 next to an entry 0 with NX: still a lost permission', () => {
    const f = setup('v3.1');
    f.gpte(f.ptGfn, 0, DATA * 4096 + P + W + U + A + D, NX_HI);
    f.invlpg(0);
    expect(f.spte(0)[1]).toBe(NX_HI);
    f.kvm.resetCounters();
    f.gpte(f.ptGfn, 1, (DATA + 1) * 4096 + P + W + U + A + D, NX_HI);
    f.invlpg(1);
    remote(f);
  });
});
