// kvm_flush_remote_tlbs (virt/kvm/kvm_main.c, 3.0.1 and 3.1.10):
//   if (make_all_cpus_request(kvm, KVM_REQ_TLB_FLUSH)) ++kvm->stat.remote_tlb_flush;
// and make_all_cpus_request returns true only if it sent an IPI: to a vCPU with
// `cpu != -1 && cpu != me && kvm_vcpu_exiting_guest_mode(vcpu) != OUTSIDE_GUEST_MODE`.
// So a flush counts (and costs the IPI) only when another vCPU is in guest mode.
import { describe, it, expect } from 'vitest';
import { run } from './helpers/scenario';

const VM = `kernel: v3.1
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
`;
const ADD = '{ memslot: add, slot: 1, gpa: 0x10000000, size: 1M }';
const READS = `      - repeat: 10\n        steps:\n          - { read: 0xffff880000100000, size: 8 }`;

describe('remote TLB flushes count only when an IPI is sent', () => {
  it('one vCPU: the memslot commit and the zap flush, but nobody else is in guest mode', () => {
    const r = run(`${VM}workload:\n  - { read: 0xffff880000100000, size: 8 }\n  - ${ADD}\n`, { traceCapacity: 100_000 });
    // kvm_arch_commit_memory_region -> kvm_mmu_slot_remove_write_access -> kvm_flush_remote_tlbs,
    // then (3.1: a new base gfn) kvm_arch_flush_shadow -> kvm_mmu_zap_all -> kvm_mmu_commit_zap_page.
    expect(r.trace.events.filter((e) => e.name === 'kvm_flush_remote_tlbs').length).toBe(2);
    expect(r.stats.remote_tlb_flush).toBe(0);
    // No IPI charged: shadow_page cycles are the pages zapped (2,500) and created (1,500).
    expect(r.cycles.by_component.shadow_page).toBe(r.stats.mmu_shadow_zapped * 2500 + r.stats.mmu_cache_miss * 1500);
  });

  it('two vCPUs: the same two flushes IPI the vCPU that is running its guest', () => {
    const r = run(`${VM}vcpus:\n  - workload:\n${READS}\n  - workload:\n      - ${ADD}\n`, { traceCapacity: 100_000 });
    const byUpdater = r.trace.events.filter((e) => e.name === 'kvm_flush_remote_tlbs' && e.vcpu === 1).length;
    expect(byUpdater).toBe(2);
    expect(r.stats.remote_tlb_flush).toBe(2);
    // ... each at remote_tlb_flush's 8,800 cycles (westmere-2011), beside the zapped pages.
    expect(r.cycles.by_component.shadow_page).toBe(r.stats.mmu_shadow_zapped * 2500 + r.stats.mmu_cache_miss * 1500 + 2 * 8800);
  });
});
