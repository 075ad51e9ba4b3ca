// A decoded snapshot of KVM's shadow page tables, for people: every shadow page (level, gfn, role,
// direct or not, root or not) and each non-empty entry, decoded as the era and the MMU mode define
// it: a present leaf (pfn and permission bits), a non-leaf (the child page), an MMIO SPTE (gfn,
// access), v3.0's trap and notrap values (bypass_guest_pf), or another non-present value; the role
// decoded in the era's layout. Built on request, never on the hot path.

import type { Kvm } from '../kvm';
import { frameOf, hex64, hexNum } from '../../arch/x86/u64';
import { PT_ACCESSED_MASK, PT_DIRTY_MASK, PT_PRESENT_MASK, PT_USER_MASK, PT_WRITABLE_MASK, PT64_NX_MASK_HI } from '../../arch/x86/paging';
import { VMX_EPT_EXECUTABLE_MASK, VMX_EPT_IPAT_BIT, VMX_EPT_MT_MASK, VMX_EPT_MT_EPTE_SHIFT } from '../../arch/x86/ept';
import { SPTE_HOST_WRITEABLE, spteFields, type SpteField } from './spte';
import { ROLE_ACCESS_SHIFT, ROLE_CR0_WP, ROLE_DIRECT, ROLE_INVALID, ROLE_NXE, ROLE_SMEP_ANDNOT_WP } from './shadow_pages';
import { decodeRole, type RoleField } from './page_role';

export type SpteKind = 'leaf' | 'nonleaf' | 'mmio' | 'trap' | 'notrap' | 'nonpresent';

export interface SpteRecord {
  index: number;
  /** The raw 64-bit value. */
  value: string;
  kind: SpteKind;
  /** What the entry maps or points at, by kind: host pfn (leaf), child page id (non-leaf), gfn (MMIO). */
  target: string;
  /** Permission and state bits as letters: R W X (EPT) or W U NX (shadow), A D, host-writable H. */
  flags: string;
  /** The guest frame this entry translates (leaf, MMIO), when known. */
  gfn: string | null;
}

export interface ShadowPageRecord {
  id: number;
  gfn: string;
  level: number;
  /** The raw role word, and its fields in the era's layout (page_role.ts). */
  role: string;
  roleFields: RoleField[];
  direct: boolean;
  invalid: boolean;
  /** The vCPUs whose root this page is. */
  rootOf: number[];
  access: string;
  /** The role's guest paging context (shadow paging): cr0_wp, nxe, and 3.1's smep_andnot_wp. */
  context: string;
  entries: SpteRecord[];
}

export interface ShadowTables {
  mode: 'ept' | 'shadow';
  kernel: string;
  /** The step after which the snapshot was taken (-1: before the workload; null: the end of the run). */
  afterStep: number | null;
  pages: ShadowPageRecord[];
  /** The bit fields of each kind of entry in this era and mode (highest first), for a bit ruler. */
  fields: Record<SpteKind, SpteField[]>;
}

const KINDS: readonly SpteKind[] = ['leaf', 'nonleaf', 'mmio', 'trap', 'notrap', 'nonpresent'];

const ACCESS_NAMES = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];

