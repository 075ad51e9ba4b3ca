// `mmu-lab run --trace-cmd`: the trace as `trace-cmd report` prints it. Every expected string below is
// written from the kernel's TP_printk (quoted with tree/file/line next to each case; the same quotes
// are in docs/kernel-paths.md, "Tracepoint print formats") and from trace-cmd's line layout
// (pevent_print_event, parse-events.c of trace-cmd 5f576e9a, 2011), not from the formatter's output.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { formatTraceCmd, lineHead, selectTracepoints, tracepointsOf, TRACEPOINT_NAMES } from '../simulator/report/trace_cmd';
import { parseScenario } from '../simulator/scenario/parse';
import { runScenario } from '../simulator/run/run';
import type { RunResult, TraceEventRecord } from '../simulator/run/result';
import type { Kernel } from '../simulator/scenario/types';

const GHZ = 2;

/** A record as TraceBuffer.records() makes it: hex fields as 0x strings. */
function ev(name: string, fields: TraceEventRecord['fields'], vcpu = 0, ns = 1000): TraceEventRecord {
  return { seq: 0, step: 0, vcpu, cycles: ns * GHZ, name, line: 0, fields };
}

function result(events: TraceEventRecord[], kernel: Kernel = 'v3.1', vcpus = 1, dropped = 0): RunResult {
  return { kernel, vcpus, cycles: { ghz: GHZ }, trace: { total: events.length + dropped, dropped, events } } as unknown as RunResult;
}

/** The printk text of each event (the part after trace-cmd's "name: " and padding). */
function texts(events: TraceEventRecord[], kernel: Kernel = 'v3.1'): string[] {
  return formatTraceCmd(result(events, kernel))
    .replace(/\n$/, '') // not trimEnd: a printk may end in a space
    .split('\n')
    .slice(2)
    .map((l) => l.replace(/^.*?: \S+: +/, ''));
}

const one = (e: TraceEventRecord, kernel: Kernel = 'v3.1'): string => texts([e], kernel)[0]!;

describe('trace-cmd line layout (pevent_print_event: "%16s-%-5d [%03d] %5lu.%06lu: %s: ", name padded to 20)', () => {
  it('right-aligns comm in 16, left-aligns the pid in 5, zero-pads the cpu to 3, pads the name to 20', () => {
    expect(lineHead('qemu-kvm', 1000, 0, 1000, 'kvm_exit')).toBe('        qemu-kvm-1000  [000]     0.000001: kvm_exit:             ');
    expect(lineHead('qemu-kvm', 1001, 1, 5e9, 'kvm_mmio')).toBe('        qemu-kvm-1001  [001]     5.000000: kvm_mmio:             ');
  });

  it('rounds nanoseconds to microseconds as (ns + 500) / 1000', () => {
    expect(lineHead('qemu-kvm', 1000, 0, 1_234_567_500, 'kvm_entry')).toContain('     1.234568: kvm_entry:            ');
    expect(lineHead('qemu-kvm', 1000, 0, 1_234_567_499, 'kvm_entry')).toContain('     1.234567: ');
  });

  it('does not pad a name of 20 characters or more', () => {
    expect(lineHead('qemu-kvm', 1000, 0, 0, 'kvm_mmu_pagetable_walk')).toBe('        qemu-kvm-1000  [000]     0.000000: kvm_mmu_pagetable_walk: ');
  });

  it('puts the vCPU id as cpu and qemu-kvm-(1000 + id) as task, with the time from cycles at the run GHz', () => {
    const out = formatTraceCmd(result([ev('kvm_entry', {}, 1, 2_000_000)], 'v3.1', 2));
    expect(out.split('\n')[2]).toBe('        qemu-kvm-1001  [001]     0.002000: kvm_entry:            vcpu 1');
  });

  it('starts with a # line counting the events the bounded buffer dropped, then cpus=N', () => {
    const out = formatTraceCmd(result([ev('kvm_entry', {})], 'v3.0', 3, 42)).split('\n');
    expect(out[0]).toBe('# mmu-lab v3.0: 42 earlier events dropped by the trace buffer; 1 kept');
    expect(out[1]).toBe('cpus=3');
  });
});

