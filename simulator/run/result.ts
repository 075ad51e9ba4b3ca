// The result of one run: plain data, JSON-ready (64-bit values as hex strings). The CLI prints it as
// text (report/text.ts) or as JSON; the extension's panel renders it.

import type { Component, CostOverrides } from '../cost/profile';
import type { GuestOsStat } from '../guest/os_stats';
import type { ShadowTables } from '../kvm/mmu/inspect';
import type { Kernel, ProfileName } from '../scenario/types';

/** Per VMX exit reason: count and the handling time of each exit (kvm_exit to kvm_entry), in cycles. */
export interface ExitStats {
  reason: string; // VMX exit-reason name, e.g. EPT_MISCONFIG
  code: number; // VMX exit-reason number, e.g. 49
  count: number;
  total_cycles: number;
  min_cycles: number;
  max_cycles: number;
  /** Sample standard deviation of the handling time (Welford), 0 when count < 2. */
  stddev_cycles: number;
}

/**
 * One row of a `perf kvm stat report --event=mmio|ioport` table: one key, in one view (all vCPUs or
 * one vCPU). Times in cycles, the interval perf measures for the event (docs/kernel-paths.md §perf).
 */
export interface KvmStatRow {
  /** perf's decoded key: `"%#lx:%s"` gpa and W/R (MMIO), `"%#llx:%s"` port and POUT/PIN (I/O ports);
   *  `other keys` for the overflow row. */
  key: string;
  /** The guest-physical address (MMIO) or port, hex; null for the overflow row. */
  addr: string | null;
  /** Direction; null for the overflow row (it mixes both). */
  write: boolean | null;
  count: number;
  total_cycles: number;
  min_cycles: number;
  max_cycles: number;
  /** Welford running mean (perf's stats.mean, the `--key=time` sort key). */
  mean_cycles: number;
  /** Sample standard deviation (Welford), 0 when count < 2. */
  stddev_cycles: number;
  /** Order in which perf would have created the row (find_create_kvm_event): its tie order. */
  created: number;
}

/** The `perf kvm stat report` statistics of a run: every `--event`, for all vCPUs and per vCPU. */
export interface KvmStat {
  /** Per vCPU id, the VM-exit rows of that vCPU (the all-vCPU rows are `exit_stats`). */
  vmexit_by_vcpu: ExitStats[][];
  mmio: { all: KvmStatRow[]; by_vcpu: KvmStatRow[][]; /** Distinct keys kept apart before the overflow row. */ keys: number };
  /** Port I/O: the simulator models no IO_INSTRUCTION exit, so no kvm_pio and no rows. */
  ioport: { all: KvmStatRow[]; by_vcpu: KvmStatRow[][] };
}

/** The guest kernel's own counts (Linux 3.0.1's work for the guest OS steps), by name (guest/os_stats.ts):
 *  anon_faults (do_anonymous_page for a write), zero_page_faults (for a read: the zero page), file_faults
 *  (__do_fault on a file vma's page), file_copies (those that were writes: a private copy), cow_copies
 *  (do_wp_page copied or zeroed a new page), cow_reuses (it made the only mapping writable again), forks,
 *  vforks (copy_mm with CLONE_VM: the mm shared), exits, execs, munmaps, context_switches (switch_mm loads), tlb_flushes (a CR3 write by flush_tlb_mm or a
 *  shootdown's handler), invlpgs (flush_tlb_page), tlb_shootdowns (flush_tlb_others_ipi
 *  calls that sent an IPI to other CPUs in mm_cpumask), irq_tlb_count (the IPIs those CPUs took:
 *  smp_invalidate_interrupt), page_tables_allocated, page_tables_freed, and pool_frames_used
 *  (handed out and not freed at the end; the zero page counts). */
export type GuestOsStats = Record<GuestOsStat, number>;

/** One fault class with the return code the era's kernel gives it. */
export interface FaultClassStats {
  class: string; // e.g. mmio-fast
  count: number;
  /** The function whose return value decides the class, and that value with its meaning, e.g.
   *  { fn: "handle_mmio_page_fault_common", value: 1, meaning: "emulate" }. */
  ret: { fn: string; value: number; meaning: string };
}

export interface LabelStats {
  count: number; // iterations completed
  cycles: number; // cycles charged while inside the labelled block (all vCPUs)
}

export interface ExpectResult {
  path: string;
  expected: string; // the source text, e.g. ">= 1"
  actual: number | null; // null when the path names nothing in the report
  ok: boolean;
  line: number;
  col: number;
}

export interface AccessRecord {
  step: number; // global index of the access in the run, from 0
  vcpu: number;
  op: 'read' | 'write' | 'fetch';
  gva: string; // hex
  cpl: number;
  result: 'ok' | 'guest-fault';
  error_code: string | null; // hex #PF error code when result is guest-fault
  value: string | null; // hex value read or written
  line: number; // source line of the workload step
}