export function snapshotShadowTables(kvm: Kvm, afterStep: number | null): ShadowTables {
  const sp = kvm.sp;
  const pages: ShadowPageRecord[] = [];
  for (const id of [...sp.active].sort((a, b) => sp.level(b) - sp.level(a) || sp.gfn[a]! - sp.gfn[b]!)) {
    const role = sp.role[id]!;
    const entries: SpteRecord[] = [];
    const base = kvm.host.entryWord(sp.pfn[id]!, 0);
    for (let i = 0; i < 512; i++) {
      const lo = kvm.host.words[base + 2 * i]!;
      const hi = kvm.host.words[base + 2 * i + 1]!;
      // 0 is empty, except in v3.0 with bypass_guest_pf, where it is the notrap value: kept.
      if (lo === 0 && hi === 0 && !kvm.fmt.isNotrap(lo, hi)) continue;
      entries.push(decode(kvm, id, i, lo, hi));
    }
    pages.push({
      id,
      gfn: hexNum(sp.gfn[id]!),
      level: sp.level(id),
      role: hexNum(role >>> 0),
      roleFields: decodeRole(role >>> 0, kvm.kernel),
      direct: (role & ROLE_DIRECT) !== 0,
      invalid: (role & ROLE_INVALID) !== 0,
      rootOf: kvm.vcpus.filter((v) => v.root === id).map((v) => v.id),
      access: ACCESS_NAMES[(role >>> ROLE_ACCESS_SHIFT) & 7]!,
      context: kvm.tdp ? '' : `${role & ROLE_CR0_WP ? 'cr0_wp' : '!cr0_wp'} ${role & ROLE_NXE ? 'nxe' : '!nxe'}${role & ROLE_SMEP_ANDNOT_WP ? ' smep_andnot_wp' : ''}`, // TDP roles carry no guest paging context
      entries,
    });
  }
  const fields = Object.fromEntries(KINDS.map((k) => [k, spteFields(kvm.fmt, k)])) as Record<SpteKind, SpteField[]>;
  return { mode: kvm.tdp ? 'ept' : 'shadow', kernel: kvm.kernel, afterStep, pages, fields };
}

function decode(kvm: Kvm, id: number, index: number, lo: number, hi: number): SpteRecord {
  const fmt = kvm.fmt;
  const value = hex64(lo, hi);
  if (fmt.isTrap(lo, hi)) return { index, value, kind: 'trap', target: '', flags: '', gfn: null };
  if (fmt.isNotrap(lo, hi)) return { index, value, kind: 'notrap', target: '', flags: '', gfn: null };
  if (fmt.isMmioSpte(lo, hi)) {
    const access = fmt.mmioAccess(lo);
    return { index, value, kind: 'mmio', target: hexNum(fmt.mmioGfn(lo, hi)), flags: ACCESS_NAMES[access & 6]!, gfn: hexNum(fmt.mmioGfn(lo, hi)) };
  }
  if (!fmt.isShadowPresent(lo, hi)) return { index, value, kind: 'nonpresent', target: '', flags: '', gfn: null };
  const sp = kvm.sp;
  const pfn = frameOf(lo, hi);
  if (sp.level(id) > 1) {
    const child = sp.idOfPfn(pfn);
    return { index, value, kind: 'nonleaf', target: child >= 0 ? `page ${child}` : hexNum(pfn), flags: permissions(kvm, lo, hi), gfn: null };
  }
  return { index, value, kind: 'leaf', target: hexNum(pfn), flags: permissions(kvm, lo, hi), gfn: hexNum(sp.leafGfn(id, index)) };
}

/** The permission and state bits of a present SPTE, as letters. */
function permissions(kvm: Kvm, lo: number, hi: number): string {
  const out: string[] = [];
  if (kvm.tdp) {
    if (lo & PT_PRESENT_MASK) out.push('R');
    if (lo & PT_WRITABLE_MASK) out.push('W');
    if (lo & VMX_EPT_EXECUTABLE_MASK) out.push('X');
    const mt = (lo & VMX_EPT_MT_MASK) >>> VMX_EPT_MT_EPTE_SHIFT;
    if (mt !== 0 || lo & VMX_EPT_IPAT_BIT) out.push(`mt=${mt === 6 ? 'WB' : mt === 0 ? 'UC' : mt}${lo & VMX_EPT_IPAT_BIT ? '+IPAT' : ''}`);
  } else {
    out.push('P');
    if (lo & PT_WRITABLE_MASK) out.push('W');
    if (lo & PT_USER_MASK) out.push('U');
    if (hi & PT64_NX_MASK_HI) out.push('NX');
    if (lo & PT_ACCESSED_MASK) out.push('A');
    if (lo & PT_DIRTY_MASK) out.push('D');
  }
  if (lo & SPTE_HOST_WRITEABLE) out.push('H');
  return out.join(' ');
}
