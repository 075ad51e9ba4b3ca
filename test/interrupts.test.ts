// Interrupts and idle (simulator/kvm/x86/irq.ts, docs/kernel-paths.md §23): the `interrupt` and `hlt`
// steps against the KVM 3.0.1 / 3.1.10 lines they model, in EPT and shadow modes. Line numbers are
// 3.0.1's; 3.1.10 has the same code (§23 gives both).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { run, vm, vmVcpus, APIC, NIC } from './helpers/scenario';
import { parseScenario } from '../simulator/scenario/parse';
import { formatRunText as formatRun } from '../simulator/report/text';
import { formatTraceCmd } from '../simulator/report/trace_cmd';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';
import { ERAS, type KernelEra } from '../simulator/kvm/eras';
import type { RunResult, TraceEventRecord } from '../simulator/run/result';
import type { ScenarioOverrides } from '../simulator/scenario/types';

const P = PROFILES_BY_NAME['westmere-2011'];
/** The four kernel x MMU combinations: interrupts and HLT exit the same way with EPT and without. */
const MODES: [string, ScenarioOverrides][] = [
  ['EPT v3.0', { kernel: 'v3.0', tdp: true }],
  ['EPT v3.1', { kernel: 'v3.1', tdp: true }],
  ['shadow v3.0', { kernel: 'v3.0', tdp: false }],
  ['shadow v3.1', { kernel: 'v3.1', tdp: false }],
];

const steps = (s: string) => vm('v3.1', s);
const names = (r: RunResult) => r.trace.events.map((e) => e.name);
const ev = (r: RunResult, name: string): TraceEventRecord[] => r.trace.events.filter((e) => e.name === name);
const exitTime = (r: RunResult, reason: string) => r.exit_stats.find((e) => e.reason === reason)!;

