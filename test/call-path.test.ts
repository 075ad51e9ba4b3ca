// Call-path attribution (simulator/cost/call_path.ts, docs/cost-model.md "Attribution"): every charged
// cycle lands on the chain of kernel functions that incurred it; the flame graph's root is the run's
// total; enter/leave stay balanced; the function table's lines are the release trees' own.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scenario, run, vm, NIC, EXTRA } from './helpers/scenario';
import { MODES } from './helpers/modes';
import { runScenario } from '../simulator/run/run';
import type { FlameGraph, RunResult } from '../simulator/run/result';
import { CallPath, CALL_PATH_CAPACITY } from '../simulator/cost/call_path';
import { Machine } from '../simulator/run/machine';
import { firstLocklessWait } from '../simulator/run/unreachable_waits';
import { flameGraph, foldedStacks } from '../simulator/cost/flame';
import { KERNEL_FUNCTIONS, NON_KERNEL_FRAMES, FRAME_NAMES, F, kernelSourceUrl } from '../simulator/kvm/kernel_functions';

// docs/cost-model.md: the VM exit + entry transition per profile (vmexit_transition).
const TRANSITION: Record<string, number> = { 'westmere-2011': 2000, modern: 800 };

const EXAMPLES = readdirSync('examples').filter((f) => f.endsWith('.mmio.yaml'));

/** Cycles of the node at the end of `path` (frames root-most first, root "all" left out), or null. */
function cyclesAt(g: FlameGraph, path: string[]): { self: number; total: number } | null {
  let at = 0;
  for (const name of path) {
    const next = g.nodes.findIndex((n, i) => n.parent === at && g.functions[n.fn] === name && i > at);
    if (next < 0) return null;
    at = next;
  }
  return { self: g.nodes[at]!.self, total: g.nodes[at]!.total };
}

/** Every path (root-most first) on which `fn` appears, as frame names. */
function pathsOf(g: FlameGraph, fn: string): string[] {
  const out: string[] = [];
  g.nodes.forEach((n, i) => {
    if (g.functions[n.fn] !== fn) return;
    const names: string[] = [];
    for (let k = i; k > 0; k = g.nodes[k]!.parent) names.unshift(g.functions[g.nodes[k]!.fn]!);
    out.push(names.join(';'));
  });
  return out;
}

function checkGraph(g: FlameGraph, total: number): void {
  expect(g.nodes[0]).toMatchObject({ fn: -1, parent: -1 });
  expect(g.nodes[0]!.total).toBe(total);
  g.nodes.forEach((n, i) => {
    // pre-order: a parent comes before its children; total = self + children's totals
    expect(n.parent).toBeLessThan(i);
    const kids = g.nodes.filter((k) => k.parent === i).reduce((s, k) => s + k.total, 0);
    expect(n.total).toBeCloseTo(n.self + kids, 6);
  });
}

