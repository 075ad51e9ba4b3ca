// The trace buffer as `trace-cmd report` prints it, so a user can diff it against a real host's:
// each tracepoint's own TP_printk for the run's kernel (docs/kernel-paths.md, "Tracepoint print
// formats"), in trace-cmd's line layout (pevent_print_event, parse-events.c of trace-cmd 5f576e9a:
// "%16s-%-5d [%03d] %5lu.%06lu: %s: " then the name padded to 20). Simulator probes (`fn` events)
// are not tracepoints and never print. Runs once per report, so strings are fine here.

import { EVENT_LIST } from '../trace/events';
import type { Kernel } from '../scenario/types';
import type { RunResult, TraceEventRecord } from '../run/result';

type Fields = TraceEventRecord['fields'];

/** How one tracepoint prints: its TRACE_SYSTEM, the kernels that have it, its TP_printk. */
interface Tracepoint {
  system: 'kvm' | 'kvmmmu';
  kernels: readonly Kernel[];
  print(f: Fields, e: TraceEventRecord, ctx: PrintContext): string;
}

/** What a print may look at besides the event's own fields. */
interface PrintContext {
  /** The kvm_page_fault of the same exit, for kvm_exit's info1 on EXCEPTION_NMI. */
  pageFaultAddress(e: TraceEventRecord): bigint | undefined;
}

const BOTH: readonly Kernel[] = ['v3.0', 'v3.1'];
const V31: readonly Kernel[] = ['v3.1'];

function big(v: Fields[string] | undefined): bigint {
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v === undefined) return 0n;
  return BigInt(v);
}

/** `%x` / `%llx` / `%lx`: lowercase hex, no prefix. */
const x = (v: Fields[string] | undefined): string => big(v).toString(16);
/** `%u` */
const u = (v: Fields[string] | undefined): string => big(v).toString(10);
/** `%#lx` / `%#llx` as trace-cmd prints them (the host's printf: no `0x` for zero). */
const hashX = (v: Fields[string] | undefined): string => (big(v) === 0n ? '0' : '0x' + x(v));

/** mmutrace.h `kvm_mmu_trace_pferr_flags`, printed by __print_flags(pferr, "|", ...)
 *  (ftrace_print_flags_seq, kernel/trace/trace_output.c): set names joined by "|", leftover bits as 0x%lx. */
const PFERR_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [1, 'P'],
  [2, 'W'],
  [4, 'U'],
  [8, 'RSVD'],
  [16, 'F'],
];
function printFlags(value: number, table: ReadonlyArray<readonly [number, string]>): string {
  const out: string[] = [];
  let v = value >>> 0;
  for (const [mask, name] of table) {
    if (v !== 0 && (v & mask) === mask) {
      out.push(name);
      v &= ~mask;
    }
  }
  if (v !== 0) out.push('0x' + v.toString(16));
  return out.join('|');
}

/** KVM_MMU_PAGE_PRINTK() (mmutrace.h 3.0.1/3.1.10:22-43) over the role word of union kvm_mmu_page_role
 *  (asm/kvm_host.h: level 0-3, cr4_pae 4, quadrant 5-6, direct 13, access 14-16, invalid 17, nxe 18). */
const ACCESS_STR = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];
function mmuPage(f: Fields): string {
  const role = Number(big(f.role));
  const level = role & 0xf;
  const pae = role & (1 << 4) ? ' pae' : '';
  const quadrant = (role >>> 5) & 3;
  const direct = role & (1 << 13) ? ' direct' : '';
  const access = ACCESS_STR[(role >>> 14) & 7]!;
  const invalid = role & (1 << 17) ? ' invalid' : '';
  const nxe = role & (1 << 18) ? '' : '!';
  return `sp gfn ${x(f.gfn)} ${level}${pae} q${quadrant}${direct} ${access}${invalid} ${nxe}nxe root ${u(f.root_count)} ${f.unsync ? 'unsync' : 'sync'}`;
}

