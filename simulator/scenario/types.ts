// The validated form of a `*.mmio.yaml` scenario. The parser (parse.ts) turns YAML into this shape,
// or into a list of diagnostics; nothing downstream ever sees unvalidated input.
//
// Numbers: guest-physical addresses and sizes fit in a double exactly (MAXPHYADDR <= 52). Guest
// virtual addresses do not (0xffff880000000000 > 2^53), so they are kept as a virtual page number
// (`vpn`, < 2^52) plus a page offset. 64-bit data values are kept as two 32-bit halves.

import { ERAS, type KernelName } from '../kvm/eras';

/** The modelled kernels: the names in simulator/kvm/eras.ts, the one table a new kernel joins. */
export type Kernel = KernelName;
export const KERNELS: readonly Kernel[] = ERAS.map((e) => e.name);

import type { CostOverrides } from '../cost/profile';

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
  /** Cycles of the VMM's device model per access, on top of the profile's vmm_round_trip (a
   *  `userspace` device only; 0, a trivial device, when the scenario gives none). */
  cost: number;
  /** Initial register values by byte offset (registers are 8 bytes wide, naturally aligned). */
  registers: { offset: number; lo: number; hi: number }[];
  pos: SourcePos;
}

export type PageSize = '4K' | '2M' | '1G';

/** The bits of one paging entry other than its frame address, as (lo, hi) halves. Tokens: p w u pwt
 *  pcd a d ps g nx (bits 0-8 and 63), `bitN` for any single bit, `pkey=N` for bits 62:59. */
export interface EntryBits {
  lo: number;
  hi: number;
}

export interface MappingDecl {
  gva: Gva;
  gpa: number;
  size: number;
  page: PageSize;
  /**
   * Entry bits by level, index 1 (PTE) to 4 (PML4E); index 0 unused. The leaf level (1 for 4K, 2 for
   * 2M, 3 for 1G) always has bits (`flags`, or its level key `pte`/`pde`/`pdpte`; default "p w a d");
   * levels above it are null unless the scenario gives `pml4e`/`pdpte`/`pde` (then the builder's
   * default, `p w a d` plus `u` under a user leaf, applies). The builder adds PS to a large leaf.
   */
  entries: (EntryBits | null)[];
  /** The address space (CR3) the mapping belongs to; null: every space (a shared kernel half). */
  space: number | null;
  pos: SourcePos;
}

export interface GuestCpu {
  cr0_wp: boolean;
  efer_nx: boolean;
  /** The default CPL of accesses (a step may give its own). */
  cpl: 0 | 3;
  cr4_smep: boolean;
  cr4_smap: boolean;
  cr4_pke: boolean;
  /** PKRU: two bits per key, AD (bit 2k) and WD (bit 2k+1). */
  pkru: number;
  eflags_ac: boolean;
}

export interface GuestDecl {
  paging: '4-level';
  cpu: GuestCpu;
  /** Number of address spaces (page-table trees, one CR3 each): 1 + the highest `space` used. */
  address_spaces: number;
  mappings: MappingDecl[];
  /** Guest-physical address below which the page-table builder places tables (they grow down). */
  page_tables_top: number | null;
  /** Where the guest's code lives: the emulator fetches the faulting instruction from here. */
  code: { gva: Gva; gpa: number; pos: SourcePos } | null;
  /** The guest kernel behind the guest OS steps (touch, fork, vfork, munmap, exit, exec, switch_mm); null
   *  when the scenario has none. */
  os: OsDecl | null;
}

/** A private mapping of a process (mmap MAP_PRIVATE): anonymous (MAP_ANONYMOUS) or of a file whose
 *  pages are in the page cache; its PTEs start empty (pte_none) and fill on first touch. */
export interface VmaDecl {
  gva: Gva;
  size: number;
  space: number;
  /** PROT_READ, PROT_WRITE, PROT_EXEC as vm_flags VM_READ / VM_WRITE / VM_EXEC (default rw). */
  prot: VmaProt;
  /** A file mapping: the page-cache frame of the vma's first page (`gpa`, guest-physical) and the
   *  file's size in bytes from there (i_size less the mapping's offset): pages past it are SIGBUS. */
  file: { gpa: number; size: number } | null;
  pos: SourcePos;
}

export type VmaProt = 'r' | 'rw' | 'rx';

/** The guest kernel's memory (Linux 3.0.1, simulator/guest/linux.ts). */
export interface OsDecl {
  /** Guest-physical frames the kernel's page allocator hands out for anonymous pages. */
  page_pool: { gpa: number; size: number };
  /** The address space of swapper_pg_dir (kernel mappings only): what an exiting task leaves CR3 on. */
  swapper: number;
  vmas: VmaDecl[];
  pos: SourcePos;
}

