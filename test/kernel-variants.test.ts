// Compare Kernels: the table of modelled kernels against the trees, and kernelVariants — one variant
// per kernel x MMU mode, each run as that kernel would (a setting it lacks dropped, a CR4 bit its
// kvm_set_cr4 refuses off), with a note for every such change. Expected values come from the trees:
//   3.0.1 vmx.c:50      `static int __read_mostly bypass_guest_pf = 1;` (no such line in 3.1.10 vmx.c)
//   3.0.1 vmx.c:4672-3  `if (enable_ept) { bypass_guest_pf = 0;`
//   3.0.1 mmu.c:91, 3.1.10 mmu.c:90  `static int oos_shadow = 1;`
//   3.0.1 vmx.c:53, 3.1.10 vmx.c:52  `static int __read_mostly enable_vpid = 1;`
//   3.1.10 mmu.c:199    `static u64 __read_mostly shadow_mmio_mask;` (3.0.1 has no MMIO SPTE)
//   asm/kvm_host.h:47-52 CR4_RESERVED_BITS: 3.0.1 lists no X86_CR4_SMEP; 3.1.10 adds
//                        `X86_CR4_SMEP | X86_CR4_RDWRGSFS`; neither lists SMAP or PKE;
//   x86.c kvm_set_cr4: `if (cr4 & CR4_RESERVED_BITS) return 1;`
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERAS, type KernelEra, type KernelLine } from '../simulator/kvm/eras';
import { kernelVariants, selectVariants } from '../simulator/run/kernel_variants';
import { compareScenario } from '../simulator/run/compare';
import { runScenario } from '../simulator/run/run';
import { variantProblems } from '../simulator/scenario/compare';
import { KERNELS } from '../simulator/scenario/types';
import { scenario } from './helpers/scenario';
import { handleRequest } from '../extension/worker/requests';

const TREES: Record<string, string> = { 'v3.0': '/work/ksrc/v3.0.1', 'v3.1': '/work/ksrc/v3.1' };
/** The line, its runs of blanks as one space (the trees align continuation backslashes with blanks). */
const lineOf = (era: string, l: KernelLine) => readFileSync(`${TREES[era]}/${l.file}`, 'utf8').split('\n')[l.line - 1]!.trim().replace(/\s+/g, ' ');
const src = (era: string, file: string) => readFileSync(`${TREES[era]}/${file}`, 'utf8');
/** CR4_RESERVED_BITS' definition, lines 47-52 of asm/kvm_host.h in both trees. */
const reservedBits = (era: string) => src(era, 'arch/x86/include/asm/kvm_host.h').split('\n').slice(46, 52).join('\n');

/** A guest with one 4K user page at 0x1000 (for SMEP) and a doorbell device, in the given settings. */
function yaml(o: { kernel: string; mmu: string; cpu?: string; steps?: string }): string {
  return `
kernel: ${o.kernel}
mmu: ${o.mmu}
memslots:
  - { slot: 0, gpa: 0x0, size: 16M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 4K, handler: userspace }
guest:
  cpu: ${o.cpu ?? '{ cr0_wp: true, efer_nx: true }'}
  mappings:
    - { gva: 0x1000, gpa: 0x1000, size: 4K, flags: "p w u a d" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 4K, flags: "p w a d pcd nx" }
workload:
${o.steps ?? '  - { write: 0xffffc90000000000, size: 4, value: 1 }'}
`;
}

