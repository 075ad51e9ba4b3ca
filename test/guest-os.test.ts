// The guest OS steps (touch, fork, vfork, munmap, exit, exec, switch_mm) against the Linux 3.0.1 code they
// follow (docs/kernel-paths.md §20; simulator/guest/linux.ts): which PTEs change and to what, which
// pages are allocated, copied or reused, which flushes (INVLPG, CR3 loads) the guest makes, in EPT and
// shadow modes of both kernels. Bits: pgtable_types.h (3.0.1): _PAGE_TABLE = P|RW|U|A|D (0x67);
// PAGE_COPY = P|U|A|NX (0x25 + bit 63); _PAGE_SPECIAL = bit 9; do_anonymous_page makes a write's PTE
// pte_mkwrite(pte_mkdirty()) (0x67 + NX).
import { describe, it, expect, vi } from 'vitest';
import { KERNEL_MMU_MODES } from './helpers/modes';
import { machine, osVm, scenario } from './helpers/scenario';
import { runNative } from './helpers/native';
import { entryAddress } from '../simulator/guest/page_tables';
import { parseScenario } from '../simulator/scenario/parse';
import { collect, runScenario } from '../simulator/run/run';
import type { Machine } from '../simulator/run/machine';
import { workOf } from '../simulator/run/work_budget';

const MODES = KERNEL_MMU_MODES;

/** 64M of RAM, the direct map in 2M pages, a 1M page pool at 32M, and one 16K vma at 0x400000 in
 *  each of spaces 1-3. Space 0 is swapper_pg_dir's (kernel mappings only). */
function yaml(mode: { kernel: string; tdp: boolean }, steps: string[]): string {
  const head = `kernel: ${mode.kernel}\nmmu: { tdp: ${mode.tdp} }\n`;
  return osVm({ head, cpu: '{ cr0_wp: true, efer_nx: true }', nx: true, pool: '1M', processes: 3, steps: steps.map((s) => `  - ${s}`) });
}

const NX = 0x80000000;
const POOL = 0x2000; // the pool's first frame: the zero page

interface Seen {
  m: Machine;
  /** Every CR3 load the guest made (after setup), as the space loaded; and every INVLPG's page. */
  cr3: number[];
  invlpg: number[];
}

function runOs(mode: { kernel: string; tdp: boolean }, steps: string[]): Seen {
  return runText(yaml(mode, steps));
}

function runText(text: string, warnings: RegExp[] = []): Seen {
  const m = machine(text);
  const cr3: number[] = [];
  const invlpg: number[] = [];
  const load = m.runner.loadCr3.bind(m.runner);
  const inv = m.runner.invlpg.bind(m.runner);
  vi.spyOn(m.runner, 'loadCr3').mockImplementation((v, value) => {
    cr3.push(m.guest.cr3s.indexOf(value));
    load(v, value);
  });
  vi.spyOn(m.runner, 'invlpg').mockImplementation((v, vpn) => {
    invlpg.push(vpn);
    inv(v, vpn);
  });
  m.run();
  expect(m.kvm.warnings).toEqual(warnings.map((w) => expect.stringMatching(w)));
  return { m, cr3, invlpg };
}

/** The PTE of `gva` in `space` as [hi, lo], or null when no page table holds it. */
function pte(m: Machine, space: number, gva: number): [number, number] | null {
  const at = entryAddress(m.guest.ram, m.guest.cr3s[space]!, gva / 4096, 1);
  if (at < 0) return null;
  const e = m.guest.ram.read64(at);
  return [e.hi, e.lo];
}

/** The PML4 entry of `gva` in `space`. */
function pml4e(m: Machine, space: number, gva: number): number {
  return m.guest.ram.read64(m.guest.cr3s[space]! + Math.floor(gva / 2 ** 39) * 8).lo;
}

const value = (m: Machine, space: number, gva: number): number => {
  const e = pte(m, space, gva)!;
  return m.guest.ram.read64((e[1] & ~0xfff) + (gva & 0xfff)).lo;
};