export interface TraceEventRecord {
  seq: number; // position in the whole run (events before the buffer's window were dropped)
  step: number; // the workload step being executed, numbered across the run from 0 (-1: setup)
  vcpu: number;
  cycles: number; // the vCPU's clock when the event happened
  name: string; // KVM tracepoint name, e.g. kvm_exit
  line: number; // source line of the workload step being executed, 0 when none
  fields: Record<string, string | number | boolean>;
  /** The fault class of the exit (or directly delivered #PF) this event belongs to, when it has one. */
  class?: string;
}

/** What one workload line did over the whole run (all vCPUs): for the editor's after-line text. */
export interface LineStats {
  line: number;
  /** Times a step on this line ran. */
  count: number;
  /** Cycles charged to the vCPU while running it. */
  cycles: number;
  /** Fault class -> count, classes that happened only. */
  faults: Record<string, number>;
}

export interface GuestPageTableRecord {
  gva: string; // the mapping's first address
  line: number; // the mapping's source line
  /** Entries on the path of the mapping's first page, root first. */
  entries: { level: number; value: string }[];
}

/** A call-path flame graph (docs/cost-model.md, "Attribution"). Nodes in pre-order; node 0 is the
 *  root "all" (fn -1). functions[fn] is a kernel function (simulator/kvm/kernel_functions.ts) or one of
 *  the documented non-kernel frames (guest, [guest memory], [vmm]). */
export interface FlameGraph {
  functions: string[];
  nodes: FlameNode[];
}
/** Cycles; total = self + descendants. */
export interface FlameNode {
  fn: number;
  parent: number;
  self: number;
  total: number;
}
/** The whole run; the exits of each fault class ("no-fault": CR3 loads, INVLPG); each workload line. */
export interface RunFlame {
  all: FlameGraph;
  by_class: Record<string, FlameGraph>;
  by_line: Record<string, FlameGraph>;
}

export interface RunResult {
  file: string;
  name: string;
  kernel: Kernel;
  tdp: boolean;
  mmio_caching: boolean;
  /** v3.0's bypass_guest_pf in force (shadow paging only). */
  bypass_guest_pf: boolean;
  /** mmu.c's oos_shadow (unsync shadow pages; matters with shadow paging only). */
  oos_shadow: boolean;
  /** vmx.c's enable_vpid (module parameter `vpid`): the vCPUs have VPIDs 1, 2, ...; off: VPID 0. */
  enable_vpid: boolean;
  profile: ProfileName;
  /** The scenario's changes to the profile's cycle costs (host.costs); absent when it has none. */
  cost_overrides?: CostOverrides;
  maxphyaddr: number;
  vcpus: number;
  /** User memslots at the start of the run. */
  memslots: number;
  /** VMX exit-reason name -> count. */
  exits: Record<string, number>;
  exit_stats: ExitStats[];
  /** `perf kvm stat report` per event and per vCPU (MMIO by address, I/O ports, exits per vCPU). */
  kvm_stat: KvmStat;
  /** Fault class -> count. */
  faults: Record<string, number>;
  fault_classes: FaultClassStats[];
  /** kvm_stat-style counters plus the simulator's own (memslot_lookups, guest_walks, ...). */
  stats: Record<string, number>;
  /** `idle`: cycles the vCPUs spent halted (HLT, kvm_vcpu_block), summed over vCPUs: on their clocks, so
   *  inside `elapsed`, but no CPU work, so in no component and not in `total`. */
  cycles: { total: number; elapsed: number; idle: number; ghz: number; by_component: Record<Component, number> };
  labels: Record<string, LabelStats>;
  expect: ExpectResult[];
  /** Workload steps run (all vCPUs); `runScenario(sc, { stopAfterStep: n })` takes 0..steps-1. */
  steps: number;
  /** Per workload line that ran, in line order. */
  lines: LineStats[];
  /** Present with --accesses. */
  accesses?: AccessRecord[];
  /** True when the access log hit its bound and later accesses were not recorded. */
  accesses_truncated?: boolean;
  guest_page_tables: GuestPageTableRecord[];
  /** KVM's shadow pages at the end of the run (or after the step asked for), decoded. */
  shadow_tables: ShadowTables;
  /** The memslot array as the 3.x kernels keep it, at the same moment. */
  memslot_table: { nmemslots: number; generation: number; slots: { slot: number; gpa: string; npages: number; private: boolean }[] };
  /** The last events of the run, at most the trace buffer's size. */
  trace: { total: number; dropped: number; events: TraceEventRecord[] };
  /** Where the cycles went, per call path: only when the run asked for it (RunOptions.callPaths). */
  flame?: RunFlame;
  /** What the guest kernel did for the guest OS steps (guest/linux.ts): only with `guest.os`. */
  guest_os?: GuestOsStats;
  /** Problems the simulated kernel reported (WARN_ON, KVM_EXIT_UNKNOWN); empty in a healthy run. */
  warnings: string[];
}
