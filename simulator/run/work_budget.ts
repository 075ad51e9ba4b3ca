// What a workload asks of the simulator, budgeted by what each step costs to simulate rather than by
// the number of steps, so that every accepted scenario finishes in bounded time (docs/limits.md).

import type { Step } from '../scenario/types';

/**
 * About how many microseconds one step of each kind takes to simulate on the 2-core machine the
 * project is tested on, rounded up from `node scripts/step_cost.mjs` (warm, the dearer of EPT and
 * shadow paging; docs/limits.md has the figures). A `repeat` costs its body.
 */
export const STEP_COST_US: Readonly<Record<Step['kind'], number>> = {
  read: 3,
  write: 8,
  fetch: 4,
  pte: 16,
  invlpg: 3,
  cr3: 3,
  compute: 1,
  repeat: 0,
  'memslot-add': 8,
  'memslot-delete': 8,
  set: 1,
  'wait-for': 1,
  // Guest OS steps: the primitive work they expand into (simulator/guest/linux.ts), from the costs
  // above; those that walk a range add PAGE_COST_US per page of it.
  touch: 60, // per page: the access, its fault, clear or copy (a load and a store), set_pte_at, the access again
  fork: 3, // flush_tlb_mm's CR3 write, plus per page of the vmas
  munmap: 3, // tlb_finish_mmu's CR3 write, plus per page unmapped
  exit: 3, // leave_mm's CR3 write, plus per page of the vmas
  exec: 3, // activate_mm's CR3 write, plus per page of the vmas
  'switch-mm': 3,
  vfork: 1, // a count in the model: nothing runs on the vCPU (a bound, not measured: docs/decisions.md)
  // With the handler's EOI write it compiles into (step_cost.mjs: 6.3 and 8.2 µs, loaded machine).
  interrupt: 10,
  hlt: 10,
};

/** Per page a guest OS step walks: a PTE load, and for fork two PTE stores (parent and child). */
export const PAGE_COST_US: Readonly<Partial<Record<Step['kind'], number>>> = { fork: 35, munmap: 19, exit: 19, exec: 19 };

/** At most this much simulation per run: five minutes at the costs above. */
export const MAX_WORK_US = 300e6;

/** The simulation time a list of steps asks for, in microseconds, repeats multiplied out.
 *  `vmaPages`: the pages of all vmas (guest.os), an upper bound on what fork, exit and exec walk. */
export function workOf(steps: readonly Step[], vmaPages = 0): number {
  let us = 0;
  for (const s of steps) us += s.kind === 'repeat' ? s.count * workOf(s.steps, vmaPages) : stepWork(s, vmaPages);
  return us;
}

function stepWork(s: Step, vmaPages: number): number {
  if (s.kind === 'touch') return STEP_COST_US.touch * s.pages; // a ranged touch is one touch per page
  const pages = s.kind === 'munmap' ? s.size / 4096 : vmaPages;
  return STEP_COST_US[s.kind] + (PAGE_COST_US[s.kind] ?? 0) * pages;
}

/** How many steps a list runs, repeats multiplied out (a ranged touch runs one per page). */
export function stepsOf(steps: readonly Step[]): number {
  let n = 0;
  for (const s of steps) n += s.kind === 'repeat' ? s.count * stepsOf(s.steps) : s.kind === 'touch' ? s.pages : 1;
  return n;
}

export class OverBudgetError extends Error {
  constructor(
    readonly workUs: number,
    readonly steps: number,
    readonly line: number,
    readonly col: number,
  ) {
    super(
      `the workload would take about ${fmtSeconds(workUs)} to simulate (this vCPU's ${steps.toExponential(2)} steps and any before it); ` +
        `the limit is ${fmtSeconds(MAX_WORK_US)} per run (docs/limits.md): lower the repeat counts`,
    );
  }
}

function fmtSeconds(us: number): string {
  return `${Math.ceil(us / 1e6).toLocaleString('en-US')} s`;
}

/**
 * Adds `steps` (one vCPU's workload) to `before` (the other vCPUs' work so far); throws at the
 * top-level step whose work takes the run past the budget. Returns the new total.
 */
export function addWork(before: number, steps: readonly Step[], vmaPages = 0): number {
  let total = before;
  for (const s of steps) {
    total += s.kind === 'repeat' ? s.count * workOf(s.steps, vmaPages) : stepWork(s, vmaPages);
    if (total > MAX_WORK_US) throw new OverBudgetError(before + workOf(steps, vmaPages), stepsOf(steps), s.pos.line, s.pos.col);
  }
  return total;
}