/** trace.h `kvm_trace_sym_exc` (EXS(x) = { x##_VECTOR, "#" #x }), printed by __print_symbolic. */
const EXCEPTIONS = new Map<number, string>([
  [0, '#DE'], [1, '#DB'], [3, '#BP'], [4, '#OF'], [5, '#BR'], [6, '#UD'], [7, '#NM'], [8, '#DF'],
  [10, '#TS'], [11, '#NP'], [12, '#SS'], [13, '#GP'], [14, '#PF'], [16, '#MF'], [18, '#MC'],
]);

/** include/trace/events/kvm.h `kvm_trace_exit_reason` (ERSN(x) = { KVM_EXIT_##x, "KVM_EXIT_" #x }). */
const KVM_EXIT_NAMES = [
  'UNKNOWN', 'EXCEPTION', 'IO', 'HYPERCALL', 'DEBUG', 'HLT', 'MMIO', 'IRQ_WINDOW_OPEN', 'SHUTDOWN',
  'FAIL_ENTRY', 'INTR', 'SET_TPR', 'TPR_ACCESS', 'S390_SIEIC', 'S390_RESET', 'DCR', 'NMI',
  'INTERNAL_ERROR', 'OSI',
];

/** __print_symbolic's miss (ftrace_print_symbols_seq): the value as 0x%lx. */
function symbolic(v: number, name: string | undefined): string {
  return name ?? '0x' + (v >>> 0).toString(16);
}

/** x86_64's __PAGE_OFFSET (page_64_types.h): sp->spt comes from __get_free_page, so the SPTE
 *  pointer mark_mmio_spte prints is the direct-map address of the simulated host frame. */
const PAGE_OFFSET = 0xffff880000000000n;

/** VM_EXIT_INTR_INFO of a #PF exit (SDM 24.9.2): valid (31), error code delivered (11), hardware
 *  exception (type 3, bits 10:8), vector 14. Every other exit the simulator makes clears bit 31, and
 *  KVM's traces show 0 there. */
const INTR_INFO_PF = 0x80000b0e;

/** kvm_deliver_mode, include/trace/events/kvm.h (3.0.1:60-68). */
const DELIVER_MODES = ['Fixed', 'LowPrio', 'SMI', 'Res3', 'NMI', 'INIT', 'SIPI', 'ExtINT'];
/** kvm_apic_dst_shorthand (trace.h 3.0.1:370-374). */
const DEST_SHORTHANDS = ['dst', 'self', 'all', 'all-but-self'];

