// The modelled kernels: the one table a new kernel joins. For each, its release tree and the
// settings a scenario can give that the kernel has or lacks, each with the kernel line that says so
// (docs/kernel-paths.md §"Kernels and their settings"). `kernelVariants` (run/kernel_variants.ts)
// reads it to run a scenario under every kernel as that kernel would run it.

/** A line of a kernel tree: file, line number and its text. */
export interface KernelLine {
  file: string;
  line: number;
  text: string;
}

/** Settings of `mmu:` that are module parameters of some kernels. */
export type ModuleParam = 'bypass_guest_pf' | 'oos_shadow' | 'enable_vpid';
export const MODULE_PARAMS: readonly ModuleParam[] = ['bypass_guest_pf', 'oos_shadow', 'enable_vpid'];

/** Guest CR4 bits a scenario can set (guest.cpu). */
export type GuestCr4Bit = 'cr4_smep' | 'cr4_smap' | 'cr4_pke';
export const GUEST_CR4_BITS: readonly GuestCr4Bit[] = ['cr4_smep', 'cr4_smap', 'cr4_pke'];
/** The kernel's name of each bit (arch/x86/include/asm/processor-flags.h). */
export const CR4_BIT_NAMES: Record<GuestCr4Bit, string> = { cr4_smep: 'X86_CR4_SMEP', cr4_smap: 'X86_CR4_SMAP', cr4_pke: 'X86_CR4_PKE' };

export interface KernelEra {
  name: 'v3.0' | 'v3.1';
  /** The release the era is modelled on, and the tree it was read from. */
  release: string;
  tree: string;
  /** The module parameters it has, each with its definition; a missing one the kernel does not have. */
  params: Partial<Record<ModuleParam, KernelLine>>;
  /** Where the kernel zeroes bypass_guest_pf when EPT is on (vmx_init), if it has the parameter. */
  bypassOffWithEpt: KernelLine | null;
  /** The definition that removed a parameter the previous kernel had (why it is missing). */
  gone: Partial<Record<ModuleParam, string>>;
  /** Its MMIO SPTEs (what `mmu.mmio_caching` switches), by the mask that marks one; null: it has none. */
  mmioSpte: KernelLine | null;
  /** The guest CR4 bits its kvm_set_cr4 accepts, by the CR4_RESERVED_BITS line that lists them. */
  cr4: Partial<Record<GuestCr4Bit, KernelLine>>;
  /** CR4_RESERVED_BITS, whose allowed list (the lines after it) a CR4 bit must be in, and kvm_set_cr4's
   *  test of it (`if (cr4 & CR4_RESERVED_BITS) return 1;`), which refuses every other bit. */
  cr4Reserved: KernelLine;
  cr4Check: KernelLine;
  /** walk_shadow_page_lockless_begin, whose walk holds the race points LOCKLESS_POINTS; null: the
   *  kernel has no lockless walk, and a wait on one of them could never end. */
  locklessWalk: KernelLine | null;
  /** KVM_MAX_VCPUS: KVM_CREATE_VCPU refuses a VM more vCPUs than this. */
  maxVcpus: { line: KernelLine; count: number };
  /** Idle (kvm/x86/irq.ts): the schedule() in kvm_vcpu_block where a halted vCPU's thread sleeps, and
   *  the halt polling before it (halt_poll_ns); null: the kernel does not poll, every HLT that finds no
   *  interrupt goes straight to the scheduler. Neither modelled kernel polls: halt_poll_ns came later
   *  (docs/kernel-paths.md §23.5). */
  haltSleep: KernelLine;
  haltPolling: KernelLine | null;
}

/** The race points (scenario `wait_for` / `resume_at`) inside the lockless shadow walk. */
export const LOCKLESS_POINTS = ['walk_shadow_page_lockless_begin', 'mmu_spte_get_lockless', 'walk_shadow_page_lockless_end'] as const;

export const ERAS = [
  {
    name: 'v3.0',
    release: '3.0.1',
    tree: 'linux-3.0.1',
    params: {
      bypass_guest_pf: { file: 'arch/x86/kvm/vmx.c', line: 50, text: 'static int __read_mostly bypass_guest_pf = 1;' },
      oos_shadow: { file: 'arch/x86/kvm/mmu.c', line: 91, text: 'static int oos_shadow = 1;' },
      enable_vpid: { file: 'arch/x86/kvm/vmx.c', line: 53, text: 'static int __read_mostly enable_vpid = 1;' },
    },
    bypassOffWithEpt: { file: 'arch/x86/kvm/vmx.c', line: 4673, text: 'bypass_guest_pf = 0;' },
    gone: {},
    mmioSpte: null,
    cr4: {},
    cr4Reserved: { file: 'arch/x86/include/asm/kvm_host.h', line: 47, text: '#define CR4_RESERVED_BITS \\' },
    cr4Check: { file: 'arch/x86/kvm/x86.c', line: 603, text: 'if (cr4 & CR4_RESERVED_BITS)' },
    locklessWalk: null,
    maxVcpus: { line: { file: 'arch/x86/include/asm/kvm_host.h', line: 29, text: '#define KVM_MAX_VCPUS 64' }, count: 64 },
    haltSleep: { file: 'virt/kvm/kvm_main.c', line: 1480, text: 'schedule();' },
    haltPolling: null,
  },
  {
    name: 'v3.1',
    release: '3.1.10',
    tree: 'linux-3.1.10',
    params: {
      oos_shadow: { file: 'arch/x86/kvm/mmu.c', line: 90, text: 'static int oos_shadow = 1;' },
      enable_vpid: { file: 'arch/x86/kvm/vmx.c', line: 52, text: 'static int __read_mostly enable_vpid = 1;' },
    },
    bypassOffWithEpt: null,
    gone: { bypass_guest_pf: 'the 2011 MMIO series removed it from vmx.c' },
    mmioSpte: { file: 'arch/x86/kvm/mmu.c', line: 199, text: 'static u64 __read_mostly shadow_mmio_mask;' },
    cr4: {
      cr4_smep: { file: 'arch/x86/include/asm/kvm_host.h', line: 51, text: '| X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_RDWRGSFS \\' },
    },
    cr4Reserved: { file: 'arch/x86/include/asm/kvm_host.h', line: 47, text: '#define CR4_RESERVED_BITS \\' },
    cr4Check: { file: 'arch/x86/kvm/x86.c', line: 620, text: 'if (cr4 & CR4_RESERVED_BITS)' },
    locklessWalk: { file: 'arch/x86/kvm/mmu.c', line: 563, text: 'static void walk_shadow_page_lockless_begin(struct kvm_vcpu *vcpu)' },
    maxVcpus: { line: { file: 'arch/x86/include/asm/kvm_host.h', line: 29, text: '#define KVM_MAX_VCPUS 64' }, count: 64 },
    haltSleep: { file: 'virt/kvm/kvm_main.c', line: 1523, text: 'schedule();' },
    haltPolling: null,
  },
] as const satisfies readonly KernelEra[];

export type KernelName = (typeof ERAS)[number]['name'];

/** The era of a kernel name. */
export function eraOf(name: KernelName): KernelEra {
  return ERAS.find((e) => e.name === name)!;
}

/** `file:line` in the era's release, e.g. `3.0.1 vmx.c:50`. */
export function cite(era: KernelEra, l: KernelLine): string {
  return `${era.release} ${l.file.split('/').pop()}:${l.line}`;
}
