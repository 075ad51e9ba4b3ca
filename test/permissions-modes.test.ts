// The x86 permission rules and #PF error codes must hold in every virtualized mode, not only for the
// bare walker. One scenario maps one 4K page per combination of PDE bits and PTE bits over
// {P, W, U, NX} (16 x 16), each under its own PDE, each with protection key 0 and with key 1 in the
// PTE (512 pages), and reads, writes and fetches every page at CPL 0 and at CPL 3. It runs under
// every CPU configuration of CR0.WP x EFER.NX x CR4.SMEP x (SMAP off | SMAP on with EFLAGS.AC 0 | with
// AC 1) x (PKE off | PKE on with PKRU 0, 0x4, 0x8, 0xc), on bare hardware (test/helpers/native.ts)
// and in every mode; each access's result, error code and value must be the same.
//
// The exceptions are those documented in transparency.test.ts: shadow-paging modes run only with
// SMEP and SMAP off (and never with PKE: KVM does not offer protection keys with shadow paging), and
// v3.0's bypass_guest_pf lets a not-present fetch fault carry the I/D bit (maskBypassLeak).
// Accessed and dirty bits are set at every level, so A/D timing is not what is tested here.
// Each run is made with the fast paths and without, and their reports must be identical
// (helpers/fast_paths.ts).
import { describe, it, expect } from 'vitest';
import { osVm, scenario } from './helpers/scenario';
import { runNative } from './helpers/native';
import { MODES, maskBypassLeak, type Seen } from './helpers/modes';
import { runBothWays } from './helpers/fast_paths';
import type { Scenario, ScenarioOverrides } from '../simulator/scenario/types';
import { S } from '../simulator/trace/stats';
import { PFERR_FETCH_MASK, PFERR_PK_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from '../simulator/arch/x86/paging';


interface Cpu {
  cr0_wp: boolean;
  efer_nx: boolean;
  cr4_smep: boolean;
  cr4_smap: boolean;
  eflags_ac: boolean;
  cr4_pke: boolean;
  pkru: number;
}

const b = (x: boolean) => (x ? 1 : 0);
const cpuName = (c: Cpu) =>
  `WP=${b(c.cr0_wp)} NX=${b(c.efer_nx)} SMEP=${b(c.cr4_smep)} SMAP=${c.cr4_smap ? `on AC=${b(c.eflags_ac)}` : 'off'}` + (c.cr4_pke ? ` PKE PKRU=0x${c.pkru.toString(16)}` : '');

/** CR0.WP x EFER.NX x SMEP x (SMAP off | SMAP on, AC 0 | SMAP on, AC 1): 24 configurations. */
const BASE_CPUS: Cpu[] = [];
for (const cr0_wp of [false, true])
  for (const efer_nx of [false, true])
    for (const cr4_smep of [false, true])
      for (const [cr4_smap, eflags_ac] of [
        [false, false],
        [true, false],
        [true, true],
      ] as const)
        BASE_CPUS.push({ cr0_wp, efer_nx, cr4_smep, cr4_smap, eflags_ac, cr4_pke: false, pkru: 0 });

/** The same with CR4.PKE on and PKRU 0 (nothing denied), 0x4 (AD for key 1), 0x8 (WD for key 1) or
 *  0xc (both): 96 configurations. */
const PKE_CPUS: Cpu[] = BASE_CPUS.flatMap((c) => [0x0, 0x4, 0x8, 0xc].map((pkru) => ({ ...c, cr4_pke: true, pkru })));

const BITS = ['p', 'w', 'u', 'nx'] as const;
const tokens = (mask: number): string[] => BITS.filter((_, i) => mask & (1 << i));

interface TestMapping {
  k: number;
  pde: string;
  pte: string;
  gva: bigint;
}

/** Mapping k: GVA 1G + k * 2M (its own PDE, all under PDPT entry 1 of PML4 slot 0; pdpte and pml4e
 *  "p w u a"), GPA 16M + k * 4K. The 256 combinations of PDE and PTE bits, each once with protection
 *  key 0 and once with key 1 in the PTE: 512 mappings. (With CR4.PKE off the key bits are ignored,
 *  which every mode must show too.) */
function testMappings(): TestMapping[] {
  const out: TestMapping[] = [];
  for (const pkey of [0, 1])
    for (let pde = 0; pde < 16; pde++)
      for (let pte = 0; pte < 16; pte++) {
        const k = out.length;
        out.push({
          k,
          pde: [...tokens(pde), 'a'].join(' '),
          pte: [...tokens(pte), 'a', 'd', ...(pkey ? [`pkey=${pkey}`] : [])].join(' '),
          gva: 0x40000000n + BigInt(k) * 0x200000n,
        });
      }
  return out;
}

const OFFSET = 0x40n;
const hex = (n: bigint | number) => '0x' + n.toString(16);

interface Step {
  m: TestMapping;
  op: 'read' | 'write' | 'fetch';
  cpl: 0 | 3;
}

function workload(maps: TestMapping[]): { steps: Step[]; yaml: string[] } {
  const steps: Step[] = [];
  const yaml: string[] = [];
  for (const m of maps) {
    const gva = hex(m.gva + OFFSET);
    for (const cpl of [0, 3] as const) {
      steps.push({ m, op: 'read', cpl }, { m, op: 'write', cpl }, { m, op: 'fetch', cpl });
      yaml.push(`  - { read: ${gva}, size: 4, cpl: ${cpl} }`);
      yaml.push(`  - { write: ${gva}, size: 4, value: ${hex(0x10000 + m.k * 16 + cpl)}, cpl: ${cpl} }`);
      yaml.push(`  - { fetch: ${gva}, cpl: ${cpl} }`);
    }
  }
  return { steps, yaml };
}

function yaml(cpu: Cpu | null, maps: TestMapping[], steps: string[]): string {
  const cpuLine = cpu
    ? `  cpu: { ${Object.entries(cpu)
        .map(([k, v]) => `${k}: ${typeof v === 'number' ? hex(v) : v}`)
        .join(', ')} }\n`
    : '';
  const lines = maps.map(
    (m) => `    - { gva: ${hex(m.gva)}, gpa: ${hex(0x1000000 + m.k * 4096)}, size: 4K, page: 4K, flags: "${m.pte}", pde: "${m.pde}", pdpte: "p w u a", pml4e: "p w u a" }`,
  );
  return `memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
${cpuLine}  mappings:
${lines.join('\n')}
workload:
${steps.join('\n')}
`;
}

/**
 * Parsing the 3000-step YAML costs about half a second, ten times a run, so it is parsed once and
 * every CPU configuration gets a copy whose `guest.cpu` is what the parser makes of that
 * configuration's `cpu:` line (parsed from a one-mapping scenario). Nothing in the simulator writes
 * to a Scenario.
 */
let theLayout: { maps: TestMapping[]; steps: Step[]; sc: Scenario } | null = null;
function layout() {
  if (!theLayout) {
    const maps = testMappings();
    const w = workload(maps);
    theLayout = { maps, steps: w.steps, sc: scenario(yaml(null, maps, w.yaml)) };
  }
  return theLayout;
}

function withCpu(sc: Scenario, cpu: Cpu): Scenario {
  const maps = testMappings().slice(0, 1);
  const parsed = scenario(yaml(cpu, maps, workload(maps).yaml.slice(0, 1))).guest.cpu;
  return { ...sc, guest: { ...sc.guest, cpu: parsed } };
}

interface Case {
  cpu: Cpu;
  maps: TestMapping[];
  steps: Step[];
  sc: Scenario;
  native: Seen[];
}

const cases = new Map<Cpu, Case>();
function caseFor(cpu: Cpu): Case {
  let c = cases.get(cpu);
  if (!c) {
    const l = layout();
    const sc = withCpu(l.sc, cpu);
    const native = runNative(sc).accesses.map(({ op, result, error_code, value }) => ({ op, result, error_code, value }));
    c = { cpu, maps: l.maps, steps: l.steps, sc, native };
    cases.set(cpu, c);
  }
  return c;
}

/** Mutation runs (vitest.mutation.config.mts) set PERMISSIONS_SAMPLE = n to keep every n-th CPU
 *  configuration of the EPT modes: with EPT the permissions are the walker's (walker-sdm checks it
 *  against the SDM), and KVM's EPT fault path does not depend on them. */
const SAMPLE = Number(process.env.PERMISSIONS_SAMPLE ?? 1);
const cpusFor = (o: ScenarioOverrides): Cpu[] =>
  o.tdp === false ? BASE_CPUS.filter((c) => !c.cr4_smep && !c.cr4_smap) : [...BASE_CPUS, ...PKE_CPUS].filter((_, i) => i % SAMPLE === 0);
const casesPerMode = (o: ScenarioOverrides) => cpusFor(o).length * testMappings().length * 6;

const show = (a: Seen | undefined) => (a ? `${a.result}${a.error_code ? ` ec=${a.error_code}` : ''}${a.value ? ` value=${a.value}` : ''}` : 'no record');

describe('permissions and #PF error codes in every mode', () => {
  for (const [name, o] of MODES) {
    it(`${name}: ${casesPerMode(o)} accesses agree with bare hardware`, () => {
      const mismatches: string[] = [];
      const warnings: string[] = [];
      let ok = 0;
      let faults = 0;
      const ecBits = new Set<number>();
      let pkFaults = 0;
      for (const cpu of cpusFor(o)) {
        const c = caseFor(cpu);
        // The reference itself must line up with the workload.
        expect(c.native.length, `native, ${cpuName(cpu)}`).toBe(c.steps.length);
        const m = runBothWays(c.sc, { overrides: o, accesses: true }, `${name}, ${cpuName(cpu)}`);
        for (const w of m.kvm.warnings) warnings.push(`${cpuName(cpu)}: ${w}`);
        const recs = m.accessLog!.records();
        expect(m.accessLog!.truncated, `${name}, ${cpuName(cpu)}: access log truncated`).toBe(false);
        if (recs.length !== c.steps.length) mismatches.push(`${cpuName(cpu)}: ${recs.length} access records, expected ${c.steps.length}`);
        c.steps.forEach((s, i) => {
          const r = recs[i];
          const where = `${cpuName(cpu)} | mapping #${s.m.k} gva=${hex(s.m.gva)} PDE "${s.m.pde}" PTE "${s.m.pte}" | ${s.op} at CPL ${s.cpl}`;
          if (r && (r.op !== s.op || r.cpl !== s.cpl || r.gva !== hex(s.m.gva + OFFSET))) {
            mismatches.push(`${where}: record is ${r.op} at CPL ${r.cpl} of ${r.gva} (workload out of step)`);
            return;
          }
          const v = r ? maskBypassLeak({ op: r.op, result: r.result, error_code: r.error_code, value: r.value }, o, cpu) : undefined;
          const n = maskBypassLeak(c.native[i]!, o, cpu);
          if (!v || v.result !== n.result || v.error_code !== n.error_code || v.value !== n.value) mismatches.push(`${where}: bare hardware ${show(n)}, ${name} ${show(v)}`);
          if (!v) return;
          if (v.result === 'ok') ok++;
          else {
            faults++;
            const ec = parseInt(v.error_code!, 16);
            for (const bit of [PFERR_PRESENT_MASK, PFERR_WRITE_MASK, PFERR_USER_MASK, PFERR_RSVD_MASK, PFERR_FETCH_MASK, PFERR_PK_MASK]) if (ec & bit) ecBits.add(bit);
            if (ec & PFERR_PK_MASK) pkFaults++;
          }
        });
      }
      expect(warnings, `${name}: warnings`).toEqual([]);
      const shown = mismatches.slice(0, 40);
      if (mismatches.length > shown.length) shown.push(`... and ${mismatches.length - shown.length} more`);
      expect(shown, `${name}: ${mismatches.length} accesses differ from bare hardware`).toEqual([]);
      // The enumeration really exercises the rules: both outcomes, and faults with every error-code
      // bit (RSVD: NX with EFER.NX clear; PK: only the EPT modes run PKE configurations).
      expect(ok, `${name}: successful accesses`).toBeGreaterThan(0);
      expect(faults, `${name}: guest faults`).toBeGreaterThan(0);
      const wanted = [PFERR_PRESENT_MASK, PFERR_WRITE_MASK, PFERR_USER_MASK, PFERR_RSVD_MASK, PFERR_FETCH_MASK, ...(o.tdp === false ? [] : [PFERR_PK_MASK])];
      expect([...ecBits].filter((x) => wanted.includes(x)).sort((x, y) => x - y), `${name}: error-code bits seen`).toEqual(wanted);
      if (o.tdp !== false) expect(pkFaults, `${name}: protection-key faults`).toBeGreaterThan(0);
    }, 180_000);
  }
});

describe('the native reference applies the rules the enumeration is meant to cover', () => {
  // Spot checks on bare hardware, so that a wrong reference cannot make every mode agree on nonsense.
  const at = (cpu: Cpu, pde: string, pte: string, op: Step['op'], cpl: 0 | 3) => {
    const c = caseFor(cpu);
    const i = c.steps.findIndex((s) => s.m.pde === pde && s.m.pte === pte && s.op === op && s.cpl === cpl);
    expect(i, `no step for ${pde} / ${pte}`).toBeGreaterThanOrEqual(0);
    return c.native[i]!;
  };
  const cpu = (p: Partial<Cpu>): Cpu => {
    const want: Cpu = { cr0_wp: true, efer_nx: true, cr4_smep: false, cr4_smap: false, eflags_ac: false, cr4_pke: false, pkru: 0, ...p };
    return [...BASE_CPUS, ...PKE_CPUS].find((c) => cpuName(c) === cpuName(want))!;
  };

  it('gives the expected codes for a few textbook cases', () => {
    // Not present at the PDE: error code without P.
    expect(at(cpu({}), 'a', 'p w u a d', 'write', 3)).toMatchObject({ result: 'guest-fault', error_code: '0x6' });
    // User read of a supervisor page (U clear in the PDE only).
    expect(at(cpu({}), 'p w a', 'p w u a d', 'read', 3)).toMatchObject({ result: 'guest-fault', error_code: '0x5' });
    // Supervisor write to a read-only page: faults with WP, succeeds without.
    expect(at(cpu({}), 'p w u a', 'p u a d', 'write', 0)).toMatchObject({ result: 'guest-fault', error_code: '0x3' });
    expect(at(cpu({ cr0_wp: false }), 'p w u a', 'p u a d', 'write', 0)).toMatchObject({ result: 'ok' });
    // NX in the PDE: fetch fault with I/D; with EFER.NX clear, NX is a reserved bit.
    expect(at(cpu({}), 'p w u nx a', 'p w u a d', 'fetch', 3)).toMatchObject({ result: 'guest-fault', error_code: '0x15' });
    expect(at(cpu({ efer_nx: false }), 'p w u nx a', 'p w u a d', 'read', 0)).toMatchObject({ result: 'guest-fault', error_code: '0x9' });
    // SMEP: supervisor fetch from a user page; SMAP: supervisor read of a user page unless AC.
    expect(at(cpu({ cr4_smep: true }), 'p w u a', 'p w u a d', 'fetch', 0)).toMatchObject({ result: 'guest-fault', error_code: '0x11' });
    expect(at(cpu({ cr4_smap: true }), 'p w u a', 'p w u a d', 'read', 0)).toMatchObject({ result: 'guest-fault', error_code: '0x1' });
    expect(at(cpu({ cr4_smap: true, eflags_ac: true }), 'p w u a', 'p w u a d', 'read', 0)).toMatchObject({ result: 'ok' });
    // PKRU.AD for key 1: data accesses to a user page with key 1 fault with PK, fetches do not.
    const pk = cpu({ cr4_pke: true, pkru: 0x4 });
    expect(at(pk, 'p w u a', 'p w u a d pkey=1', 'read', 3)).toMatchObject({ result: 'guest-fault', error_code: '0x25' });
    expect(at(pk, 'p w u a', 'p w u a d pkey=1', 'fetch', 3)).toMatchObject({ result: 'ok' });
    expect(at(pk, 'p w u a', 'p w u a d', 'read', 3)).toMatchObject({ result: 'ok' });
    // PKRU.WD for key 1: user writes fault with PK; supervisor writes only with CR0.WP.
    expect(at(cpu({ cr4_pke: true, pkru: 0x8 }), 'p w u a', 'p w u a d pkey=1', 'write', 3)).toMatchObject({ result: 'guest-fault', error_code: '0x27' });
    expect(at(cpu({ cr4_pke: true, pkru: 0x8 }), 'p w u a', 'p w u a d pkey=1', 'write', 0)).toMatchObject({ result: 'guest-fault', error_code: '0x23' });
    expect(at(cpu({ cr4_pke: true, pkru: 0x8, cr0_wp: false }), 'p w u a', 'p w u a d pkey=1', 'write', 0)).toMatchObject({ result: 'ok' });
    // Without CR4.PKE the key bits are ignored.
    expect(at(cpu({}), 'p w u a', 'p w u a d pkey=1', 'write', 3)).toMatchObject({ result: 'ok' });
  });
});

describe('the PTEs Linux writes obey the same rules in every mode (guest OS steps)', () => {
  // Linux 3.0.1 makes four kinds of user PTE here (simulator/guest/linux.ts): a written anonymous page
  // (PAGE_COPY | RW | D), the zero page of a read fault (PAGE_COPY | _PAGE_SPECIAL), a page
  // write-protected by fork in the parent (RW cleared) and its read-only, old copy in the child; plus a
  // page of the vma never touched (pte_none); and from a private file mapping (the page cache at
  // 0x3000000): the page-cache page of a read fault (PAGE_COPY, read-only and clean), the private copy
  // of a write fault (PAGE_COPY | RW | D), and the page of an rx mapping (PAGE_READONLY_EXEC: no NX),
  // each write-protected by fork too. Each is read, written and fetched at CPL 0 and 3 by
  // plain steps, from the parent and from the child, under every CPU configuration, on bare
  // hardware and in every mode. Between the two, a timer tick, a device interrupt that waits for an
  // interrupt window, and a HLT (the `interrupt` and `hlt` steps), and a vfork whose child execs and
  // exits (the parent's mm shared, then left as it was): they must change no access's result. The
  // parent is probed again after the vfork; the file page is faulted in by a ranged touch.
  const pages = [0x400000, 0x401000, 0x402000, 0x403000, 0x500000, 0x501000, 0x600000];
  const probe = pages.flatMap((g) =>
    [0, 3].flatMap((cpl) => [`  - { read: 0x${(g + 0x40).toString(16)}, size: 4, cpl: ${cpl} }`, `  - { write: 0x${(g + 0x40).toString(16)}, size: 4, value: 0x${(g >> 12).toString(16)}${cpl}, cpl: ${cpl} }`, `  - { fetch: 0x${(g + 0x40).toString(16)}, cpl: ${cpl} }`]),
  );
  const irqs = [
    '  - { interrupt: { vector: 0xef, source: timer } }',
    '  - { interrupt: { vector: 0x41, source: device, irqs_disabled: 500 } }',
    '  - { hlt: { wake_after: 10000, vector: 0xef, source: timer } }',
  ];
  // make's way to start a program: vfork (the child in the parent's mm), exec (a new mm), exit.
  const vforkExec = ['  - { vfork: 1 }', '  - { exec: 3 }', '  - { exit: 3 }', '  - { switch_mm: 1 }'];
  const text = (cpu: Cpu) =>
    osVm({
      cpu: `{ ${Object.entries(cpu).map(([k, v]) => `${k}: ${typeof v === 'number' ? hex(v) : v}`).join(', ')} }`,
      pool: '1M',
      processes: 2,
      vmas: [1, 2].flatMap((sp) => [`{ gva: 0x500000, size: 8K, space: ${sp}, file: { gpa: 0x3000000 } }`, `{ gva: 0x600000, size: 4K, space: ${sp}, prot: rx, file: { gpa: 0x3002000 } }`]),
      // The file's contents (0xf11e in each page), written through the direct map first.
      steps: ['  - { write: 0xffff880003000000, size: 8, value: 0xf11e }', '  - { write: 0xffff880003001000, size: 8, value: 0xf11e }', '  - { switch_mm: 1 }', '  - { touch: 0x400000, value: 1 }', '  - { touch: 0x401000, access: read }', '  - { touch: 0x402000, value: 2 }', '  - { touch: 0x500000, size: 4K, access: read }', '  - { touch: 0x501000, value: 3 }', '  - { touch: 0x600000, access: read }', '  - { fork: 2 }', ...probe, ...irqs, ...vforkExec, ...probe, '  - { switch_mm: 2 }', ...probe],
    });
  for (const [name, o] of MODES) {
    it(`${name}: every access agrees with bare hardware`, () => {
      let ok = 0;
      const ecBits = new Set<number>();
      for (const cpu of cpusFor(o).filter((c) => !c.cr4_pke)) {
        const sc = scenario(text(cpu));
        const native = runNative(sc);
        expect(native.warnings, cpuName(cpu)).toEqual([]);
        const m = runBothWays(sc, { overrides: o, accesses: true }, `${name}, ${cpuName(cpu)}, guest OS`);
        expect(m.kvm.warnings, `${name}, ${cpuName(cpu)}`).toEqual([]);
        const v = m.accessLog!.records().map((r) => maskBypassLeak({ op: r.op, result: r.result, error_code: r.error_code, value: r.value }, o, cpu));
        const n = native.accesses.map((a) => maskBypassLeak({ op: a.op, result: a.result, error_code: a.error_code, value: a.value }, o, cpu));
        expect(v, `${name}, ${cpuName(cpu)}`).toEqual(n);
        // The interrupts and the HLT happened (KVM's 3.0.1 counters), and changed nothing above.
        expect([m.kvm.stats[S.irq_exits], m.kvm.stats[S.irq_window], m.kvm.stats[S.irq_injections], m.kvm.stats[S.halt_exits]], `${name}, ${cpuName(cpu)}`).toEqual([2, 1, 3, 1]);
        // The vfork shared mm 1 (no teardown), the child's exec and exit built and tore down mm 3 only.
        const os = m.linux!.stats();
        expect([os.forks, os.vforks, os.execs, os.exits], `${name}, ${cpuName(cpu)}`).toEqual([1, 1, 1, 1]);
        for (const a of v) {
          if (a.result === 'ok') ok++;
          else ecBits.add(parseInt(a.error_code!, 16) & (PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK));
        }
      }
      // Both outcomes, and faults on not-present pages, on read-only pages (write) and on NX pages (fetch).
      expect(ok).toBeGreaterThan(0);
      expect([...ecBits].some((ec) => (ec & PFERR_PRESENT_MASK) === 0)).toBe(true);
      expect([...ecBits].some((ec) => (ec & (PFERR_PRESENT_MASK | PFERR_WRITE_MASK)) === (PFERR_PRESENT_MASK | PFERR_WRITE_MASK))).toBe(true);
      expect([...ecBits].some((ec) => (ec & PFERR_FETCH_MASK) !== 0)).toBe(true);
    }, 180_000);
  }
});
