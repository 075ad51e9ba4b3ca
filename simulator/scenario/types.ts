// The validated form of a `*.mmio.yaml` scenario. The parser (parse.ts) turns YAML into this shape,
// or into a list of diagnostics; nothing downstream ever sees unvalidated input.
//
// Numbers: guest-physical addresses and sizes fit in a double exactly (MAXPHYADDR <= 52). Guest
// virtual addresses do not (0xffff880000000000 > 2^53), so they are kept as a virtual page number
// (`vpn`, < 2^52) plus a page offset. 64-bit data values are kept as two 32-bit halves.

export type Kernel = 'v3.0' | 'v3.1';
export const KERNELS: readonly Kernel[] = ['v3.0', 'v3.1'];

export type ProfileName = 'westmere-2011' | 'modern';
export const PROFILES: readonly ProfileName[] = ['westmere-2011', 'modern'];

/** 1-based line and column of the YAML node a value came from. */
export interface SourcePos {
  line: number;
  col: number;
}

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** End of the offending node, for editors (1-based, exclusive column). */
  endLine: number;
  endCol: number;
  message: string;
}

/** A guest virtual address: canonical, split so that no BigInt is needed at run time. */
export interface Gva {
  vpn: number; // bits 63:12 of the canonical address, masked to 52 bits (bits 63:48 are a sign extension)
  offset: number; // bits 11:0
}

export interface MemslotDecl {
  slot: number;
  gpa: number;
  size: number;
  readonly: boolean;
  pos: SourcePos;
}

export type DeviceHandler = 'kernel' | 'userspace';

export interface DeviceDecl {
  name: string;
  gpa: number;
  size: number;
  handler: DeviceHandler;
  /** Initial register values by byte offset (registers are 8 bytes wide, naturally aligned). */
  registers: { offset: number; lo: number; hi: number }[];
  pos: SourcePos;
}

export type PageSize = '4K' | '2M';

export interface MappingDecl {
  gva: Gva;
  gpa: number;
  size: number;
  page: PageSize;
  /** Leaf entry flag tokens, already checked: p w u pwt pcd a d g nx. */
  flags: string[];
  pos: SourcePos;
}

export interface GuestDecl {
  paging: '4-level';
  cpu: { cr0_wp: boolean; efer_nx: boolean; cpl: 0 | 3 };
  mappings: MappingDecl[];
  /** Guest-physical address below which the page-table builder places tables (they grow down). */
  page_tables_top: number | null;
  /** Where the guest's code lives: the emulator fetches the faulting instruction from here. */
  code: { gva: Gva; gpa: number; pos: SourcePos } | null;
}

export type RacePoint =
  | 'kvm_exit'
  | 'walk_shadow_page_lockless_begin'
  | 'mmu_spte_get_lockless'
  | 'walk_shadow_page_lockless_end'
  | 'mmu_lock';
export const RACE_POINTS: readonly RacePoint[] = [
  'kvm_exit',
  'walk_shadow_page_lockless_begin',
  'mmu_spte_get_lockless',
  'walk_shadow_page_lockless_end',
  'mmu_lock',
];

export type Step =
  | { kind: 'read'; gva: Gva; size: 1 | 2 | 4 | 8; pos: SourcePos }
  | { kind: 'write'; gva: Gva; size: 1 | 2 | 4 | 8; lo: number; hi: number; pos: SourcePos }
  | { kind: 'compute'; cycles: number; pos: SourcePos }
  | { kind: 'repeat'; count: number; label: string | null; steps: Step[]; pos: SourcePos }
  | { kind: 'memslot-add'; slot: number; gpa: number; size: number; readonly: boolean; pos: SourcePos }
  | { kind: 'memslot-delete'; slot: number; pos: SourcePos }
  | { kind: 'set'; mmio_caching: boolean; pos: SourcePos }
  /** Block this vCPU until vCPU `vcpu` stands at `point` (and, for mmu_spte_get_lockless, has just read
   *  the SPTE at `level`); then run this vCPU's next step while the other stays there. */
  | { kind: 'wait-for'; vcpu: number; point: RacePoint; level: number | null; pos: SourcePos };

export interface VcpuDecl {
  id: number;
  workload: Step[];
  pos: SourcePos;
}

export type ExpectOp = '==' | '>=' | '<=' | '>' | '<' | '!=';

export interface ExpectDecl {
  /** Dotted path into the JSON report, e.g. `exits.EPT_MISCONFIG`, `faults.mmio-slow`, `stats.pf_fixed`. */
  path: string;
  op: ExpectOp;
  value: number;
  /** The source text of the expectation, e.g. ">= 1". */
  text: string;
  pos: SourcePos;
}

export interface Scenario {
  file: string;
  name: string;
  kernel: Kernel;
  host: { maxphyaddr: number; profile: ProfileName };
  mmu: { tdp: boolean; mmio_caching: boolean };
  /** Seed of the scheduler's pseudo-random choices, and the probability that it preempts a vCPU at a race point. */
  scheduler: { seed: number; preempt: number };
  memslots: MemslotDecl[];
  devices: DeviceDecl[];
  guest: GuestDecl;
  vcpus: VcpuDecl[];
  expect: ExpectDecl[];
}

/** Settings a caller (the CLI's --kernel/--tdp, later `compare:` variants) may override. */
export interface ScenarioOverrides {
  kernel?: Kernel;
  tdp?: boolean;
  mmio_caching?: boolean;
  profile?: ProfileName;
  maxphyaddr?: number;
}
