// The points where KVM itself can race with another vCPU, and where the simulator's scheduler may
// therefore switch vCPUs (numbered in the order of RACE_POINTS in scenario/types.ts).

export const RACE_KVM_EXIT = 0; // after the VM exit, at vcpu_enter_guest's preempt_enable(), before srcu_read_lock
export const RACE_LOCKLESS_BEGIN = 1; // walk_shadow_page_lockless_begin() done
export const RACE_SPTE_LOAD = 2; // mmu_spte_get_lockless() just read the SPTE at a level
export const RACE_LOCKLESS_END = 3; // about to call walk_shadow_page_lockless_end()
export const RACE_MMU_LOCK = 4; // about to take mmu_lock
// A memslot update returned from synchronize_srcu_expedited (the new array is published and every
// reader that was inside has left); the rest of the update has not run. The updater stands between
// its phases, off the scheduler's stack.
export const RACE_SRCU_SYNCHRONIZED = 5;
