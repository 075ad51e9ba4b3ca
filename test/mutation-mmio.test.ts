// The per-vCPU MMIO info cache (simulator/kvm/x86/mmio_cache.ts) and the MMIO fault handler with its
// lockless walk (simulator/kvm/mmu/mmio_fault.ts), with exact expected values worked out from the
// kernel sources (/work/ksrc/v3.1 = Linux 3.1.10, arch/x86/kvm/), not from the simulator's output.
// Written to kill the mutants the older tests let live (docs/mutation.md). The cost figures are the
// cost model's (docs/cost-model.md: one mmio_cache_op per vcpu_match_mmio_* or vcpu_cache_mmio_info,
// lockless_walk_setup once and lockless_spte_read per level for a lockless walk).
import { describe, it, expect } from 'vitest';
import { machine, run, vm, vmVcpus, NIC, EXTRA, RAM } from './helpers/scenario';
import type { Kvm } from '../simulator/kvm/kvm';
import type { Vcpu } from '../simulator/kvm/vcpu';
import { quicklyCheckMmioPf, vcpuCacheMmioInfo, vcpuClearMmioInfo, vcpuMatchMmioGpa, vcpuMatchMmioGva } from '../simulator/kvm/x86/mmio_cache';
import { handleMmioPageFault, handleMmioPageFaultCommon, walkShadowPageGetMmioSpte } from '../simulator/kvm/mmu/mmio_fault';
import { kvmMmuZapAll } from '../simulator/kvm/memslot_update';
import { RACE_LOCKLESS_BEGIN, RACE_LOCKLESS_END, RACE_SPTE_LOAD } from '../simulator/kvm/races';
import { CLASS_MMIO_BUG, CLASS_MMIO_CACHE, CLASS_MMIO_FAST, CLASS_MMIO_RETRY } from '../simulator/kvm/fault_class';
import { C } from '../simulator/cost/accounting';
import { S } from '../simulator/trace/stats';
import { frameOf } from '../simulator/arch/x86/u64';
import { indexOfVpn } from '../simulator/arch/x86/paging';

const shadow = (yaml: string) => yaml.replace(/^kernel: (v3\.\d)$/m, 'kernel: $1\nmmu: { tdp: false }');
const write = (gva: string) => `  - { write: ${gva}, size: 4, value: 1 }`;
const NIC_GFN = 0xfebf0;
const EXTRA_GFN = 0xfebf1;
const NIC_VPN = 0xffffc90000000000 / 4096;
/** westmere-2011, the scenarios' default profile (docs/cost-model.md). */
const MMIO_CACHE_OP = 5;
const LOCKLESS_SETUP = 80;
const LOCKLESS_READ = 15;

const nonZero = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).filter(([, n]) => n !== 0));

/** A v3.1 VM whose vCPU has done nothing yet (the cache is empty). */
function idle(): { kvm: Kvm; v: Vcpu } {
  const m = machine(vm('v3.1', '  - { compute: 1 }'));
  return { kvm: m.kvm, v: m.kvm.vcpus[0]! };
}

