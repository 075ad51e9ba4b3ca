// kvm_mmu_get_page traces a new page last (3.0.1 and 3.1.10 mmu.c): `if (!direct) { if
// (rmap_write_protect(vcpu->kvm, gfn)) kvm_flush_remote_tlbs(vcpu->kvm); ... account_shadowed(vcpu->kvm,
// gfn); } ... trace_kvm_mmu_get_page(sp, true); return sp;`. So the flush that write-protecting the
// guest table needs comes before the "created" event.
import { describe, it, expect } from 'vitest';
import { machine } from './helpers/scenario';

const yaml = (kernel: string) => `kernel: ${kernel}
mmu: { tdp: false }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
guest:
  cpu: { cr0_wp: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 4K, flags: "p w a d" }
    - { gva: 0x8000000000, gpa: 0x2000000, size: 4K, page: 4K, flags: "p w a d", pde: "p w a", pdpte: "p w a", pml4e: "p w a" }
workload:
  - { compute: 1 }
`;

describe('kvm_mmu_get_page: the "created" trace comes after the write protection and its flush', () => {
  for (const kernel of ['v3.0', 'v3.1']) {
    it(kernel, () => {
      const m = machine(yaml(kernel));
      m.run();
      const kvm = m.kvm;
      const v = kvm.vcpus[0]!;
      const mmu = m.shadow!;
      const kw = (mmu as unknown as { walker: { walker: { pteGpa: number[] }; gvaToGpa: (vc: typeof v, vpn: number, off: number, pfec: number) => boolean } }).walker;
      const vpn = 0x8000000000 / 4096;
      kw.gvaToGpa(v, vpn, 0, 0);
      const gpt = Math.floor(kw.walker.pteGpa[1]! / 4096); // the guest's last-level table
      // Map the guest table writable through the 4K linear map (a write fault on it, not yet shadowed).
      expect(mmu.pageFault(v, 0xffff880000000000 / 4096 + gpt, 0, 2)).toBe(0);
      const before = kvm.trace.records().length;
      expect(mmu.pageFault(v, vpn, 0, 0)).toBe(0);
      const ev = kvm.trace.records().slice(before).map((e) => (e.name === 'kvm_mmu_get_page' ? `get ${e.fields.gfn === `0x${gpt.toString(16)}` ? 'gpt' : 'other'} ${e.fields.created}` : e.name));
      const created = ev.indexOf('get gpt true');
      const flush = ev.indexOf('kvm_flush_remote_tlbs');
      expect(created).toBeGreaterThan(-1);
      expect(flush).toBeGreaterThan(-1);
      expect(flush).toBeLessThan(created);
    });
  }
});
