// x86 paging-entry bits (arch/x86/kvm/mmu.h; the same bits in 3.0.1 and 3.1.10), #PF error-code bits and
// KVM's ACC_* access bits. All low-half masks unless named *_HI (bit 32+n of an entry is bit n of hi).

export const PT_PRESENT_MASK = 1 << 0;
export const PT_WRITABLE_MASK = 1 << 1;
export const PT_USER_MASK = 1 << 2;
export const PT_PWT_MASK = 1 << 3;
export const PT_PCD_MASK = 1 << 4;
export const PT_ACCESSED_MASK = 1 << 5;
export const PT_DIRTY_MASK = 1 << 6;
export const PT_PAGE_SIZE_MASK = 1 << 7; // PS in a PDE/PDPTE; PAT in a 4K PTE
export const PT_GLOBAL_MASK = 1 << 8;
export const PT64_NX_MASK_HI = 1 << 31; // bit 63

/** Levels as KVM numbers them: 1 = 4K PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E. */
export const PT_PAGE_TABLE_LEVEL = 1;
export const PT_DIRECTORY_LEVEL = 2;
export const PT_PDPE_LEVEL = 3;
export const PT64_ROOT_LEVEL = 4;
export const PT64_ENT_PER_PAGE = 512;

/** #PF error code bits (PFERR_*). */
export const PFERR_PRESENT_MASK = 1 << 0;
export const PFERR_WRITE_MASK = 1 << 1;
export const PFERR_USER_MASK = 1 << 2;
export const PFERR_RSVD_MASK = 1 << 3;
export const PFERR_FETCH_MASK = 1 << 4;
export const PFERR_PK_MASK = 1 << 5;

/** KVM access bits: exec is positive, write = PT_WRITABLE_MASK, user = PT_USER_MASK. */
export const ACC_EXEC_MASK = 1;
export const ACC_WRITE_MASK = PT_WRITABLE_MASK;
export const ACC_USER_MASK = PT_USER_MASK;
export const ACC_ALL = ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK;

/** Scenario flag tokens for a guest paging entry, as (lo, hi) bits. */
export const FLAG_TOKENS: Readonly<Record<string, { lo: number; hi: number }>> = {
  p: { lo: PT_PRESENT_MASK, hi: 0 },
  w: { lo: PT_WRITABLE_MASK, hi: 0 },
  u: { lo: PT_USER_MASK, hi: 0 },
  pwt: { lo: PT_PWT_MASK, hi: 0 },
  pcd: { lo: PT_PCD_MASK, hi: 0 },
  a: { lo: PT_ACCESSED_MASK, hi: 0 },
  d: { lo: PT_DIRTY_MASK, hi: 0 },
  g: { lo: PT_GLOBAL_MASK, hi: 0 },
  nx: { lo: 0, hi: PT64_NX_MASK_HI },
};

/** Index of a guest virtual page number at a level (9 bits per level above the 4K page). */
export function indexOfVpn(vpn: number, level: number): number {
  // Levels 1-3 use vpn bits 0-26, which `>>>` (ToUint32: the low 32 bits, exact below 2^53) keeps;
  // level 4 uses bits 27-35.
  return level === 4 ? Math.floor(vpn / 134217728) & 511 : (vpn >>> (9 * (level - 1))) & 511;
}

/** The pages a leaf at `level` covers (1, 512, 512*512). */
export function pagesPerLevel(level: number): number {
  return PAGES_PER_LEVEL[level]!;
}
const PAGES_PER_LEVEL = [0, 1, 512, 512 * 512, 512 * 512 * 512, 512 ** 4];
