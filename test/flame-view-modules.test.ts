// The flame graph view's pure parts: the icicle's geometry (webview/flame_layout.ts), the
// differential merge by call path (webview/flame_diff.ts) and the host's check of the URLs the
// panel asks it to open (shared/external_links.ts). Expected values are worked out by hand from
// the fixtures' cycles (test/webview/flame_fixtures.ts).

import { describe, expect, it } from 'vitest';
import { ancestry, childrenOf, layoutFlame, treeOf } from '../webview/flame_layout';
import { diffFlame } from '../webview/flame_diff';
import { isAllowedSourceUrl } from '../shared/external_links';
import { kernelFnUrl } from '../webview/kernel_url';
import { kernelSourceUrl } from '../simulator/kvm/kernel_functions';
import { FLAME_A, FLAME_B } from './webview/flame_fixtures';

const name = (i: number) => (FLAME_A.nodes[i]!.fn < 0 ? 'all' : FLAME_A.functions[FLAME_A.nodes[i]!.fn]);

describe('flame layout', () => {
  it('the fixtures hold the shape\'s rules: pre-order, total = self + children\'s totals', () => {
    for (const g of [FLAME_A, FLAME_B]) {
      g.nodes.forEach((n, i) => {
        if (i > 0) expect(n.parent).toBeLessThan(i);
        const kids = g.nodes.filter((k, j) => j > 0 && k.parent === i);
        expect(n.self + kids.reduce((s, k) => s + k.total, 0), `node ${i}`).toBe(n.total);
      });
    }
  });

  it('places each frame at its parent\'s left edge plus its older siblings, as wide as its share', () => {
    const l = layoutFlame(treeOf(FLAME_A));
    const by = Object.fromEntries(l.frames.map((f) => [name(f.node), f]));
    // Widths: total / 1000; left edges: the parent's plus the siblings before it.
    const expected: Record<string, [number, number, number]> = {
      all: [0, 0, 1],
      guest: [1, 0, 0.4],
      vmx_handle_exit: [1, 0.4, 0.6],
      handle_ept_misconfig: [2, 0.4, 0.45],
      handle_mmio_page_fault_common: [3, 0.4, 0.15],
      x86_emulate_instruction: [3, 0.55, 0.2],
      handle_ept_violation: [2, 0.85, 0.1],
      kvm_mmu_page_fault: [3, 0.85, 0.08],
      tdp_page_fault: [4, 0.85, 0.05],
    };
    expect(Object.keys(by).sort()).toEqual(Object.keys(expected).sort());
    for (const [fn, [depth, x, w]] of Object.entries(expected)) {
      expect(by[fn]!.depth, fn).toBe(depth);
      expect(by[fn]!.x, fn).toBeCloseTo(x, 12);
      expect(by[fn]!.w, fn).toBeCloseTo(w, 12);
    }
    expect(l.rows).toBe(5);
    expect(l.hidden).toBe(0);
    // Pre-order: a frame's parent frame comes before it.
    l.frames.forEach((f, i) => expect(f.parentFrame).toBeLessThan(i));
    expect(l.frames[by.tdp_page_fault!.parentFrame]!.node).toBe(7);
  });

  it('zooms: the zoomed frame fills the width and its children share it', () => {
    const l = layoutFlame(treeOf(FLAME_A), 2); // vmx_handle_exit, 600 cycles
    expect(l.frames.map((f) => name(f.node))).toEqual(['vmx_handle_exit', 'handle_ept_misconfig', 'handle_mmio_page_fault_common', 'x86_emulate_instruction', 'handle_ept_violation', 'kvm_mmu_page_fault', 'tdp_page_fault']);
    expect(l.frames[0]).toMatchObject({ depth: 0, x: 0, w: 1, parentFrame: -1 });
    expect(l.frames[1]!.w).toBeCloseTo(450 / 600, 12);
    expect(l.frames[3]!.x).toBeCloseTo(150 / 600, 12);
    expect(l.frames[4]!.x).toBeCloseTo(450 / 600, 12);
    expect(l.frames[6]!.w).toBeCloseTo(50 / 600, 12);
    expect(l.rows).toBe(4);
  });

  it('leaves out frames narrower than minFraction, with their subtrees, and counts them', () => {
    // 0.09 of 1000 cycles: kvm_mmu_page_fault (80) and tdp_page_fault (50, under it) go.
    const l = layoutFlame(treeOf(FLAME_A), 0, 0.09);
    expect(l.frames.map((f) => name(f.node))).not.toContain('kvm_mmu_page_fault');
    expect(l.frames.map((f) => name(f.node))).not.toContain('tdp_page_fault');
    expect(l.frames).toHaveLength(7);
    expect(l.hidden).toBe(1); // the subtree counts once, at its top
    expect(l.rows).toBe(4);
  });

  it('children and ancestry follow the parent links', () => {
    expect(childrenOf(treeOf(FLAME_A))[3]).toEqual([4, 5]);
    expect(ancestry(treeOf(FLAME_A), 8)).toEqual([0, 2, 6, 7, 8]);
    expect(ancestry(treeOf(FLAME_A), 0)).toEqual([0]);
  });

  it('an empty graph (root with 0 cycles) is one full-width frame', () => {
    const l = layoutFlame({ parent: [-1], size: [0] });
    expect(l.frames).toEqual([{ node: 0, depth: 0, x: 0, w: 1, parentFrame: -1 }]);
  });
});

