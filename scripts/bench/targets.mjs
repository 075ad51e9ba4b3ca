// Issue 15's targets, each checked against the suite's figures. Where one is missed, `why` says where
// the time goes as the profiles found it: issue 15's, and those since in docs/limits.md (the suite
// times, it does not profile).

const M = 1e6;
const fmtRate = (x) => `${(x / M).toFixed(2)} M/s`;

export function evaluateTargets(result) {
  const row = (id) => result.rows.find((r) => r.id === id);
  const rates = (ids) => ids.map((id) => `${id} ${fmtRate(row(id).opsPerSecond)}`).join('; ');
  const allAtLeast = (ids, min) => ids.every((id) => row(id).opsPerSecond >= min);
  const ram = ['ram/ept/tlb-hit', 'ram/shadow/tlb-hit'];
  const mmio31 = ['mmio/v3.1/ept/cache-hit', 'mmio/v3.1/ept/lockless', 'mmio/v3.1/shadow/cache-hit', 'mmio/v3.1/shadow/lockless'];
  const cold = ['cold/ept', 'cold/shadow'];
  const np = result.netperf;
  const mem = result.memory;
  return [
    {
      target: 'Non-exiting guest accesses >= 20 M/s (EPT and shadow)',
      figure: rates(ram),
      met: allAtLeast(ram, 20 * M),
      why: 'a hit still runs as one workload step with all of a step\'s bookkeeping (program dispatch, loop counters, per-line and per-label figures, the charge, the access log\'s sequence number); the compiled loop (Machine.hitRun) only leaves out the TLB lookup, the dispatch through the CPU model and the counters\' per-access updates (docs/limits.md "The compiled TLB-hit loop")',
    },
    {
      target: 'A TLB-miss access within 3x of the bare 2D walk',
      figure: `ram/ept/tlb-miss ${row('ram/ept/tlb-miss').ratio.toFixed(2)}x bare/walk-2d`,
      met: row('ram/ept/tlb-miss').ratio <= 3,
      why: 'a miss runs the whole general access path: the workload step, the lookup that misses, the guest walk with an EPT walk per level, the insert into both TLB levels; in a profile the EPT walk is 14 %, the guest walk 10 %, the lookup 8 %, the insert 7 % (docs/limits.md "The compiled TLB-hit loop")',
    },
    {
      target: 'Warm v3.1 MMIO exits >= 3 M/s simulated',
      figure: rates(mmio31),
      met: allAtLeast(mmio31, 3 * M),
      why: 'no page walk is left on a warm exit (KVM\'s walks are replayed, the CPU\'s failing walk and the TLB\'s repeated miss remembered); what is left is the exit\'s own work, made one by one: about 13 trace events (10-13 % of an exit), 15 charges and 30 counter updates, the emulator (about 15 %), the exit and its handlers (about 15 %), the run loop (about 9 %), GC (6 %). Replaying a whole warm exit as one template (counter deltas, charge sums, an event template) is the next lever, not built (docs/limits.md "Memoized walks")',
    },
    {
      target: 'Cold faults >= 1 M/s',
      figure: rates(cold),
      met: allAtLeast(cold, 1 * M),
      why: 'with host memory growing once (no copies), a third of the run loop is KVM\'s fault path (tdp_page_fault, __direct_map), a fifth the first touch of each new frame (the OS maps the page), and GC (an arena allocation costs one; docs/limits.md "Trace record and host memory")',
    },
    {
      target: '1 M netperf transactions under 5 s through the CLI',
      figure: `${np.transactions.toLocaleString('en-US')} transactions in ${(np.wallMs / 1000).toFixed(2)} s (${Math.round(np.transactionsPerSecond).toLocaleString('en-US')} transactions/s)`,
      // Only a run of the full million counts: the quick mode's short run says nothing of it.
      met: np.transactions >= 1_000_000 && np.wallMs < 5000,
      why: 'each transaction is 16 warm MMIO exits (12 to userspace, 4 to the in-kernel APIC): the warm MMIO exit rate above bounds it (5 s would need over 3 M exits/s)',
    },
    {
      target: 'Memory flat in run length (RSS at 10 M steps within 10 % of 100 k)',
      figure: `peak RSS ${mib(mem.long.maxRSS)} at ${mem.long.steps.toLocaleString('en-US')} steps, ${mib(mem.short.maxRSS)} at ${mem.short.steps.toLocaleString('en-US')} (${((mem.ratio - 1) * 100).toFixed(1)} %)`,
      met: mem.long.steps >= 10_000_000 && mem.short.steps <= 100_000 && mem.ratio <= 1.1,
      why: 'not profiled: issue 15 names no cause',
    },
  ];
}

export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