describe('call-path flame graph of every example, every era and mode', () => {
  for (const file of EXAMPLES) {
    for (const [mode, modeOverrides] of MODES) {
      it(`${file}, ${mode}: root = run total, stacks balanced, folded sums to the total`, () => {
        const sc = scenario(readFileSync(join('examples', file), 'utf8'), file);
        // v3.0 has no lockless walk: waits on its race points are left out, as Compare Kernels runs it.
        const overrides = modeOverrides.kernel === 'v3.0' && firstLocklessWait(sc) ? { ...modeOverrides, skip_lockless_waits: true as const } : modeOverrides;
        const r = runScenario(sc, { overrides, callPaths: true });
        // The documented bounds are never reached: nothing folds (docs/cost-model.md, "Attribution").
        const m = new Machine(sc, { overrides, callPaths: true });
        m.run();
        expect(m.kvm.cp.nodes).toBeLessThan(CALL_PATH_CAPACITY / 2);
        expect(m.kvm.cp.maxExitPairs).toBeLessThanOrEqual(m.kvm.cp.nodes);
        // An enter without its leave, or an exit that ends off its base node, is reported here
        // (CallPath.unbalanced, checked at the end of every exit).
        expect(r.warnings.filter((w) => w.includes('call-path'))).toEqual([]);
        // Without call paths (the default) the run is the same run: the report byte for byte, less `flame`.
        const plain = runScenario(sc, { overrides });
        expect(plain.flame).toBeUndefined();
        expect(JSON.stringify(plain)).toBe(JSON.stringify({ ...r, flame: undefined }));
        const all = r.flame!.all;
        expect(all.nodes[0]!.total).toBe(r.cycles.total);
        expect(all.nodes[0]!.self).toBe(0); // every cycle is under some frame
        checkGraph(all, r.cycles.total);
        // Per line: the lines' roots add up to the run (every charge happens on a workload line or 0).
        const byLine = Object.values(r.flame!.by_line).reduce((s, g) => s + g.nodes[0]!.total, 0);
        expect(byLine).toBe(r.cycles.total);
        // Per class: exits only, so at most the run; guest time is never in a class graph.
        for (const g of Object.values(r.flame!.by_class)) {
          checkGraph(g, g.nodes[0]!.total);
          expect(pathsOf(g, 'guest')).toEqual([]);
        }
        const lines = foldedStacks(all);
        expect(lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)).toBe(Math.round(r.cycles.total));
        // Exits: vm_exit_entry is the transition under vmx_vcpu_run plus vmx_handle_exit's own cost.
        const exits = Object.values(r.exits).reduce((s, n) => s + n, 0);
        const run = cyclesAt(all, ['vcpu_enter_guest', 'vmx_vcpu_run']);
        if (exits > 0) expect(run!.self).toBe(exits * TRANSITION[r.profile]!);
      });
    }
  }
});