describe('flame diff', () => {
  const d = diffFlame(FLAME_A, FLAME_B);
  const path = (i: number): string => (d.nodes[i]!.parent < 0 ? d.nodes[i]!.name : `${path(d.nodes[i]!.parent)};${d.nodes[i]!.name}`);
  const by = Object.fromEntries(d.nodes.map((n, i) => [path(i), { ...n, size: d.size[i] }]));

  it('matches frames by call path (function names, not indices) and classifies each change', () => {
    expect(Object.fromEntries(Object.entries(by).map(([p, n]) => [p, [n.before, n.after, n.change]]))).toEqual({
      all: [1000, 900, 'fell'],
      'all;guest': [400, 400, 'same'],
      'all;vmx_handle_exit': [600, 500, 'fell'],
      'all;vmx_handle_exit;handle_ept_misconfig': [450, 420, 'fell'],
      'all;vmx_handle_exit;handle_ept_misconfig;handle_mmio_page_fault_common': [150, 60, 'fell'],
      'all;vmx_handle_exit;handle_ept_misconfig;x86_emulate_instruction': [200, 230, 'rose'],
      'all;vmx_handle_exit;handle_ept_misconfig;vcpu_mmio_gva_to_gpa': [0, 60, 'new'],
      'all;vmx_handle_exit;handle_ept_violation': [100, 30, 'fell'],
      'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault': [80, 20, 'fell'],
      'all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault': [50, 0, 'removed'],
    });
    // The largest change below the root: vmx_handle_exit, 600 -> 500.
    expect(d.maxDelta).toBe(100);
  });

  it('sizes: the second run\'s cycles plus the removed paths below; removed frames their first-run cycles', () => {
    expect(by['all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault;tdp_page_fault']!.size).toBe(50);
    expect(by['all;vmx_handle_exit;handle_ept_violation;kvm_mmu_page_fault']!.size).toBe(20 + 50);
    expect(by['all;vmx_handle_exit;handle_ept_violation']!.size).toBe(30 + 50);
    expect(by['all;vmx_handle_exit']!.size).toBe(500 + 50);
    expect(by['all;vmx_handle_exit;handle_ept_misconfig']!.size).toBe(420);
    expect(by.all!.size).toBe(900 + 50);
    // No child is wider than its parent's room.
    const kids = childrenOf(d);
    kids.forEach((cs, p) => expect(cs.reduce((n, c) => n + d.size[c]!, 0)).toBeLessThanOrEqual(d.size[p]!));
  });

  it('keeps the second graph\'s order, then the frames only the first has', () => {
    const kids = childrenOf(d);
    const misconfig = d.nodes.findIndex((n) => n.name === 'handle_ept_misconfig');
    expect(kids[misconfig]!.map((c) => d.nodes[c]!.name)).toEqual(['handle_mmio_page_fault_common', 'x86_emulate_instruction', 'vcpu_mmio_gva_to_gpa']);
  });

  it('a graph against itself changes nothing; against an empty graph everything is new', () => {
    const same = diffFlame(FLAME_A, FLAME_A);
    expect(new Set(same.nodes.map((n) => n.change))).toEqual(new Set(['same']));
    expect(same.maxDelta).toBe(0);
    expect(same.size).toEqual(FLAME_A.nodes.map((n) => n.total));
    const fresh = diffFlame({ functions: [], nodes: [{ fn: -1, parent: -1, self: 0, total: 0 }] }, FLAME_A);
    expect(fresh.nodes.slice(1).every((n) => n.change === 'new')).toBe(true);
    expect(fresh.nodes[0]!.change).toBe('rose');
  });
});

