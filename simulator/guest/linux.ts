// The guest kernel behind the guest OS steps: what Linux 3.0.1 (x86-64) does to its own page tables
// and TLB when a process touches memory, forks, vforks, unmaps, exits, execs or is switched to. Every store it
// makes goes through the vCPU like any other guest instruction (GuestCpuPort), so KVM sees exactly the
// accesses, faults, INVLPGs and CR3 loads Linux makes; docs/kernel-paths.md §20 quotes the lines.
// On several vCPUs a flush reaches the other CPUs that may cache the mm's translations (mm_cpumask) by
// a TLB-shootdown IPI (arch/x86/mm/tlb.c, §20.7): the sender writes the local APIC's ICR and spins
// until each target has run smp_invalidate_interrupt.
//
// Kept by the model: the page allocator's free frames (a LIFO list, as the per-CPU hot lists hand out
// the page freed last), each anonymous frame's map count (page_mapcount), each address space's
// mm_users (the tasks using that mm: vfork shares it), and each process's vmas
// (guest.os.vmas, fixed: `munmap` zaps pages but keeps the vma and its page tables, as
// zap_page_range does). A vma is private (MAP_PRIVATE), anonymous or of a file whose pages are already
// in the page cache (guest-physical frames outside the pool: no I/O, no page-cache bookkeeping).
// Not modelled: swap, shared mappings, THP, the vma tree itself.

import type { GuestRam } from './page_tables';
import type { OsDecl, VmaDecl } from '../scenario/types';
import type { GuestOsStats } from '../run/result';
import { PFERR_FETCH_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK, PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PAGE_SIZE_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK, indexOfVpn } from '../arch/x86/paging';
import { frameHi, frameLo, frameOf } from '../arch/x86/u64';
import { APIC_DEST_LOGICAL, APIC_DEST_PHYSICAL, APIC_EOI, APIC_ICR, APIC_ICR2 } from '../arch/x86/apic';

/** What the guest kernel does through its vCPU (run/machine.ts implements it). */
export interface GuestCpuPort {
  /** A user-mode (CPL 3) 8-byte access at (vpn, offset) through the current CR3; true when it raised a
   *  #PF in the guest (errorCode says why). A stop shows in the next kernelAccess. */
  userAccess(write: boolean, vpn: number, offset: number, lo: number, hi: number): boolean;
  readonly errorCode: number;
  /** The kernel's 8-byte load or store of guest-physical `gpa` through its direct map (CPL 0); false when
   *  the vCPU stopped or no mapping reaches `gpa`. A load leaves the value in lo/hi. */
  kernelAccess(write: boolean, gpa: number, lo: number, hi: number): boolean;
  readonly lo: number;
  readonly hi: number;
  invlpg(vpn: number): void;
  loadCr3(space: number): void;
  /** The CPU (vCPU) the kernel runs on: smp_processor_id(). */
  cpu(): number;
  /** The kernel's 4-byte MOV to or from register `reg` of its local APIC (native_apic_mem_write/read
   *  through the APIC's fixmap mapping); false when the vCPU stopped or no mapping reaches the APIC. */
  apicAccess(write: boolean, reg: number, value: number): boolean;
  /** vCPU `cpu` takes the IPI KVM left in its IRR (kvm_vcpu_kick's exit, the injection); from then on
   *  the port acts on it, until resume(). False (warned) when it cannot take one now. */
  takeIpi(cpu: number): boolean;
  /** Back on the sending vCPU: the cycles the target took since takeIpi. */
  resume(): number;
  /** cpu_relax() until the targets answer: `cycles` of guest time on this vCPU. */
  spin(cycles: number): void;
  /** The address space whose PML4 CR3 holds, or -1. */
  currentSpace(): number;
  /** The PML4 of an address space. */
  cr3Of(space: number): number;
  warn(message: string): void;
}

/** INVALIDATE_TLB_VECTOR_START (asm/irq_vectors.h:131-136 with NR_CPUS > 32: 0xee - 32 + 1); each CPU sends
 *  its shootdowns on START + tlb_vector_offset, its own number on one node (calculate_tlb_offset). */
const INVALIDATE_TLB_VECTOR_START = 0xcf;
const NUM_INVALIDATE_TLB_VECTORS = 32;
/** flush_va's TLB_FLUSH_ALL. */
const TLB_FLUSH_ALL = -1;
/** apic_flat serves up to 8 CPUs; more make physflat_probe (`num_possible_cpus() > 8`) pick physical flat. */
const FLAT_MAX_CPUS = 8;

// x86-64 PTE bits Linux uses (arch/x86/include/asm/pgtable_types.h, 3.0.1).
const _PAGE_SPECIAL = 1 << 9; // _PAGE_BIT_SPECIAL = _PAGE_BIT_UNUSED1 = 9
const NX_HI = 0x80000000; // _PAGE_NX, bit 63
/** _PAGE_TABLE: PRESENT | RW | USER | ACCESSED | DIRTY (what pmd_populate and friends write). */
const _PAGE_TABLE = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK;
/** PAGE_COPY = PAGE_COPY_NOEXEC: PRESENT | USER | ACCESSED | NX, the vm_page_prot of a private
 *  read-write mapping (protection_map[VM_READ|VM_WRITE] = __P011). PAGE_READONLY (__P001) has the
 *  same bits; PAGE_READONLY_EXEC (__P101) lacks only NX. */
const PAGE_COPY_LO = PT_PRESENT_MASK | PT_USER_MASK | PT_ACCESSED_MASK;

/** The user pages (4K) one entry of each level maps: 1 for a PTE, 512 for a PDE, and so on. */
const SPAN = [0, 1, 512, 512 * 512, 512 * 512 * 512];

