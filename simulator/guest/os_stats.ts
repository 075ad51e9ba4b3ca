// The names of the guest kernel's counts (RunResult.guest_os): what `expect:` may name as
// guest_os.<name>, and the order the report lists them in.

export const GUEST_OS_STATS = [
  'anon_faults',
  'zero_page_faults',
  'file_faults',
  'file_copies',
  'cow_copies',
  'cow_reuses',
  'forks',
  'vforks',
  'exits',
  'execs',
  'munmaps',
  'context_switches',
  'tlb_flushes',
  'invlpgs',
  'tlb_shootdowns',
  'irq_tlb_count',
  'page_tables_allocated',
  'page_tables_freed',
  'pool_frames_used',
] as const;
export type GuestOsStat = (typeof GUEST_OS_STATS)[number];