export type RacePoint =
  | 'kvm_exit'
  | 'walk_shadow_page_lockless_begin'
  | 'mmu_spte_get_lockless'
  | 'walk_shadow_page_lockless_end'
  | 'mmu_lock'
  | 'synchronize_srcu_expedited';
export const RACE_POINTS: readonly RacePoint[] = [
  'kvm_exit',
  'walk_shadow_page_lockless_begin',
  'mmu_spte_get_lockless',
  'walk_shadow_page_lockless_end',
  'mmu_lock',
  'synchronize_srcu_expedited',
];

export type Step =
  /** `cpl` null: the guest's default (guest.cpu.cpl). `raise`: the vector the device's emulation raises
   *  while the VMM handles the access's exit (null: none), injected at the entry that ends it. */
  | { kind: 'read'; gva: Gva; size: 1 | 2 | 4 | 8; cpl: 0 | 3 | null; raise: number | null; pos: SourcePos }
  | { kind: 'write'; gva: Gva; size: 1 | 2 | 4 | 8; lo: number; hi: number; cpl: 0 | 3 | null; raise: number | null; pos: SourcePos }
  /** An instruction fetch by the CPU at `gva` (a jump there): needs execute permission. */
  | { kind: 'fetch'; gva: Gva; cpl: 0 | 3 | null; pos: SourcePos }
  /** The guest kernel rewrites the paging entry at `level` on the path of `gva` (in `space`, default 0)
   *  with a MOV through a mapping of its page-table page: new entry = frame | bits, the frame being
   *  `gpa >> 12` if given, else the entry's current one. */
  | { kind: 'pte'; gva: Gva; level: 1 | 2 | 3 | 4; bits: EntryBits; gpa: number | null; space: number; pos: SourcePos }
  /** INVLPG gva. */
  | { kind: 'invlpg'; gva: Gva; pos: SourcePos }
  /** MOV to CR3: switch to address space `space`. */
  | { kind: 'cr3'; space: number; pos: SourcePos }
  | { kind: 'compute'; cycles: number; pos: SourcePos }
  /** Guest OS steps (the Linux 3.0.1 work they expand into: simulator/guest/linux.ts). A user-mode
   *  access to `gva` in the current address space; on a #PF the guest's fault handler runs
   *  (do_anonymous_page, do_wp_page) and the access is retried.
   *  `pages` > 1 (`size`): the same access at the start of each page of [gva, gva + pages * 4K), one
   *  after another, as that many touches would (stopping at the first that ends in a warning). */
  | { kind: 'touch'; gva: Gva; write: boolean; lo: number; hi: number; pages: number; pos: SourcePos }
  /** The current process forks into address space `child` (dup_mmap: copy_one_pte, flush_tlb_mm). */
  | { kind: 'fork'; child: number; pos: SourcePos }
  /** The process of address space `space` (the current one) vforks: the child shares the mm
   *  (copy_mm with CLONE_VM: mm_users++, no page-table work, no flush). */
  | { kind: 'vfork'; space: number; pos: SourcePos }
  /** munmap(gva, size) in the current address space (unmap_region: zap_pte_range, tlb_finish_mmu). */
  | { kind: 'munmap'; gva: Gva; size: number; pos: SourcePos }
  /** The process of address space `space` (the current one) exits (exit_mm: leave_mm, exit_mmap). */
  | { kind: 'exit'; space: number; pos: SourcePos }
  /** The current process execs into the empty address space `space` (exec_mmap, mmput(old_mm)). */
  | { kind: 'exec'; space: number; pos: SourcePos }
  /** The scheduler switches to a task of address space `space` (switch_mm: CR3 only if it changes). */
  | { kind: 'switch-mm'; space: number; pos: SourcePos }
  | { kind: 'repeat'; count: number; label: string | null; steps: Step[]; pos: SourcePos }
  /** `resume_at`: after its first synchronize_srcu_expedited, the update waits until that vCPU stands
   *  at that point, and runs its remaining phases there (null: at once). */
  | { kind: 'memslot-add'; slot: number; gpa: number; size: number; readonly: boolean; resume_at: WaitPoint | null; pos: SourcePos }
  /** `gpa`: the guest_phys_addr the VMM passes with memory_size 0 (null: the slot's own, as QEMU does). */
  | { kind: 'memslot-delete'; slot: number; gpa: number | null; resume_at: WaitPoint | null; pos: SourcePos }
  | { kind: 'set'; mmio_caching: boolean; pos: SourcePos }
  /** Block this vCPU until vCPU `vcpu` stands at `point` (and, for mmu_spte_get_lockless, has just read
   *  the SPTE at `level`); then run this vCPU's next step while the other stays there. */
  | { kind: 'wait-for'; vcpu: number; point: RacePoint; level: number | null; pos: SourcePos }
  // Interrupts and idle (docs/kernel-paths.md §23): an interrupt for the running guest, or the guest's
  // HLT until one arrives; each followed by its handler's EOI (and for the timer, TMICT) write.
  | ({ kind: 'interrupt'; irqs_disabled: number | null; pos: SourcePos } & IrqDecl)
  | ({ kind: 'hlt'; wake_after: number; pos: SourcePos } & IrqDecl);