describe('arch/x86/kvm/trace.h (TRACE_SYSTEM kvm), 3.0.1 and 3.1.10', () => {
  it('kvm_entry, trace.h:24 "vcpu %u"', () => {
    expect(one(ev('kvm_entry', {}, 0))).toBe('vcpu 0');
  });

  it('kvm_exit, trace.h:207 "reason %s rip 0x%lx info %llx %llx" (info1 EXIT_QUALIFICATION, info2 VM_EXIT_INTR_INFO)', () => {
    expect(one(ev('kvm_exit', { reason: 'EPT_VIOLATION', rip: '0xffffffff81000000', info1: '0x182' }))).toBe('reason EPT_VIOLATION rip 0xffffffff81000000 info 182 0');
    expect(one(ev('kvm_exit', { reason: 'EPT_MISCONFIG', rip: '0xffffffff81000010', info1: '0x0' }))).toBe('reason EPT_MISCONFIG rip 0xffffffff81000010 info 0 0');
  });

  it('kvm_exit on a #PF: info1 is the faulting address (handle_exception passes it to kvm_page_fault), info2 0x80000b0e', () => {
    const t = texts([
      ev('kvm_exit', { reason: 'EXCEPTION_NMI', rip: '0xffffffff81000020', info1: '0xb' }),
      ev('kvm_page_fault', { address: '0xffffc90000000000', error_code: '0xb' }),
      ev('kvm_entry', {}),
    ]);
    expect(t[0]).toBe('reason EXCEPTION_NMI rip 0xffffffff81000020 info ffffc90000000000 80000b0e');
    expect(t[1]).toBe('address ffffc90000000000 error_code b'); // trace.h:280 "address %lx error_code %x"
  });

  it('kvm_exit on CR_ACCESS: the MOV register is not modelled, so the qualification prints as ?', () => {
    expect(one(ev('kvm_exit', { reason: 'CR_ACCESS', rip: '0x401000', info1: '0x7000' }))).toBe('reason CR_ACCESS rip 0x401000 info ? 0');
  });

  it('kvm_inj_exception, trace.h:257 "%s (0x%x)" with kvm_trace_sym_exc; an unknown vector prints as 0x%lx', () => {
    expect(one(ev('kvm_inj_exception', { exception: 14, error_code: '0x4', address: '0x1000' }))).toBe('#PF (0x4)');
    expect(one(ev('kvm_inj_exception', { exception: 2, error_code: '0x0', address: '0x0' }))).toBe('0x2 (0x0)');
  });

  it('kvm_emulate_insn, trace.h:689 "%x:%llx:%s (%s)%s": csbase 0, rip, " %02x" per byte, prot64, " failed"', () => {
    expect(one(ev('kvm_emulate_insn', { rip: '0xffffffff81000000', len: 2, insn: '0x78b', failed: false }))).toBe('0:ffffffff81000000: 8b 07 (prot64)');
    expect(one(ev('kvm_emulate_insn', { rip: '0xffffffff81000010', len: 3, insn: '0x78b66', failed: true }))).toBe('0:ffffffff81000010: 66 8b 07 (prot64) failed');
  });

  it('vcpu_match_mmio (3.1.10 only), trace.h:720 "gva %#lx gpa %#llx %s %s"', () => {
    expect(one(ev('vcpu_match_mmio', { gva: '0xffffc90000000050', gpa: '0xfebf0050', write: true, gpa_match: true }))).toBe('gva 0xffffc90000000050 gpa 0xfebf0050 Write GPA');
    expect(one(ev('vcpu_match_mmio', { gva: '0xffffc90000000050', gpa: '0xfebf0050', write: false, gpa_match: false }))).toBe('gva 0xffffc90000000050 gpa 0xfebf0050 Read GVA');
  });
});

describe('include/trace/events/kvm.h (TRACE_SYSTEM kvm), identical in both trees', () => {
  it('kvm_userspace_exit, kvm.h:32 "reason %s (%d)" with kvm_trace_exit_reason (ERSN(MMIO) = 6)', () => {
    expect(one(ev('kvm_userspace_exit', { reason: 6 }))).toBe('reason KVM_EXIT_MMIO (6)');
  });

  it('kvm_mmio, kvm.h:172 "mmio %s len %u gpa 0x%llx val 0x%llx" with kvm_trace_symbol_mmio', () => {
    expect(one(ev('kvm_mmio', { type: 'write', len: 4, gpa: '0xfebf0050', val: '0x1' }))).toBe('mmio write len 4 gpa 0xfebf0050 val 0x1');
    expect(one(ev('kvm_mmio', { type: 'read', len: 8, gpa: '0xfee000b0', val: '0xffffffff00000000' }))).toBe('mmio read len 8 gpa 0xfee000b0 val 0xffffffff00000000');
    expect(one(ev('kvm_mmio', { type: 'unsatisfied-read', len: 2, gpa: '0xfebf0000', val: '0x0' }))).toBe('mmio unsatisfied-read len 2 gpa 0xfebf0000 val 0x0');
  });
});

