// EPT entry bits (arch/x86/include/asm/vmx.h) and the SDM's misconfiguration rules, which the
// hardware model applies on every EPT walk. Under EPT, KVM's SPTEs are EPT entries.

import { hiBits } from './u64';

export const VMX_EPT_READABLE_MASK = 0x1;
export const VMX_EPT_WRITABLE_MASK = 0x2;
export const VMX_EPT_EXECUTABLE_MASK = 0x4;
export const VMX_EPT_RWX_MASK = 0x7;
export const VMX_EPT_MT_EPTE_SHIFT = 3;
export const VMX_EPT_MT_MASK = 0x7 << 3;
export const VMX_EPT_IPAT_BIT = 1 << 6;
export const VMX_EPT_PAGE_SIZE = 1 << 7;
export const VMX_EPT_MISCONFIG_WX_VALUE = 0x6;

export const MTRR_TYPE_UNCACHABLE = 0;
export const MTRR_TYPE_WRBACK = 6;
/** v3.x vmx_get_mt_mask for RAM: write-back with "ignore PAT" (0x70). */
export const EPT_RAM_MEMTYPE = (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT;

/**
 * SDM "EPT Misconfigurations" for a present entry (bits 2:0 != 0) at `level`, `leaf` telling whether
 * the walk stops here: RWX 010b/110b (100b is allowed: the modelled CPU supports execute-only
 * entries, as every VMX CPU with EPT of the era does), reserved physical
 * address bits 51:maxphyaddr (`rsvdPaHi`, from reservedPaMaskHi), reserved bits per level, and a
 * leaf memory type of 2, 3 or 7.
 */
export function eptMisconfigured(lo: number, hi: number, level: number, leaf: boolean, rsvdPaHi: number): boolean {
  const rwx = lo & VMX_EPT_RWX_MASK;
  if (rwx === 0x2 || rwx === 0x6) return true;
  if (hi & rsvdPaHi) return true;
  if (leaf) {
    const mt = (lo & VMX_EPT_MT_MASK) >>> VMX_EPT_MT_EPTE_SHIFT;
    if (mt === 2 || mt === 3 || mt === 7) return true;
    if (level === 2 && (lo & 0x1ff000) !== 0) return true; // 2M leaf: bits 20:12 reserved
    if (level === 3 && (lo & 0x3ffff000) !== 0) return true; // 1G leaf: bits 29:12 reserved
    return false;
  }
  // Non-leaf: bits 7:3 of a PML4E are reserved, 6:3 of a PDPTE or PDE, whose bit 7 is 0 (else a leaf).
  return (lo & 0xf8) !== 0;
}

/** High-half mask of physical-address bits 51:maxphyaddr (reserved in every paging structure). */
export function reservedPaMaskHi(maxphyaddr: number): number {
  return hiBits(maxphyaddr, 52);
}

/** An EPT leaf: level 1, or bit 7 set at level 2 or 3. */
export function eptIsLeaf(lo: number, level: number): boolean {
  return level === 1 || ((level === 2 || level === 3) && (lo & VMX_EPT_PAGE_SIZE) !== 0);
}
