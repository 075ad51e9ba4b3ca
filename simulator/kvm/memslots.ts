// Memslots as the 3.0/3.1 kernels keep them (include/linux/kvm_host.h, virt/kvm/kvm_main.c):
// `struct kvm_memslots { int nmemslots; u64 generation; memslots[KVM_MEMORY_SLOTS + KVM_PRIVATE_MEM_SLOTS] }`,
// indexed by slot id, 32 user slots plus 4 private ones that VMX creates for itself. A lookup walks
// the array in slot-id order over all `nmemslots` entries (empty entries included), so a gfn that no
// slot holds (every MMIO gfn) costs a comparison with every entry: the scan the 2011 series avoids.
//
// An entry is never cleared: __kvm_set_memory_region writes `new = old = *memslot; new.base_gfn =
// base_gfn; new.npages = npages;` back even for a deletion, so a deleted slot keeps the base gfn the
// VMM passed, with npages 0 (no lookup matches it; the overlap check skips it). A never-used entry is
// null here (all zeroes in the kernel).

import type { HostMemory } from '../host/physmem';

export const KVM_MEMORY_SLOTS = 32;
export const KVM_PRIVATE_MEM_SLOTS = 4;
export const KVM_MEM_SLOTS_NUM = KVM_MEMORY_SLOTS + KVM_PRIVATE_MEM_SLOTS;

/** VMX's private slots (arch/x86/include/asm/vmx.h, 3.0.1 and 3.1.10). */
export const TSS_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 0;
export const APIC_ACCESS_PAGE_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 1;
export const IDENTITY_PAGETABLE_PRIVATE_MEMSLOT = KVM_MEMORY_SLOTS + 2;

const CHUNK_SHIFT = 9; // host pfns are tracked in chunks of 512 gfns, allocated when first touched
/** Searches Memslots.lookupMemo keeps. */
const MEMO_ENTRIES = 16;

export class Memslot {
  /** Host pfn behind each gfn, 0 until the page is first faulted in (get_user_pages). */
  private chunks: (Int32Array | undefined)[] = [];
  /** KVM_MEMSLOT_INVALID: set on the copy a deletion publishes first; gfn_to_hva then fails for it. */
  invalid = false;
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
  /** Slots compared by every search so far: the caller charges and counts the difference. */
  compares = 0;

  /**
   * gfn_to_memslot (3.0/3.1): `for (i = 0; i < slots->nmemslots; ++i) if (gfn >= base_gfn && gfn <
   * base_gfn + npages) return &slots->memslots[i];` Returns the slot or null; counts the comparisons.
   */
  lookup(gfn: number): Memslot | null {
    const n = this.nmemslots;
    for (let i = 0; i < n; i++) {
      this.compares++;
      const s = this.slots[i];
      if (s !== null && s !== undefined && gfn >= s.baseGfn && gfn < s.baseGfn + s.npages) return s;
    }
    return null;
  }

  /**
   * lookup() remembered (a fast path, Kvm.fastPaths): a search's result and comparisons depend only
   * on the array, which changes only through install() and publish(), and each moves `generation`.
   * A few searches are kept, by gfn, each valid for the generation it was made in; a remembered one
   * counts its comparisons as the search would.
   */
  lookupMemo(gfn: number): Memslot | null {
    const e = gfn & (MEMO_ENTRIES - 1);
    if (this.memoGen[e] === this.generation && this.memoGfn[e] === gfn) {
      this.compares += this.memoCompares[e]!;
      return this.memoSlot[e]!;
    }
    const before = this.compares;
    const found = this.lookup(gfn);
    this.memoGfn[e] = gfn;
    this.memoGen[e] = this.generation;
    this.memoCompares[e] = this.compares - before;
    this.memoSlot[e] = found;
    return found;
  }

  private readonly memoGfn = new Float64Array(MEMO_ENTRIES);
  private readonly memoGen = new Float64Array(MEMO_ENTRIES).fill(-1);
  private readonly memoCompares = new Int32Array(MEMO_ENTRIES);
  private readonly memoSlot: (Memslot | null)[] = new Array<Memslot | null>(MEMO_ENTRIES).fill(null);

  /** kvm_is_visible_gfn (kvm_main.c, 3.0.1 and 3.1.10): `for (i = 0; i < KVM_MEMORY_SLOTS; ++i)`,
   *  skipping `memslot->flags & KVM_MEMSLOT_INVALID`: the user slots only, whatever nmemslots is. */
  isVisible(gfn: number): boolean {
    for (let i = 0; i < KVM_MEMORY_SLOTS; i++) {
      this.compares++;
      const s = this.slots[i];
      if (s === null || s === undefined || s.invalid) continue;
      if (gfn >= s.baseGfn && gfn < s.baseGfn + s.npages) return true;
    }
    return false;
  }

  /** A lookup that is not the kernel's (the simulator's own bookkeeping): the first slot holding
   *  `gfn`, in the same order, without counting. */
  find(gfn: number): Memslot | null {
    const n = this.nmemslots;
    for (let i = 0; i < n; i++) {
      const s = this.slots[i];
      if (s !== null && s !== undefined && gfn >= s.baseGfn && gfn < s.baseGfn + s.npages) return s;
    }
    return null;
  }

  /** Store an entry and publish the array (rcu_assign_pointer of the new kvm_memslots). */
  install(slot: Memslot): void {
    this.slots[slot.id] = slot;
    this.publish(slot.id);
  }

  /** Publish a copy of the array for a change to entry `id`: `if (mem->slot >= slots->nmemslots)
   *  slots->nmemslots = mem->slot + 1; slots->generation++;`. */
  publish(id: number): void {
    if (id >= this.nmemslots) this.nmemslots = id + 1;
    this.generation++;
  }

  /**
   * The overlap check of __kvm_set_memory_region: `for (i = 0; i < KVM_MEMORY_SLOTS; ++i) { if (s ==
   * memslot || !s->npages) continue; if (!((base_gfn + npages <= s->base_gfn) || (base_gfn >=
   * s->base_gfn + s->npages))) goto out_free; }` Only user slots are checked, and with npages 0 (a
   * deletion) a base gfn strictly inside another slot still clashes.
   */
  overlaps(gfn: number, npages: number, id: number): Memslot | null {
    for (let i = 0; i < KVM_MEMORY_SLOTS; i++) {
      const s = this.slots[i];
      if (i === id || s === null || s === undefined || s.npages === 0) continue;
      if (!(gfn + npages <= s.baseGfn || gfn >= s.baseGfn + s.npages)) return s;
    }
    return null;
  }
}