describe('interrupt: an interrupt for the vCPU in guest mode', () => {
  for (const [mode, o] of MODES) {
    it(`timer tick (${mode}): EXTERNAL_INTERRUPT, the tick delivered in __vcpu_run, injected at the next entry`, () => {
      const r = run(steps('  - { interrupt: { vector: 0xef, source: timer } }'), { overrides: o });
      // The host's hrtimer interrupt exits (pin-based external-interrupt exiting); handle_external_interrupt:
      // `++vcpu->stat.irq_exits; return 1;` (vmx.c:3314-3318); vcpu_enter_guest counted the exit
      // (`++vcpu->stat.exits;`, x86.c:5474).
      expect(r.exits).toEqual({ EXTERNAL_INTERRUPT: 1 });
      expect(r.stats.exits).toBe(1);
      expect(r.stats.irq_exits).toBe(1);
      // vmx_inject_irq: `++vcpu->stat.irq_injections;` (vmx.c:3028); no window, no HLT.
      expect(r.stats.irq_injections).toBe(1);
      expect(r.stats.irq_window).toBe(0);
      expect(r.stats.halt_exits).toBe(0);
      // Events: kvm_exit; __vcpu_run's kvm_inject_pending_timer_irqs -> __apic_accept_irq's
      // trace_kvm_apic_accept_irq(vcpu_id, APIC_DM_FIXED, edge, vector, !result) (lapic.c:390-391);
      // vcpu_enter_guest -> inject_pending_event -> vmx_inject_irq's trace_kvm_inj_virq(irq)
      // (vmx.c:3026); then trace_kvm_entry (x86.c:5455).
      expect(names(r)).toEqual(['kvm_exit', 'kvm_apic_accept_irq', 'kvm_inj_virq', 'kvm_entry']);
      expect(ev(r, 'kvm_exit')[0]!.fields.reason).toBe('EXTERNAL_INTERRUPT');
      expect(ev(r, 'kvm_apic_accept_irq')[0]!.fields).toEqual({ apicid: 0, dm: 0, tm: 0, vec: 0xef, coalesced: false });
      expect(ev(r, 'kvm_inj_virq')[0]!.fields).toEqual({ irq: 0xef });
      // Cost: the transition (2,000) + the fixed exit path (800) + the delivery (600) = 3,400 cycles;
      // perf kvm stat's time (kvm_exit to kvm_entry) leaves the transition out: 800 + 600 = 1,400.
      expect(r.cycles.total).toBe(P.vmexit_transition + P.exit_handler + P.irq_inject);
      expect(r.cycles.total).toBe(3400);
      expect(exitTime(r, 'EXTERNAL_INTERRUPT').total_cycles).toBe(P.exit_handler + P.irq_inject);
      expect(r.cycles.by_component.interrupt).toBe(600);
      expect(r.cycles.idle).toBe(0);
      expect(r.warnings).toEqual([]);
    });
  }

  it('a device IRQ: its __apic_accept_irq ran on the sender thread (not traced on the vCPU), the kick is the exit', () => {
    const r = run(steps('  - { interrupt: { vector: 0x29, source: device } }'));
    expect(r.exits).toEqual({ EXTERNAL_INTERRUPT: 1 });
    expect(names(r)).toEqual(['kvm_exit', 'kvm_inj_virq', 'kvm_entry']);
    expect(ev(r, 'kvm_inj_virq')[0]!.fields).toEqual({ irq: 0x29 });
    expect(r.cycles.total).toBe(3400);
  });

  for (const [mode, o] of MODES) {
    it(`IF clear (${mode}): enable_irq_window, the guest's section, PENDING_INTERRUPT, then the injection`, () => {
      const r = run(steps('  - { interrupt: { vector: 0xef, source: timer, irqs_disabled: 1000 } }'), { overrides: o });
      // inject_pending_event: interrupt_allowed (vmx_interrupt_allowed: RFLAGS.IF, vmx.c:3116-3120) is
      // false, so nothing is injected; `else if (kvm_cpu_has_interrupt(vcpu) || req_int_win)
      // kvm_x86_ops->enable_irq_window(vcpu);` (x86.c:5407-5408). When the guest sets IF the CPU exits
      // with PENDING_INTERRUPT: handle_interrupt_window `++vcpu->stat.irq_window_exits;` (vmx.c:3549),
      // KVM_REQ_EVENT, and the next entry injects.
      expect(r.exits).toEqual({ EXTERNAL_INTERRUPT: 1, PENDING_INTERRUPT: 1 });
      expect(r.stats.irq_exits).toBe(1);
      expect(r.stats.irq_window).toBe(1);
      expect(r.stats.irq_injections).toBe(1);
      expect(names(r)).toEqual(['kvm_exit', 'kvm_apic_accept_irq', 'kvm_entry', 'kvm_exit', 'kvm_inj_virq', 'kvm_entry']);
      expect(ev(r, 'kvm_exit').map((e) => e.fields.reason)).toEqual(['EXTERNAL_INTERRUPT', 'PENDING_INTERRUPT']);
      // Two round trips (2 x 2,800), the guest's 1,000 cycles with IF clear, one delivery (600).
      expect(r.cycles.total).toBe(2 * (P.vmexit_transition + P.exit_handler) + 1000 + P.irq_inject);
      expect(r.cycles.by_component.guest_compute).toBe(1000);
      expect(exitTime(r, 'EXTERNAL_INTERRUPT').total_cycles).toBe(P.exit_handler);
      expect(exitTime(r, 'PENDING_INTERRUPT').total_cycles).toBe(P.exit_handler + P.irq_inject);
    });
  }

  it('the handler writes: EOI (ack_APIC_irq) and, for the timer, TMICT (lapic_next_event), as 4-byte stores', () => {
    const r = run(steps(`  - { interrupt: { vector: 0xef, source: timer, eoi: ${APIC.slice(0, -3)}0b0, tmict: { gva: ${APIC.slice(0, -3)}380, count: 0xf424 } } }`));
    const mmio = ev(r, 'kvm_mmio');
    expect(mmio.map((e) => [e.fields.gpa, e.fields.val])).toEqual([['0xfee000b0', '0x0'], ['0xfee00380', '0xf424']]);
    expect(r.stats.mmio_writes).toBe(2);
    // The interrupt's exit comes first, then the handler's two APIC exits.
    expect(ev(r, 'kvm_exit').map((e) => e.fields.reason)).toEqual(['EXTERNAL_INTERRUPT', 'EPT_VIOLATION', 'EPT_MISCONFIG']);
    // All three on the step's line (the VM's workload starts on line 16).
    expect(r.lines.map((l) => [l.line, l.count])).toEqual([[16, 3]]);
  });
});