describe('touch: handle_mm_fault -> do_anonymous_page / do_wp_page (mm/memory.c 3.0.1)', () => {
  for (const mode of MODES) {
    const name = `${mode.kernel} ${mode.tdp ? 'EPT' : 'shadow'}`;

    it(`${name}: a first write gets a zeroed page, PAGE_COPY made writable and dirty, its tables allocated, no flush`, () => {
      const { m, cr3, invlpg } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }']);
      // __pud_alloc, __pmd_alloc, __pte_alloc take pool frames 1, 2, 3 (frame 0 is the zero page);
      // each link is _PAGE_TABLE | pfn. The page itself is frame 4.
      expect(pml4e(m, 1, 0x400000)).toBe(((POOL + 1) * 4096 + 0x67) >>> 0);
      expect(pte(m, 1, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(value(m, 1, 0x400000)).toBe(7);
      // "No need to invalidate - it was non-present before" (3128): the only CR3 load is switch_mm's.
      expect(cr3).toEqual([1]);
      expect(invlpg).toEqual([]);
      const r = collect(m, {});
      expect(r.guest_os).toMatchObject({ anon_faults: 1, page_tables_allocated: 3, tlb_flushes: 0, invlpgs: 0, pool_frames_used: 5 });
      // The fault itself: under EPT the #PF goes through the guest's IDT without an exit; shadow
      // paging intercepts it (EXCEPTION_NMI) and the guest's PTE stores reach KVM.
      if (mode.tdp) expect(r.exits.EXCEPTION_NMI ?? 0).toBe(0);
      else expect(r.exits.EXCEPTION_NMI).toBeGreaterThan(0);
    });

    it(`${name}: a first read maps the zero page read-only (pte_mkspecial); a later write replaces it with a zeroed page and INVLPGs`, () => {
      const read = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x401000, access: read }']);
      expect(pte(read.m, 1, 0x401000)).toEqual([NX, POOL * 4096 + 0x225]); // P|U|A|_PAGE_SPECIAL, no RW, no D
      expect(read.invlpg).toEqual([]);
      const { m, cr3, invlpg } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x401000, access: read }', '{ touch: 0x401000, value: 5 }']);
      // do_wp_page: vm_normal_page() is NULL for the special PTE -> gotten: is_zero_pfn -> a zeroed
      // page; ptep_clear_flush (flush_tlb_page: one INVLPG) then set_pte_at_notify.
      expect(pte(m, 1, 0x401000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(value(m, 1, 0x401000)).toBe(5);
      expect(invlpg).toEqual([0x401]);
      expect(cr3).toEqual([1]);
      expect(collect(m, {}).guest_os).toMatchObject({ zero_page_faults: 1, cow_copies: 1, cow_reuses: 0 });
    });

    it(`${name}: fork write-protects the parent in place, copies read-only and old to the child, then flush_tlb_mm(oldmm): one CR3 write of the parent's own value`, () => {
      const { m, cr3, invlpg } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ fork: 2 }']);
      expect(pte(m, 1, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x65]); // ptep_set_wrprotect: RW cleared
      expect(pte(m, 2, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x45]); // pte_wrprotect + pte_mkold: RW and A cleared
      expect(pte(m, 1, 0x401000)).toEqual([NX, POOL * 4096 + 0x225]);
      expect(pte(m, 2, 0x401000)).toEqual([NX, POOL * 4096 + 0x205]);
      expect(pte(m, 2, 0x402000)).toEqual([0, 0]); // pte_none in the parent: nothing copied
      expect(cr3).toEqual([1, 1]); // switch_mm, then dup_mmap's flush_tlb_mm -> local_flush_tlb
      expect(invlpg).toEqual([]);
    });

    it(`${name}: after fork the first writer copies (the page is mapped twice), the last one reuses it; each INVLPGs its page`, () => {
      const { m, cr3, invlpg } = runOs(mode, [
        '{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ fork: 2 }',
        '{ touch: 0x400000, value: 8 }', // parent: page_mapcount 2 -> copy
        '{ switch_mm: 2 }', '{ touch: 0x400000, value: 9 }', // child: mapcount now 1 -> reuse_swap_page
      ]);
      // The parent's copy is the next fresh frame after the child's three tables (5, 6, 7): frame 8.
      expect(pte(m, 1, 0x400000)).toEqual([NX, (POOL + 8) * 4096 + 0x67]);
      expect(value(m, 1, 0x400000)).toBe(8);
      // The child keeps the original frame, made young, dirty and writable (ptep_set_access_flags).
      expect(pte(m, 2, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(value(m, 2, 0x400000)).toBe(9);
      expect(invlpg).toEqual([0x400, 0x400]);
      expect(cr3).toEqual([1, 1, 2]);
      expect(collect(m, {}).guest_os).toMatchObject({ cow_copies: 1, cow_reuses: 1, forks: 1 });
    });

    it(`${name}: the child sees the parent's data until it writes (copy-on-write)`, () => {
      const { m } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ fork: 2 }', '{ touch: 0x400000, value: 8 }', '{ switch_mm: 2 }', '{ touch: 0x400000, access: read }']);
      expect(value(m, 2, 0x400000)).toBe(7);
      expect(value(m, 1, 0x400000)).toBe(8);
    });

    it(`${name}: munmap clears the present PTEs and flushes once (tlb_finish_mmu); with nothing present it flushes nothing`, () => {
      const { m, cr3 } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ touch: 0x402000 }', '{ munmap: 0x400000, size: 16K }', '{ munmap: 0x400000, size: 16K }']);
      for (const gva of [0x400000, 0x401000, 0x402000, 0x403000]) expect(pte(m, 1, gva)).toEqual([0, 0]);
      // switch_mm, then the first munmap's local_flush_tlb; the second cleared nothing (need_flush 0).
      expect(cr3).toEqual([1, 1]);
      // The page table stays (zap_page_range frees none); the two pages went back to the allocator.
      expect(pml4e(m, 1, 0x400000) & 1).toBe(1);
      expect(collect(m, {}).guest_os).toMatchObject({ munmaps: 2, tlb_flushes: 1, pool_frames_used: 4 });
    });

    it(`${name}: freed pages are handed out again last-freed first (the per-CPU hot list)`, () => {
      const { m } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ touch: 0x402000 }', '{ munmap: 0x400000, size: 16K }', '{ touch: 0x401000 }']);
      // 0x400000 got frame 4, 0x402000 frame 5; zap_pte_range gathers 4 then 5, freed in that order,
      // so the next allocation takes 5.
      expect(pte(m, 1, 0x401000)).toEqual([NX, (POOL + 5) * 4096 + 0x67]);
    });

    it(`${name}: exit zaps the pages, frees the tables under the vmas and leaves CR3 on swapper_pg_dir (leave_mm)`, () => {
      const { m, cr3 } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ exit: 1 }']);
      expect(pml4e(m, 1, 0x400000)).toBe(0); // free_pgtables: pmd_clear, pud_clear, pgd_clear
      expect(cr3).toEqual([1, 0]);
      expect(m.kvm.vcpus[0]!.cr3).toBe(m.guest.cr3s[0]);
      expect(collect(m, {}).guest_os).toMatchObject({ exits: 1, page_tables_freed: 3, pool_frames_used: 1 });
    });

    it(`${name}: exec switches to the new mm first (activate_mm), then tears down the old one without flushing this CPU`, () => {
      const { m, cr3 } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ exec: 3 }', '{ touch: 0x400000, value: 4 }']);
      expect(cr3).toEqual([1, 3]);
      expect(pml4e(m, 1, 0x400000)).toBe(0);
      // The old mm's page and tables went back first, so the new mm's tables reuse them.
      expect(value(m, 3, 0x400000)).toBe(4);
      expect(collect(m, {}).guest_os).toMatchObject({ execs: 1, tlb_flushes: 0, page_tables_freed: 3 });
    });

    it(`${name}: switch_mm loads CR3 only when the mm changes`, () => {
      const { cr3 } = runOs(mode, ['{ switch_mm: 1 }', '{ switch_mm: 1 }', '{ switch_mm: 2 }', '{ switch_mm: 2 }', '{ switch_mm: 1 }']);
      expect(cr3).toEqual([1, 2, 1]);
    });
  }

  it('under shadow paging the guest\'s PTE stores reach KVM (write protection, unsync) and its CR3 loads exit; under EPT neither', () => {
    const steps = ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ touch: 0x401000 }', '{ fork: 2 }', '{ touch: 0x400000 }', '{ exit: 1 }', '{ switch_mm: 2 }'];
    const shadow = collect(runOs({ kernel: 'v3.1', tdp: false }, steps).m, {});
    expect(shadow.stats.mmu_pte_write! + shadow.stats.mmu_unsync!).toBeGreaterThan(0);
    expect(shadow.exits.CR_ACCESS).toBe(4); // the two switch_mm loads, fork's flush_tlb_mm, exit's leave_mm
    expect(shadow.exits.INVLPG).toBe(1);
    const ept = collect(runOs({ kernel: 'v3.1', tdp: true }, steps).m, {});
    expect(ept.exits.CR_ACCESS ?? 0).toBe(0);
    expect(ept.exits.INVLPG ?? 0).toBe(0);
    expect(ept.stats.mmu_pte_write).toBe(0);
  });

  it('bare hardware runs the same guest kernel to the same page tables and data', () => {
    const steps = ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ fork: 2 }', '{ touch: 0x400000, value: 8 }', '{ switch_mm: 2 }', '{ touch: 0x401000, value: 3 }', '{ exec: 3 }', '{ touch: 0x402000 }'];
    const native = runNative(scenario(yaml(MODES[0], steps)));
    expect(native.warnings).toEqual([]);
    for (const mode of MODES) {
      const { m } = runOs(mode, steps);
      for (let f = 0; f < 256; f++) {
        const gpa = (POOL + f) * 4096;
        for (let off = 0; off < 4096; off += 8) {
          const a = native.ram.read64(gpa + off);
          const b = m.guest.ram.read64(gpa + off);
          if (a.lo !== b.lo || a.hi !== b.hi) expect(`${gpa + off}: ${b.hi}:${b.lo}`).toBe(`${gpa + off}: ${a.hi}:${a.lo}`);
        }
      }
    }
  });
});

