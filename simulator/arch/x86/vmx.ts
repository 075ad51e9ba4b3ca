// VMX exit reasons (codes: arch/x86/include/asm/vmx.h; names: vmx.c's vmx_exit_reasons_str) and exit-qualification bits.

export const EXIT_REASON_EXCEPTION_NMI = 0;
export const EXIT_REASON_EXTERNAL_INTERRUPT = 1;
export const EXIT_REASON_PENDING_INTERRUPT = 7;
export const EXIT_REASON_HLT = 12;
export const EXIT_REASON_INVLPG = 14;
export const EXIT_REASON_CR_ACCESS = 28;
export const EXIT_REASON_EPT_VIOLATION = 48;
export const EXIT_REASON_EPT_MISCONFIG = 49;

/**
 * The names `trace_kvm_exit` prints: `vmx_exit_reasons_str[]` (vmx.c, 3.0.1:4441 and 3.1.10, the same
 * 35 entries), built with `_ER(x) { EXIT_REASON_##x, #x }` from vmx.h's codes. A code the table lacks
 * (INVD, INVALID_STATE, XSETBV, ...) prints as `0x%lx`: ftrace_print_symbols_seq,
 * kernel/trace/trace_output.c (3.0.1:347-348).
 */
export const VMX_EXIT_REASONS: ReadonlyArray<readonly [number, string]> = [
  [0, 'EXCEPTION_NMI'], [1, 'EXTERNAL_INTERRUPT'], [2, 'TRIPLE_FAULT'], [7, 'PENDING_INTERRUPT'],
  [8, 'NMI_WINDOW'], [9, 'TASK_SWITCH'], [10, 'CPUID'], [12, 'HLT'], [14, 'INVLPG'], [15, 'RDPMC'],
  [16, 'RDTSC'], [18, 'VMCALL'], [19, 'VMCLEAR'], [20, 'VMLAUNCH'], [21, 'VMPTRLD'], [22, 'VMPTRST'],
  [23, 'VMREAD'], [24, 'VMRESUME'], [25, 'VMWRITE'], [26, 'VMOFF'], [27, 'VMON'], [28, 'CR_ACCESS'],
  [29, 'DR_ACCESS'], [30, 'IO_INSTRUCTION'], [31, 'MSR_READ'], [32, 'MSR_WRITE'],
  [36, 'MWAIT_INSTRUCTION'], [39, 'MONITOR_INSTRUCTION'], [40, 'PAUSE_INSTRUCTION'],
  [41, 'MCE_DURING_VMENTRY'], [43, 'TPR_BELOW_THRESHOLD'], [44, 'APIC_ACCESS'], [48, 'EPT_VIOLATION'],
  [49, 'EPT_MISCONFIG'], [54, 'WBINVD'],
];

const NAMES = new Map<number, string>(VMX_EXIT_REASONS);
export function exitReasonName(code: number): string {
  return NAMES.get(code) ?? '0x' + code.toString(16);
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
