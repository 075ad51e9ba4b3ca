// The shadow tables as plain text: the read-only document "Open as Text" shows (searchable, and
// diffable between two steps), one page per block, one entry per line.

import type { ShadowTables } from '../kvm/mmu/inspect';

export function formatShadowTablesText(t: ShadowTables): string {
  const when = t.afterStep === null ? 'at the end of the run' : t.afterStep < 0 ? 'before the first step' : `after step ${t.afterStep}`;
  const out = [`Shadow page tables (${t.mode === 'ept' ? 'EPT' : 'shadow paging'}, kernel ${t.kernel}), ${when}: ${t.pages.length} page(s)`, ''];
  for (const p of t.pages) {
    const tags = [p.direct ? 'direct' : 'indirect', p.invalid ? 'invalid' : '', p.rootOf.length ? `root of vCPU ${p.rootOf.join(', ')}` : ''].filter(Boolean).join(', ');
    out.push(`page ${p.id}  level ${p.level}  gfn ${p.gfn}  role ${p.role}  access ${p.access}${p.context ? `  ${p.context}` : ''}  (${tags})`);
    for (const e of p.entries) {
      const what = e.kind === 'leaf' ? `leaf pfn ${e.target} gfn ${e.gfn}` : e.kind === 'nonleaf' ? `-> ${e.target}` : e.kind === 'mmio' ? `MMIO gfn ${e.target}` : e.kind;
      out.push(`  [${String(e.index).padStart(3)}] ${e.value.padStart(18)}  ${what}${e.flags ? `  ${e.flags}` : ''}`);
    }
    out.push('');
  }
  return out.join('\n');
}