/** Where an interrupt comes from: the vCPU's local APIC timer (KVM's hrtimer) or a device's IRQ. */
export const IRQ_SOURCES = ['timer', 'device'] as const;
export type IrqSource = (typeof IRQ_SOURCES)[number];

/** An interrupt step's vector and source, and the guest handler's APIC writes (null: none). */
export interface IrqDecl {
  vector: number;
  source: IrqSource;
  /** The handler's EOI: a 4-byte write of 0 at this GVA (ack_APIC_irq). */
  eoi: Gva | null;
  /** The timer handler's reprogramming: a 4-byte write of `count` at this GVA (lapic_next_event). */
  tmict: { gva: Gva; count: number } | null;
}

/** Another vCPU at a race point (and, for mmu_spte_get_lockless, just after reading `level`'s SPTE). */
export interface WaitPoint {
  vcpu: number;
  point: RacePoint;
  level: number | null;
}

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

/** What a run is judged by: the rate of a labelled repeat (iterations per second of the vCPUs'
 *  elapsed time, e.g. netperf's transactions per second), or the elapsed time itself (kernbench). */
export type MetricDecl = { kind: 'rate'; label: string; unit: string; pos: SourcePos } | { kind: 'elapsed'; pos: SourcePos | null };

/** One variant of `compare:`: a label and the settings it changes. */
export interface VariantDecl {
  label: string;
  overrides: ScenarioOverrides;
  pos: SourcePos;
}

export interface Scenario {
  file: string;
  name: string;
  kernel: Kernel;
  /** costs: the scenario's changes to the profile's cycle costs (host.costs; empty: none). */
  host: { maxphyaddr: number; profile: ProfileName; costs: CostOverrides };
  /** bypass_guest_pf: null means the era's default (on for v3.0 shadow paging; it does not exist in v3.1). */
  /** oos_shadow: the 3.x module parameter (default 1): last-level guest page tables may go unsync. */
  /** enable_vpid: vmx.c's module parameter `vpid` (default 1): each vCPU gets a VPID, 1, 2, ... in creation order. */
  mmu: { tdp: boolean; mmio_caching: boolean; bypass_guest_pf: boolean | null; oos_shadow: boolean; enable_vpid: boolean };
  /** Seed of the scheduler's pseudo-random choices, and the probability that it preempts a vCPU at a race point. */
  scheduler: { seed: number; preempt: number };
  memslots: MemslotDecl[];
  devices: DeviceDecl[];
  guest: GuestDecl;
  vcpus: VcpuDecl[];
  expect: ExpectDecl[];
  /** Default: elapsed time. */
  metric: MetricDecl;
  /** Empty when the scenario has no `compare:` section. */
  compare: VariantDecl[];
}

/** Settings a caller may override: the CLI's --kernel/--tdp/--bypass-guest-pf, and `compare:` variants. */
export interface ScenarioOverrides {
  kernel?: Kernel;
  tdp?: boolean;
  mmio_caching?: boolean;
  bypass_guest_pf?: boolean;
  oos_shadow?: boolean;
  enable_vpid?: boolean;
  profile?: ProfileName;
  maxphyaddr?: number;
  /** The number of user memslots: the scenario's own, plus 4K filler slots (the lowest ids nobody
   *  uses) from 4G up, as a VMM with more regions (ROMs, option ROMs, hot-plug) would have. */
  memslot_count?: number;
  /** Guest CR4 bits turned off (a kernel whose kvm_set_cr4 refuses them: the guest runs without). */
  cr4_smep?: false;
  cr4_smap?: false;
  cr4_pke?: false;
  /** Waits on the lockless walk's race points are left out (Compare Kernels, for a kernel that has
   *  no lockless walk: the wait could never end there). */
  skip_lockless_waits?: true;
}