describe('the doorbell: v3.0 scans memslots under handle_ept_violation, v3.1 hits the MMIO cache under handle_ept_misconfig', () => {
  const text = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
  const v30 = runScenario(scenario(text), { overrides: { kernel: 'v3.0' }, callPaths: true });
  const v31 = runScenario(scenario(text), { overrides: { kernel: 'v3.1' }, callPaths: true });
  const EPT_VIOLATION = ['vcpu_enter_guest', 'vmx_handle_exit', 'handle_ept_violation', 'kvm_mmu_page_fault'];

  it('v3.0: every doorbell is an EPT violation whose tdp_page_fault scans the memslots twice', () => {
    // 3.0.1 vmx.c:3713 handle_ept_violation: `return kvm_mmu_page_fault(vcpu, gpa, exit_qualification & 0x3, NULL, 0);`
    // mmu.c:2757 `force_pt_level = mapping_level_dirty_bitmap(vcpu, gfn);` (-> gfn_to_memslot, a miss)
    // mmu.c:2767 `if (try_async_pf(vcpu, prefault, gfn, gpa, &pfn, write, &map_writable))` (-> gfn_to_hva -> gfn_to_memslot, a miss)
    // kvm_main.c:941 __gfn_to_memslot: `for (i = 0; i < slots->nmemslots; i++)`: 35 compares per miss.
    const doorbells = v30.faults['mmio-slow']!;
    expect(doorbells).toBe(1000); // repeat: 1000, one doorbell write each
    const g = v30.flame!.by_class['mmio-slow']!;
    const dirty = cyclesAt(g, [...EPT_VIOLATION, 'tdp_page_fault', 'mapping_level_dirty_bitmap', 'gfn_to_memslot', '__gfn_to_memslot']);
    const async = cyclesAt(g, [...EPT_VIOLATION, 'tdp_page_fault', 'try_async_pf', 'gfn_to_memslot', '__gfn_to_memslot']);
    // westmere-2011: memslot_lookup 23 + memslot_compare 7 per slot compared (docs/cost-model.md),
    // memslot_compare_cold 111 for an entry not in the cache. Cold (docs/decisions.md "Cold memslot
    // scans"): each doorbell returns to the VMM, so the next doorbell's first scan (dirty) finds the
    // array cold; doorbell 1 is the run's first scan (warm); doorbell 2 finds entry 0 warm, scanned by
    // the fault of the iteration's first RAM read; doorbells 3-1000 pay all 35. The second scan
    // (async) follows the first in the same exit: warm.
    const coldDirty = 34 + 998 * 35;
    expect(dirty!.self).toBe(doorbells * (23 + 35 * 7) + coldDirty * (111 - 7));
    expect(async!.self).toBe(doorbells * (23 + 35 * 7));
    // 3.0.1 handle_ept_misconfig has no MMIO path: no lockless walk, no MMIO cache anywhere.
    for (const fn of ['handle_mmio_page_fault_common', 'walk_shadow_page_get_mmio_spte', 'quickly_check_mmio_pf', 'vcpu_match_mmio_gpa', 'vcpu_match_mmio_gva']) expect(pathsOf(g, fn)).toEqual([]);
    // the emulation follows: kvm_mmu_page_fault -> x86_emulate_instruction (3.0.1 mmu.c:3407)
    expect(cyclesAt(g, [...EPT_VIOLATION, 'x86_emulate_instruction', 'x86_emulate_insn', 'emulator_write_emulated_onepage'])!.total).toBeGreaterThan(0);
    // the whole run has the same memslot scans plus the one RAM fault's (a hit: fewer compares)
    expect(cyclesAt(v30.flame!.all, [...EPT_VIOLATION, 'tdp_page_fault', 'try_async_pf'])!.total).toBeGreaterThan(async!.total);
  });

  it('v3.1: 999 doorbells are EPT misconfigs answered by quickly_check_mmio_pf, no memslot scan', () => {
    // 3.1.10 vmx.c:4682 handle_ept_misconfig: `ret = handle_mmio_page_fault_common(vcpu, gpa, true);
    //   if (likely(ret == 1)) return x86_emulate_instruction(vcpu, gpa, 0, NULL, 0) == EMULATE_DONE;`
    // mmu.c:2929 handle_mmio_page_fault_common: `if (quickly_check_mmio_pf(vcpu, addr, direct)) return 1;`
    // mmu.c:2887 quickly_check_mmio_pf: `if (direct) return vcpu_match_mmio_gpa(vcpu, addr);`
    const g = v31.flame!.by_class['mmio-cache']!;
    const MISCONFIG = ['vcpu_enter_guest', 'vmx_handle_exit', 'handle_ept_misconfig'];
    expect(v31.exits['EPT_MISCONFIG']).toBe(999); // the example's own expect:
    const match = cyclesAt(g, [...MISCONFIG, 'handle_mmio_page_fault_common', 'quickly_check_mmio_pf', 'vcpu_match_mmio_gpa']);
    expect(match!.self).toBe(999 * 5); // mmio_cache_op = 5 (westmere-2011)
    expect(pathsOf(g, 'walk_shadow_page_get_mmio_spte')).toEqual([]);
    expect(pathsOf(g, 'tdp_page_fault')).toEqual([]);
    // x86_emulate_instruction under handle_ept_misconfig, and vcpu_mmio_gva_to_gpa's cache checks
    // (3.1.10 x86.c:4013: `if (vcpu_match_mmio_gva(vcpu, gva) && ...)`, then `if (vcpu_match_mmio_gpa(vcpu, *gpa))`)
    const emu = [...MISCONFIG, 'x86_emulate_instruction', 'x86_emulate_insn', 'emulator_write_emulated_onepage', 'vcpu_mmio_gva_to_gpa'];
    expect(cyclesAt(g, [...emu, 'vcpu_match_mmio_gva'])!.self).toBe(999 * 5);
    expect(cyclesAt(g, [...emu, 'vcpu_match_mmio_gpa'])!.self).toBe(999 * 5);
    // the memslot scans of v3.0 are gone from the fault path: only the emulator reads memslots (its
    // instruction fetch, kvm_fetch_guest_virt -> kvm_read_guest, and its guest walk)
    const scans = pathsOf(g, '__gfn_to_memslot');
    expect(scans.length).toBeGreaterThan(0);
    for (const p of scans) expect(p).toContain(';x86_emulate_instruction;');
    // the VMM's time is a root frame of its own
    // (vmm_round_trip 11,600 on westmere-2011; the doorbell's NIC declares no cost: a trivial device)
    expect(cyclesAt(g, ['[vmm]'])!.self).toBe(999 * 11600);
  });

  it('v3.1 lockless walk: a second device page misses the cache and walks under handle_mmio_page_fault_common', () => {
    // 3.1.10 mmu.c:2929: `spte = walk_shadow_page_get_mmio_spte(vcpu, addr); if (is_mmio_spte(spte)) { ... return 1; }`
    const r = run(vm('v3.1', `  - repeat: 10\n    steps:\n      - { write: ${NIC}, size: 4, value: 1 }\n      - { write: ${EXTRA}, size: 4, value: 1 }`), { callPaths: true });
    const g = r.flame!.by_class['mmio-fast']!;
    const walk = cyclesAt(g, ['vcpu_enter_guest', 'vmx_handle_exit', 'handle_ept_misconfig', 'handle_mmio_page_fault_common', 'walk_shadow_page_get_mmio_spte']);
    // walk_shadow_page_lockless_begin (80) + one lockless read per level, 4 levels (15 each): westmere-2011
    expect(walk!.self).toBe(r.faults['mmio-fast']! * (80 + 4 * 15));
  });
});

