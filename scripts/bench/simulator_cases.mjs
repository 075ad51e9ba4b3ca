// The simulator's rows: scenarios run in this process through dist/sim.mjs (parseScenario,
// runScenario). Each case is a scenario whose workload does `ops` operations of one kind; the VM's
// setup is timed apart (the same scenario stopped after its first step) and taken off, so a row is
// the cost of the operation itself.

const header = (kernel, tdp, extra = '') => `
kernel: ${kernel}
mmu: { tdp: ${tdp} }
memslots:
  - { slot: 0, gpa: 0x0, size: 64M }
devices:
  - { name: nic, gpa: 0xfebf0000, size: 8K, handler: kernel }
guest:
  cpu: { cr0_wp: true, efer_nx: true }
  mappings:
    - { gva: 0xffff880000000000, gpa: 0x0, size: 64M, page: 2M, flags: "p w a d nx" }
    - { gva: 0xffffc90000000000, gpa: 0xfebf0000, size: 8K, flags: "p w a d pcd nx" }
${extra}`;

const RAM_READ = '      - { read: 0xffff880000100000, size: 8 }';
const MMIO_WRITE = '      - { write: 0xffffc90000000000, size: 4, value: 1 }';
// Two MMIO pages alternating: in v3.1 the per-vCPU MMIO cache holds one gva, so each access misses
// it and takes the lockless walk of the MMIO SPTE (fault class mmio-fast).
const MMIO_ALTERNATE = `${MMIO_WRITE}\n      - { write: 0xffffc90000001000, size: 4, value: 1 }`;

const loop = (ops, perIteration, steps) => `workload:\n  - repeat: ${ops / perIteration}\n    steps:\n${steps}\n`;

/** `ops` reads, each of a page not touched before (a 4K stride through the 2 MB direct map). */
function coldReads(ops) {
  let s = 'workload:\n';
  for (let i = 0; i < ops; i++) s += `  - { read: 0x${(0xffff880000000000n + BigInt(i) * 4096n).toString(16)}, size: 8 }\n`;
  return s;
}

const mode = (tdp) => (tdp ? 'EPT' : 'shadow');

// The TLB-miss rows read more 4K pages, in turn, than the westmere-2011 profile's TLB can hold
// (docs/cost-model.md "The TLB", Nehalem: 64 + 512 4K entries, 16 and 128 sets of 4 ways): 1024 pages
// put 8 on each set of either level, so with LRU every read misses both and walks. Mapped with 4K
// guest pages, so that neither the guest's nor EPT's page size makes an entry cover more than one.
const MISS_PAGES = 1024;
const MISS_GVA = 0xffff888000000000n;
const MISS_MAPPING = `    - { gva: 0x${MISS_GVA.toString(16)}, gpa: 0x1000000, size: 4M, page: 4K, flags: "p w a d nx" }\n`;
const missReads = (indent) => {
  let s = '';
  for (let i = 0; i < MISS_PAGES; i++) s += `${indent}- { read: 0x${(MISS_GVA + BigInt(i) * 4096n).toString(16)}, size: 8 }\n`;
  return s;
};

/**
 * The cases, for the operation counts `n` ({ ram, mmio, cold, memslot }). Each: id (stable, for the
 * JSON and docs/performance.md), label, group, baseline (the id of the row its ratio is taken to),
 * ops, text (the scenario), options (RunOptions); baselineOptions when the baseline is this scenario
 * with other options; warmSteps when the first steps prepare the operation and belong to the setup. The baseline runs alongside the case round by round (bench.mjs).
 */