describe('arch/x86/kvm/mmutrace.h (TRACE_SYSTEM kvmmmu)', () => {
  it('kvm_mmu_pagetable_walk, mmutrace.h:71 "addr %llx pferr %x %s"; pferr keeps only W, U, F (mmutrace.h:67-68)', () => {
    expect(one(ev('kvm_mmu_pagetable_walk', { addr: '0xffffffff81000000', pferr: '0x10' }))).toBe('addr ffffffff81000000 pferr 10 F');
    expect(one(ev('kvm_mmu_pagetable_walk', { addr: '0x1000', pferr: '0x7' }))).toBe('addr 1000 pferr 6 W|U');
    expect(one(ev('kvm_mmu_pagetable_walk', { addr: '0x1000', pferr: '0x0' }))).toBe('addr 1000 pferr 0 ');
  });

  it('kvm_mmu_paging_element, mmutrace.h:92 "pte %llx level %u"', () => {
    expect(one(ev('kvm_mmu_paging_element', { pte: '0x80000000febf0073', level: 1 }))).toBe('pte 80000000febf0073 level 1');
  });

  it('kvm_mmu_set_accessed_bit / kvm_mmu_set_dirty_bit, mmutrace.h:110 "gpa %llx"', () => {
    expect(texts([ev('kvm_mmu_set_accessed_bit', { gpa: '0x7ffc008' }), ev('kvm_mmu_set_dirty_bit', { gpa: '0x7ffa010' })])).toEqual(['gpa 7ffc008', 'gpa 7ffa010']);
  });

  it('kvm_mmu_walker_error, mmutrace.h:142 "pferr %x %s" with kvm_mmu_trace_pferr_flags joined by |', () => {
    expect(one(ev('kvm_mmu_walker_error', { pferr: '0x1b' }))).toBe('pferr 1b P|W|RSVD|F');
    expect(one(ev('kvm_mmu_walker_error', { pferr: '0x4' }))).toBe('pferr 4 U');
  });

  // KVM_MMU_PAGE_PRINTK, mmutrace.h:31-41: "sp gfn %llx %u%s q%u%s %s%s %snxe root %u %s%c"
  it('kvm_mmu_get_page, mmutrace.h:161 "%s %s", KVM_MMU_PAGE_PRINTK(), created ? "new" : "existing"', () => {
    // TDP root: level 4, direct, access 7 (wux), no nxe: 4 | 1 << 13 | 7 << 14
    expect(one(ev('kvm_mmu_get_page', { gfn: '0x0', role: '0x1e004', level: 4, created: true, root_count: 0, unsync: false }))).toBe('sp gfn 0 4 q0 direct wux !nxe root 0 sync new');
    // Shadow leaf table: level 1, cr4_pae, access 7, nxe, cr0_wp (not printed): 1 | 1 << 4 | 7 << 14 | 1 << 18 | 1 << 19
    expect(one(ev('kvm_mmu_get_page', { gfn: '0x1234', role: '0xdc011', level: 1, created: false, root_count: 0, unsync: true }))).toBe('sp gfn 1234 1 pae q0 wux nxe root 0 unsync existing');
  });

  it('kvm_mmu_sync_page / unsync_page / prepare_zap_page, mmutrace.h:178 "%s", KVM_MMU_PAGE_PRINTK()', () => {
    // level 2, quadrant 2, access 2 (w--), invalid: 2 | 2 << 5 | 2 << 14 | 1 << 17
    const f = { gfn: '0x10', role: '0x28042', root_count: 1, unsync: false };
    expect(texts([ev('kvm_mmu_sync_page', f), ev('kvm_mmu_unsync_page', f), ev('kvm_mmu_prepare_zap_page', { ...f, level: 2 })])).toEqual([
      'sp gfn 10 2 q2 w-- invalid !nxe root 1 sync',
      'sp gfn 10 2 q2 w-- invalid !nxe root 1 sync',
      'sp gfn 10 2 q2 w-- invalid !nxe root 1 sync',
    ]);
  });

  it('kvm_mmu_delay_free_pages (3.1.10 mmutrace.h:199, class kvm_mmu_page_class)', () => {
    expect(one(ev('kvm_mmu_delay_free_pages', { gfn: '0xfea00', role: '0x3e001', pages: 2, root_count: 0, unsync: false }))).toBe('sp gfn fea00 1 q0 direct wux invalid !nxe root 0 sync');
  });

  it('mark_mmio_spte (3.1.10 mmutrace.h:222 "sptep:%p gfn %llx access %x"): the direct-map address, %p as trace-cmd prints it (0x%llx)', () => {
    expect(one(ev('mark_mmio_spte', { sptep: '0x112f80', gfn: '0xfebf0', access: '0x6' }))).toBe('sptep:0xffff880000112f80 gfn febf0 access 6');
  });

  it('handle_mmio_page_fault (3.1.10 mmutrace.h:243 "addr:%llx gfn %llx access %x")', () => {
    expect(one(ev('handle_mmio_page_fault', { addr: '0x0', gfn: '0xfebf0', access: '0x0' }))).toBe('addr:0 gfn febf0 access 0');
  });
});