describe('CallPath', () => {
  /** A tree with one cursor whose owner's clock the test moves (a charge is a clock step). */
  function cursorOn(tree = new CallPath()) {
    const owner = { clock: 0, line: -1 };
    return { tree, owner, c: tree.cursor(owner) };
  }

  it('folds paths beyond its capacity into their parent and keeps the stack balanced', () => {
    const { tree, owner, c } = cursorOn();
    for (let i = 0; i < CALL_PATH_CAPACITY + 10; i++) c.enter(i % 50);
    expect(tree.nodes).toBe(CALL_PATH_CAPACITY);
    const deepest = c.cur;
    c.enter(7); // folded: stays on the deepest node
    owner.clock += 3;
    c.flush();
    expect(tree.self()[deepest]).toBe(3);
    for (let i = 0; i < CALL_PATH_CAPACITY + 11; i++) c.leave();
    expect(c.cur).toBe(0);
    expect(tree.unbalanced).toBe(0);
    c.leave();
    expect(tree.unbalanced).toBe(1);
  });

  it('an exit left off its base node is counted', () => {
    const tree = new CallPath();
    cursorOn(tree);
    const { c } = cursorOn(tree);
    c.exitBegin();
    c.enter(F.vmx_handle_exit);
    c.exitEnd(0, -1);
    expect(tree.unbalanced).toBe(1);
  });

  it('keeps an exit in its class only when the exit ends', () => {
    const { tree, owner, c } = cursorOn();
    c.exitBegin();
    c.enter(F.vmx_handle_exit);
    owner.clock += 10;
    c.leave();
    expect(flameGraph(tree, tree.byClass, 2 * CALL_PATH_CAPACITY).nodes[0]!.total).toBe(0);
    expect(flameGraph(tree, tree.self()).nodes[0]!.total).toBe(0);
    c.exitEnd(2, -1);
    expect(flameGraph(tree, tree.byClass, 2 * CALL_PATH_CAPACITY).nodes[0]!.total).toBe(10);
    expect(flameGraph(tree, tree.self()).nodes[0]!.total).toBe(10);
  });

  it('places a leaf charge on its node and time skipped on none', () => {
    const { tree, owner, c } = cursorOn();
    c.enter(F.tdp_page_fault);
    owner.clock += 5; // charged in tdp_page_fault
    const leaf = c.at(F.hva_to_pfn);
    c.leaf(leaf, 7);
    owner.clock += 7;
    c.skip(100); // an SRCU wait: the clock jumps, nothing is charged
    owner.clock += 100;
    owner.clock += 2; // charged in tdp_page_fault again
    c.leave();
    const self = tree.self();
    expect(self[tree.parent[leaf]!]).toBe(7);
    expect(self[leaf]).toBe(7);
    expect(self.reduce((s, x) => s + x, 0)).toBe(14);
  });

  it('folded counts are integers that sum to the rounded total (largest remainder)', () => {
    const { tree, owner, c } = cursorOn();
    for (const [fn, cycles] of [[F.guest, 1.4], [F.vmm, 1.4], [F.tdp_page_fault, 1.2]] as const) {
      c.enter(fn);
      owner.clock += cycles;
      c.leave();
    }
    // total 4.0: floors 1+1+1 = 3, the one unit left goes to the largest fraction (0.4, the first of the tie)
    expect(foldedStacks(flameGraph(tree, tree.self()))).toEqual(['guest 2', '[vmm] 1', 'tdp_page_fault 1']);
  });
});

