// SPTE encodings per era. Under EPT the SPTEs are EPT entries; under shadow paging they are x86
// paging entries. Layouts (kvm-mmio-reference §2.4, §2.5):
//
//   v3.0: no MMIO SPTE. Non-present entries are trap/notrap values (both 0 under EPT, where
//         bypass_guest_pf is forced off).
//   v3.1 (3.1.10 mmu.c, x86.c kvm_set_mmio_spte_mask): an MMIO SPTE is `shadow_mmio_mask | (access & (W|U)) | gfn << 12`,
//         recognised by `(spte & mask) == mask`:
//           EPT mask    = 0xff << 49 | 0x6  = 0x01FE000000000006  (RWX = 110b: EPT misconfiguration;
//                         the byte at 49..56 is only a marker)
//           shadow mask = GENMASK(62, maxphyaddr) | P            (P dropped when maxphyaddr = 52)
//         Under EPT the marker byte overlaps address bits 49-56, so the encoding holds only for GPAs
//         below 2^49 (every CPU of the era had MAXPHYADDR <= 46).
//         Worked examples, gfn 0xFEBF0, access W|U (6): EPT 0x01FE0000FEBF0006 (access decodes to 0:
//         the mask covers bits 1-2); shadow, maxphyaddr 40: 0x7FFFFF00FEBF0007.
//
// Leaf and non-leaf EPT SPTEs (set_spte / __direct_map, v3.x): R comes from PT_PRESENT_MASK (bit 0),
// W is bit 1, X is shadow_x_mask = bit 2; a leaf adds the memory type from vmx_get_mt_mask
// (0x70 = WB | IPAT for RAM) and SPTE_HOST_WRITEABLE (bit 9); a non-leaf is
// `__pa(child) | PT_PRESENT_MASK | PT_WRITABLE_MASK | shadow_x_mask` = address | 0x7.

import { frameHi, frameLo, frameOf, hiBits } from '../../arch/x86/u64';
import { PT_PRESENT_MASK, PT_WRITABLE_MASK, PT_ACCESSED_MASK, PT_USER_MASK, PT64_NX_MASK_HI, ACC_WRITE_MASK, ACC_USER_MASK, ACC_EXEC_MASK } from '../../arch/x86/paging';
import { EPT_RAM_MEMTYPE, VMX_EPT_EXECUTABLE_MASK } from '../../arch/x86/ept';
import type { Kernel } from '../../scenario/types';

export const SPTE_HOST_WRITEABLE = 1 << 9; // PT_FIRST_AVAIL_BITS_SHIFT 9 in v3.0-v3.5

/** v3.0 with bypass_guest_pf: kvm_mmu_set_nonpresent_ptes(~0xffe, 0). The trap value has P and every
 *  bit from 12 up: a reserved-bit #PF with P = 1, which exits; notrap (0) faults with P = 0, which the
 *  CPU delivers to the guest without an exit (PFEC_MASK = PFEC_MATCH = 1). */
export const TRAP_LO = 0xfffff001;
export const TRAP_HI = 0xffffffff;

/** The EPT MMIO mask of v3.1 (ept_set_mmio_spte_mask): (0xff << 49) | VMX_EPT_MISCONFIG_WX_VALUE. */
export const EPT_MMIO_MASK_LO = 0x6;
export const EPT_MMIO_MASK_HI = 0xff << 17; // bits 49..56 are bits 17..24 of the high half

/** The encoding rules of one era and MMU mode, fixed when the VM is created. */
export class SpteFormat {
  /** shadow_mmio_mask halves; both 0 when the era has no MMIO SPTE. */
  readonly mmioLo: number;
  readonly mmioHi: number;

  /** shadow_trap_nonpresent_pte: the value written for "not built yet" and on every zap. */
  readonly trapLo: number;
  readonly trapHi: number;