export function simulatorCases(n) {
  const cases = [];
  for (const tdp of [true, false]) {
    // After the first read, every read hits the vCPU's TLB.
    cases.push({
      id: `ram/${mode(tdp).toLowerCase()}/tlb-hit`,
      group: 'Non-exiting guest accesses',
      label: `RAM read, ${mode(tdp)}, TLB hit (one page read again and again)`,
      baseline: tdp ? 'bare/walk-2d' : 'bare/walk-1d',
      ops: n.ram,
      text: header('v3.1', tdp) + loop(n.ram, 1, RAM_READ),
    });
  }
  for (const tdp of [true, false]) {
    // Reads of MISS_PAGES pages in turn, faulted in by a first pass (warmSteps: taken off with the setup).
    const ops = MISS_PAGES * Math.max(1, Math.round(n.ram / MISS_PAGES));
    cases.push({
      id: `ram/${mode(tdp).toLowerCase()}/tlb-miss`,
      group: 'Non-exiting guest accesses',
      label: `RAM read, ${mode(tdp)}, TLB miss (${MISS_PAGES} 4K pages read in turn, already faulted in: each read walks)`,
      baseline: tdp ? 'bare/walk-2d' : 'bare/walk-1d',
      ops,
      warmSteps: MISS_PAGES,
      text: header('v3.1', tdp, MISS_MAPPING) + `workload:\n${missReads('  ')}  - repeat: ${ops / MISS_PAGES}\n    steps:\n${missReads('      ')}`,
    });
  }
  const mmio = [
    ['v3.0', true, 'mmio/v3.0/ept', 'v3.0 MMIO write, EPT (EPT violation, full path)', MMIO_WRITE, 1],
    ['v3.0', false, 'mmio/v3.0/shadow', 'v3.0 MMIO write, shadow (page fault, full path)', MMIO_WRITE, 1],
    ['v3.1', true, 'mmio/v3.1/ept/cache-hit', 'v3.1 MMIO write, EPT, MMIO cache hit', MMIO_WRITE, 1],
    ['v3.1', true, 'mmio/v3.1/ept/lockless', 'v3.1 MMIO write, EPT, lockless walk', MMIO_ALTERNATE, 2],
    ['v3.1', false, 'mmio/v3.1/shadow/cache-hit', 'v3.1 MMIO write, shadow, MMIO cache hit', MMIO_WRITE, 1],
    ['v3.1', false, 'mmio/v3.1/shadow/lockless', 'v3.1 MMIO write, shadow, lockless walk', MMIO_ALTERNATE, 2],
  ];
  for (const [kernel, tdp, id, label, steps, per] of mmio) {
    cases.push({
      id, label, group: 'Warm MMIO exits', baseline: tdp ? 'bare/walk-2d' : 'bare/walk-1d', ops: n.mmio,
      text: header(kernel, tdp) + loop(n.mmio, per, steps),
    });
  }
  for (const tdp of [true, false]) {
    cases.push({
      id: `cold/${mode(tdp).toLowerCase()}`,
      group: 'Cold faults',
      label: `first touch of a new 4K page, ${mode(tdp)} (v3.1)`,
      baseline: tdp ? 'bare/walk-2d' : 'bare/walk-1d',
      ops: n.cold,
      text: header('v3.1', tdp) + coldReads(n.cold),
    });
  }
  // An MMIO access in v3.0 searches the memslots in vain (docs/kernel-paths.md §11). The simulated
  // kernels have 32 user slots (KVM_MEMORY_SLOTS), so 128 and 509 exist only as bare scans.
  for (const slots of [1, 8, 32]) {
    cases.push({
      id: `memslots/${slots}`,
      group: 'Memslot lookup',
      label: `v3.0 MMIO write, EPT, ${slots} user memslot${slots > 1 ? 's' : ''} (a search that misses)`,
      baseline: `bare/memslot-scan-${slots}`,
      ops: n.memslot,
      text: header('v3.0', true) + loop(n.memslot, 1, MMIO_WRITE),
      options: { overrides: { memslot_count: slots } },
    });
  }
  // What RunOptions.callPaths (the flame graph's attribution) costs when a run asks for it.
  cases.push({
    id: 'call-paths/mmio/v3.1/ept/cache-hit',
    group: 'Call-path attribution',
    label: 'v3.1 MMIO write, EPT, cache hit, with call paths',
    baseline: 'mmio/v3.1/ept/cache-hit',
    ops: n.mmio,
    text: header('v3.1', true) + loop(n.mmio, 1, MMIO_WRITE),
    options: { callPaths: true },
    baselineOptions: {},
  });
  cases.push({
    id: 'call-paths/ram/ept',
    group: 'Call-path attribution',
    label: 'RAM read, EPT, with call paths',
    baseline: 'ram/ept/tlb-hit',
    ops: n.ram,
    text: header('v3.1', true) + loop(n.ram, 1, RAM_READ),
    options: { callPaths: true },
    baselineOptions: {},
  });
  return cases;
}

/** Slot counts that the simulated kernels cannot have; the suite reports them without a figure. */
export const MEMSLOTS_NOT_MODELLED = [128, 509];