describe('kernel function table', () => {
  const TREES = { v30: '/work/ksrc/v3.0.1', v31: '/work/ksrc/v3.1' } as const;
  for (const f of KERNEL_FUNCTIONS) {
    it(`${f.name}: the line given per era defines it in the release tree`, () => {
      const src = f.name.startsWith('paging64_') ? `FNAME(${f.name.slice('paging64_'.length)})(` : `${f.name}(`;
      for (const era of ['v30', 'v31'] as const) {
        const text = readFileSync(join(TREES[era], f.file), 'utf8').split('\n');
        const defs = text.flatMap((l, i) => (/^[A-Za-z_]/.test(l) && l.includes(src) && !/;\s*$/.test(l) && (l.startsWith(src) || /[ *]$/.test(l.slice(0, l.indexOf(src)))) ? [i + 1] : []));
        if (f[era] === 0) expect(defs).toEqual([]);
        else expect(defs[0]).toBe(f[era]);
      }
    });
  }

  it('frame names: kernel functions, then the documented non-kernel frames', () => {
    expect(FRAME_NAMES.slice(KERNEL_FUNCTIONS.length)).toEqual([...NON_KERNEL_FRAMES]);
    expect(FRAME_NAMES[F.guest]).toBe('guest');
    expect(FRAME_NAMES[F.guest_memory]).toBe('[guest memory]');
    expect(FRAME_NAMES[F.vmm]).toBe('[vmm]');
    expect(FRAME_NAMES[F.tdp_page_fault]).toBe('tdp_page_fault');
  });

  it('kernelSourceUrl points at the pinned mirror of each release, at the definition line', () => {
    expect(kernelSourceUrl('v3.0', 'tdp_page_fault')).toBe('https://github.com/eastmoutain/Linux-3.0.1/blob/3992f4b1cf29c7dcdb494d9cfcad7ed3175e40a5/linux-3.0.1/arch/x86/kvm/mmu.c#L2738');
    expect(kernelSourceUrl('v3.1', 'tdp_page_fault')).toBe('https://github.com/kangsterizer/linux-3.1.y-rsbac/blob/e82388495b96fa3f5059d4e797c0ebf0e57235bf/arch/x86/kvm/mmu.c#L3047');
    expect(kernelSourceUrl('v3.0', 'handle_mmio_page_fault_common')).toBeNull(); // not in 3.0.1
    expect(kernelSourceUrl('v3.1', 'guest')).toBeNull();
  });
});

export type { RunResult };