export class LinuxGuest {
  /** The zero page (empty_zero_page): the first frame of the pool. */
  readonly zeroFrame: number;
  private readonly poolBase: number;
  private readonly poolFrames: number;
  /** Frames never handed out start here (relative to poolBase); freed frames go on `free`. */
  private fresh = 1;
  private readonly free: Int32Array;
  private freeCount = 0;
  /** page_mapcount of each pool frame (anonymous pages); page-table pages keep 0. */
  private readonly mapcount: Int32Array;
  /** _PAGE_NX when the CPU has it (__supported_pte_mask drops it otherwise). */
  private readonly nxHi: number;
  /** Frames freed by the current mmu_gather, released after its flush (tlb_finish_mmu). */
  private readonly gathered: Int32Array;
  private gatheredCount = 0;
  /** Two remembered walks (pteAddress): the address space, the 2M span (vpn / 512), its page table. */
  private readonly cacheSpace = new Int32Array([-1, -1]);
  private readonly cacheSpan = new Float64Array(2);
  private readonly cacheTable = new Float64Array(2);
  private cacheNext = 0;
  /** mm->mm_users of each address space: 1 at the start (each declared space is one process's mm);
   *  vfork adds a user (copy_mm with CLONE_VM), fork and exec set the new mm's to 1 (mm_init), exit and
   *  exec drop one (mmput) and tear the mm down only at 0. */
  private readonly mmUsers: Int32Array;
  /** The CPUs the guest runs on (its vCPUs). */
  private readonly cpus: number;
  /** mm_cpumask of each address space (index space * cpus + cpu): the CPUs that may hold its
   *  translations. switch_mm sets the CPU's bit in next's and clears it in prev's, leave_mm clears it. */
  private readonly mmCpumask: Uint8Array;
  /** cpu_tlbstate of each CPU: active_mm (an address space) and state (1: TLBSTATE_LAZY, after
   *  enter_lazy_tlb; 0: TLBSTATE_OK). */
  private readonly activeMm: Int32Array;
  private readonly tlbLazy: Uint8Array;
  /** flush_state[sender], one per CPU (tlb_vector_offset): flush_mm, flush_va (a user page, or
   *  TLB_FLUSH_ALL) and flush_cpumask (index sender * cpus + cpu), the targets yet to answer. */
  private readonly flushMm: Int32Array;
  private readonly flushVa: Float64Array;
  private readonly flushCpumask: Uint8Array;
  /** Counters for the report's guest OS section. */
  readonly counts = { anon_faults: 0, zero_page_faults: 0, file_faults: 0, file_copies: 0, cow_copies: 0, cow_reuses: 0, forks: 0, vforks: 0, exits: 0, execs: 0, munmaps: 0, context_switches: 0, tlb_flushes: 0, invlpgs: 0, tlb_shootdowns: 0, irq_tlb_count: 0, page_tables_allocated: 0, page_tables_freed: 0 };

  /** `cpus` vCPUs start with CR3 on address space `startSpace`, each its active_mm. */
  constructor(
    private readonly os: OsDecl,
    private readonly ram: GuestRam,
    efer_nx: boolean,
    spaces: number,
    cpus: number,
    startSpace: number,
  ) {
    this.cpus = cpus;
    this.mmCpumask = new Uint8Array(spaces * cpus);
    this.activeMm = new Int32Array(cpus).fill(startSpace);
    this.tlbLazy = new Uint8Array(cpus);
    for (let c = 0; c < cpus; c++) this.mmCpumask[startSpace * cpus + c] = 1;
    this.flushMm = new Int32Array(cpus).fill(-1);
    this.flushVa = new Float64Array(cpus);
    this.flushCpumask = new Uint8Array(cpus * cpus);
    this.mmUsers = new Int32Array(spaces).fill(1);
    this.poolBase = os.page_pool.gpa / 4096;
    this.poolFrames = os.page_pool.size / 4096;
    this.free = new Int32Array(this.poolFrames);
    this.gathered = new Int32Array(this.poolFrames);
    this.mapcount = new Int32Array(this.poolFrames);
    this.zeroFrame = this.poolBase;
    this.nxHi = efer_nx ? NX_HI : 0;
  }

  /** The counts for the report (RunResult.guest_os). */
  stats(): GuestOsStats {
    return { ...this.counts, pool_frames_used: this.fresh - this.freeCount };
  }

  // ---------------------------------------------------------------------------------------------
  // The page allocator

