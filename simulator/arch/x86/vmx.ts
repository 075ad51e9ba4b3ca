// VMX exit reasons (arch/x86/include/asm/vmx.h, VMX_EXIT_REASONS) and exit-qualification bits.

export const EXIT_REASON_EXCEPTION_NMI = 0;
export const EXIT_REASON_INVLPG = 14;
export const EXIT_REASON_CR_ACCESS = 28;
export const EXIT_REASON_EPT_VIOLATION = 48;
export const EXIT_REASON_EPT_MISCONFIG = 49;

export const VMX_EXIT_REASONS: ReadonlyArray<readonly [number, string]> = [
  [0, 'EXCEPTION_NMI'], [1, 'EXTERNAL_INTERRUPT'], [2, 'TRIPLE_FAULT'], [7, 'PENDING_INTERRUPT'],
  [8, 'NMI_WINDOW'], [9, 'TASK_SWITCH'], [10, 'CPUID'], [12, 'HLT'], [13, 'INVD'], [14, 'INVLPG'],
  [15, 'RDPMC'], [16, 'RDTSC'], [18, 'VMCALL'], [28, 'CR_ACCESS'], [29, 'DR_ACCESS'],
  [30, 'IO_INSTRUCTION'], [31, 'MSR_READ'], [32, 'MSR_WRITE'], [33, 'INVALID_STATE'],
  [36, 'MWAIT_INSTRUCTION'], [39, 'MONITOR_INSTRUCTION'], [40, 'PAUSE_INSTRUCTION'],
  [41, 'MCE_DURING_VMENTRY'], [43, 'TPR_BELOW_THRESHOLD'], [44, 'APIC_ACCESS'], [45, 'EOI_INDUCED'],
  [48, 'EPT_VIOLATION'], [49, 'EPT_MISCONFIG'], [50, 'INVEPT'], [52, 'PREEMPTION_TIMER'],
  [54, 'WBINVD'], [55, 'XSETBV'], [56, 'APIC_WRITE'], [58, 'INVPCID'],
];

const NAMES = new Map<number, string>(VMX_EXIT_REASONS);
export function exitReasonName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_${code}`;
}

/** EPT-violation exit qualification [SDM]. */
export const EPT_QUAL_READ = 1 << 0;
export const EPT_QUAL_WRITE = 1 << 1;
export const EPT_QUAL_FETCH = 1 << 2;
export const EPT_QUAL_READABLE = 1 << 3;
export const EPT_QUAL_WRITABLE = 1 << 4;
export const EPT_QUAL_EXECUTABLE = 1 << 5;
export const EPT_QUAL_GLA_VALID = 1 << 7;
export const EPT_QUAL_GLA_FINAL = 1 << 8; // 1: access to the final translation; 0: to a guest paging structure

/**
 * Whether a guest #PF causes a VM exit [SDM "Other Causes of VM Exits"]: it does iff
 * ((PFEC & PFEC_MASK) == PFEC_MATCH) equals bit 14 of the exception bitmap. KVM sets bit 14 without
 * EPT; v3.0 with bypass_guest_pf sets MASK = MATCH = 1, so only faults with P = 1 exit.
 */
export function pageFaultExits(pfec: number, bitmap14: boolean, mask: number, match: number): boolean {
  return ((pfec & mask) === match) === bitmap14;
}
