// The points where KVM itself can race with another vCPU, and where the simulator's scheduler may
// therefore switch vCPUs (numbered in the order of RACE_POINTS in scenario/types.ts).

export const RACE_KVM_EXIT = 0; // after the VM exit, before its handler runs
export const RACE_LOCKLESS_BEGIN = 1; // walk_shadow_page_lockless_begin() done
export const RACE_SPTE_LOAD = 2; // mmu_spte_get_lockless() just read the SPTE at a level
export const RACE_LOCKLESS_END = 3; // about to call walk_shadow_page_lockless_end()
export const RACE_MMU_LOCK = 4; // about to take mmu_lock