describe('the table of modelled kernels (simulator/kvm/eras.ts)', () => {
  it('has v3.0 (3.0.1) and v3.1 (3.1.10), and is where KERNELS comes from', () => {
    expect(ERAS.map((e) => [e.name, e.release])).toEqual([['v3.0', '3.0.1'], ['v3.1', '3.1.10']]);
    expect(KERNELS).toEqual(['v3.0', 'v3.1']);
  });

  it('every line it quotes is that line of the tree', () => {
    for (const e of ERAS as readonly KernelEra[]) {
      const lines = [...Object.values(e.params), ...Object.values(e.cr4), e.cr4Reserved, e.cr4Check, ...(e.mmioSpte ? [e.mmioSpte] : []), ...(e.bypassOffWithEpt ? [e.bypassOffWithEpt] : []), ...(e.locklessWalk ? [e.locklessWalk] : []), e.haltSleep];
      for (const l of lines) expect(lineOf(e.name, l!), `${e.name} ${l!.file}:${l!.line}`).toBe(l!.text);
    }
  });

  it('bypass_guest_pf only in 3.0.1, oos_shadow in both, MMIO SPTEs only in 3.1.10', () => {
    expect(src('v3.0', 'arch/x86/kvm/vmx.c')).toContain('static int __read_mostly bypass_guest_pf = 1;');
    expect(src('v3.1', 'arch/x86/kvm/vmx.c')).not.toMatch(/static int .*bypass_guest_pf/);
    for (const k of KERNELS) expect(src(k, 'arch/x86/kvm/mmu.c')).toContain('static int oos_shadow = 1;');
    expect(src('v3.0', 'arch/x86/kvm/mmu.c')).not.toContain('shadow_mmio_mask');
    const [v30, v31] = ERAS as readonly KernelEra[];
    expect(Object.keys(v30!.params).sort()).toEqual(['bypass_guest_pf', 'enable_vpid', 'oos_shadow']);
    expect(Object.keys(v31!.params).sort()).toEqual(['enable_vpid', 'oos_shadow']);
    for (const k of KERNELS) expect(src(k, 'arch/x86/kvm/vmx.c')).toContain('module_param_named(vpid, enable_vpid, bool, 0444);');
    expect(v30!.mmioSpte).toBeNull();
    expect(v31!.mmioSpte).not.toBeNull();
    // The lockless walk (and its race points) only in 3.1.10.
    expect(src('v3.0', 'arch/x86/kvm/mmu.c')).not.toContain('walk_shadow_page_lockless_begin');
    expect(v30!.locklessWalk).toBeNull();
    expect(v31!.locklessWalk).not.toBeNull();
  });

  it('guest CR4 bits: 3.0.1 accepts no SMEP, 3.1.10 SMEP; neither SMAP nor PKE', () => {
    expect(reservedBits('v3.0')).toMatch(/^#define CR4_RESERVED_BITS/);
    expect(reservedBits('v3.0')).not.toContain('X86_CR4_SMEP');
    expect(reservedBits('v3.1')).toContain('X86_CR4_SMEP | X86_CR4_RDWRGSFS');
    for (const k of KERNELS) {
      expect(reservedBits(k)).not.toMatch(/SMAP|PKE/);
      expect(src(k, 'arch/x86/kvm/x86.c')).toContain('if (cr4 & CR4_RESERVED_BITS)\n\t\treturn 1;');
    }
    const [v30, v31] = ERAS as readonly KernelEra[];
    expect(Object.keys(v30!.cr4)).toEqual([]);
    expect(Object.keys(v31!.cr4)).toEqual(['cr4_smep']);
  });
});

describe('kernelVariants', () => {
  it('one variant per kernel x MMU mode, kernels outer, labelled "<kernel> EPT|shadow"', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: true }' }));
    const vs = kernelVariants(sc, KERNELS, [true, false]);
    expect(vs.map((v) => v.label)).toEqual(['v3.0 EPT', 'v3.0 shadow', 'v3.1 EPT', 'v3.1 shadow']);
    expect(vs.map((v) => [v.overrides.kernel, v.overrides.tdp])).toEqual([['v3.0', true], ['v3.0', false], ['v3.1', true], ['v3.1', false]]);
  });

  it('mmio_caching on v3.0: off, with a note quoting 3.1.10 mmu.c:199 (3.0.1 has no MMIO SPTE)', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: true, mmio_caching: true }' }));
    const [v30, v31] = kernelVariants(sc, KERNELS, [true]);
    expect(v30!.overrides.mmio_caching).toBe(false);
    expect(v30!.notes).toHaveLength(1);
    expect(v30!.notes[0]).toContain('mmu.mmio_caching');
    expect(v30!.notes[0]).toContain('3.1.10 mmu.c:199 `static u64 __read_mostly shadow_mmio_mask;`');
    expect(v31!.notes).toEqual([]);
    expect(v31!.overrides.mmio_caching).toBeUndefined();
    // As the kernels run it: no MMIO SPTE before the series, EPT misconfigurations after it.
    const r30 = runScenario(sc, { overrides: v30!.overrides });
    const r31 = runScenario(sc, { overrides: v31!.overrides });
    expect(r30.stats.mmio_sptes_created).toBe(0);
    expect(r31.stats.mmio_sptes_created).toBe(1);
  });

  it('bypass_guest_pf: true is dropped on v3.1 (vmx.c:50 gone) and forced off with EPT (vmx.c:4672-4673)', () => {
    const sc = scenario(yaml({ kernel: 'v3.0', mmu: '{ tdp: false, bypass_guest_pf: true }' }));
    const [v30ept, v30shadow, v31ept, v31shadow] = kernelVariants(sc, KERNELS, [true, false]);
    expect(v31shadow!.overrides.bypass_guest_pf).toBe(false);
    expect(v31shadow!.notes.find((n) => n.startsWith('mmu.bypass_guest_pf'))).toBe(
      'mmu.bypass_guest_pf: true dropped: v3.1 (3.1.10) has no bypass_guest_pf (3.0.1 vmx.c:50 `static int __read_mostly bypass_guest_pf = 1;`): the 2011 MMIO series removed it from vmx.c',
    );
    expect(v31ept!.notes.some((n) => n.startsWith('mmu.bypass_guest_pf: true dropped'))).toBe(true);
    expect(v30ept!.overrides.bypass_guest_pf).toBe(false);
    expect(v30ept!.notes.find((n) => n.startsWith('mmu.bypass_guest_pf'))).toBe('mmu.bypass_guest_pf: true off: with EPT, 3.0.1 vmx_init zeroes it (3.0.1 vmx.c:4673: `if (enable_ept) { bypass_guest_pf = 0;`)');
    expect(src('v3.0', 'arch/x86/kvm/vmx.c').split('\n').slice(4671, 4673).map((l) => l.trim())).toEqual(['if (enable_ept) {', 'bypass_guest_pf = 0;']);
    expect(v30shadow!.overrides.bypass_guest_pf).toBeUndefined();
    expect(v30shadow!.notes.filter((n) => n.includes('bypass'))).toEqual([]);
    const bypass = (v: typeof v30ept) => runScenario(sc, { overrides: v!.overrides }).bypass_guest_pf;
    expect([bypass(v30ept), bypass(v30shadow), bypass(v31ept), bypass(v31shadow)]).toEqual([false, true, false, false]);
  });

  it('bypass_guest_pf: false is dropped on v3.1 too (a setting it does not have), kept on v3.0', () => {
    const sc = scenario(yaml({ kernel: 'v3.0', mmu: '{ tdp: false, bypass_guest_pf: false }' }));
    const [v30, v31] = kernelVariants(sc, KERNELS, [false]);
    expect(v30!.notes.filter((n) => n.includes('bypass'))).toEqual([]);
    expect(v31!.notes.filter((n) => n.includes('bypass'))).toEqual([expect.stringMatching(/^mmu\.bypass_guest_pf: false dropped: v3\.1/)]);
    expect(runScenario(sc, { overrides: v30!.overrides }).bypass_guest_pf).toBe(false);
  });

  it('bypass_guest_pf left to the era: nothing to drop, no note; v3.0 shadow runs with its default 1', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: false }' }));
    const vs = kernelVariants(sc, KERNELS, [false]);
    for (const v of vs) expect(v.notes.filter((n) => n.includes('bypass'))).toEqual([]);
    expect(runScenario(sc, { overrides: vs[0]!.overrides }).bypass_guest_pf).toBe(true);
  });

  it('oos_shadow: both kernels have it (mmu.c `static int oos_shadow = 1;`): kept, no note', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: false, oos_shadow: false }' }));
    for (const v of kernelVariants(sc, KERNELS, [false])) {
      expect(v.overrides.oos_shadow).toBeUndefined();
      expect(v.notes.filter((n) => n.includes('oos_shadow'))).toEqual([]);
      expect(runScenario(sc, { overrides: v.overrides }).oos_shadow).toBe(false);
    }
  });

  it('cr4_smep on v3.0: kvm_set_cr4 refuses it, the guest runs without SMEP (a supervisor fetch from a user page succeeds); v3.1 keeps it', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: true }', cpu: '{ cr0_wp: true, efer_nx: true, cr4_smep: true }', steps: '  - { fetch: 0x1000, cpl: 0 }' }));
    const [v30, v31] = kernelVariants(sc, KERNELS, [true]);
    expect(v30!.overrides.cr4_smep).toBe(false);
    expect(v30!.notes.find((n) => n.startsWith('guest.cpu.cr4_smep'))).toBe(
      'guest.cpu.cr4_smep: true off: 3.0.1 kvm_set_cr4 refuses X86_CR4_SMEP (3.0.1 x86.c:603 `if (cr4 & CR4_RESERVED_BITS) return 1;`; the allowed list after 3.0.1 kvm_host.h:47 `#define CR4_RESERVED_BITS` does not have it); the guest runs without it',
    );
    expect(v31!.overrides.cr4_smep).toBeUndefined();
    expect(v31!.notes.filter((n) => n.includes('cr4'))).toEqual([]);
    const fetch = (o: typeof v30) => runScenario(sc, { overrides: o!.overrides, accesses: true }).accesses![0];
    expect(fetch(v30)).toMatchObject({ result: 'ok' });
    // SDM: SMEP, supervisor fetch from a user page: #PF with P and I/D (0x11).
    expect(fetch(v31)).toMatchObject({ result: 'guest-fault', error_code: '0x11' });
  });

  it('cr4_smap and cr4_pke: neither kernel accepts them, so both run without, each with a note', () => {
    const sc = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: true }', cpu: '{ cr0_wp: true, efer_nx: true, cr4_smap: true, cr4_pke: true, pkru: 0x4 }' }));
    for (const v of kernelVariants(sc, KERNELS, [true, false])) {
      expect(v.overrides).toMatchObject({ cr4_smap: false, cr4_pke: false });
      expect(v.notes.filter((n) => n.startsWith('guest.cpu.cr4_smap: true off'))).toHaveLength(1);
      expect(v.notes.filter((n) => n.startsWith('guest.cpu.cr4_pke: true off'))).toHaveLength(1);
      expect(v.notes.find((n) => n.startsWith('guest.cpu.cr4_pke'))).toContain('refuses X86_CR4_PKE');
    }
  });

  it('the variants obey the rules of a `compare:` variant (variantProblems), in the same words', () => {
    const bypass = scenario(yaml({ kernel: 'v3.0', mmu: '{ tdp: false, bypass_guest_pf: true }' }));
    expect(variantProblems(bypass, { kernel: 'v3.1' })).toEqual([
      'mmu.bypass_guest_pf: true is not possible: kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0)',
    ]);
    expect(variantProblems(bypass, { tdp: true })[0]).toContain('VMX forces it off when EPT is in use');
    expect(variantProblems(bypass, { kernel: 'v3.1', bypass_guest_pf: false })).toEqual([]);
    const pke = scenario(yaml({ kernel: 'v3.1', mmu: '{ tdp: true }', cpu: '{ cr4_pke: true }' }));
    expect(variantProblems(pke, { tdp: false })).toEqual(['mmu.tdp: false is not possible: guest.cpu.cr4_pke is true, and KVM does not offer protection keys with shadow paging']);
    expect(variantProblems(pke, { tdp: false, cr4_pke: false })).toEqual([]);
    for (const v of kernelVariants(bypass, KERNELS, [true, false])) expect(variantProblems(bypass, v.overrides)).toEqual([]);
  });

  it('selectVariants: the file\'s compare: list unless kernels or MMU modes are given; else every kernel in the file\'s MMU mode', () => {
    const sweep = scenario(readFileSync('examples/memslot-sweep.mmio.yaml', 'utf8'), 'examples/memslot-sweep.mmio.yaml');
    expect(selectVariants(sweep).map((v) => v.label)).toEqual(sweep.compare.map((v) => v.label));
    expect(selectVariants(sweep, { kernels: ['v3.1'] }).map((v) => v.label)).toEqual(['v3.1 EPT']);
    expect(selectVariants(sweep, { tdp: [false] }).map((v) => v.label)).toEqual(['v3.0 shadow', 'v3.1 shadow']);
    const shadow = scenario(readFileSync('examples/shadow-doorbell.mmio.yaml', 'utf8'));
    expect(selectVariants(shadow).map((v) => v.label)).toEqual(['v3.0 shadow', 'v3.1 shadow']);
  });

  it("runs on every bundled example under both kernels in its MMU mode (as the extension's worker does), notes carried into the result", () => {
    const files = ['alternating-pages', 'apic-eoi', 'bypass-guest-pf', 'doorbell', 'memslot-over-mmio', 'memslot-sweep', 'race-zap-during-walk', 'shadow-doorbell', 'stale-mmio-spte-after-slot-recreate'];
    for (const f of files) {
      const path = `examples/${f}.mmio.yaml`;
      const sc = scenario(readFileSync(path, 'utf8'), path);
      const vs = kernelVariants(sc, KERNELS, [sc.mmu.tdp]);
      const res = handleRequest({ id: 1, kind: 'compare', kernels: true, uri: path, file: path, text: readFileSync(path, 'utf8'), defaultKernel: 'v3.1', profile: 'scenario' });
      expect(res.kind, f).toBe('compare');
      const c = (res as Extract<typeof res, { kind: 'compare' }>).result;
      expect(c.variants.map((v) => v.label), f).toEqual([`v3.0 ${sc.mmu.tdp ? 'EPT' : 'shadow'}`, `v3.1 ${sc.mmu.tdp ? 'EPT' : 'shadow'}`]);
      expect(c.variants.map((v) => v.settings.kernel)).toEqual(['v3.0', 'v3.1']);
      expect(c.variants.map((v) => v.notes)).toEqual(vs.map((v) => v.notes));
      // The same as running them in turn here.
      expect(c.variants.map((v) => v.report.cycles.total)).toEqual(compareScenario(sc, vs).variants.map((v) => v.report.cycles.total));
    }
  }, 120_000);
});