  constructor(
    readonly kernel: Kernel,
    readonly tdp: boolean,
    readonly maxphyaddr: number,
    /** v3.0's bypass_guest_pf (only with shadow paging). */
    readonly bypass = false,
  ) {
    this.trapLo = bypass ? TRAP_LO : 0;
    this.trapHi = bypass ? TRAP_HI : 0;
    if (kernel === 'v3.0') {
      this.mmioLo = 0;
      this.mmioHi = 0;
    } else if (tdp) {
      this.mmioLo = EPT_MMIO_MASK_LO;
      this.mmioHi = EPT_MMIO_MASK_HI >>> 0;
    } else {
      // kvm_set_mmio_spte_mask: GENMASK(62, maxphyaddr), plus P unless no reserved bit exists.
      this.mmioHi = hiBits(maxphyaddr, 63);
      this.mmioLo = maxphyaddr === 52 ? 0 : PT_PRESENT_MASK;
    }
  }

  /** Does this era have MMIO SPTEs at all? */
  get hasMmioSpte(): boolean {
    return this.mmioLo !== 0 || this.mmioHi !== 0;
  }

  /** is_mmio_spte: `(spte & shadow_mmio_mask) == shadow_mmio_mask` (never true in v3.0). */
  isMmioSpte(lo: number, hi: number): boolean {
    if (!this.hasMmioSpte) return false;
    return (lo & this.mmioLo) === this.mmioLo && ((hi & this.mmioHi) >>> 0) === this.mmioHi;
  }

  /** is_shadow_present_pte: v3.1 `P && !is_mmio_spte`; v3.0 `pte != trap && pte != notrap`. */
  isShadowPresent(lo: number, hi: number): boolean {
    if (this.kernel === 'v3.0') return (lo !== 0 || hi !== 0) && !this.isTrap(lo, hi);
    return (lo & PT_PRESENT_MASK) !== 0 && !this.isMmioSpte(lo, hi);
  }

  /** The trap value (v3.0 with bypass_guest_pf); never true otherwise. Compared exactly: the 2011
   *  MMIO mask test would also match it (kvm-mmio-reference §9.3). */
  isTrap(lo: number, hi: number): boolean {
    return this.trapLo !== 0 && lo === this.trapLo && hi === this.trapHi;
  }

  /** The notrap value (0, shadow_notrap_nonpresent_pte) where it differs from the trap value: v3.0
   *  with bypass_guest_pf. Otherwise trap = notrap = 0 and a 0 entry is merely empty. */
  isNotrap(lo: number, hi: number): boolean {
    return this.trapLo !== 0 && lo === 0 && hi === 0;
  }

  /** Low half of a shadow-paging leaf (set_spte without tdp): P | A (unless speculative) | U | W |
   *  host-writable | pfn; NX (high half) when the access has no exec. */
  shadowLeafLo(pfn: number, access: number, speculative: boolean): number {
    let lo = PT_PRESENT_MASK | SPTE_HOST_WRITEABLE | frameLo(pfn);
    if (!speculative) lo |= PT_ACCESSED_MASK;
    if (access & ACC_USER_MASK) lo |= PT_USER_MASK;
    if (access & ACC_WRITE_MASK) lo |= PT_WRITABLE_MASK;
    return lo >>> 0;
  }
  shadowLeafHi(pfn: number, access: number): number {
    return (frameHi(pfn) | (access & ACC_EXEC_MASK ? 0 : PT64_NX_MASK_HI)) >>> 0;
  }

  /** link_shadow_page (shadow paging): `__pa(sp->spt) | P | A | W | U`. */
  shadowNonLeafLo(pfn: number): number {
    return (frameLo(pfn) | PT_PRESENT_MASK | PT_ACCESSED_MASK | PT_WRITABLE_MASK | PT_USER_MASK) >>> 0;
  }

  /** mark_mmio_spte: low half of `mask | (access & (W|U)) | gfn << 12`. */
  mmioLoOf(gfn: number, access: number): number {
    return (this.mmioLo | (access & (ACC_WRITE_MASK | ACC_USER_MASK)) | frameLo(gfn)) >>> 0;
  }
  mmioHiOf(gfn: number): number {
    return (this.mmioHi | frameHi(gfn)) >>> 0;
  }

  /** get_mmio_spte_gfn: `(spte & ~mask) >> PAGE_SHIFT`. */
  mmioGfn(lo: number, hi: number): number {
    return frameOf(lo & ~this.mmioLo, hi & ~this.mmioHi);
  }

  /** get_mmio_spte_access: `(spte & ~mask) & ~PAGE_MASK` (always 0 under EPT: the mask covers W and X). */
  mmioAccess(lo: number): number {
    return lo & ~this.mmioLo & 0xfff;
  }

