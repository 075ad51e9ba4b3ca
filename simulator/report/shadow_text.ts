// The shadow tables as plain text: the read-only document "Open as Text" shows (searchable, and
// diffable between two steps), one page per block, one entry per line (runs of one non-present
// value, such as v3.0's notrap entries, on one line: spte_runs.ts).

import type { ShadowTables, SpteRecord } from '../kvm/mmu/inspect';
import { roleText } from '../kvm/mmu/page_role';
import { runIndexText, spteRuns } from './spte_runs';

function what(e: SpteRecord): string {
  switch (e.kind) {
    case 'leaf':
      return `leaf pfn ${e.target} gfn ${e.gfn}`;
    case 'nonleaf':
      return `-> ${e.target}`;
    case 'mmio':
      return `MMIO gfn ${e.target}`;
    case 'trap':
      return 'trap (#PF exits to KVM)';
    case 'notrap':
      return 'notrap (#PF goes to the guest, no exit)';
    case 'nonpresent':
      return 'nonpresent';
  }
}

export function formatShadowTablesText(t: ShadowTables): string {
  const when = t.afterStep === null ? 'at the end of the run' : t.afterStep < 0 ? 'before the first step' : `after step ${t.afterStep}`;
  const out = [`Shadow page tables (${t.mode === 'ept' ? 'EPT' : 'shadow paging'}, kernel ${t.kernel}), ${when}: ${t.pages.length} page(s)`, ''];
  for (const p of t.pages) {
    const tags = [p.direct ? 'direct' : 'indirect', p.invalid ? 'invalid' : '', p.rootOf.length ? `root of vCPU ${p.rootOf.join(', ')}` : ''].filter(Boolean).join(', ');
    out.push(`page ${p.id}  level ${p.level}  gfn ${p.gfn}  role ${roleText(p.roleFields)} (${p.role})  (${tags})`);
    for (const r of spteRuns(p.entries)) {
      const e = r.entry;
      const n = r.last - r.first + 1;
      out.push(`  [${runIndexText(r).padStart(3)}] ${e.value.padStart(18)}  ${what(e)}${e.flags ? `  ${e.flags}` : ''}${n > 1 ? `  (${n} entries)` : ''}`);
    }
    out.push('');
  }
  return out.join('\n');
}
