// Shadow-page roles decoded field by field (simulator/kvm/mmu/page_role.ts). The expected bit
// positions come from the kernel text, quoted below and parsed here: bit-fields are allocated from
// bit 0 up (GCC, x86), each after the previous one, so a field's offset is the sum of the widths
// before it.

import { describe, expect, it } from 'vitest';
import { decodeRole, roleText } from '../simulator/kvm/mmu/page_role';
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_INVALID, ROLE_NXE, ROLE_SMEP_ANDNOT_WP } from '../simulator/kvm/mmu/shadow_pages';
import { run, vm } from './helpers/scenario';

/** linux-3.0.1 arch/x86/include/asm/kvm_host.h:196-209. */
const V30 = `union kvm_mmu_page_role {
	unsigned word;
	struct {
		unsigned level:4;
		unsigned cr4_pae:1;
		unsigned quadrant:2;
		unsigned pad_for_nice_hex_output:6;
		unsigned direct:1;
		unsigned access:3;
		unsigned invalid:1;
		unsigned nxe:1;
		unsigned cr0_wp:1;
	};
};`;

/** linux-3.1.10 arch/x86/include/asm/kvm_host.h:196-210. */
const V31 = `union kvm_mmu_page_role {
	unsigned word;
	struct {
		unsigned level:4;
		unsigned cr4_pae:1;
		unsigned quadrant:2;
		unsigned pad_for_nice_hex_output:6;
		unsigned direct:1;
		unsigned access:3;
		unsigned invalid:1;
		unsigned nxe:1;
		unsigned cr0_wp:1;
		unsigned smep_andnot_wp:1;
	};
};`;

/** The quoted struct's fields with their offsets. */
function layout(quoted: string): { name: string; lo: number; width: number }[] {
  const out: { name: string; lo: number; width: number }[] = [];
  let lo = 0;
  for (const m of quoted.matchAll(/unsigned (\w+):(\d+);/g)) {
    out.push({ name: m[1]!, lo, width: Number(m[2]) });
    lo += Number(m[2]);
  }
  return out;
}

/** mmutrace.h (3.0.1, 3.1.10) KVM_MMU_PAGE_PRINTK: `"---", "--x", "w--", "w-x", "-u-", "-ux", "wu-", "wux"`. */
const ACCESS_STR = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];

describe('shadow-page roles, decoded in each era\'s layout of union kvm_mmu_page_role', () => {
  for (const [kernel, quoted] of [['v3.0', V30], ['v3.1', V31]] as const) {
    const fields = layout(quoted);

    it(`${kernel}: each field alone, at its largest value, decodes to that field and value only`, () => {
      for (const f of fields) {
        const max = (1 << f.width) - 1;
        const word = (max << f.lo) >>> 0;
        const decoded = decodeRole(word, kernel);
        const set = decoded.filter((d) => d.value !== 0);
        expect(set.map((d) => [d.name, d.lo, d.width, d.value]), f.name).toEqual([[f.name, f.lo, f.width, max]]);
      }
    });

    it(`${kernel}: a word with every field set to a different value`, () => {
      const values: Record<string, number> = { level: 3, cr4_pae: 1, quadrant: 2, pad_for_nice_hex_output: 0, direct: 1, access: 5, invalid: 0, nxe: 1, cr0_wp: 1, smep_andnot_wp: 1 };
      let word = 0;
      for (const f of fields) word |= values[f.name]! << f.lo;
      const decoded = decodeRole(word >>> 0, kernel);
      // The padding is only shown when set (nothing sets it); every other quoted field, in order.
      expect(decoded.map((d) => d.name)).toEqual(fields.map((f) => f.name).filter((n) => n !== 'pad_for_nice_hex_output'));
      for (const d of decoded) expect(d.value, d.name).toBe(values[d.name]);
      expect(decoded.find((d) => d.name === 'access')!.text).toBe(ACCESS_STR[5]);
      expect(roleText(decoded)).toBe(
        kernel === 'v3.0'
          ? 'level=3 cr4_pae=1 quadrant=2 direct=1 access=-ux invalid=0 nxe=1 cr0_wp=1'
          : 'level=3 cr4_pae=1 quadrant=2 direct=1 access=-ux invalid=0 nxe=1 cr0_wp=1 smep_andnot_wp=1',
      );
    });

    it(`${kernel}: no bit of the word goes unshown`, () => {
      const top = fields[fields.length - 1]!;
      const above = top.lo + top.width; // 20 in 3.0.1, 21 in 3.1.10
      const decoded = decodeRole((1 << above) >>> 0, kernel);
      expect(decoded.find((d) => d.value !== 0)).toMatchObject({ name: '(unused)', lo: above, value: 1 });
      expect(decodeRole(1 << 7, kernel).find((d) => d.name === 'pad_for_nice_hex_output')?.value).toBe(1);
    });
  }

  it('the simulator\'s role constants sit where the quoted layout puts the fields', () => {
    const at = (quoted: string, name: string) => layout(quoted).find((f) => f.name === name)!.lo;
    expect([ROLE_DIRECT, ROLE_INVALID, ROLE_NXE, ROLE_CR0_WP]).toEqual([1 << at(V30, 'direct'), 1 << at(V30, 'invalid'), 1 << at(V30, 'nxe'), 1 << at(V30, 'cr0_wp')]);
    expect(ROLE_ACCESS_SHIFT).toBe(at(V30, 'access'));
    expect(ROLE_SMEP_ANDNOT_WP).toBe(1 << at(V31, 'smep_andnot_wp'));
    expect(layout(V30).some((f) => f.name === 'smep_andnot_wp')).toBe(false);
  });

  it('a shadow-paging run: the root\'s role decoded (4-level guest, CR0.WP and EFER.NX set)', () => {
    // vm(): a 4-level guest with cr0_wp and efer_nx. 3.0.1 mmu.c:2534-2535 mmu_alloc_roots:
    // `sp = kvm_mmu_get_page(vcpu, root_gfn, 0, PT64_ROOT_LEVEL, 0, ACC_ALL, NULL);` (level 4, not
    // direct, access 7 = "wux"); 3038-3039 `base_role.cr4_pae = !!is_pae(vcpu); base_role.cr0_wp =
    // is_write_protection(vcpu);` (long mode has PAE on); nxe from EFER.NX.
    for (const kernel of ['v3.0', 'v3.1'] as const) {
      const r = run(vm(kernel, '  - { read: 0xffff880000100000, size: 8 }').replace(`kernel: ${kernel}`, `kernel: ${kernel}\nmmu: { tdp: false }`));
      const root = r.shadow_tables.pages.find((p) => p.rootOf.includes(0))!;
      const byName = Object.fromEntries(root.roleFields.map((f) => [f.name, f.text]));
      expect(byName).toMatchObject({ level: '4', cr4_pae: '1', quadrant: '0', direct: '0', access: 'wux', invalid: '0', nxe: '1', cr0_wp: '1' });
      expect('smep_andnot_wp' in byName).toBe(kernel === 'v3.1');
    }
  });
});