describe('what prints', () => {
  it('never prints a simulator probe (fn: true)', () => {
    const out = formatTraceCmd(result([ev('__direct_map', { gfn: '0x1', spte: '0x1', level: 1 }), ev('mmu_spte_get_lockless', { spte: '0x0', level: 4 }), ev('vcpu_switch', { to: 1, point: 0 })]));
    expect(out.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('cpus='))).toEqual([]);
  });

  it('never prints an event the era lacks: mark_mmio_spte, handle_mmio_page_fault, delay_free_pages, vcpu_match_mmio are 3.1 only', () => {
    expect(tracepointsOf('v3.0')).not.toContain('kvmmmu:mark_mmio_spte');
    expect(tracepointsOf('v3.0')).not.toContain('kvmmmu:handle_mmio_page_fault');
    expect(tracepointsOf('v3.0')).not.toContain('kvmmmu:kvm_mmu_delay_free_pages');
    expect(tracepointsOf('v3.0')).not.toContain('kvm:vcpu_match_mmio');
    expect(tracepointsOf('v3.1')).toContain('kvmmmu:mark_mmio_spte');
    const evs = [ev('mark_mmio_spte', { sptep: '0x0', gfn: '0x1', access: '0x6' }), ev('kvm_entry', {})];
    expect(texts(evs, 'v3.0')).toEqual(['vcpu 0']);
    expect(texts(evs, 'v3.1')).toEqual(['sptep:0xffff880000000000 gfn 1 access 6', 'vcpu 0']);
  });

  it('merges the vCPUs by timestamp as trace-cmd merges per-CPU buffers: earliest head first, a tie to the lower CPU', () => {
    const out = formatTraceCmd(
      result([ev('kvm_entry', {}, 1, 100), ev('kvm_mmio', { type: 'read', len: 4, gpa: '0x1', val: '0x2' }, 1, 200), ev('kvm_entry', {}, 0, 100), ev('kvm_mmio', { type: 'write', len: 4, gpa: '0x3', val: '0x4' }, 0, 300)], 'v3.1', 2),
    )
      .trimEnd()
      .split('\n')
      .slice(2)
      .map((l) => l.slice(23, 28) + l.replace(/^.*?: \S+: +/, ''));
    expect(out).toEqual(['[000]vcpu 0', '[001]vcpu 1', '[001]mmio read len 4 gpa 0x1 val 0x2', '[000]mmio write len 4 gpa 0x3 val 0x4']);
  });
});