// vfork (Linux 3.0.1): arch/x86/kernel/process.c:250-253 sys_vfork = do_fork(CLONE_VFORK | CLONE_VM |
// SIGCHLD, ...); kernel/fork.c:803-806 copy_mm: `if (clone_flags & CLONE_VM) { atomic_inc(&oldmm->mm_users);
// mm = oldmm; goto good_mm; }` (no dup_mm: no page-table work, no flush_tlb_mm); fs/exec.c:850
// exec_mmap's activate_mm(active_mm, mm) (mmu_context.h:74-78 -> switch_mm, prev != next: load_cr3,
// line 46), then fs/exec.c:861 mmput(old_mm); kernel/exit.c:693-702 exit_mm: tsk->mm = NULL,
// enter_lazy_tlb (mmu_context.h:25-31: a per-CPU state, no CR3 write), mmput(mm); kernel/fork.c:556-560
// mmput: `if (atomic_dec_and_test(&mm->mm_users)) { ... exit_mmap(mm);`. A new mm's mm_users is 1
// (fork.c:489 mm_init, from mm_alloc for exec and dup_mm for fork).
describe('vfork: copy_mm with CLONE_VM, mmput only at the last user (kernel/fork.c 3.0.1)', () => {
  for (const mode of MODES) {
    const name = `${mode.kernel} ${mode.tdp ? 'EPT' : 'shadow'}`;
    const parentPages = (m: Machine) => {
      // The parent's PTEs as its two touches left them: do_anonymous_page's writable dirty page and
      // the zero page (pte_mkspecial), both untouched by vfork (no copy_page_range, no wrprotect).
      expect(pte(m, 1, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(pte(m, 1, 0x401000)).toEqual([NX, POOL * 4096 + 0x225]);
    };

    it(`${name}: vfork makes no PTE store, no INVLPG and no CR3 load; only mm_users and the count change`, () => {
      const { m, cr3, invlpg } = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ vfork: 1 }']);
      parentPages(m);
      expect(cr3).toEqual([1]); // switch_mm's only: copy_mm's CLONE_VM path calls no flush_tlb_mm
      expect(invlpg).toEqual([]);
      const r = collect(m, {});
      expect(r.guest_os).toMatchObject({ vforks: 1, forks: 0, tlb_flushes: 0, page_tables_allocated: 3, pool_frames_used: 5 });
      // The same run without the vfork: the same exits, faults and cycles (the step runs nothing).
      const without = collect(runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }']).m, {});
      expect(r.exits).toEqual(without.exits);
      expect(r.cycles.total).toBe(without.cycles.total);
    });

    it(`${name}: the vforked child's exec loads the new mm's CR3 once and tears nothing down; its exit frees only its new mm; the parent's pages stay writable`, () => {
      const head = ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ vfork: 1 }', '{ exec: 3 }'];
      const exec = runOs(mode, head);
      parentPages(exec.m);
      expect(exec.cr3).toEqual([1, 3]); // activate_mm: exactly one CR3 load
      expect(exec.invlpg).toEqual([]);
      // mmput(old_mm) takes mm_users 2 -> 1: no exit_mmap, so no table freed.
      expect(collect(exec.m, {}).guest_os).toMatchObject({ vforks: 1, execs: 1, page_tables_freed: 0, pool_frames_used: 5 });
      const { m, cr3, invlpg } = runOs(mode, [...head, '{ touch: 0x400000, value: 9 }', '{ exit: 3 }', '{ switch_mm: 1 }', '{ touch: 0x400000, value: 8 }']);
      // The child's new mm: three tables (frames 5-7) and a page (8), all freed by its exit (mm_users
      // 1 -> 0: exit_mmap, free_pgtables), then leave_mm. The parent's write hits its own writable PTE:
      // no fault, no flush (the value lands in frame 4).
      expect(pml4e(m, 3, 0x400000)).toBe(0);
      expect(pte(m, 1, 0x400000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(pte(m, 1, 0x401000)).toEqual([NX, POOL * 4096 + 0x225]);
      expect(value(m, 1, 0x400000)).toBe(8);
      expect(cr3).toEqual([1, 3, 0, 1]); // switch_mm, activate_mm, the child's leave_mm, switch_mm back
      expect(invlpg).toEqual([]);
      expect(collect(m, {}).guest_os).toMatchObject({ anon_faults: 2, cow_copies: 0, cow_reuses: 0, execs: 1, exits: 1, page_tables_allocated: 6, page_tables_freed: 3, pool_frames_used: 5 });
    });

    it(`${name}: an exit after vfork without exec does no teardown and no flush (mm_users 2 -> 1); the last user's exit does`, () => {
      const one = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ vfork: 1 }', '{ exit: 1 }']);
      parentPages(one.m);
      expect(one.cr3).toEqual([1]); // enter_lazy_tlb only: CR3 stays on the shared mm
      expect(one.m.kvm.vcpus[0]!.cr3).toBe(one.m.guest.cr3s[1]);
      expect(collect(one.m, {}).guest_os).toMatchObject({ exits: 1, tlb_flushes: 0, page_tables_freed: 0, pool_frames_used: 5 });
      const both = runOs(mode, ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ touch: 0x401000, access: read }', '{ vfork: 1 }', '{ exit: 1 }', '{ exit: 1 }']);
      expect(pml4e(both.m, 1, 0x400000)).toBe(0);
      expect(both.cr3).toEqual([1, 0]); // the last user's exit_mmap -> tlb_finish_mmu -> leave_mm
      expect(collect(both.m, {}).guest_os).toMatchObject({ exits: 2, tlb_flushes: 1, page_tables_freed: 3, pool_frames_used: 1 });
    });
  }

  it('bare hardware runs vfork, exec and exit to the same page tables and data', () => {
    const steps = ['{ switch_mm: 1 }', '{ touch: 0x400000, value: 7 }', '{ vfork: 1 }', '{ exec: 3 }', '{ touch: 0x401000, value: 2 }', '{ vfork: 3 }', '{ exit: 3 }', '{ exit: 3 }', '{ switch_mm: 1 }', '{ touch: 0x400000, value: 8 }', '{ fork: 2 }'];
    const native = runNative(scenario(yaml(MODES[0], steps)));
    expect(native.warnings).toEqual([]);
    for (const mode of MODES) {
      const { m } = runOs(mode, steps);
      for (let f = 0; f < 256; f++) {
        for (let off = 0; off < 4096; off += 8) {
          const gpa = (POOL + f) * 4096 + off;
          const a = native.ram.read64(gpa);
          const b = m.guest.ram.read64(gpa);
          if (a.lo !== b.lo || a.hi !== b.hi) expect(`${gpa}: ${b.hi}:${b.lo}`).toBe(`${gpa}: ${a.hi}:${a.lo}`);
        }
      }
      expect(collect(m, {}).guest_os).toEqual(native.linux!.stats());
    }
  });
});

// A ranged touch: the same access at the start of each page, in ascending order, each page a step of
// its own, as that many touch steps (docs/scenario-format.md, "Guest OS steps"). Written on one line
// (a flow sequence), the two workloads differ only in their instructions' addresses: the range is one
// MOV in a loop (one RIP), the separate touches are one MOV each; RIP shows only in the trace's
// kvm_exit events, so it is the one field masked.
describe('touch with size: one touch per page, in order', () => {
  const line = (steps: string[]) => [`  [${steps.join(', ')}]`];
  const anonAndFile = (mode: { kernel: string; tdp: boolean }, steps: string[]) =>
    osVm({
      head: `kernel: ${mode.kernel}\nmmu: { tdp: ${mode.tdp} }\n`, cpu: '{ cr0_wp: true, efer_nx: true }', nx: true, pool: '1M', processes: 2,
      vmas: [1, 2].map((sp) => `{ gva: 0x500000, size: 16K, space: ${sp}, file: { gpa: 0x3000000 } }`),
      steps: line(['{ write: 0xffff880003001008, size: 8, value: 0x55 }', ...steps]),
    });
  const report = (text: string, fastPaths = true) =>
    JSON.stringify(runScenario(scenario(text), { accesses: true, traceCapacity: 100_000, fastPaths })).replace(/"rip":"0x[0-9a-f]+"/g, '"rip":"-"');
  const singles = (gva: number, pages: number, rest: string) => Array.from({ length: pages }, (_, p) => `{ touch: 0x${(gva + p * 4096).toString(16)}${rest} }`);
  for (const mode of MODES) {
    const name = `${mode.kernel} ${mode.tdp ? 'EPT' : 'shadow'}`;
    it(`${name}: the same report as the single touches: anonymous and file vmas, reads and writes, across a fork (COW copies and reuses)`, () => {
      const ranged = [
        '{ switch_mm: 1 }', '{ touch: 0x400000, size: 12K, value: 3 }', '{ touch: 0x500000, size: 16K, access: read }', '{ fork: 2 }',
        '{ touch: 0x401000, size: 12K, value: 4 }', '{ touch: 0x500000, size: 8K, value: 5 }', '{ switch_mm: 2 }', '{ touch: 0x400000, size: 16K, access: read }', '{ touch: 0x400000, size: 8K, value: 6 }',
      ];
      const single = [
        '{ switch_mm: 1 }', ...singles(0x400000, 3, ', value: 3'), ...singles(0x500000, 4, ', access: read'), '{ fork: 2 }',
        ...singles(0x401000, 3, ', value: 4'), ...singles(0x500000, 2, ', value: 5'), '{ switch_mm: 2 }', ...singles(0x400000, 4, ', access: read'), ...singles(0x400000, 2, ', value: 6'),
      ];
      const a = report(anonAndFile(mode, ranged));
      expect(a).toBe(report(anonAndFile(mode, single)));
      expect(report(anonAndFile(mode, ranged), false)).toBe(a); // and the slow path, byte for byte
      // What that is (mm/memory.c 3.0.1): 3 + 1 anonymous pages (do_anonymous_page; the fourth is the
      // parent's write at 0x403000 after fork), 4 page-cache pages mapped (__do_fault), then after the
      // fork the parent copies its 2 shared anonymous pages 0x401000-0x402000 (do_wp_page, mapcount 2)
      // and the 2 file pages (not PageAnon: always copied); the child reads 4 pages (3 present: no
      // fault; 0x403000 the zero page), then writes 0x400000 (still mapped by the parent too, mapcount
      // 2: a copy) and 0x401000 (the parent copied it away, mapcount 1: reuse).
      const os = JSON.parse(a).guest_os;
      expect(os).toMatchObject({ anon_faults: 4, zero_page_faults: 1, file_faults: 4, cow_copies: 5, cow_reuses: 1, forks: 1 });
    });
  }

  it('stops at the first page whose touch ends in a warning: past a file\'s end, SIGBUS at its first page; the pages before it mapped, none after', () => {
    // A 16K vma of a 5000-byte file: pages 0 and 1 hold it (filemap_fault's size check: pgoff <
    // DIV_ROUND_UP(i_size, PAGE_CACHE_SIZE)), page 2 is VM_FAULT_SIGBUS, page 3 is never touched.
    const text = osVm({
      head: 'kernel: v3.1\nmmu: { tdp: false }\n', cpu: '{ cr0_wp: true, efer_nx: true }', nx: true, pool: '1M', processes: 1,
      vmas: ['{ gva: 0x700000, size: 16K, space: 1, file: { gpa: 0x3004000, size: 5000 } }'],
      steps: ['  - { switch_mm: 1 }', '  - { touch: 0x700000, size: 16K, access: read }'],
    });
    const { m } = runText(text, [/touch: user page 0x702 lies past the end of the vma's file \(5000 bytes\).*SIGBUS/]);
    expect(pte(m, 1, 0x700000)).toEqual([NX, 0x3004000 + 0x25]);
    expect(pte(m, 1, 0x701000)).toEqual([NX, 0x3005000 + 0x25]);
    expect(pte(m, 1, 0x702000)).toEqual([0, 0]);
    expect(pte(m, 1, 0x703000)).toEqual([0, 0]);
    // One warning, not two: separate touches would have faulted at 0x703000 too.
    expect(collect(m, {}).guest_os).toMatchObject({ file_faults: 2 });
    expect(collect(m, {}).steps).toBe(4); // switch_mm and three pages
  });

  it('a SIGSEGV ends the range too: a write to a read-only vma refuses its first page and touches no other', () => {
    const text = fileYaml(MODES[0], ['{ switch_mm: 1 }', '{ touch: 0x600000, size: 8K }']);
    const { m } = runText(text, [/touch: a write to a vma without PROT_WRITE \(r\): access_error/]);
    expect(m.kvm.warnings).toHaveLength(1);
  });

  it('the work budget prices a range by its pages', () => {
    const one = scenario(yaml(MODES[0], ['{ touch: 0x400000 }'])).vcpus[0]!.workload;
    const four = scenario(yaml(MODES[0], ['{ touch: 0x400000, size: 16K }'])).vcpus[0]!.workload;
    expect(workOf(four)).toBe(4 * workOf(one));
  });
});

/** The file vmas, the same in spaces 1 and 2: a private rw mapping of the file whose page-cache pages
 *  are at FILE (0x500000, sharing the page table of the anonymous vma at 0x400000), a read-only
 *  mapping of the same file (0x600000) and an rx mapping of a 100-byte file at FILE + 16K (0x602000:
 *  its second page lies past the file's end). `preset` writes the page cache through the direct map
 *  first (0x1234 at FILE, 0x55 at FILE + 0x1008): the file's contents. */
const FILE = 0x3000000;
function fileYaml(mode: { kernel: string; tdp: boolean }, steps: string[]): string {
  const preset = ['{ write: 0xffff880003000000, size: 8, value: 0x1234 }', '{ write: 0xffff880003001008, size: 8, value: 0x55 }'];
  return osVm({
    head: `kernel: ${mode.kernel}\nmmu: { tdp: ${mode.tdp} }\n`, cpu: '{ cr0_wp: true, efer_nx: true }', nx: true, pool: '1M', processes: 2,
    vmas: ['{ gva: 0x500000, size: 16K, space: 1, file: { gpa: 0x3000000 } }', '{ gva: 0x500000, size: 16K, space: 2, file: { gpa: 0x3000000 } }',
      ...[1, 2].flatMap((sp) => [`{ gva: 0x600000, size: 8K, space: ${sp}, prot: r, file: { gpa: 0x3000000 } }`, `{ gva: 0x602000, size: 8K, space: ${sp}, prot: rx, file: { gpa: 0x3004000, size: 100 } }`])],
    steps: [...preset, ...steps].map((s) => `  - ${s}`),
  });
}
const word = (m: Machine, gpa: number): number => m.guest.ram.read64(gpa).lo;

describe('touch on a file vma: handle_pte_fault -> do_linear_fault -> __do_fault, do_wp_page (mm/memory.c 3.0.1)', () => {
  for (const mode of MODES) {
    const name = `${mode.kernel} ${mode.tdp ? 'EPT' : 'shadow'}`;
    const run = (steps: string[], warnings: RegExp[] = []) => runText(fileYaml(mode, steps), warnings);

    it(`${name}: a read maps the page-cache page itself with vm_page_prot (PAGE_COPY: read-only, clean), no flush, nothing from the pool`, () => {
      const { m, cr3, invlpg } = run(['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }']);
      // mk_pte(page, vma->vm_page_prot) (3268), no pte_mkdirty without FAULT_FLAG_WRITE: P|U|A|NX.
      expect(pte(m, 1, 0x500000)).toEqual([NX, FILE + 0x25]);
      expect(value(m, 1, 0x500000)).toBe(0x1234);
      expect(cr3).toEqual([1]); // "no need to invalidate: a not-present page won't be cached" (3284)
      expect(invlpg).toEqual([]);
      // The three tables are the only pool frames taken (with the zero page: 4).
      expect(collect(m, {}).guest_os).toMatchObject({ file_faults: 1, file_copies: 0, anon_faults: 0, zero_page_faults: 0, page_tables_allocated: 3, pool_frames_used: 4 });
    });

    it(`${name}: a write to the private mapping copies the page at fault time (anon = 1): a pool page, writable and dirty; the page cache unchanged`, () => {
      const { m, cr3, invlpg } = run(['{ switch_mm: 1 }', '{ touch: 0x501000, value: 9 }']);
      // alloc_page_vma + copy_user_highpage (3200-3219), then maybe_mkwrite(pte_mkdirty()) (3270): frame 4.
      expect(pte(m, 1, 0x501000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(word(m, (POOL + 4) * 4096)).toBe(9);
      expect(word(m, (POOL + 4) * 4096 + 8)).toBe(0x55); // the rest of the page: the file's bytes
      expect(word(m, FILE + 0x1000)).toBe(0); // the page-cache page is not written
      expect(cr3).toEqual([1]);
      expect(invlpg).toEqual([]);
      expect(collect(m, {}).guest_os).toMatchObject({ file_faults: 1, file_copies: 1, cow_copies: 0, pool_frames_used: 5 });
    });

    it(`${name}: a write after a read: do_wp_page copies the page-cache page (not PageAnon, not VM_SHARED: "gotten"), ptep_clear_flush INVLPGs`, () => {
      const { m, invlpg } = run(['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }', '{ touch: 0x500000, value: 9 }']);
      expect(pte(m, 1, 0x500000)).toEqual([NX, (POOL + 4) * 4096 + 0x67]);
      expect(value(m, 1, 0x500000)).toBe(9);
      expect(word(m, FILE)).toBe(0x1234);
      expect(invlpg).toEqual([0x500]);
      expect(collect(m, {}).guest_os).toMatchObject({ file_faults: 1, file_copies: 0, cow_copies: 1, cow_reuses: 0 });
    });

    it(`${name}: fork copies file PTEs as COW (is_cow_mapping: private), read-only and old; the child's write copies; exit frees no page-cache page`, () => {
      const { m, invlpg } = run(['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }', '{ touch: 0x501000, value: 3 }', '{ fork: 2 }']);
      expect(pte(m, 1, 0x500000)).toEqual([NX, FILE + 0x25]); // ptep_set_wrprotect (RW already clear)
      expect(pte(m, 2, 0x500000)).toEqual([NX, FILE + 0x05]); // pte_wrprotect + pte_mkold
      expect(pte(m, 1, 0x501000)).toEqual([NX, (POOL + 4) * 4096 + 0x65]);
      expect(pte(m, 2, 0x501000)).toEqual([NX, (POOL + 4) * 4096 + 0x45]);
      expect(invlpg).toEqual([]);
      const after = run(['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }', '{ touch: 0x501000, value: 3 }', '{ fork: 2 }', '{ switch_mm: 2 }', '{ touch: 0x500000, value: 4 }', '{ exit: 2 }', '{ switch_mm: 1 }']);
      expect(after.invlpg).toEqual([0x500]);
      expect(pte(after.m, 1, 0x500000)).toEqual([NX, FILE + 0x25]);
      expect(word(after.m, FILE)).toBe(0x1234);
      // Used before the exit: zero page, 3 + 3 tables, the parent's copy (4) and the child's (8) = 9;
      // the exit frees the child's tables and its copy (8); frame 4 keeps the parent's mapping.
      expect(collect(after.m, {}).guest_os).toMatchObject({ forks: 1, cow_copies: 1, file_copies: 1, pool_frames_used: 5 });
    });

    it(`${name}: munmap clears file PTEs and flushes, but the page stays in the page cache: never handed out by the allocator`, () => {
      const { m, cr3 } = run(['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }', '{ touch: 0x400000, value: 1 }', '{ munmap: 0x500000, size: 16K }', '{ touch: 0x402000, value: 2 }']);
      expect(pte(m, 1, 0x500000)).toEqual([0, 0]);
      expect(cr3).toEqual([1, 1]);
      expect(pte(m, 1, 0x402000)).toEqual([NX, (POOL + 5) * 4096 + 0x67]); // a fresh frame, not the file's
      expect(word(m, FILE)).toBe(0x1234);
      expect(collect(m, {}).guest_os).toMatchObject({ munmaps: 1, tlb_flushes: 1, pool_frames_used: 6 });
    });

    it(`${name}: read-only vmas: a write is access_error -> SIGSEGV (before and after a read maps the page); rx maps without NX; past the file's end, SIGBUS`, () => {
      const { m } = run(
        ['{ switch_mm: 1 }', '{ touch: 0x600000 }', '{ touch: 0x600000, access: read }', '{ touch: 0x600000 }', '{ touch: 0x602000, access: read }', '{ touch: 0x603000, access: read }'],
        [/write to a vma without PROT_WRITE \(r\): access_error/, /write to a vma without PROT_WRITE \(r\): access_error/, /past the end of the vma's file \(100 bytes\).*SIGBUS/],
      );
      expect(pte(m, 1, 0x600000)).toEqual([NX, FILE + 0x25]); // PAGE_READONLY, unchanged by the write
      expect(pte(m, 1, 0x602000)).toEqual([0, FILE + 0x4000 + 0x25]); // PAGE_READONLY_EXEC: no NX
      expect(pte(m, 1, 0x603000)).toEqual([0, 0]);
      expect(collect(m, {}).guest_os).toMatchObject({ file_faults: 2, file_copies: 0, cow_copies: 0 });
    });
  }

  it('bare hardware runs the same file faults to the same page tables, pages and page cache', () => {
    const steps = ['{ switch_mm: 1 }', '{ touch: 0x500000, access: read }', '{ touch: 0x501000, value: 3 }', '{ touch: 0x602000, access: read }', '{ fork: 2 }', '{ touch: 0x500008, value: 8 }', '{ switch_mm: 2 }', '{ touch: 0x501000, access: read }', '{ munmap: 0x500000, size: 16K }', '{ touch: 0x400000 }'];
    const native = runNative(scenario(fileYaml(MODES[0], steps)));
    expect(native.warnings).toEqual([]);
    for (const mode of MODES) {
      const { m } = runText(fileYaml(mode, steps));
      for (const [base, frames] of [[POOL, 256], [FILE / 4096, 8]] as const) {
        for (let f = 0; f < frames; f++) {
          const gpa = (base + f) * 4096;
          for (let off = 0; off < 4096; off += 8) {
            const a = native.ram.read64(gpa + off);
            const b = m.guest.ram.read64(gpa + off);
            if (a.lo !== b.lo || a.hi !== b.hi) expect(`${gpa + off}: ${b.hi}:${b.lo}`).toBe(`${gpa + off}: ${a.hi}:${a.lo}`);
          }
        }
      }
      expect(collect(m, {}).guest_os).toEqual(native.linux!.stats());
    }
  });
});

describe('guest OS steps: what Linux refuses, the model says', () => {
  it('a touch outside every vma is a SIGSEGV: a warning, nothing mapped', () => {
    const m = machine(yaml(MODES[0], ['{ switch_mm: 1 }', '{ touch: 0x500000 }']));
    m.run();
    expect(m.kvm.warnings.join('\n')).toMatch(/in no vma of this address space: Linux sends SIGSEGV/);
  });

  it('fork into a space that still maps pages, exit of a process that is not running: warnings, nothing done', () => {
    const m = machine(yaml(MODES[0], ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ switch_mm: 2 }', '{ touch: 0x400000 }', '{ switch_mm: 1 }', '{ fork: 2 }', '{ exit: 2 }']));
    m.run();
    expect(m.kvm.warnings.join('\n')).toMatch(/fork: address space 2 still maps user pages/);
    expect(m.kvm.warnings.join('\n')).toMatch(/exit: the exiting process runs in address space 2, but CR3 holds 1/);
    expect(pte(m, 1, 0x400000)![1] & 2).toBe(2); // still writable: no fork happened
  });

  it('vfork of a space CR3 does not hold; fork and exec into a space a vforked child shares (mm_users 2): warnings, nothing done', () => {
    const m = machine(yaml(MODES[0], ['{ switch_mm: 1 }', '{ vfork: 2 }', '{ switch_mm: 2 }', '{ vfork: 2 }', '{ switch_mm: 1 }', '{ fork: 2 }', '{ exec: 2 }']));
    m.run();
    expect(m.kvm.warnings).toEqual([
      expect.stringMatching(/vfork: the vforking process runs in address space 2, but CR3 holds 1/),
      expect.stringMatching(/fork: address space 2 is still the mm of 2 processes \(mm_users 2/),
      expect.stringMatching(/exec: address space 2 is still the mm of 2 processes \(mm_users 2/),
    ]);
    expect(collect(m, {}).guest_os).toMatchObject({ vforks: 1, forks: 0, execs: 0 });
  });

  it('an exhausted page pool stops the step with a warning', () => {
    const text = yaml(MODES[0], ['{ switch_mm: 1 }', '{ touch: 0x400000 }', '{ touch: 0x401000 }']).replace('size: 1M }', 'size: 16K }');
    const m = machine(text);
    m.run();
    expect(m.kvm.warnings.join('\n')).toMatch(/page_pool \(4 frames\) is exhausted/);
  });
});

describe('guest OS steps: parse errors', () => {
  const errors = (text: string) => {
    const r = parseScenario(text, 'os.mmio.yaml');
    return 'diagnostics' in r ? r.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`) : [];
  };
  const base = yaml(MODES[0], ['{ switch_mm: 1 }']);

  it('a guest OS step needs guest.os', () => {
    const text = base.replace(/ {2}os:\n(.*\n){5}/, '');
    expect(errors(text)).toEqual([expect.stringMatching(/^10:18 workload\[0\]\.switch_mm: `switch_mm` is a guest OS step: it needs the guest kernel's `guest.os`/)]);
  });

  it('touch: a user address, 8-byte aligned; value only with a write', () => {
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0xffff880000000000 }'))).toEqual([expect.stringMatching(/^16:14 workload\[0\]\.touch: 0xffff880000000000 is not a user address/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400004 }'))).toEqual([expect.stringMatching(/^16:14 workload\[0\]\.touch: 0x400004 is not 8-byte aligned/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400000, access: read, value: 1 }'))).toEqual([expect.stringMatching(/^16:45 workload\[0\]\.value: `value` is what a write stores/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400000, access: exec }'))).toHaveLength(1);
  });

  it('touch with size: page-aligned, a page multiple greater than 0, within the user half', () => {
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400008, size: 8K }'))).toEqual([expect.stringMatching(/^16:14 workload\[0\]\.touch: 0x400008 is not page-aligned: with `size`/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400000, size: 0 }'))).toEqual([expect.stringMatching(/^16:30 workload\[0\]\.size: must be greater than 0/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x400000, size: 100 }'))).toEqual([expect.stringMatching(/^16:30 workload\[0\]\.size: 0x64 is not a multiple of the 4K page size/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x7ffffffff000, size: 8K }'))).toEqual([expect.stringMatching(/^16:36 workload\[0\]\.size: 0x7ffffffff000 \+ 0x2000 runs past the user half \(0x800000000000\)/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ touch: 0x7ffffffff000, size: 4K }'))).toEqual([]);
  });

  it('vfork: an address space', () => {
    expect(errors(base.replace('{ switch_mm: 1 }', '{ vfork: one }'))).toEqual([expect.stringMatching(/^16:14 workload\[0\]\.vfork: /)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ vfork: 1 }'))).toEqual([]);
  });

  it('munmap: page-aligned, a page-multiple size', () => {
    expect(errors(base.replace('{ switch_mm: 1 }', '{ munmap: 0x400800, size: 4K }'))).toEqual([expect.stringMatching(/^16:15 workload\[0\]\.munmap: 0x400800 is not page-aligned/)]);
    expect(errors(base.replace('{ switch_mm: 1 }', '{ munmap: 0x400000, size: 100 }'))).toEqual([expect.stringMatching(/^16:31 workload\[0\]\.size: 0x64 is not a multiple of the 4K page size/)]);
  });

  it('guest.os vmas: prot is r, rw or rx; a file\'s pages are page-aligned RAM in one memslot, outside the page pool', () => {
    const vma = (v: string) => errors(base.replace('- { gva: 0x400000, size: 16K, space: 3 }', v));
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, prot: w }')).toEqual([expect.stringMatching(/^14:53 guest\.os\.vmas\[2\]\.prot: /)]);
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x3000800 } }')).toEqual([expect.stringMatching(/^14:60 guest\.os\.vmas\[2\]\.file\.gpa: 0x3000800 is not aligned/)]);
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x3ffe000 } }')).toEqual([expect.stringMatching(/^14:53 guest\.os\.vmas\[2\]\.file: the pages this vma maps, \[0x3ffe000, 0x4002000\), are not inside one RAM memslot/)]);
    // Only the pages inside the file count: a 4K file there is fine.
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x3fff000, size: 4K } }')).toEqual([]);
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x20fe000 } }')).toEqual([expect.stringMatching(/^14:53 guest\.os\.vmas\[2\]\.file: the pages this vma maps, \[0x20fe000, 0x2102000\), overlap the page_pool/)]);
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x3000000, size: 0 } }')).toEqual([expect.stringMatching(/^14:77 guest\.os\.vmas\[2\]\.file\.size: 0x0 is not a file size/)]);
    expect(vma('- { gva: 0x400000, size: 16K, space: 3, file: { gpa: 0x3000000, offset: 0 } }')).toHaveLength(1);
  });

  it('guest.os: the pool in one RAM memslot; vmas in the user half, clear of mappings', () => {
    expect(errors(base.replace('page_pool: { gpa: 0x2000000, size: 1M }', 'page_pool: { gpa: 0x3f00000, size: 2M }'))).toEqual([expect.stringMatching(/^10:16 guest\.os\.page_pool: \[0x3f00000, 0x4100000\) is not inside one RAM memslot/)]);
    expect(errors(base.replace('- { gva: 0x400000, size: 16K, space: 3 }', '- { gva: 0xffff880000000000, size: 16K, space: 3 }'))).toEqual([expect.stringMatching(/^14:16 guest\.os\.vmas\[2\]\.gva: 0xffff880000000000 is not a user address/)]);
    const overlap = base.replace('flags: "p w a d nx" }', 'flags: "p w a d nx" }\n    - { gva: 0x402000, gpa: 0x100000, size: 4K, space: 2 }');
    expect(errors(overlap)).toEqual([expect.stringMatching(/^14:16 guest\.os\.vmas\[1\]\.gva: gva range \[0x400000, 0x404000\) overlaps the mapping at line 9/)]);
  });
});