  /** A frame for the kernel (alloc_page), or -1 when the pool is exhausted (an OOM the model stops at). */
  private allocFrame(port: GuestCpuPort): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    if (this.fresh < this.poolFrames) return this.poolBase + this.fresh++;
    port.warn(`the guest's page_pool (${this.poolFrames} frames) is exhausted: the step stops here (Linux would reclaim or OOM)`);
    return -1;
  }

  private freeFrame(frame: number): void {
    this.free[this.freeCount++] = frame;
  }

  /** A zeroed frame (alloc_zeroed_user_highpage, pte_alloc_one's __GFP_ZERO): clear_page through the
   *  direct map. Its first store is an instruction the CPU runs (KVM sees it); the other 511 change
   *  only bytes, so they are written directly. */
  private zeroedFrame(port: GuestCpuPort): number {
    const frame = this.allocFrame(port);
    if (frame < 0) return -1;
    if (!port.kernelAccess(true, frame * 4096, 0, 0)) return -1;
    for (let off = 8; off < 4096; off += 8) this.ram.write64(frame * 4096 + off, 0, 0);
    return frame;
  }

  /** A frame the allocator hands out (the pool's frames but the zero page): one whose map count is kept. */
  private inPool(frame: number): boolean {
    return frame > this.poolBase && frame < this.poolBase + this.poolFrames;
  }

  // ---------------------------------------------------------------------------------------------
  // Page-table walks by the kernel (pgd_offset .. pte_offset_map, pud_alloc .. pte_alloc_map)

  /** The guest-physical address of the PTE of `vpn` in `space`, walking with loads; with `alloc`,
   *  absent tables are allocated and linked (__pud_alloc, __pmd_alloc, __pte_alloc: a zeroed page, then
   *  pgd_populate / pud_populate / pmd_populate store `_PAGE_TABLE | pfn`). -1: no table (or a stop).
   *  Within one step the upper levels are walked once per page table, as copy_pte_range and
   *  zap_pte_range walk a whole table's range under one pmd (walkCache). */
  private pteAddress(port: GuestCpuPort, space: number, vpn: number, alloc: boolean): number {
    const span = Math.floor(vpn / 512);
    for (let k = 0; k < 2; k++) {
      if (this.cacheSpace[k] === space && this.cacheSpan[k] === span) return this.cacheTable[k]! + indexOfVpn(vpn, 1) * 8;
    }
    let table = port.cr3Of(space);
    for (let level = 4; level > 1; level--) {
      const entry = table + indexOfVpn(vpn, level) * 8;
      if (!port.kernelAccess(false, entry, 0, 0)) return -1;
      if ((port.lo & PT_PAGE_SIZE_MASK) !== 0) return -1; // a large page: not a vma's
      if ((port.lo & PT_PRESENT_MASK) !== 0) {
        table = frameOf(port.lo, port.hi) * 4096;
        continue;
      }
      if (!alloc) return -1;
      const frame = this.zeroedFrame(port);
      if (frame < 0 || !port.kernelAccess(true, entry, (_PAGE_TABLE | frameLo(frame)) >>> 0, frameHi(frame))) return -1;
      this.counts.page_tables_allocated++;
      table = frame * 4096;
    }
    const k = (this.cacheNext ^= 1);
    this.cacheSpace[k] = space;
    this.cacheSpan[k] = span;
    this.cacheTable[k] = table;
    return table + indexOfVpn(vpn, 1) * 8;
  }

  /** Forget the walks remembered (at each step's start, and when tables are freed). */
  private forgetWalks(): void {
    this.cacheSpace[0] = this.cacheSpace[1] = -1;
  }

  /** The high word of vma->vm_page_prot: NX unless the vma is executable (VM_EXEC selects the
   *  _EXEC protection); the low word is PAGE_COPY_LO for each of r, rw and rx. */
  private protHi(vma: VmaDecl): number {
    return vma.prot === 'rx' ? 0 : this.nxHi;
  }

  private vmaOf(space: number, vpn: number): VmaDecl | null {
    for (const v of this.os.vmas) if (v.space === space && vpn >= v.gva.vpn && vpn < v.gva.vpn + v.size / 4096) return v;
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // The steps

  /** `touch`: a user access; on a #PF, __do_page_fault -> handle_mm_fault -> handle_pte_fault, then
   *  the access again (the fault handler returns to the instruction). False when it ended in a warning
   *  or the kernel's work stopped (a ranged touch goes no further); a stop of the user access itself
   *  shows in the vCPU (halted). */
  touch(port: GuestCpuPort, write: boolean, vpn: number, offset: number, lo: number, hi: number): boolean {
    this.forgetWalks();
    this.scheduledIn(port);
    if (!port.userAccess(write, vpn, offset, lo, hi)) return true;
    const ec = port.errorCode;
    const space = port.currentSpace();
    // __do_page_fault: no vma -> bad_area (SIGSEGV); PF_RSVD -> pgtable_bad; a protection fault other
    // than a write to a read-only page of a writable vma -> access_error -> SIGSEGV.
    const vma = space < 0 ? null : this.vmaOf(space, vpn);
    if (vma === null) return this.failed(port, `touch: the fault at user page 0x${vpn.toString(16)} is in no vma of this address space: Linux sends SIGSEGV (the step ends)`);
    if ((ec & PFERR_RSVD_MASK) !== 0) return this.failed(port, 'touch: a reserved-bit page fault: Linux calls pgtable_bad (the step ends)');
    // access_error: a write to a vma without VM_WRITE, or a read that hit a present page (PF_PROT).
    if (write && vma.prot !== 'rw') return this.failed(port, `touch: a write to a vma without PROT_WRITE (${vma.prot}): access_error, Linux sends SIGSEGV (the step ends)`);
    if ((ec & PFERR_PRESENT_MASK) !== 0 && (!write || (ec & PFERR_FETCH_MASK) !== 0)) return this.failed(port, `touch: a protection fault (error code 0x${ec.toString(16)}) in a ${vma.prot} vma: Linux sends SIGSEGV (the step ends)`);
    const pte = this.pteAddress(port, space, vpn, true);
    if (pte < 0 || !port.kernelAccess(false, pte, 0, 0)) return false; // entry = *pte
    const eLo = port.lo;
    const eHi = port.hi;
    if ((eLo & PT_PRESENT_MASK) === 0) {
      if (eLo !== 0 || eHi !== 0) return this.failed(port, 'touch: a not-present PTE that is not empty (a swap or file entry): not modelled');
      // handle_pte_fault: a vma with vm_ops->fault (a file's) -> do_linear_fault, else do_anonymous_page.
      if (!(vma.file ? this.doLinearFault(port, pte, vma, vpn, write) : this.doAnonymousPage(port, pte, vma, write))) return false;
    } else if (write && (eLo & PT_WRITABLE_MASK) === 0) {
      if (!this.doWpPage(port, pte, vma, vpn, eLo, eHi)) return false;
    } else if (write) {
      // handle_pte_fault: pte_mkdirty + pte_mkyoung, ptep_set_access_flags(dirty): a store and a
      // flush_tlb_page when it changed anything; flush_tlb_fix_spurious_fault is empty on x86.
      const nLo = (eLo | PT_DIRTY_MASK | PT_ACCESSED_MASK) >>> 0;
      if (nLo !== eLo) {
        if (!port.kernelAccess(true, pte, nLo, eHi)) return false;
        if (!this.flushTlbPage(port, space, vpn)) return false;
      }
    } // a read of a present page: ptep_set_access_flags(dirty 0) stores nothing on x86
    if (port.userAccess(write, vpn, offset, lo, hi)) return this.failed(port, `touch: the access to user page 0x${vpn.toString(16)} faulted again after Linux's fault handler`);
    return true;
  }

  /** A step that ends in a warning. */
  private failed(port: GuestCpuPort, message: string): false {
    port.warn(message);
    return false;
  }

  /** do_anonymous_page: a read maps the zero page (pte_mkspecial, read-only); a write gets a zeroed
   *  page, PAGE_COPY made writable and dirty. set_pte_at, and no flush ("it was non-present before"). */
  private doAnonymousPage(port: GuestCpuPort, pte: number, vma: VmaDecl, write: boolean): boolean {
    if (!write) {
      this.counts.zero_page_faults++;
      return port.kernelAccess(true, pte, (PAGE_COPY_LO | _PAGE_SPECIAL | frameLo(this.zeroFrame)) >>> 0, (this.protHi(vma) | frameHi(this.zeroFrame)) >>> 0);
    }
    const frame = this.zeroedFrame(port);
    if (frame < 0) return false;
    this.mapcount[frame - this.poolBase] = 1; // page_add_new_anon_rmap
    this.counts.anon_faults++;
    return port.kernelAccess(true, pte, (PAGE_COPY_LO | PT_WRITABLE_MASK | PT_DIRTY_MASK | frameLo(frame)) >>> 0, (this.protHi(vma) | frameHi(frame)) >>> 0);
  }

  /** do_linear_fault -> __do_fault for a file vma: filemap_fault finds the page in the page cache
   *  (pgoff = the page's index in the vma; past the file's end: VM_FAULT_SIGBUS). A read maps that
   *  page with vm_page_prot (read-only; page_add_file_rmap). A write to the private mapping breaks COW
   *  early (anon = 1): a new page (alloc_page_vma, not zeroed), copy_user_highpage from the
   *  page-cache page, mapped pte_mkdirty and writable (page_add_new_anon_rmap). set_pte_at, and no
   *  flush: "a not-present page won't be cached". The page-cache page is never freed here. */
  private doLinearFault(port: GuestCpuPort, pte: number, vma: VmaDecl, vpn: number, write: boolean): boolean {
    const file = vma.file!;
    const pgoff = vpn - vma.gva.vpn;
    if (pgoff >= Math.ceil(file.size / 4096)) {
      port.warn(`touch: user page 0x${vpn.toString(16)} lies past the end of the vma's file (${file.size} bytes): filemap_fault returns VM_FAULT_SIGBUS, Linux sends SIGBUS (the step ends)`);
      return false;
    }
    const cached = file.gpa / 4096 + pgoff;
    if (!write) {
      this.counts.file_faults++;
      return port.kernelAccess(true, pte, (PAGE_COPY_LO | frameLo(cached)) >>> 0, (this.protHi(vma) | frameHi(cached)) >>> 0);
    }
    const frame = this.allocFrame(port);
    if (frame < 0 || !this.copyPage(port, cached, frame)) return false;
    this.mapcount[frame - this.poolBase] = 1; // page_add_new_anon_rmap
    this.counts.file_faults++;
    this.counts.file_copies++;
    return port.kernelAccess(true, pte, (PAGE_COPY_LO | PT_WRITABLE_MASK | PT_DIRTY_MASK | frameLo(frame)) >>> 0, (this.protHi(vma) | frameHi(frame)) >>> 0);
  }

  /** copy_user_highpage -> copy_page: the first load and store run on the CPU, the rest of the page
   *  is copied directly. */
  private copyPage(port: GuestCpuPort, from: number, to: number): boolean {
    if (!port.kernelAccess(false, from * 4096, 0, 0) || !port.kernelAccess(true, to * 4096, port.lo, port.hi)) return false;
    for (let off = 8; off < 4096; off += 8) {
      const w = this.ram.read64(from * 4096 + off);
      this.ram.write64(to * 4096 + off, w.lo, w.hi);
    }
    return true;
  }

  /** do_wp_page: an anonymous page mapped once is reused (ptep_set_access_flags: the PTE made young,
   *  dirty and writable, then flush_tlb_page); otherwise, or for the zero page, a new page (zeroed, or
   *  a copy: cow_user_page), ptep_clear_flush (clear, flush_tlb_page), set_pte_at_notify, and the old
   *  page loses a mapping (page_remove_rmap). A page-cache page is not PageAnon, and the vma is not
   *  VM_SHARED, so it is always copied (the "gotten" path); it stays in the page cache. */
  private doWpPage(port: GuestCpuPort, pte: number, vma: VmaDecl, vpn: number, eLo: number, eHi: number): boolean {
    const old = frameOf(eLo, eHi);
    const special = (eLo & _PAGE_SPECIAL) !== 0; // vm_normal_page() is NULL: the zero page
    if (!special && this.inPool(old) && this.mapcount[old - this.poolBase]! <= 1) {
      this.counts.cow_reuses++;
      if (!port.kernelAccess(true, pte, (eLo | PT_ACCESSED_MASK | PT_DIRTY_MASK | PT_WRITABLE_MASK) >>> 0, eHi)) return false;
      return this.flushTlbPage(port, vma.space, vpn);
    }
    let frame: number;
    if (special) frame = this.zeroedFrame(port);
    else {
      frame = this.allocFrame(port); // cow_user_page -> copy_user_highpage
      if (frame < 0 || !this.copyPage(port, old, frame)) return false;
    }
    if (frame < 0) return false;
    this.counts.cow_copies++;
    this.mapcount[frame - this.poolBase] = 1;
    if (!port.kernelAccess(true, pte, 0, 0)) return false; // ptep_clear_flush: ptep_get_and_clear ...
    if (!this.flushTlbPage(port, vma.space, vpn)) return false; // ... then flush_tlb_page
    if (!port.kernelAccess(true, pte, (PAGE_COPY_LO | PT_WRITABLE_MASK | PT_DIRTY_MASK | frameLo(frame)) >>> 0, (this.protHi(vma) | frameHi(frame)) >>> 0)) return false;
    if (!special && this.inPool(old)) this.mapcount[old - this.poolBase]!--; // page_remove_rmap(old_page)
    return true;
  }

  /** flush_tlb_page for the current mm with current->mm set: __flush_tlb_one, one INVLPG, then the
   *  other CPUs in its mm_cpumask. False when the shootdown could not complete. */
  private flushTlbPage(port: GuestCpuPort, space: number, vpn: number): boolean {
    this.counts.invlpgs++;
    port.invlpg(vpn);
    return this.flushTlbOthers(port, space, vpn);
  }

  /** `fork`: dup_mmap -> copy_page_range for each vma of the parent (the current space): the child's
   *  tables are allocated where the parent has them, each present PTE is write-protected in place in
   *  the parent (ptep_set_wrprotect: clear_bit(_PAGE_BIT_RW), a locked store even when RW is already
   *  clear) and copied read-only and old (pte_mkold) to the child; then flush_tlb_mm(oldmm). */
  fork(port: GuestCpuPort, child: number): void {
    this.forgetWalks();
    this.scheduledIn(port);
    const parent = port.currentSpace();
    if (parent < 0) return port.warn('fork: CR3 holds no address space of the scenario');
    if (child === parent) return port.warn(`fork: the child's address space ${child} is the parent's own`);
    if (this.shared(child)) return port.warn(`fork: address space ${child} is still the mm of ${this.mmUsers[child]} processes (mm_users ${this.mmUsers[child]}: a vfork's child shares it): a new mm is the child's alone`);
    if (!this.emptySpace(port, child)) return port.warn(`fork: address space ${child} still maps user pages: a new mm starts empty (exit its process first)`);
    this.counts.forks++;
    this.mmUsers[child] = 1; // dup_mm -> mm_init: atomic_set(&mm->mm_users, 1)
    for (const vma of this.os.vmas) {
      if (vma.space !== parent) continue;
      if (!this.os.vmas.some((v) => v.space === child && sameMapping(v, vma))) {
        port.warn(`fork: address space ${child} has no vma at 0x${(vma.gva.vpn * 4096).toString(16)} (${vma.size} bytes, ${vma.prot}${vma.file ? `, the file at 0x${vma.file.gpa.toString(16)}` : ''}) to copy the parent's into (dup_mmap copies it as it is): skipped`);
        continue;
      }
      for (let p = 0; p < vma.size / 4096; p++) {
        const vpn = vma.gva.vpn + p;
        // copy_pmd_range skips where the parent has no table (pmd_none_or_clear_bad).
        const src = this.pteAddress(port, parent, vpn, false);
        if (src < 0 || !port.kernelAccess(false, src, 0, 0)) continue;
        const eLo = port.lo;
        const eHi = port.hi;
        if (eLo === 0 && eHi === 0) continue; // pte_none: copy_pte_range skips it
        if ((eLo & PT_PRESENT_MASK) === 0) {
          port.warn('fork: a swap or file PTE: not modelled');
          continue;
        }
        // is_cow_mapping: every vma here is private with VM_MAYWRITE (do_mmap_pgoff sets it for any
        // MAP_PRIVATE), read-only and file vmas too.
        if (!port.kernelAccess(true, src, (eLo & ~PT_WRITABLE_MASK) >>> 0, eHi)) return; // ptep_set_wrprotect
        const dst = this.pteAddress(port, child, vpn, true);
        if (dst < 0) return;
        if (!port.kernelAccess(true, dst, (eLo & ~(PT_WRITABLE_MASK | PT_ACCESSED_MASK)) >>> 0, eHi)) return; // set_pte_at
        const frame = frameOf(eLo, eHi);
        // page_dup_rmap; a page-cache frame (outside the pool) keeps no count: only an anonymous
        // page's decides anything (do_wp_page's reuse).
        if ((eLo & _PAGE_SPECIAL) === 0 && this.inPool(frame)) this.mapcount[frame - this.poolBase]!++;
      }
    }
    this.flushTlbMm(port, parent, true);
  }

  /** `vfork`: do_fork(CLONE_VFORK | CLONE_VM | SIGCHLD) -> copy_mm: with CLONE_VM the child takes the
   *  parent's mm (atomic_inc(&oldmm->mm_users); mm = oldmm; goto good_mm): no page-table work, no
   *  flush, no CR3 load (the child's switch_mm has prev == next). The steps after it are the child's,
   *  in the same address space, until it execs or exits. */
  vfork(port: GuestCpuPort, space: number): void {
    this.scheduledIn(port);
    if (port.currentSpace() !== space) return port.warn(`vfork: the vforking process runs in address space ${space}, but CR3 holds ${port.currentSpace()} (switch_mm to it first)`);
    if (space === this.os.swapper) return port.warn(`vfork: address space ${space} is swapper_pg_dir, no process's mm`);
    this.counts.vforks++;
    this.mmUsers[space]!++;
  }

  /** `munmap`: zap_pte_range over the range (present PTEs cleared, their pages gathered), then
   *  tlb_finish_mmu: a flush only if a PTE was cleared (tlb->need_flush), then the pages are freed. */
  munmap(port: GuestCpuPort, vpn: number, pages: number): void {
    this.forgetWalks();
    this.scheduledIn(port);
    const space = port.currentSpace();
    if (space < 0) return port.warn('munmap: CR3 holds no address space of the scenario');
    this.counts.munmaps++;
    let needFlush = false;
    for (let p = 0; p < pages; p++) {
      if (this.vmaOf(space, vpn + p) === null) continue; // do_munmap: nothing mapped there
      const r = this.zapPte(port, space, vpn + p);
      if (r < 0) return;
      if (r > 0) needFlush = true;
    }
    if (needFlush && !this.flushTlbMm(port, space, true)) return;
    this.releaseGathered();
  }

  /** `exit`: exit_mm sets tsk->mm = NULL and enter_lazy_tlb (TLBSTATE_LAZY, no CR3 write), mmput: only
   *  when mm_users drops to 0 (the mm's last task) exit_mmap: zap every vma (fullmm), free the page tables
   *  under them (free_pgtables), then tlb_finish_mmu -> flush_tlb_mm with current->mm NULL: leave_mm, which
   *  loads swapper_pg_dir. An mm still used (a vfork's parent) is left as it is, CR3 on it. */
  exit(port: GuestCpuPort, space: number): void {
    this.forgetWalks();
    this.scheduledIn(port);
    if (port.currentSpace() !== space) return port.warn(`exit: the exiting process runs in address space ${space}, but CR3 holds ${port.currentSpace()} (switch_mm to it first)`);
    this.counts.exits++;
    this.tlbLazy[port.cpu()] = 1; // enter_lazy_tlb
    if (!this.mmput(space)) return;
    if (!this.exitMmap(port, space)) return;
    if (!this.flushTlbMm(port, space, false)) return;
    this.releaseGathered();
  }

  /** `exec`: exec_mmap: activate_mm (switch_mm to the new, empty mm: a CR3 load), then mmput(old_mm):
   *  when that was its last user, exit_mmap of the old space, which is no longer current->active_mm:
   *  flush_tlb_mm flushes nothing on this CPU. A vforked child's exec leaves the parent's mm alone. */
  exec(port: GuestCpuPort, space: number): void {
    this.forgetWalks();
    this.scheduledIn(port);
    const old = port.currentSpace();
    if (old < 0) return port.warn('exec: CR3 holds no address space of the scenario');
    if (old === space) return port.warn(`exec: the new mm must be a new address space, not ${space} itself`);
    if (this.shared(space)) return port.warn(`exec: address space ${space} is still the mm of ${this.mmUsers[space]} processes (mm_users ${this.mmUsers[space]}: a vfork's child shares it): a new mm is the exec'ing process's alone`);
    if (!this.emptySpace(port, space)) return port.warn(`exec: address space ${space} still maps user pages: a new mm starts empty`);
    this.counts.execs++;
    this.mmUsers[space] = 1; // bprm_mm_init -> mm_alloc -> mm_init: atomic_set(&mm->mm_users, 1)
    this.switchMm(port, space);
    if (!this.mmput(old)) return;
    if (!this.exitMmap(port, old)) return;
    this.flushTlbMm(port, old, true); // tlb_finish_mmu: no longer this CPU's active_mm, others may hold it
    this.releaseGathered();
  }

  /** `switch_mm` (mmu_context.h:33-72): `if (likely(prev != next))`: TLBSTATE_OK, active_mm = next, this CPU
   *  set in next's mm_cpumask, load_cr3(next->pgd), cleared from prev's. Else (a thread of the same mm, or
   *  back from lazy TLB mode): TLBSTATE_OK, and a CR3 load only if leave_mm had cleared the CPU's bit. */
  switchMm(port: GuestCpuPort, space: number): void {
    const cpu = port.cpu();
    const prev = this.activeMm[cpu]!;
    this.tlbLazy[cpu] = 0;
    if (prev !== space) {
      this.activeMm[cpu] = space;
      this.mmCpumask[space * this.cpus + cpu] = 1;
      this.counts.context_switches++;
      port.loadCr3(space);
      this.mmCpumask[prev * this.cpus + cpu] = 0;
    } else if (this.mmCpumask[space * this.cpus + cpu] === 0) {
      this.mmCpumask[space * this.cpus + cpu] = 1; // cpumask_test_and_set_cpu
      this.counts.context_switches++;
      port.loadCr3(space);
    }
  }

  /** A process's step on a CPU left in lazy TLB mode by an exit whose mm lives on (a vforked child's):
   *  the process using that mm is scheduled back in, context_switch -> switch_mm(prev == next): TLBSTATE_OK,
   *  and a CR3 load if a flush IPI's leave_mm cleared the CPU's bit meanwhile. */
  private scheduledIn(port: GuestCpuPort): void {
    const cpu = port.cpu();
    const mm = this.activeMm[cpu]!;
    if (this.tlbLazy[cpu] === 1 && this.mmUsers[mm]! > 0) this.switchMm(port, mm);
  }

  /** mmput's `if (atomic_dec_and_test(&mm->mm_users))`: true when that was the mm's last user, whose
   *  exit_mmap follows. */
  private mmput(space: number): boolean {
    return --this.mmUsers[space]! <= 0;
  }

  /** An mm that more than one process uses (after a vfork): no new mm can be made in its place. */
  private shared(space: number): boolean {
    return this.mmUsers[space]! > 1;
  }

  /** zap_pte_range for one page: -1 on a stop, 1 when a present PTE was cleared, 0 otherwise. */
  private zapPte(port: GuestCpuPort, space: number, vpn: number): number {
    const pte = this.pteAddress(port, space, vpn, false);
    if (pte < 0) return 0;
    if (!port.kernelAccess(false, pte, 0, 0)) return -1;
    const eLo = port.lo;
    const eHi = port.hi;
    if (eLo === 0 && eHi === 0) return 0; // pte_none
    if ((eLo & PT_PRESENT_MASK) === 0) {
      port.warn('munmap/exit: a swap or file PTE: not modelled');
      return 0;
    }
    if (!port.kernelAccess(true, pte, 0, 0)) return -1; // ptep_get_and_clear_full
    // page_remove_rmap, __tlb_remove_page: a page-cache frame (outside the pool) keeps the page
    // cache's reference and is not freed.
    const frame = frameOf(eLo, eHi);
    if ((eLo & _PAGE_SPECIAL) === 0 && this.inPool(frame) && --this.mapcount[frame - this.poolBase]! === 0) this.gathered[this.gatheredCount++] = frame;
    return 1;
  }

  /** exit_mmap: unmap_vmas over every vma, then free_pgtables(FIRST_USER_ADDRESS, 0): every table
   *  under the vmas, bottom up (free_pte_range's pmd_clear, then pud_clear, then pgd_clear). */
  private exitMmap(port: GuestCpuPort, space: number): boolean {
    for (const vma of this.os.vmas) {
      if (vma.space !== space) continue;
      for (let p = 0; p < vma.size / 4096; p++) if (this.zapPte(port, space, vma.gva.vpn + p) < 0) return false;
    }
    return this.freeTables(port, space);
  }

  private freeTables(port: GuestCpuPort, space: number): boolean {
    for (const vma of this.os.vmas) {
      if (vma.space === space && !this.freeRange(port, port.cr3Of(space), 4, vma.gva.vpn, vma.gva.vpn + vma.size / 4096)) return false;
    }
    return true;
  }

  /**
   * free_pgd_range / free_pud_range / free_pmd_range / free_pte_range over the user pages [lo, hi),
   * in the level-`level` table at `table`: each present entry on the range is loaded, its tables
   * freed first, then the entry cleared (pgd_clear, pud_clear, pmd_clear) and the table gathered
   * (p?d_free_tlb). Linux frees a table when no remaining vma reaches it (its floor and ceiling); at
   * exit and exec no vma remains, so the model frees a table once nothing is left in it: a table that
   * also holds a declared mapping (not a vma) stays.
   */
  private freeRange(port: GuestCpuPort, table: number, level: number, lo: number, hi: number): boolean {
    const span = SPAN[level]!;
    for (let base = Math.floor(lo / span) * span; base < hi; base += span) {
      const entry = table + indexOfVpn(base, level) * 8;
      if (!port.kernelAccess(false, entry, 0, 0)) return false;
      if ((port.lo & PT_PRESENT_MASK) === 0 || (port.lo & PT_PAGE_SIZE_MASK) !== 0) continue;
      const child = frameOf(port.lo, port.hi) * 4096;
      if (level > 2 && !this.freeRange(port, child, level - 1, Math.max(lo, base), Math.min(hi, base + span))) return false;
      if (!this.emptyTable(child)) continue;
      if (!port.kernelAccess(true, entry, 0, 0)) return false;
      this.forgetWalks();
      this.counts.page_tables_freed++;
      if (this.inPool(child / 4096)) this.gathered[this.gatheredCount++] = child / 4096;
    }
    return true;
  }

  /** No present entry left in the table (a model-side test; Linux knows it from its vmas). */
  private emptyTable(table: number): boolean {
    for (let i = 0; i < 512; i++) if ((this.ram.read64(table + i * 8).lo & PT_PRESENT_MASK) !== 0) return false;
    return true;
  }

  /** flush_tlb_mm(mm) (tlb.c:287-301): if current->active_mm == mm, local_flush_tlb (a CR3 write of its
   *  own value) when current->mm is set, else leave_mm; then the other CPUs in mm_cpumask(mm). */
  private flushTlbMm(port: GuestCpuPort, space: number, hasMm: boolean): boolean {
    const cpu = port.cpu();
    if (this.activeMm[cpu] === space) {
      this.counts.tlb_flushes++;
      if (hasMm) port.loadCr3(space);
      else this.leaveMm(port, cpu);
    }
    return this.flushTlbOthers(port, space, TLB_FLUSH_ALL);
  }

  /** leave_mm (tlb.c:62-69): this CPU leaves active_mm's mm_cpumask and loads swapper_pg_dir. */
  private leaveMm(port: GuestCpuPort, cpu: number): void {
    this.mmCpumask[this.activeMm[cpu]! * this.cpus + cpu] = 0;
    port.loadCr3(this.os.swapper);
  }

  /**
   * `if (cpumask_any_but(mm_cpumask(mm), smp_processor_id()) < nr_cpu_ids) flush_tlb_others(...)` ->
   * flush_tlb_others_ipi (tlb.c:172-203): flush_state[this CPU] gets the mm, the page and the other CPUs
   * of mm_cpumask; apic->send_IPI_mask sends vector INVALIDATE_TLB_VECTOR_START + sender; then
   * `while (!cpumask_empty(flush_cpumask)) cpu_relax();`. The targets answer at once, each on its own
   * vCPU, and run concurrently: the sender spins as long as the slowest. False when a target cannot
   * answer (the sender would spin for ever; the step stops, warned).
   */
  private flushTlbOthers(port: GuestCpuPort, space: number, va: number): boolean {
    const n = this.cpus;
    const sender = port.cpu();
    let any = false;
    for (let c = 0; c < n; c++) {
      const t = c !== sender && this.mmCpumask[space * n + c] === 1;
      this.flushCpumask[sender * n + c] = t ? 1 : 0; // cpumask_andnot(flush_cpumask, cpumask, self)
      any ||= t;
    }
    if (!any) return true;
    this.counts.tlb_shootdowns++;
    this.flushMm[sender] = space;
    this.flushVa[sender] = va;
    const vector = INVALIDATE_TLB_VECTOR_START + (sender % NUM_INVALIDATE_TLB_VECTORS);
    if (!this.sendIpiMask(port, sender, vector)) return false;
    let longest = 0;
    for (let c = 0; c < n; c++) {
      if (this.flushCpumask[sender * n + c] === 0) continue;
      if (!port.takeIpi(c)) return false;
      const answered = this.invalidateInterrupt(port, c, sender);
      longest = Math.max(longest, port.resume());
      if (!answered) return false;
    }
    port.spin(longest);
    this.flushMm[sender] = -1; // f->flush_mm = NULL; f->flush_va = 0
    this.flushVa[sender] = 0;
    return true;
  }

  /** apic->send_IPI_mask to the CPUs of flush_cpumask: apic_flat's flat_send_IPI_mask, one logical IPI to
   *  the mask (apic_flat_64.c:78-92), or with more than 8 CPUs physflat's default_send_IPI_mask_sequence_phys,
   *  one physical IPI per CPU (ipi.c:22-38); each is __default_send_IPI_dest_field (ipi.h:93-115). */
  private sendIpiMask(port: GuestCpuPort, sender: number, vector: number): boolean {
    const n = this.cpus;
    if (n <= FLAT_MAX_CPUS) {
      let mask = 0;
      for (let c = 0; c < n; c++) if (this.flushCpumask[sender * n + c] === 1) mask |= 1 << c;
      return this.sendIpiDestField(port, mask, vector, APIC_DEST_LOGICAL);
    }
    for (let c = 0; c < n; c++) {
      if (this.flushCpumask[sender * n + c] === 1 && !this.sendIpiDestField(port, c, vector, APIC_DEST_PHYSICAL)) return false;
    }
    return true;
  }

  /** __default_send_IPI_dest_field: __xapic_wait_icr_idle (one ICR read: KVM never leaves the busy bit
   *  set), ICR2 = SET_APIC_DEST_FIELD(mask), then ICR = __prepare_ICR(0, vector, dest): the write that
   *  sends it. */
  private sendIpiDestField(port: GuestCpuPort, dest: number, vector: number, destMode: number): boolean {
    return port.apicAccess(false, APIC_ICR, 0) && port.apicAccess(true, APIC_ICR2, (dest << 24) >>> 0) && port.apicAccess(true, APIC_ICR, destMode | vector);
  }

  /**
   * smp_invalidate_interrupt (tlb.c:130-170) on CPU `cpu`, for `sender`'s flush: if flush_mm is its
   * active_mm, a flush (local_flush_tlb for TLB_FLUSH_ALL, else __flush_tlb_one) in TLBSTATE_OK, or
   * leave_mm in lazy TLB mode; then ack_APIC_irq (the EOI write) and the CPU's bit cleared in
   * flush_cpumask: the sender's answer. False when the EOI could not be written.
   */
  private invalidateInterrupt(port: GuestCpuPort, cpu: number, sender: number): boolean {
    const n = this.cpus;
    if (this.flushCpumask[sender * n + cpu] === 1 && this.flushMm[sender] === this.activeMm[cpu]) {
      if (this.tlbLazy[cpu] === 1) {
        this.counts.tlb_flushes++;
        this.leaveMm(port, cpu);
      } else if (this.flushVa[sender] === TLB_FLUSH_ALL) {
        this.counts.tlb_flushes++;
        port.loadCr3(this.activeMm[cpu]!);
      } else {
        this.counts.invlpgs++;
        port.invlpg(this.flushVa[sender]!);
      }
    }
    if (!port.apicAccess(true, APIC_EOI, 0)) return false; // ack_APIC_irq
    this.flushCpumask[sender * n + cpu] = 0;
    this.counts.irq_tlb_count++;
    return true;
  }

  /** tlb_finish_mmu: the gathered pages go back to the allocator after the flush. */
  private releaseGathered(): void {
    for (let i = 0; i < this.gatheredCount; i++) this.freeFrame(this.gathered[i]!);
    this.gatheredCount = 0;
  }

  /** A new mm: nothing present under its vmas (pgd_alloc copies only the kernel half). */
  private emptySpace(port: GuestCpuPort, space: number): boolean {
    for (const vma of this.os.vmas) {
      if (vma.space === space && this.anyPresent(port.cr3Of(space), 4, vma.gva.vpn, vma.gva.vpn + vma.size / 4096)) return false;
    }
    return true;
  }

  /** Whether a present leaf lies on the user pages [lo, hi) under the level-`level` table (a model-side
   *  check, not a kernel action: no charge). */
  private anyPresent(table: number, level: number, lo: number, hi: number): boolean {
    const span = SPAN[level]!;
    for (let base = Math.floor(lo / span) * span; base < hi; base += span) {
      const e = this.ram.read64(table + indexOfVpn(base, level) * 8);
      if ((e.lo & PT_PRESENT_MASK) === 0) continue;
      if (level === 1 || (e.lo & PT_PAGE_SIZE_MASK) !== 0 || this.anyPresent(frameOf(e.lo, e.hi) * 4096, level - 1, Math.max(lo, base), Math.min(hi, base + span))) return true;
    }
    return false;
  }
}

/** The same mapping in another mm (what dup_mmap's vma copy gives the child): range, prot and file. */
function sameMapping(a: VmaDecl, b: VmaDecl): boolean {
  return a.gva.vpn === b.gva.vpn && a.size === b.size && a.prot === b.prot && (a.file === null ? b.file === null : b.file !== null && a.file.gpa === b.file.gpa && a.file.size === b.file.size);
}
