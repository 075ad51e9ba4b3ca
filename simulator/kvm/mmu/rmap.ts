// The reverse map (rmap): for every guest frame, the leaf SPTEs that map it, so that KVM can
// write-protect a guest page table (rmap_write_protect) or drop a page's mappings. Kept per gfn; each
// add, remove and walk looks the memslot up first (gfn_to_rmap -> gfn_to_memslot), as 3.x does.
// MMIO SPTEs are never in an rmap.

import type { Kvm } from '../kvm';
import type { Vcpu } from '../vcpu';
import { PT_WRITABLE_MASK } from '../../arch/x86/paging';

export class Rmap {
  private readonly heads = new Map<number, number[]>();

  constructor(private readonly kvm: Kvm) {}

  /** rmap_add: `word` is the SPTE's word index in host memory. */
  add(vcpu: Vcpu, gfn: number, word: number): void {
    this.kvm.gfnToMemslot(vcpu, gfn);
    let list = this.heads.get(gfn);
    if (!list) this.heads.set(gfn, (list = []));
    list.push(word);
  }

  /** rmap_remove. */
  remove(vcpu: Vcpu, gfn: number, word: number): void {
    this.kvm.gfnToMemslot(vcpu, gfn);
    const list = this.heads.get(gfn);
    if (!list) return;
    const at = list.indexOf(word);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.heads.delete(gfn);
  }

  /** rmap_write_protect: clear W in every SPTE mapping `gfn`; true when one changed (a flush is due). */
  writeProtect(vcpu: Vcpu, gfn: number): boolean {
    // gfn_to_rmap(kvm, gfn, PT_PAGE_TABLE_LEVEL), then the same for each large level (`for (i =
    // PT_DIRECTORY_LEVEL; i < PT_PAGE_TABLE_LEVEL + KVM_NR_PAGE_SIZES; ++i)`, KVM_NR_PAGE_SIZES 3):
    // three lookups. Host pages are 4K, so only the first rmap holds SPTEs.
    this.kvm.gfnToMemslot(vcpu, gfn);
    this.kvm.gfnToMemslot(vcpu, gfn);
    this.kvm.gfnToMemslot(vcpu, gfn);
    const words = this.kvm.host.words;
    let changed = false;
    for (const w of this.heads.get(gfn) ?? []) {
      if (words[w]! & PT_WRITABLE_MASK) {
        this.kvm.setSpte(vcpu, w, (words[w]! & ~PT_WRITABLE_MASK) >>> 0, words[w + 1]!);
        changed = true;
      }
    }
    return changed;
  }
}