describe('the MMIO info cache (x86.h:78-112, 3.1.10)', () => {
  it('vcpu_cache_mmio_info stores the page, the gfn and the access; each call is one fill and one mmio_cache_op', () => {
    const { kvm, v } = idle();
    const fills = kvm.stats[S.mmio_cache_fills]!;
    const hits = kvm.stats[S.mmio_cache_hits]!;
    const cycles = kvm.acct.byComponent[C.mmio_cache]!;
    const clock = v.clock;
    vcpuCacheMmioInfo(kvm, v, 0x12345, NIC_GFN, 6);
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0x12345, NIC_GFN, 6]);
    expect(kvm.stats[S.mmio_cache_fills]! - fills).toBe(1);
    expect(kvm.stats[S.mmio_cache_hits]! - hits).toBe(0);
    expect(kvm.acct.byComponent[C.mmio_cache]! - cycles).toBe(MMIO_CACHE_OP);
    expect(v.clock - clock).toBe(MMIO_CACHE_OP);
  });

  it('vcpu_match_mmio_gpa: `mmio_gfn && mmio_gfn == gpa >> PAGE_SHIFT`; vcpu_match_mmio_gva: `mmio_gva && mmio_gva == (gva & PAGE_MASK)`', () => {
    const { kvm, v } = idle();
    vcpuCacheMmioInfo(kvm, v, 0x12345, NIC_GFN, 6);
    const hits = kvm.stats[S.mmio_cache_hits]!;
    const cycles = kvm.acct.byComponent[C.mmio_cache]!;
    expect(vcpuMatchMmioGpa(kvm, v, NIC_GFN)).toBe(true);
    expect(vcpuMatchMmioGpa(kvm, v, EXTRA_GFN)).toBe(false);
    expect(vcpuMatchMmioGpa(kvm, v, 0x12345)).toBe(false); // the page number is not the gfn
    expect(kvm.stats[S.mmio_cache_hits]! - hits).toBe(1); // a hit counts, a miss does not
    expect(vcpuMatchMmioGva(kvm, v, 0x12345)).toBe(true);
    expect(vcpuMatchMmioGva(kvm, v, 0x12344)).toBe(false);
    expect(vcpuMatchMmioGva(kvm, v, NIC_GFN)).toBe(false);
    expect(kvm.stats[S.mmio_cache_hits]! - hits).toBe(2);
    expect(kvm.acct.byComponent[C.mmio_cache]! - cycles).toBe(6 * MMIO_CACHE_OP); // every check costs, hit or miss
  });

  it('page 0 never matches: 0 means empty (the `mmio_gfn &&` and `mmio_gva &&` tests)', () => {
    const { kvm, v } = idle();
    const hits = kvm.stats[S.mmio_cache_hits]!;
    vcpuCacheMmioInfo(kvm, v, 0, 0, 7);
    expect(vcpuMatchMmioGpa(kvm, v, 0)).toBe(false);
    expect(vcpuMatchMmioGva(kvm, v, 0)).toBe(false);
    // A direct MMU caches gva 0 (handle_mmio_page_fault_common: `if (direct) addr = 0;`): only the gfn matches.
    vcpuCacheMmioInfo(kvm, v, 0, NIC_GFN, 7);
    expect(vcpuMatchMmioGva(kvm, v, 0)).toBe(false);
    expect(vcpuMatchMmioGpa(kvm, v, NIC_GFN)).toBe(true);
    expect(kvm.stats[S.mmio_cache_hits]! - hits).toBe(1);
  });

  it('quickly_check_mmio_pf (mmu.c:2887-2893): a direct MMU matches the gpa, shadow paging the gva', () => {
    const { kvm, v } = idle();
    vcpuCacheMmioInfo(kvm, v, 0x12345, NIC_GFN, 6);
    expect(quicklyCheckMmioPf(kvm, v, NIC_GFN, true)).toBe(true);
    expect(quicklyCheckMmioPf(kvm, v, 0x12345, true)).toBe(false);
    expect(quicklyCheckMmioPf(kvm, v, 0x12345, false)).toBe(true);
    expect(quicklyCheckMmioPf(kvm, v, NIC_GFN, false)).toBe(false);
  });

  it('vcpu_clear_mmio_info(vcpu, ~0ul) resets mmio_gva only: the gfn still matches', () => {
    const { kvm, v } = idle();
    vcpuCacheMmioInfo(kvm, v, 0x12345, NIC_GFN, 6);
    const cycles = kvm.acct.byComponent[C.mmio_cache]!;
    vcpuClearMmioInfo(v);
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0, NIC_GFN, 6]);
    expect(vcpuMatchMmioGva(kvm, v, 0x12345)).toBe(false);
    expect(vcpuMatchMmioGpa(kvm, v, NIC_GFN)).toBe(true);
    expect(kvm.acct.byComponent[C.mmio_cache]! - cycles).toBe(2 * MMIO_CACHE_OP); // the clear itself costs nothing
  });

  it('vcpu_clear_mmio_info(vcpu, gva) returns early unless mmio_gva is that page', () => {
    const { kvm, v } = idle();
    vcpuCacheMmioInfo(kvm, v, 0x12345, NIC_GFN, 6);
    vcpuClearMmioInfo(v, 0x12346);
    vcpuClearMmioInfo(v, 1);
    expect(v.mmioGvaVpn).toBe(0x12345);
    expect(vcpuMatchMmioGva(kvm, v, 0x12345)).toBe(true);
    vcpuClearMmioInfo(v, 0x12345);
    expect([v.mmioGvaVpn, v.mmioGfn]).toEqual([0, NIC_GFN]);
    expect(vcpuMatchMmioGva(kvm, v, 0x12345)).toBe(false);
  });
});