describe('hlt: the guest idles until the next interrupt', () => {
  for (const [mode, o] of MODES) {
    it(`woken by the timer (${mode}): HLT, kvm_vcpu_block, no halt_wakeup, the tick injected; idle in elapsed only`, () => {
      const r = run(steps('  - { hlt: { wake_after: 100000, vector: 0xef, source: timer } }'), { overrides: o });
      // handle_halt -> kvm_emulate_halt: `++vcpu->stat.halt_exits;` and HALTED (x86.c:4941-4944).
      expect(r.exits).toEqual({ HLT: 1 });
      expect(r.stats.halt_exits).toBe(1);
      // The timer wakes the thread from __kvm_timer_fn's own `wake_up_interruptible(q)` (timer.c:38-39);
      // halt_wakeup is counted only by kvm_vcpu_kick (x86.c:6402-6406), which then finds no waiter.
      expect(r.stats.halt_wakeup).toBe(0);
      expect(r.stats.irq_injections).toBe(1);
      expect(names(r)).toEqual(['kvm_exit', 'kvm_apic_accept_irq', 'kvm_inj_virq', 'kvm_entry']);
      // CPU work: round trip 2,800 + the wake-up 5,900 + the delivery 600 = 9,300. The 100,000 cycles
      // asleep in schedule() (kvm_main.c:1480) are on the clock, not in any component.
      const work = P.vmexit_transition + P.exit_handler + P.vcpu_wakeup + P.irq_inject;
      expect(work).toBe(9300);
      expect(r.cycles.total).toBe(work);
      expect(r.cycles.idle).toBe(100000);
      expect(r.cycles.elapsed).toBe(work + 100000);
      expect(r.cycles.by_component.halt_wakeup).toBe(5900);
      // perf kvm stat times a HLT from kvm_exit to kvm_entry: the sleep is inside it.
      expect(exitTime(r, 'HLT').total_cycles).toBe(P.exit_handler + 100000 + P.vcpu_wakeup + P.irq_inject);
      // The tick is delivered after the sleep and the wake-up: its event's clock says so (kvm_exit is
      // stamped after the fixed exit path, as the simulator stamps every kvm_exit).
      const exit = ev(r, 'kvm_exit')[0]!.cycles;
      expect(ev(r, 'kvm_apic_accept_irq')[0]!.cycles - exit).toBe(100000 + P.vcpu_wakeup);
    });
  }

  it('woken by a device IRQ: kvm_vcpu_kick finds the vCPU on its wait queue, ++halt_wakeup', () => {
    const r = run(steps('  - { hlt: { wake_after: 5000, vector: 0x29, source: device } }'));
    expect(r.stats.halt_wakeup).toBe(1);
    expect(r.stats.halt_exits).toBe(1);
    expect(names(r)).toEqual(['kvm_exit', 'kvm_inj_virq', 'kvm_entry']);
    expect(r.cycles.idle).toBe(5000);
  });

  it('a rate counts the time asleep: a request-response loop waits, and its transactions per second show it', () => {
    const loop = (wait: number) =>
      run(steps(`  - repeat: 4\n    label: txn\n    steps:\n      - { compute: 10000 }\n      - { hlt: { wake_after: ${wait}, vector: 0x29, source: device } }`));
    const a = loop(0);
    const b = loop(100000);
    // The same CPU work, 4 x 100,000 more cycles on the clock, all of it in the label's cycles.
    expect(b.cycles.total).toBe(a.cycles.total);
    expect(b.labels.txn!.cycles - a.labels.txn!.cycles).toBe(400000);
    expect(b.cycles.idle).toBe(400000);
  });

  it('the text report says what the idle cycles are; without HLT it prints no idle line', () => {
    const r = run(steps('  - { hlt: { wake_after: 1000, vector: 0xef, source: timer } }'));
    expect(formatRun(r)).toContain('  idle     1000 cycles halted (HLT): in elapsed, not in total\n');
    expect(formatRun(run(steps('  - { compute: 10 }')))).not.toContain('idle ');
  });

  it('expect: can test cycles.idle and the new counters', () => {
    const r = run(`${steps('  - { hlt: { wake_after: 1000, vector: 0xef, source: timer } }')}expect:\n  cycles.idle: "== 1000"\n  stats.halt_exits: "== 1"\n  exits.HLT: "== 1"\n`);
    expect(r.expect.map((e) => e.ok)).toEqual([true, true, true]);
  });
});

