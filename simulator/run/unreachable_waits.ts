// A wait on a race point the run's kernel does not have could never end: the run would stop half-way
// with vCPUs asleep. A plain run refuses it before it starts, at the step that asks for it
// (GuestSetupError); Compare Kernels leaves such waits out, with a note (run/kernel_variants.ts).

import { ERAS, LOCKLESS_POINTS, cite, eraOf, type KernelEra, type KernelLine } from '../kvm/eras';
import { GuestSetupError } from '../guest/page_tables';
import type { Kernel, Scenario, SourcePos, Step } from '../scenario/types';

const LOCKLESS: ReadonlySet<string> = new Set(LOCKLESS_POINTS);

export interface LocklessWait {
  vcpu: number;
  what: 'wait_for' | 'resume_at';
  point: string;
  pos: SourcePos;
}

/** The first wait_for or resume_at on a point of the lockless shadow walk, in vCPU and step order. */
export function firstLocklessWait(sc: Scenario): LocklessWait | null {
  const visit = (steps: Step[], vcpu: number): LocklessWait | null => {
    for (const s of steps) {
      if (s.kind === 'repeat') {
        const inner = visit(s.steps, vcpu);
        if (inner) return inner;
        continue;
      }
      const point = s.kind === 'wait-for' ? s.point : s.kind === 'memslot-add' || s.kind === 'memslot-delete' ? s.resume_at?.point : undefined;
      if (point !== undefined && LOCKLESS.has(point)) return { vcpu, what: s.kind === 'wait-for' ? 'wait_for' : 'resume_at', point, pos: s.pos };
    }
    return null;
  };
  for (let i = 0; i < sc.vcpus.length; i++) {
    const w = visit(sc.vcpus[i]!.workload, i);
    if (w) return w;
  }
  return null;
}

/** The kernel whose lockless walk came first, and the line that defines it. */
function firstWithWalk(): { era: KernelEra; walk: KernelLine } {
  const era = (ERAS as readonly KernelEra[]).find((e) => e.locklessWalk !== null)!;
  return { era, walk: era.locklessWalk! };
}

/** Why `kernel` can never end a wait on `point` (plain text, with the kernel line). */
export function noLocklessWalk(kernel: Kernel, point: string): string {
  const { era, walk } = firstWithWalk();
  return `${kernel} (${eraOf(kernel).release}) has no lockless shadow walk, so a wait on ${point} could never end (the walk came with the 2011 MMIO series: ${cite(era, walk)} \`${walk.text}\`)`;
}

/** Throws at the first wait on a lockless-walk point, for a kernel without the walk. */
export function refuseLocklessWaits(sc: Scenario, kernel: Kernel): void {
  const w = firstLocklessWait(sc);
  if (w === null) return;
  throw new GuestSetupError(
    `vcpus[${w.vcpu}] ${w.what} point ${w.point}: ${noLocklessWalk(kernel, w.point)}; run it under ${firstWithWalk().era.name}, or with Compare Kernels, which leaves such waits out`,
    w.pos.line,
    w.pos.col,
  );
}
