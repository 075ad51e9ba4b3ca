// Memslots as the 3.0/3.1 kernels keep them (include/linux/kvm_host.h, virt/kvm/kvm_main.c):
// `struct kvm_memslots { int nmemslots; u64 generation; memslots[KVM_MEMORY_SLOTS + KVM_PRIVATE_MEM_SLOTS] }`,
// indexed by slot id, 32 user slots plus 4 private ones that VMX creates for itself. A lookup walks
// the array in slot-id order over all `nmemslots` entries (empty entries included), so a gfn that no
// slot holds (every MMIO gfn) costs a comparison with every entry: the scan the 2011 series avoids.

import type { HostMemory } from '../host/physmem';

export const KVM_MEMORY_SLOTS = 32;
export const KVM_PRIVATE_MEM_SLOTS = 4;
export const KVM_MEM_SLOTS_NUM = KVM_MEMORY_SLOTS + KVM_PRIVATE_MEM_SLOTS;

/** VMX's private slots (arch/x86/kvm/vmx.c, 3.x): the identity page table for EPT and the real-mode TSS. */
export const APIC_ACCESS_PAGE_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 0;
export const IDENTITY_PAGETABLE_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 1;
export const TSS_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 2;

const CHUNK_SHIFT = 9; // host pfns are tracked in chunks of 512 gfns, allocated when first touched

export class Memslot {
  /** Host pfn behind each gfn, 0 until the page is first faulted in (get_user_pages). */
  private chunks: (Int32Array | undefined)[] = [];
  constructor(
    readonly id: number,
    readonly baseGfn: number,
    readonly npages: number,
  ) {}

  /** The host pfn behind `gfn`, or 0 if the page was never touched. */
  pfnOf(gfn: number): number {
    const rel = gfn - this.baseGfn;
    const c = this.chunks[rel >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[rel & 511]!;
  }

  /** Fault the page in: allocate its host frame. Returns the new pfn. */
  faultIn(gfn: number, host: HostMemory): number {
    const rel = gfn - this.baseGfn;
    const ci = rel >>> CHUNK_SHIFT;
    let c = this.chunks[ci];
    if (c === undefined) c = this.chunks[ci] = new Int32Array(512);
    const pfn = host.allocFrame();
    c[rel & 511] = pfn;
    return pfn;
  }

  /** Release every host frame (slot deletion). */
  release(host: HostMemory): void {
    for (const c of this.chunks) if (c) for (const pfn of c) if (pfn !== 0) host.freeFrame(pfn);
    this.chunks = [];
  }
}

export class Memslots {
  readonly slots: (Memslot | null)[] = new Array<Memslot | null>(KVM_MEM_SLOTS_NUM).fill(null);
  nmemslots = 0;
  generation = 0;
  /** Counters of the last lookups, read by the caller to charge cost and bump stats. */
  lookups = 0;
  compares = 0;
  misses = 0;

  /**
   * gfn_to_memslot (3.0/3.1): `for (i = 0; i < slots->nmemslots; ++i) if (gfn >= base_gfn && gfn <
   * base_gfn + npages) return &slots->memslots[i];` Returns the slot or null; counts the comparisons.
   */
  lookup(gfn: number): Memslot | null {
    this.lookups++;
    const n = this.nmemslots;
    for (let i = 0; i < n; i++) {
      this.compares++;
      const s = this.slots[i];
      if (s !== null && s !== undefined && gfn >= s.baseGfn && gfn < s.baseGfn + s.npages) return s;
    }
    this.misses++;
    return null;
  }

  /** Install a slot (the array update of __kvm_set_memory_region); bumps the generation. */
  install(slot: Memslot): void {
    this.slots[slot.id] = slot;
    if (slot.id >= this.nmemslots) this.nmemslots = slot.id + 1;
    this.generation++;
  }

  /** Remove a slot: its entry becomes empty (npages 0) but nmemslots does not shrink, as in 3.x. */
  remove(id: number): Memslot | null {
    const s = this.slots[id] ?? null;
    this.slots[id] = null;
    this.generation++;
    return s;
  }

  /** Does any slot overlap [gfn, gfn + npages)? (The overlap check of __kvm_set_memory_region.) */
  overlaps(gfn: number, npages: number, exceptId: number): Memslot | null {
    for (const s of this.slots) {
      if (s === null || s.id === exceptId) continue;
      if (gfn < s.baseGfn + s.npages && s.baseGfn < gfn + npages) return s;
    }
    return null;
  }
}