describe('openExternal URLs', () => {
  it('accepts https into the release trees\' source only', () => {
    for (const good of [
      'https://github.com/kangsterizer/linux-3.1.y-rsbac/blob/e82388495b96fa3f5059d4e797c0ebf0e57235bf/arch/x86/kvm/mmu.c#L3047',
      'https://github.com/eastmoutain/Linux-3.0.1/blob/3992f4b1cf29c7dcdb494d9cfcad7ed3175e40a5/linux-3.0.1/arch/x86/kvm/mmu.c#L2738',
      'https://elixir.bootlin.com/linux/v3.1.10/C/ident/tdp_page_fault',
    ])
      expect(isAllowedSourceUrl(good), good).toBe(true);
    for (const bad of [
      'http://elixir.bootlin.com/linux/v3.1.10/source/arch/x86/kvm/mmu.c',
      'https://github.com/someone/else/blob/main/x.c',
      'https://github.com/kangsterizer/linux-3.1.y-rsbac/../../evil/repo/blob/x',
      'https://github.com/eastmoutain/Linux-3.0.1/blob/../../../evil',
      'https://elixir.bootlin.com.evil.example/linux/',
      'https://evil.example/?https://elixir.bootlin.com/linux/',
      'https://user:pw@elixir.bootlin.com/linux/',
      'https://elixir.bootlin.com:8443/linux/',
      'javascript:alert(1)',
      'command:workbench.action.terminal.new',
      'file:///etc/passwd',
      'not a url',
      '',
    ])
      expect(isAllowedSourceUrl(bad), bad).toBe(false);
    expect(isAllowedSourceUrl(42)).toBe(false);
    expect(isAllowedSourceUrl(null)).toBe(false);
  });

  it('every URL the panel links a graph\'s function to passes the host\'s check', () => {
    const fns = [...new Set([...FLAME_A.functions, ...FLAME_B.functions])].filter((f) => f !== 'guest');
    for (const kernel of ['v3.0', 'v3.1'] as const)
      for (const fn of fns) {
        const url = kernelFnUrl(kernel, fn);
        expect(url, `${kernel} ${fn}`).toBe(kernelSourceUrl(kernel, fn));
        if (url !== null) expect(isAllowedSourceUrl(url), url).toBe(true);
      }
    // A frame outside the kernel, or a kernel the simulator does not model, has no link.
    expect(kernelFnUrl('v3.1', 'guest')).toBeNull();
    expect(kernelFnUrl('v4.0', 'tdp_page_fault')).toBeNull();
    // paging_tmpl.h's FNAME(page_fault) is paging64_page_fault for the 4-level guests modelled.
    expect(kernelFnUrl('v3.0', 'FNAME(page_fault)')).toBe(kernelSourceUrl('v3.0', 'paging64_page_fault'));
  });
});
