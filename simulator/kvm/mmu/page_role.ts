// A shadow page's role word (`union kvm_mmu_page_role`, arch/x86/include/asm/kvm_host.h) decoded
// field by field, as each era lays it out. Both trees (3.0.1:196-209, 3.1.10:196-210):
//
//   unsigned level:4; unsigned cr4_pae:1; unsigned quadrant:2; unsigned pad_for_nice_hex_output:6;
//   unsigned direct:1; unsigned access:3; unsigned invalid:1; unsigned nxe:1; unsigned cr0_wp:1;
//
// and 3.1.10 adds `unsigned smep_andnot_wp:1;` after cr0_wp. Neither has the `glevels` of older
// kernels. GCC on x86 allocates bit-fields from bit 0 up, so `level` is bits 0-3.

import type { Kernel } from '../../scenario/types';

export interface RoleField {
  /** The kernel's field name. */
  name: string;
  /** Lowest bit and width in the role word. */
  lo: number;
  width: number;
  value: number;
  /** The value as people read it: a number, or `access`'s letters as KVM_MMU_PAGE_PRINTK prints them. */
  text: string;
}

interface Layout {
  name: string;
  width: number;
}

const COMMON: readonly Layout[] = [
  { name: 'level', width: 4 },
  { name: 'cr4_pae', width: 1 },
  { name: 'quadrant', width: 2 },
  { name: 'pad_for_nice_hex_output', width: 6 },
  { name: 'direct', width: 1 },
  { name: 'access', width: 3 },
  { name: 'invalid', width: 1 },
  { name: 'nxe', width: 1 },
  { name: 'cr0_wp', width: 1 },
];

const LAYOUTS: Record<Kernel, readonly Layout[]> = {
  'v3.0': COMMON,
  'v3.1': [...COMMON, { name: 'smep_andnot_wp', width: 1 }],
};

/** mmutrace.h (3.0.1, 3.1.10) KVM_MMU_PAGE_PRINTK's `access_str[]`, indexed by ACC_EXEC 1 | ACC_WRITE 2 | ACC_USER 4. */
const ACCESS_STR = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];

/**
 * The fields of `word` in the era's layout, low bit first. The padding is left out while it is 0 (it
 * always is: nothing sets it); bits above the last field, if ever set, are one `(unused)` field, so
 * nothing in the word goes unshown.
 */
export function decodeRole(word: number, kernel: Kernel): RoleField[] {
  const out: RoleField[] = [];
  let lo = 0;
  for (const f of LAYOUTS[kernel]) {
    const value = (word >>> lo) & ((1 << f.width) - 1);
    if (f.name !== 'pad_for_nice_hex_output' || value !== 0) out.push({ name: f.name, lo, width: f.width, value, text: f.name === 'access' ? ACCESS_STR[value]! : String(value) });
    lo += f.width;
  }
  const rest = lo >= 32 ? 0 : word >>> lo;
  if (rest !== 0) out.push({ name: '(unused)', lo, width: 32 - lo, value: rest, text: `0x${rest.toString(16)}` });
  return out;
}

/** `level=4 cr4_pae=1 quadrant=0 direct=0 access=wux invalid=0 nxe=1 cr0_wp=1`: the role in one line. */
export function roleText(fields: readonly RoleField[]): string {
  return fields.map((f) => `${f.name}=${f.text}`).join(' ');
}