describe('the cache along the fault paths (3.1.10 mmu.c, paging_tmpl.h, x86.c)', () => {
  // EPT, N writes to one MMIO page. The first: EPT violation, tdp_page_fault -> handle_abnormal_pfn
  // fills the cache (gva 0, gfn), __direct_map marks the MMIO SPTE; the emulator's
  // vcpu_mmio_gva_to_gpa (x86.c:4012-4046) misses by gva (0) and hits by gpa. Each later one: EPT
  // misconfiguration, quickly_check_mmio_pf hits by gpa (no lockless walk), then the emulator misses
  // by gva and hits by gpa. Hits: 1 + 2(N-1); three cache operations per access.
  it('EPT: N accesses to one MMIO page give 2N-1 hits, one fill, 3N cache operations and no lockless walk', () => {
    const n = 5;
    const r = run(vm('v3.1', `  - repeat: ${n}\n    steps:\n  ${write(NIC)}`));
    expect(nonZero(r.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': n - 1 });
    expect([r.stats.mmio_cache_hits, r.stats.mmio_cache_fills, r.stats.lockless_walks]).toEqual([2 * n - 1, 1, 0]);
    expect(r.cycles.by_component.mmio_cache).toBe(3 * n * MMIO_CACHE_OP);
  });

  // Shadow paging, two writes: the first is a not-present #PF (FNAME(page_fault): the walk finds no
  // slot, handle_abnormal_pfn fills the cache with the gva, mark_mmio_spte), then the emulator's gva
  // check hits; the second is a reserved-bit #PF whose quickly_check_mmio_pf hits by gva, and the
  // emulator's gva check hits again. 3 hits, 1 fill, 4 operations.
  it('shadow paging: a warm access hits the cache twice by gva', () => {
    const r = run(shadow(vm('v3.1', `${write(NIC)}\n${write(NIC)}`)));
    expect(nonZero(r.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': 1 });
    expect([r.stats.mmio_cache_hits, r.stats.mmio_cache_fills, r.stats.lockless_walks]).toEqual([3, 1, 0]);
    expect(r.cycles.by_component.mmio_cache).toBe(4 * MMIO_CACHE_OP);
  });

  // FNAME(invlpg) (paging_tmpl.h:664) starts with vcpu_clear_mmio_info(vcpu, gva), and leaves the
  // MMIO SPTE of a sync page in place: the next access is a reserved-bit #PF whose
  // quickly_check_mmio_pf misses, so the lockless walk finds the MMIO SPTE and refills the cache
  // (mmio-fast), and the emulator hits by gva.
  it('INVLPG of the cached page empties the cache: the next access walks (mmio-fast)', () => {
    const r = run(shadow(vm('v3.1', `${write(NIC)}\n${write(NIC)}\n  - { invlpg: ${NIC} }\n${write(NIC)}`)));
    expect(nonZero(r.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': 1, 'mmio-fast': 1 });
    expect([r.stats.mmio_cache_hits, r.stats.mmio_cache_fills, r.stats.lockless_walks]).toEqual([4, 2, 1]);
    expect(r.cycles.by_component.mmio_cache).toBe(7 * MMIO_CACHE_OP);
    expect(r.cycles.by_component.lockless_walk).toBe(LOCKLESS_SETUP + 4 * LOCKLESS_READ);
  });

  it('INVLPG of another page leaves the cache alone: the next access still hits it', () => {
    const r = run(shadow(vm('v3.1', `${write(NIC)}\n${write(NIC)}\n  - { invlpg: ${RAM} }\n${write(NIC)}`)));
    expect(nonZero(r.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': 2 });
    expect([r.stats.mmio_cache_hits, r.stats.mmio_cache_fills, r.stats.lockless_walks]).toEqual([5, 1, 0]);
  });

  // MOV to CR3 with the same value: kvm_set_cr3 (x86.c) calls kvm_mmu_sync_roots -> mmu_sync_roots,
  // which begins with vcpu_clear_mmio_info(vcpu, ~0ul) (mmu.c:2842).
  it('a CR3 load empties the cache (mmu_sync_roots): the next access walks', () => {
    const r = run(shadow(vm('v3.1', `${write(NIC)}\n${write(NIC)}\n  - { cr3: 0 }\n${write(NIC)}`)));
    expect(nonZero(r.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': 1, 'mmio-fast': 1 });
    expect([r.stats.mmio_cache_hits, r.stats.mmio_cache_fills, r.stats.lockless_walks]).toEqual([4, 2, 1]);
  });

  // A device at GPA 0: under EPT the cached gfn is 0, which vcpu_match_mmio_gpa never matches, and
  // the cached gva is 0 too: every warm access walks (mmio-fast, one fill each) and nothing hits.
  // Under shadow paging the gva is not 0, so the cache works.
  const lowDevice = (tdp: boolean) => `
kernel: v3.1
mmu: { tdp: ${tdp} }
memslots:
  - { slot: 0, gpa: 0x100000, size: 64M }
devices:
  - { name: low, gpa: 0x0, size: 4K, handler: kernel }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000100000, gpa: 0x100000, size: 32M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0x0, size: 4K, flags: "p w a d pcd nx" }
workload:
  - repeat: 5
    steps:
      - { write: 0xffffc90000000000, size: 4, value: 1 }
`;
  it('gfn 0 is never found in the cache (EPT), while its gva is (shadow paging)', () => {
    const ept = run(lowDevice(true));
    expect(nonZero(ept.faults)).toEqual({ 'mmio-slow': 1, 'mmio-fast': 4 });
    expect([ept.stats.mmio_cache_hits, ept.stats.mmio_cache_fills, ept.stats.lockless_walks, ept.stats.mmio_writes]).toEqual([0, 5, 4, 5]);
    const sh = run(lowDevice(false));
    expect(nonZero(sh.faults)).toEqual({ 'mmio-slow': 1, 'mmio-cache': 4 });
    expect([sh.stats.mmio_cache_hits, sh.stats.mmio_cache_fills, sh.stats.lockless_walks, sh.stats.mmio_writes]).toEqual([9, 1, 0, 5]);
  });
});

/** The host word index of the SPTE for `page` at `level` in `kvm`'s tables from `rootPfn`, read
 *  here (not with the code under test), and the host pfn of each table on the way (index = level). */
function path(kvm: Kvm, rootPfn: number, page: number): { word: number[]; table: number[] } {
  const word: number[] = [];
  const table: number[] = [];
  let t = rootPfn;
  for (let level = 4; level >= 1; level--) {
    table[level] = t;
    word[level] = kvm.host.entryWord(t, indexOfVpn(page, level));
    t = frameOf(kvm.host.words[word[level]!]!, kvm.host.words[word[level]! + 1]!);
  }
  return { word, table };
}

/** EPT, one vCPU: the NIC's MMIO SPTE installed, then the EXTRA page's (the cache holds EXTRA). */
function warmEpt() {
  const m = machine(vm('v3.1', `${write(NIC)}\n${write(EXTRA)}`));
  m.step(0);
  m.step(0);
  const kvm = m.kvm;
  const v = kvm.vcpus[0]!;
  return { m, kvm, v, p: path(kvm, kvm.sp.pfn[v.root]!, NIC_GFN) };
}

describe('handle_mmio_page_fault_common (mmu.c:2929-2962) and handle_mmio_page_fault (2965-2973)', () => {
  it('returns 1 on a cache hit, without a walk', () => {
    const { kvm, v } = warmEpt();
    expect(v.mmioGfn).toBe(EXTRA_GFN);
    const walks = kvm.stats[S.lockless_walks]!;
    expect(handleMmioPageFaultCommon(kvm, v, EXTRA_GFN, true)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_CACHE);
    expect(kvm.stats[S.lockless_walks]! - walks).toBe(0);
  });

  it('direct: the MMIO SPTE found by the walk is cached with gva 0 and its decoded gfn and access (0 under EPT)', () => {
    const { kvm, v } = warmEpt();
    const walks = kvm.stats[S.lockless_walks]!;
    const fills = kvm.stats[S.mmio_cache_fills]!;
    v.mmioGvaVpn = 0x777; // to see it replaced: `if (direct) addr = 0;`
    expect(handleMmioPageFaultCommon(kvm, v, NIC_GFN, true)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_FAST);
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([0, NIC_GFN, 0]);
    expect(kvm.stats[S.lockless_walks]! - walks).toBe(1);
    expect(kvm.stats[S.mmio_cache_fills]! - fills).toBe(1);
  });

  it('direct: a zapped SPTE (0) returns 0, retry; handle_mmio_page_fault does not warn', () => {
    const { kvm, v, p } = warmEpt();
    kvm.host.words[p.word[1]!] = 0;
    kvm.host.words[p.word[1]! + 1] = 0;
    const retries = kvm.stats[S.mmio_retries]!;
    expect(handleMmioPageFault(kvm, v, NIC_GFN, true)).toBe(0);
    expect(v.exitClass).toBe(CLASS_MMIO_RETRY);
    expect(kvm.stats[S.mmio_retries]! - retries).toBe(1);
    expect(kvm.warnings).toEqual([]);
  });

  it('direct: any other SPTE is a bug (check_direct_spte_mmio_pf: `spte == 0ull`, 64-bit): -1 and WARN_ON(ret < 0)', () => {
    for (const [lo, hi] of [[0x2, 0], [0, 0x1], [0xfebf0007, 0x01fe0000 & ~(1 << 17)]] as const) {
      const { kvm, v, p } = warmEpt();
      kvm.host.words[p.word[1]!] = lo;
      kvm.host.words[p.word[1]! + 1] = hi;
      const retries = kvm.stats[S.mmio_retries]!;
      expect(handleMmioPageFault(kvm, v, NIC_GFN, true)).toBe(-1);
      expect(v.exitClass).toBe(CLASS_MMIO_BUG);
      expect(kvm.stats[S.mmio_retries]! - retries).toBe(0);
      expect(kvm.warnings).toEqual([`vcpu 0, line ${v.line}: WARN_ON(r < 0) in handle_mmio_page_fault, page 0xfebf0`]);
    }
  });

  it('shadow paging: the gva is cached with the access W (a kernel page: no U), and a non-MMIO SPTE is a retry, not a bug', () => {
    const m = machine(shadow(vm('v3.1', `${write(NIC)}\n${write(EXTRA)}`)));
    m.step(0);
    m.step(0);
    const kvm = m.kvm;
    const v = kvm.vcpus[0]!;
    v.mmioGvaVpn = 0;
    expect(handleMmioPageFaultCommon(kvm, v, NIC_VPN, false)).toBe(1);
    expect(v.exitClass).toBe(CLASS_MMIO_FAST);
    // mark_mmio_spte(access & (W|U)): the guest PTE is "p w a d pcd nx": W, no U, no exec.
    expect([v.mmioGvaVpn, v.mmioGfn, v.mmioAccess]).toEqual([NIC_VPN, NIC_GFN, 2]);
    const p = path(kvm, kvm.sp.pfn[v.root]!, NIC_VPN);
    kvm.host.words[p.word[1]!] = 0x2; // neither MMIO nor zapped
    kvm.host.words[p.word[1]! + 1] = 0;
    v.mmioGvaVpn = 0;
    expect(handleMmioPageFault(kvm, v, NIC_VPN, false)).toBe(0);
    expect(v.exitClass).toBe(CLASS_MMIO_RETRY);
    expect(kvm.warnings).toEqual([]);
  });

  it('trace_handle_mmio_page_fault(addr, gfn, access): addr is 0 for a direct MMU, the gva for shadow paging', () => {
    const steps = `  - repeat: 2\n    steps:\n  ${write(NIC)}\n  ${write(EXTRA)}`;
    const ept = run(vm('v3.1', steps)).trace.events.filter((e) => e.name === 'handle_mmio_page_fault');
    expect(ept.map((e) => e.fields)).toEqual([
      { addr: '0x0', gfn: '0xfebf0', access: '0x0' },
      { addr: '0x0', gfn: '0xfebf1', access: '0x0' },
    ]);
    const sh = run(shadow(vm('v3.1', steps))).trace.events.filter((e) => e.name === 'handle_mmio_page_fault');
    expect(sh.map((e) => e.fields)).toEqual([
      { addr: '0xffffc90000000000', gfn: '0xfebf0', access: '0x2' },
      { addr: '0xffffc90000001000', gfn: '0xfebf1', access: '0x2' },
    ]);
  });
});

describe('walk_shadow_page_get_mmio_spte (mmu.c:2910-2921) and the 2011 RCU scheme', () => {
  /** Record the race points a walk passes, as "point:level". */
  function recordPoints(kvm: Kvm, also?: (v: Vcpu, point: number, level: number) => void): string[] {
    const seen: string[] = [];
    kvm.races = {
      point(v, point, level) {
        seen.push(`${v.id}:${point}:${level}`);
        also?.(v, point, level);
      },
    };
    return seen;
  }

  it('reads one SPTE per level from the root down and returns the MMIO SPTE of the leaf', () => {
    const { kvm, v } = warmEpt();
    const seen = recordPoints(kvm);
    const walks = kvm.stats[S.lockless_walks]!;
    const cycles = kvm.acct.byComponent[C.lockless_walk]!;
    const r = walkShadowPageGetMmioSpte(kvm, v, NIC_GFN);
    // mark_mmio_spte under EPT: 0xff << 49 | 0x6 | (ACC_ALL & (W|U)) | gfn << 12.
    expect([r.lo, r.hi, r.level]).toEqual([0xfebf0006, 0x01fe0000, 1]);
    expect(seen).toEqual([`0:${RACE_LOCKLESS_BEGIN}:0`, `0:${RACE_SPTE_LOAD}:4`, `0:${RACE_SPTE_LOAD}:3`, `0:${RACE_SPTE_LOAD}:2`, `0:${RACE_SPTE_LOAD}:1`, `0:${RACE_LOCKLESS_END}:0`]);
    expect(kvm.stats[S.lockless_walks]! - walks).toBe(1);
    expect(kvm.acct.byComponent[C.lockless_walk]! - cycles).toBe(LOCKLESS_SETUP + 4 * LOCKLESS_READ);
    expect(kvm.readerCounter).toBe(0);
    expect(kvm.warnings).toEqual([]);
  });

  it('stops at the first SPTE that is not shadow-present, and at a level-1 leaf', () => {
    const { kvm, v } = warmEpt();
    // gfn 0x40000 (GPA 1G): its level-3 entry was never built.
    const none = walkShadowPageGetMmioSpte(kvm, v, 0x40000);
    expect([none.lo, none.hi, none.level]).toEqual([0, 0, 3]);
    // A RAM leaf (GPA 0x100000, written by the guest): for_each_shadow_entry_lockless ends at level 1
    // (is_last_spte) with the leaf itself.
    const m = machine(vm('v3.1', write(RAM)));
    m.step(0);
    const ram = walkShadowPageGetMmioSpte(m.kvm, m.kvm.vcpus[0]!, 0x100);
    expect(ram.level).toBe(1);
    expect(ram.lo & 0xfff).toBe(0x277); // set_spte under EPT: R | W | X | WB << 3 | IPAT | SPTE_HOST_WRITEABLE
    expect(m.kvm.fmt.isMmioSpte(ram.lo, ram.hi)).toBe(false);
  });

  // kvm_mmu_commit_zap_page (mmu.c:1930-1957): with reader_counter != 0 the zapped pages are isolated
  // and handed to call_rcu(free_pages_rcu); they are freed only after the grace period, i.e. once the
  // walker's rcu_read_unlock in walk_shadow_page_lockless_end has run. A root still in use is not on
  // the invalid list (kvm_mmu_prepare_zap_page keeps it active, invalid), so it is not among them.
  it('pages zapped under a walker are freed only when it leaves', () => {
    const { kvm, v } = warmEpt();
    const delayed = kvm.stats[S.sp_delayed_free]!;
    let zapped: number[] = [];
    let pfns: number[] = [];
    let atEnd: { readers: number; pending: number; live: boolean[] } | null = null;
    recordPoints(kvm, (_v, point, level) => {
      if (point === RACE_SPTE_LOAD && level === 3) {
        const before = [...kvm.sp.active].filter((id) => id !== v.root);
        pfns = before.map((id) => kvm.sp.pfn[id]!);
        kvmMmuZapAll(kvm, v);
        zapped = [...kvm.rcuPending];
        expect(zapped.sort()).toEqual(before.sort());
      }
      if (point === RACE_LOCKLESS_END) atEnd = { readers: kvm.readerCounter, pending: kvm.rcuPending.length, live: pfns.map((p) => kvm.host.isLive(p)) };
    });
    const r = walkShadowPageGetMmioSpte(kvm, v, NIC_GFN);
    expect(zapped.length).toBeGreaterThan(0);
    // After the zap the walker reads the cleared level-2 entry (kvm_mmu_page_unlink_children).
    expect([r.lo, r.hi, r.level]).toEqual([0, 0, 2]);
    expect(atEnd).toEqual({ readers: 1, pending: zapped.length, live: pfns.map(() => true) });
    expect([kvm.readerCounter, kvm.rcuPending.length]).toEqual([0, 0]);
    expect(pfns.map((p) => kvm.host.isLive(p))).toEqual(pfns.map(() => false));
    expect(kvm.stats[S.sp_delayed_free]! - delayed).toBe(zapped.length);
    expect(kvm.warnings).toEqual([]);
  });

  it('with two walkers inside, the first to leave frees nothing: the grace period ends after the last', () => {
    const m = machine(vmVcpus('v3.1', [`    ${write(NIC)}\n    ${write(EXTRA)}`, '      - { compute: 1 }']));
    m.step(0);
    m.step(0);
    const kvm = m.kvm;
    const [v0, v1] = [kvm.vcpus[0]!, kvm.vcpus[1]!];
    v1.root = v0.root;
    let pfns: number[] = [];
    let pending = 0;
    let inner: { lo: number; level: number; readers: number; pending: number; live: boolean[] } | null = null;
    recordPoints(kvm, (v, point, level) => {
      if (v === v0 && point === RACE_SPTE_LOAD && level === 4 && inner === null) {
        const r = walkShadowPageGetMmioSpte(kvm, v1, NIC_GFN); // vCPU 1's walk, inside vCPU 0's
        inner = { lo: r.lo, level: r.level, readers: kvm.readerCounter, pending: kvm.rcuPending.length, live: pfns.map((p) => kvm.host.isLive(p)) };
      }
      if (v === v1 && point === RACE_SPTE_LOAD && level === 4 && pfns.length === 0) {
        pfns = [...kvm.sp.active].filter((id) => id !== v0.root).map((id) => kvm.sp.pfn[id]!);
        expect(kvm.readerCounter).toBe(2);
        kvmMmuZapAll(kvm, v);
        pending = kvm.rcuPending.length;
      }
    });
    const outer = walkShadowPageGetMmioSpte(kvm, v0, NIC_GFN);
    expect(pending).toBe(pfns.length);
    expect(pending).toBeGreaterThan(0);
    expect(inner).toEqual({ lo: 0, level: 3, readers: 1, pending, live: pfns.map(() => true) });
    expect([outer.lo, outer.hi, outer.level]).toEqual([0, 0, 3]); // vCPU 0 read its level-3 entry after the zap
    expect([kvm.readerCounter, kvm.rcuPending.length]).toEqual([0, 0]);
    expect(pfns.map((p) => kvm.host.isLive(p))).toEqual(pfns.map(() => false));
    expect(kvm.warnings).toEqual([]);
  });
});

describe('the freed-page detector of the lockless walk fires', () => {
  // The invariant it checks is the one the RCU scheme above exists for: a lockless walker never
  // reads a shadow page that has been freed. Free tables behind the walker's back (as a zap that
  // did not wait for the grace period would) and it must name each freed table it reads.
  it('one freed table on the path: one warning naming its host pfn', () => {
    const { kvm, v, p } = warmEpt();
    kvm.freeHostFrame(p.table[3]!);
    walkShadowPageGetMmioSpte(kvm, v, NIC_GFN);
    expect(kvm.warnings).toEqual([`vcpu 0, line ${v.line}: BUG: lockless walk read host pfn 0x${p.table[3]!.toString(16)} after it was freed`]);
  });

  it('two freed tables: two warnings, in the order the walk reads them', () => {
    const { kvm, v, p } = warmEpt();
    kvm.freeHostFrame(p.table[1]!);
    kvm.freeHostFrame(p.table[2]!);
    walkShadowPageGetMmioSpte(kvm, v, NIC_GFN);
    expect(kvm.warnings).toEqual([2, 1].map((l) => `vcpu 0, line ${v.line}: BUG: lockless walk read host pfn 0x${p.table[l]!.toString(16)} after it was freed`));
  });

  it('nothing freed: no warning', () => {
    const { kvm, v } = warmEpt();
    walkShadowPageGetMmioSpte(kvm, v, NIC_GFN);
    expect(kvm.warnings).toEqual([]);
  });
});