const TRACEPOINTS: Record<string, Tracepoint> = {
  // arch/x86/kvm/trace.h (TRACE_SYSTEM kvm)
  kvm_entry: { system: 'kvm', kernels: BOTH, print: (_f, e) => `vcpu ${e.vcpu}` },
  kvm_exit: {
    system: 'kvm',
    kernels: BOTH,
    print: (f, e, ctx) => {
      // info1 = EXIT_QUALIFICATION, info2 = VM_EXIT_INTR_INFO (vmx_get_exit_info). The simulator's
      // info1 field holds the EPT qualification for EPT exits; for a #PF exit the qualification is
      // the linear address, which handle_exception passes on as kvm_page_fault's address. For
      // CR_ACCESS the register of the MOV is not modelled, so its qualification prints as `?`.
      let info1: string;
      let info2 = '0';
      if (f.reason === 'EXCEPTION_NMI') {
        const addr = ctx.pageFaultAddress(e);
        info1 = addr === undefined ? '?' : addr.toString(16);
        info2 = INTR_INFO_PF.toString(16);
      } else if (f.reason === 'CR_ACCESS') info1 = '?';
      else info1 = x(f.info1);
      // An EXTERNAL_INTERRUPT exit's VM_EXIT_INTR_INFO holds the host's vector (the hrtimer's local
      // timer or the reschedule IPI), which the simulator does not model.
      if (f.reason === 'EXTERNAL_INTERRUPT') info2 = '?';
      return `reason ${String(f.reason)} rip 0x${x(f.rip)} info ${info1} ${info2}`;
    },
  },
  kvm_page_fault: { system: 'kvm', kernels: BOTH, print: (f) => `address ${x(f.address)} error_code ${x(f.error_code)}` },
  kvm_inj_exception: {
    system: 'kvm',
    kernels: BOTH,
    // has_error is true for #PF (kvm_queue_exception_e), so the error code prints.
    print: (f) => `${symbolic(Number(f.exception), EXCEPTIONS.get(Number(f.exception)))} (0x${x(f.error_code)})`,
  },
  // trace.h 3.0.1:216-229 and :401-426, the same in 3.1.10.
  kvm_inj_virq: { system: 'kvm', kernels: BOTH, print: (f) => `irq ${u(f.irq)}` },
  // "dst %x vec %u (%s|%s|%s|%s|%s)": dest_id, (u8)icr_low, kvm_deliver_mode of icr_low >> 8 & 7, bit 11
  // logical/physical, bit 14 assert/de-assert, bit 15 level/edge, kvm_apic_dst_shorthand of icr_low >> 18 & 3.
  kvm_apic_ipi: {
    system: 'kvm',
    kernels: BOTH,
    print: (f) => {
      const icr = Number(f.icr_low);
      return `dst ${x(f.dest_id)} vec ${icr & 0xff} (${DELIVER_MODES[(icr >> 8) & 7]}|${icr & (1 << 11) ? 'logical' : 'physical'}|${icr & (1 << 14) ? 'assert' : 'de-assert'}|${icr & (1 << 15) ? 'level' : 'edge'}|${DEST_SHORTHANDS[(icr >> 18) & 3]})`;
    },
  },
  kvm_apic_accept_irq: {
    system: 'kvm',
    kernels: BOTH,
    // "apicid %x vec %u (%s|%s)%s": __print_symbolic(dm >> 8 & 0x7, kvm_deliver_mode), tm ? "level" : "edge".
    print: (f) => `apicid ${x(f.apicid)} vec ${u(f.vec)} (${DELIVER_MODES[(Number(f.dm) >> 8) & 7]}|${Number(f.tm) ? 'level' : 'edge'})${f.coalesced ? ' (coalesced)' : ''}`,
  },
  kvm_emulate_insn: {
    system: 'kvm',
    kernels: BOTH,
    // "%x:%llx:%s (%s)%s": csbase, rip, " %02x" per byte, the mode, " failed". The simulated guest
    // is in long mode with a flat CS: csbase 0, mode prot64 (kei_decode_mode(X86EMUL_MODE_PROT64)).
    print: (f) => {
      const insn = big(f.insn);
      const len = Number(f.len);
      let bytes = '';
      for (let i = 0; i < len; i++) bytes += ' ' + ((insn >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
      return `0:${x(f.rip)}:${bytes} (prot64)${f.failed ? ' failed' : ''}`;
    },
  },
  vcpu_match_mmio: {
    system: 'kvm',
    kernels: V31,
    print: (f) => `gva ${hashX(f.gva)} gpa ${hashX(f.gpa)} ${f.write ? 'Write' : 'Read'} ${f.gpa_match ? 'GPA' : 'GVA'}`,
  },
  // include/trace/events/kvm.h (TRACE_SYSTEM kvm)
  kvm_userspace_exit: {
    system: 'kvm',
    kernels: BOTH,
    // errno is the KVM_RUN return, 0 on a userspace exit: the reason prints with its number.
    print: (f) => {
      const reason = Number(f.reason);
      const name = KVM_EXIT_NAMES[reason];
      return `reason ${symbolic(reason, name === undefined ? undefined : 'KVM_EXIT_' + name)} (${reason})`;
    },
  },
  kvm_mmio: {
    system: 'kvm',
    kernels: BOTH,
    print: (f) => `mmio ${String(f.type)} len ${u(f.len)} gpa 0x${x(f.gpa)} val 0x${x(f.val)}`,
  },
  // arch/x86/kvm/mmutrace.h (TRACE_SYSTEM kvmmmu)
  kvm_mmu_pagetable_walk: {
    system: 'kvmmmu',
    kernels: BOTH,
    print: (f) => {
      // TP_fast_assign keeps only write, user and fetch: (!!w << 1) | (!!u << 2) | (!!f << 4).
      const pferr = Number(big(f.pferr)) & (2 | 4 | 16);
      return `addr ${x(f.addr)} pferr ${pferr.toString(16)} ${printFlags(pferr, PFERR_FLAGS)}`;
    },
  },
  kvm_mmu_paging_element: { system: 'kvmmmu', kernels: BOTH, print: (f) => `pte ${x(f.pte)} level ${u(f.level)}` },
  kvm_mmu_set_accessed_bit: { system: 'kvmmmu', kernels: BOTH, print: (f) => `gpa ${x(f.gpa)}` },
  kvm_mmu_set_dirty_bit: { system: 'kvmmmu', kernels: BOTH, print: (f) => `gpa ${x(f.gpa)}` },
  kvm_mmu_walker_error: { system: 'kvmmmu', kernels: BOTH, print: (f) => `pferr ${x(f.pferr)} ${printFlags(Number(big(f.pferr)), PFERR_FLAGS)}` },
  kvm_mmu_get_page: { system: 'kvmmmu', kernels: BOTH, print: (f) => `${mmuPage(f)} ${f.created ? 'new' : 'existing'}` },
  kvm_mmu_sync_page: { system: 'kvmmmu', kernels: BOTH, print: mmuPage },
  kvm_mmu_unsync_page: { system: 'kvmmmu', kernels: BOTH, print: mmuPage },
  kvm_mmu_prepare_zap_page: { system: 'kvmmmu', kernels: BOTH, print: mmuPage },
  kvm_mmu_delay_free_pages: { system: 'kvmmmu', kernels: V31, print: mmuPage },
  mark_mmio_spte: {
    system: 'kvmmmu',
    kernels: V31,
    // "sptep:%p": trace-cmd prints a 64-bit %p as 0x%llx (parse-events.c, pretty_print).
    print: (f) => `sptep:0x${(PAGE_OFFSET + big(f.sptep)).toString(16)} gfn ${x(f.gfn)} access ${x(f.access)}`,
  },
  handle_mmio_page_fault: { system: 'kvmmmu', kernels: V31, print: (f) => `addr:${x(f.addr)} gfn ${x(f.gfn)} access ${x(f.access)}` },
};

/** Every real tracepoint the simulator emits, as `system:name`, in events.ts order. */
export const TRACEPOINT_NAMES: readonly string[] = EVENT_LIST.filter((s) => !s.fn && TRACEPOINTS[s.name]).map((s) => `${TRACEPOINTS[s.name]!.system}:${s.name}`);

/** The tracepoints `kernel` has (an event an era lacks never prints for it). */
export function tracepointsOf(kernel: Kernel): string[] {
  return TRACEPOINT_NAMES.filter((n) => TRACEPOINTS[n.split(':')[1]!]!.kernels.includes(kernel));
}

function glob(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(s);
}

/**
 * Event selection like trace-cmd's `-e`: `system:event`, `system:*`, `system`, or `event`, with `*`
 * globs; several add up; none selects every tracepoint. Returns the selected `system:name`s, or one
 * message naming the valid ones when a value matches nothing.
 */
export function selectTracepoints(specs: readonly string[]): Set<string> | string {
  if (specs.length === 0) return new Set(TRACEPOINT_NAMES);
  const out = new Set<string>();
  const bad: string[] = [];
  for (const spec of specs) {
    const [sys, ev] = spec.includes(':') ? spec.split(':', 2) as [string, string] : [undefined, spec];
    const hits = TRACEPOINT_NAMES.filter((full) => {
      const [s, n] = full.split(':') as [string, string];
      if (sys !== undefined) return glob(sys, s) && glob(ev === '' ? '*' : ev, n);
      return glob(ev, s) || glob(ev, n);
    });
    if (hits.length === 0) bad.push(spec);
    for (const h of hits) out.add(h);
  }
  if (bad.length > 0) {
    const systems = [...new Set(TRACEPOINT_NAMES.map((n) => n.split(':')[0]!))];
    return `unknown event ${bad.map((b) => `'${b}'`).join(', ')} for -e; valid systems: ${systems.join(', ')}; valid events: ${TRACEPOINT_NAMES.join(', ')}`;
  }
  return out;
}

/** comm and pid of vCPU `n`'s thread: qemu-kvm's vCPU threads, pids from VCPU_PID_BASE (docs/decisions.md). */
export const TRACE_COMM = 'qemu-kvm';
export const VCPU_PID_BASE = 1000;

/** One line's prefix, pevent_print_event: "%16s-%-5d [%03d] %5lu.%06lu: %s: " and the name padded to 20. */
export function lineHead(comm: string, pid: number, cpu: number, ns: number, name: string): string {
  const secs = Math.floor(ns / 1e9);
  const usecs = Math.floor((ns - secs * 1e9 + 500) / 1000); // (usecs + 500) / NSECS_PER_USEC
  const pad = name.length < 20 ? ' '.repeat(20 - name.length) : '';
  return `${comm.padStart(16)}-${String(pid).padEnd(5)} [${String(cpu).padStart(3, '0')}] ${String(secs).padStart(5)}.${String(usecs).padStart(6, '0')}: ${name}: ${pad}`;
}

/**
 * The run's trace buffer as trace-cmd report text: a `#` line saying how many earlier events the
 * bounded buffer dropped (trace-cmd has no such line), trace-cmd's `cpus=N`, then one line per
 * selected tracepoint event, the vCPUs' streams merged by timestamp as trace-cmd merges per-CPU
 * buffers (the earliest head first; a tie goes to the lower CPU).
 */
export function formatTraceCmd(r: RunResult, selected: ReadonlySet<string> = new Set(TRACEPOINT_NAMES)): string {
  const events = r.trace.events;
  const ghz = r.cycles.ghz;
  const ns = (e: TraceEventRecord): number => Math.round(e.cycles / ghz);
  // kvm_exit on a #PF: the exit's kvm_page_fault (same vCPU, before its kvm_entry) holds the address.
  const pfAddr = new Map<TraceEventRecord, bigint>();
  const open = new Map<number, TraceEventRecord>();
  for (const e of events) {
    if (e.name === 'kvm_exit') open.set(e.vcpu, e);
    else if (e.name === 'kvm_entry') open.delete(e.vcpu);
    else if (e.name === 'kvm_page_fault') {
      const ex = open.get(e.vcpu);
      if (ex && !pfAddr.has(ex)) pfAddr.set(ex, big(e.fields.address));
    }
  }
  const ctx: PrintContext = { pageFaultAddress: (e) => pfAddr.get(e) };
  const keep = new Set(tracepointsOf(r.kernel).filter((n) => selected.has(n)).map((n) => n.split(':')[1]!));
  const perCpu = new Map<number, TraceEventRecord[]>();
  for (const e of events) {
    if (!keep.has(e.name)) continue;
    let list = perCpu.get(e.vcpu);
    if (!list) perCpu.set(e.vcpu, (list = []));
    list.push(e);
  }
  const lines: string[] = [];
  lines.push(`# mmu-lab ${r.kernel}: ${r.trace.dropped} earlier events dropped by the trace buffer; ${events.length} kept`);
  lines.push(`cpus=${r.vcpus}`);
  const heads = [...perCpu.keys()].sort((a, b) => a - b);
  const at = new Map<number, number>(heads.map((c) => [c, 0]));
  for (;;) {
    let best = -1;
    let bestNs = Infinity;
    for (const c of heads) {
      const list = perCpu.get(c)!;
      const i = at.get(c)!;
      if (i < list.length && ns(list[i]!) < bestNs) {
        best = c;
        bestNs = ns(list[i]!);
      }
    }
    if (best < 0) break;
    const e = perCpu.get(best)![at.get(best)!]!;
    at.set(best, at.get(best)! + 1);
    lines.push(lineHead(TRACE_COMM, VCPU_PID_BASE + e.vcpu, e.vcpu, bestNs, e.name) + TRACEPOINTS[e.name]!.print(e.fields, e, ctx));
  }
  return lines.join('\n') + '\n';
}