describe('raise: a device emulation raises its interrupt while the VMM handles the access', () => {
  // QEMU 0.14's e1000 (hw/e1000.c): the TDT write's set_tdt -> start_xmit ends with set_ics(s, 0,
  // cause), on the vCPU's own thread during KVM_EXIT_MMIO; with the in-kernel irqchip, KVM_IRQ_LINE
  // -> __apic_accept_irq sets IRR and KVM_REQ_EVENT, and kvm_vcpu_kick sends no IPI because the vCPU
  // is not IN_GUEST_MODE (x86.c:6398). The next KVM_RUN's vcpu_enter_guest injects it
  // (inject_pending_event -> vmx_inject_irq, x86.c:5401-5402, vmx.c:3026-3028): no exit of its own.
  for (const [mode, o] of MODES) {
    it(`a userspace device write that raises (${mode}): one MMIO exit, injected at its entry`, () => {
      const plain = run(steps(`  - { write: ${NIC}, size: 4, value: 1 }`), { overrides: o });
      const r = run(steps(`  - { write: ${NIC}, size: 4, value: 1, raise: 0x3b }`), { overrides: o });
      expect(r.exits).toEqual(plain.exits); // no EXTERNAL_INTERRUPT: the kick found the vCPU outside guest mode
      expect(r.stats.irq_exits).toBe(0);
      expect(r.stats.irq_injections).toBe(1);
      expect(r.stats.exits).toBe(plain.stats.exits);
      // The injection is inside the MMIO exit: kvm_inj_virq just before that exit's kvm_entry.
      const n = names(r);
      expect(n.indexOf('kvm_inj_virq')).toBe(n.lastIndexOf('kvm_entry') - 1);
      expect(ev(r, 'kvm_inj_virq')[0]!.fields).toEqual({ irq: 0x3b });
      expect(r.cycles.total).toBe(plain.cycles.total + P.irq_inject);
      expect(r.warnings).toEqual([]);
    });
  }

  it('a raise on an access the TLB already maps (the fast path) warns too, and nothing is injected later', () => {
    const text = steps([
      '  - { write: 0xffff880000100000, size: 4, value: 1 }',
      '  - { write: 0xffff880000100008, size: 4, value: 2, raise: 0x3b }',
      `  - { write: ${NIC}, size: 4, value: 1 }`,
    ].join('\n'));
    for (const fastPaths of [true, false]) {
      const r = run(text, { overrides: { kernel: 'v3.1', tdp: true }, fastPaths });
      expect(r.stats.irq_injections).toBe(0);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain('`raise`: no exit emulated the access as MMIO');
    }
  });

  it('an access no exit emulates (RAM) raises nothing: a warning', () => {
    const r = run(steps('  - { write: 0xffff880000100000, size: 4, value: 1, raise: 0x3b }'), { overrides: { kernel: 'v3.1', tdp: true } });
    expect(r.stats.irq_injections).toBe(0);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('`raise`: no exit emulated the access as MMIO, so no device emulation ran to raise the interrupt');
  });
});

describe('with several vCPUs', () => {
  it('a HLT exit is a kvm_exit race point like any exit: another vCPU waiting there runs while this one is out of the guest', () => {
    // vcpu_enter_guest's preempt_enable() after the exit (x86.c 5486 / 5699) is where another thread can
    // run; vCPU 1's step lands between vCPU 0's kvm_exit(HLT) and its kvm_entry.
    const r = run(vmVcpus('v3.1', ['      - { hlt: { wake_after: 1000, vector: 0xef, source: timer } }', `      - { wait_for: { vcpu: 0, point: kvm_exit } }\n      - { write: ${NIC}, size: 4, value: 1 }`]));
    expect(r.warnings).toEqual([]);
    const seq = r.trace.events.filter((e) => e.name === 'kvm_exit' || e.name === 'kvm_entry').map((e) => `${e.vcpu}:${e.name}:${e.fields.reason ?? ''}`);
    expect(seq).toEqual(['0:kvm_exit:HLT', '1:kvm_exit:EPT_VIOLATION', '1:kvm_entry:', '0:kvm_entry:']);
    expect(r.cycles.idle).toBe(1000);
  });
});