  /** Low half of an EPT leaf for RAM (set_spte under tdp): R | X | W (if writable) | WB|IPAT | host-writable | pfn. */
  eptLeafLo(pfn: number, access: number): number {
    let lo = PT_PRESENT_MASK | EPT_RAM_MEMTYPE | SPTE_HOST_WRITEABLE | frameLo(pfn);
    if (access & ACC_EXEC_MASK) lo |= VMX_EPT_EXECUTABLE_MASK;
    if (access & ACC_WRITE_MASK) lo |= PT_WRITABLE_MASK;
    return lo >>> 0;
  }

  /** Low half of a non-leaf EPT SPTE pointing at the shadow page in host frame `pfn`. */
  eptNonLeafLo(pfn: number): number {
    return (frameLo(pfn) | PT_PRESENT_MASK | PT_WRITABLE_MASK | VMX_EPT_EXECUTABLE_MASK) >>> 0;
  }
}

/** A named bit field of an SPTE, for a bit ruler: bits `lo`..`hi` inclusive. */
export interface SpteField {
  name: string;
  hi: number;
  lo: number;
}

/**
 * The fields of an SPTE of `kind` in this era and mode, highest bit first: the layouts documented at
 * the top of this file, as a ruler names them.
 */
export function spteFields(fmt: SpteFormat, kind: 'leaf' | 'nonleaf' | 'mmio' | 'trap' | 'notrap' | 'nonpresent'): SpteField[] {
  const m = fmt.maxphyaddr;
  if (kind === 'mmio') {
    return fmt.tdp
      ? [{ name: 'MMIO marker 0xff', hi: 56, lo: 49 }, { name: 'gfn', hi: 48, lo: 12 }, { name: 'RWX = 110b (misconfig)', hi: 2, lo: 0 }]
      : [{ name: 'reserved PA bits (mask)', hi: 62, lo: m }, { name: 'gfn', hi: m - 1, lo: 12 }, { name: 'U', hi: 2, lo: 2 }, { name: 'W', hi: 1, lo: 1 }, { name: 'P', hi: 0, lo: 0 }];
  }
  if (kind === 'trap') return [{ name: 'trap: bits 12-63 set (reserved), P', hi: 63, lo: 12 }, { name: 'P', hi: 0, lo: 0 }];
  // notrap is 0: P clear, so the #PF's error code has P = 0 and PFEC_MASK = PFEC_MATCH = 1 keeps it in the guest.
  if (kind === 'notrap') return [{ name: 'notrap: 0', hi: 63, lo: 1 }, { name: 'P', hi: 0, lo: 0 }];
  if (kind === 'nonpresent') return [{ name: 'not present', hi: 63, lo: 0 }];
  if (fmt.tdp) {
    const common = [{ name: 'pfn', hi: 51, lo: 12 }];
    if (kind === 'nonleaf') return [...common, { name: 'X', hi: 2, lo: 2 }, { name: 'W', hi: 1, lo: 1 }, { name: 'R', hi: 0, lo: 0 }];
    return [...common, { name: 'host-writable', hi: 9, lo: 9 }, { name: 'IPAT', hi: 6, lo: 6 }, { name: 'memory type', hi: 5, lo: 3 }, { name: 'X', hi: 2, lo: 2 }, { name: 'W', hi: 1, lo: 1 }, { name: 'R', hi: 0, lo: 0 }];
  }
  const top = [{ name: 'NX', hi: 63, lo: 63 }, { name: 'pfn', hi: 51, lo: 12 }];
  if (kind === 'nonleaf') return [...top, { name: 'A', hi: 5, lo: 5 }, { name: 'U', hi: 2, lo: 2 }, { name: 'W', hi: 1, lo: 1 }, { name: 'P', hi: 0, lo: 0 }];
  return [...top, { name: 'host-writable', hi: 9, lo: 9 }, { name: 'D', hi: 6, lo: 6 }, { name: 'A', hi: 5, lo: 5 }, { name: 'U', hi: 2, lo: 2 }, { name: 'W', hi: 1, lo: 1 }, { name: 'P', hi: 0, lo: 0 }];
}