describe('-e event selection (trace-cmd record -e)', () => {
  const sel = (...specs: string[]) => {
    const s = selectTracepoints(specs);
    if (typeof s === 'string') throw new Error(s);
    return [...s].sort();
  };

  it('no -e selects every real tracepoint and no probe', () => {
    expect(sel()).toEqual([...TRACEPOINT_NAMES].sort());
    expect(TRACEPOINT_NAMES).toContain('kvm:kvm_exit');
    expect(TRACEPOINT_NAMES).toContain('kvmmmu:kvm_mmu_get_page');
    expect(TRACEPOINT_NAMES.some((n) => n.includes('__direct_map') || n.includes('vcpu_switch') || n.includes('guest_page_fault'))).toBe(false);
  });

  it('system:event, system:*, system, event, and several add up', () => {
    expect(sel('kvm:kvm_exit')).toEqual(['kvm:kvm_exit']);
    expect(sel('kvm_mmio')).toEqual(['kvm:kvm_mmio']);
    const mmu = sel('kvmmmu:*');
    expect(mmu.length).toBeGreaterThan(10);
    expect(mmu.every((n) => n.startsWith('kvmmmu:'))).toBe(true);
    expect(sel('kvmmmu')).toEqual(mmu);
    const kvm = sel('kvm');
    expect(kvm).toContain('kvm:kvm_userspace_exit');
    expect(kvm.every((n) => n.startsWith('kvm:'))).toBe(true);
    expect(sel('kvm:kvm_exit', 'kvm:kvm_entry', 'kvmmmu:mark_mmio_spte')).toEqual(['kvm:kvm_entry', 'kvm:kvm_exit', 'kvmmmu:mark_mmio_spte']);
    expect(sel('kvmmmu:kvm_mmu_set_*')).toEqual(['kvmmmu:kvm_mmu_set_accessed_bit', 'kvmmmu:kvm_mmu_set_dirty_bit']);
  });

  it('an unknown event or system, or a probe, is one error naming the valid systems and events', () => {
    for (const bad of [['kvm:nope'], ['kvmmu'], ['__direct_map'], ['kvm:kvm_exit', 'sched:*']]) {
      const s = selectTracepoints(bad);
      expect(typeof s).toBe('string');
      expect(s).toContain(`'${bad.at(-1)}'`);
      expect(s).toContain('valid systems: kvm, kvmmmu');
      expect(s).toContain('kvmmmu:handle_mmio_page_fault');
    }
  });

  it('filters the output to the selection', () => {
    const evs = [ev('kvm_exit', { reason: 'EPT_MISCONFIG', rip: '0x1', info1: '0x0' }), ev('kvm_mmu_pagetable_walk', { addr: '0x1', pferr: '0x10' }), ev('kvm_entry', {})];
    const out = formatTraceCmd(result(evs), selectTracepoints(['kvmmmu:*']) as Set<string>);
    expect(out.trimEnd().split('\n').slice(2).map((l) => l.replace(/^.*?: (\S+):.*$/, '$1'))).toEqual(['kvm_mmu_pagetable_walk']);
  });
});

describe('the same scenario under both eras (examples/race-zap-during-walk.mmio.yaml, two vCPUs)', () => {
  const text = readFileSync('examples/race-zap-during-walk.mmio.yaml', 'utf8');
  const parsed = parseScenario(text, 'race.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error('example does not parse');
  // v3.0 has no lockless walk: its wait on mmu_spte_get_lockless is left out, as Compare Kernels runs it.
  const runs = { 'v3.0': runScenario(parsed.scenario, { overrides: { kernel: 'v3.0', skip_lockless_waits: true } }), 'v3.1': runScenario(parsed.scenario, { overrides: { kernel: 'v3.1' } }) };
  const names = (k: Kernel) => new Set(formatTraceCmd(runs[k]).trimEnd().split('\n').slice(2).map((l) => l.replace(/^.*?: (\S+):.*$/, '$1')));

  it('mark_mmio_spte and handle_mmio_page_fault print in v3.1 only', () => {
    expect(names('v3.1').has('mark_mmio_spte')).toBe(true);
    expect(names('v3.1').has('handle_mmio_page_fault')).toBe(true);
    expect(names('v3.0').has('mark_mmio_spte')).toBe(false);
    expect(names('v3.0').has('handle_mmio_page_fault')).toBe(false);
    expect(names('v3.0').has('kvm_exit')).toBe(true);
  });

  it('prints both vCPUs, timestamps never going backwards, and only tracepoints', () => {
    for (const k of ['v3.0', 'v3.1'] as const) {
      const lines = formatTraceCmd(runs[k]).trimEnd().split('\n').slice(2);
      expect(lines.some((l) => l.includes('qemu-kvm-1000  [000]'))).toBe(true);
      expect(lines.some((l) => l.includes('qemu-kvm-1001  [001]'))).toBe(true);
      const ts = lines.map((l) => Number(/ (\d+\.\d{6}): /.exec(l)![1]));
      for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThanOrEqual(ts[i - 1]!);
      const valid = new Set(tracepointsOf(k).map((n) => n.split(':')[1]));
      for (const n of names(k)) expect(valid.has(n)).toBe(true);
    }
  });

  it('kvm_exit rips are canonical kernel-text addresses (0xffffffff81000000, Linux/x86-64 text)', () => {
    const exits = formatTraceCmd(runs['v3.1']).split('\n').filter((l) => l.includes(' kvm_exit: '));
    expect(exits.length).toBeGreaterThan(0);
    for (const l of exits) expect(l).toMatch(/rip 0xffffffff81000[0-9a-f]{3} /);
  });
});