describe('trace-cmd prints the two tracepoints as trace.h does', () => {
  it('kvm_apic_accept_irq "apicid %x vec %u (%s|%s)%s" and kvm_inj_virq "irq %u"; EXTERNAL_INTERRUPT info2 unknown', () => {
    const r = run(steps('  - { interrupt: { vector: 0xef, source: timer } }'));
    const text = formatTraceCmd(r);
    expect(text).toContain('kvm_apic_accept_irq:  apicid 0 vec 239 (Fixed|edge)\n');
    expect(text).toContain('kvm_inj_virq:         irq 239\n');
    expect(text).toMatch(/kvm_exit: +reason EXTERNAL_INTERRUPT rip 0x[0-9a-f]+ info 0 \?\n/);
  });
});

describe('scenario errors name file, line and column', () => {
  /** The one diagnostic of a VM whose workload is `step`: it must point at `at` (first occurrence). */
  const expectError = (step: string, at: string, message: string) => {
    const text = steps(step);
    const r = parseScenario(text, 'bad.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('expected diagnostics');
    expect(r.diagnostics.map((d) => d.message)).toEqual([message]);
    const before = text.slice(0, text.indexOf(step) + step.indexOf(at)).split('\n');
    expect(r.diagnostics[0]).toMatchObject({ file: 'bad.mmio.yaml', line: before.length, col: before.at(-1)!.length + 1 });
  };
  it.each([
    ['  - { interrupt: { vector: 14, source: timer } }', '14', 'workload[0].interrupt.vector: must be between 32 and 255 (got 14)'],
    ['  - { interrupt: { vector: 0xef, source: nmi } }', 'nmi', 'workload[0].interrupt.source: expected one of timer, device, got nmi'],
    ['  - { hlt: { vector: 0xef, source: timer } }', '{ vector', 'workload[0].hlt: missing required key `wake_after`'],
    ['  - { interrupt: { vector: 0x29, source: device, tmict: { gva: 0x1000, count: 1 } } }', '{ gva', "workload[0].interrupt.tmict: `tmict` is the timer handler's write (lapic_next_event); a device interrupt does not reprogram the APIC timer"],
    ['  - { interrupt: { vector: 0x29, source: device, eoi: 0xffe } }', '0xffe', 'workload[0].interrupt.eoi: a 4-byte register write at page offset 0xffe crosses a 4K page boundary'],
    ['  - { write: 0xffffc90000000010, size: 4, value: 1, raise: 16 }', '16', 'workload[0].raise: must be between 32 and 255 (got 16)'],
    ['  - { interrupt: { vector: 0x29, source: device, wake_after: 1 } }', 'wake_after', 'workload[0].interrupt: unknown key `wake_after` (expected one of: vector, source, eoi, tmict, irqs_disabled)'],
  ])('%s', (step, at, message) => expectError(step, at, message));
});

describe('halt polling: as each era has it', () => {
  const TREES: Record<string, string> = { 'v3.0': '/work/ksrc/v3.0.1', 'v3.1': '/work/ksrc/v3.1' };
  it('neither 3.0.1 nor 3.1.10 polls: kvm_vcpu_block goes straight to schedule()', () => {
    for (const e of ERAS as readonly KernelEra[]) {
      const src = readFileSync(`${TREES[e.name]}/virt/kvm/kvm_main.c`, 'utf8');
      expect(src).not.toContain('halt_poll');
      expect(e.haltPolling).toBeNull();
      expect(src.split('\n')[e.haltSleep.line - 1]!.trim()).toBe(e.haltSleep.text);
    }
  });
});
