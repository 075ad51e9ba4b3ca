// The memslot array as the 3.x kernels keep it (struct kvm_memslots), and what searching it cost.

import { fmtInt } from '../../shared/format';
import type { PanelRun } from '../../shared/protocol';
import { fixed } from '../../simulator/report/text';
import type { RunResult } from '../../simulator/run/result';
import { h, replace } from '../dom';
import { dataTable } from '../table';
import type { View, ViewContext } from '../view';

const PAGE = 4096;

export class MemslotsView implements View {
  readonly id = 'memslots' as const;
  readonly title = 'Memslots';
  readonly icon = 'database';
  readonly root = h('div', { class: 'memslots-view' });

  constructor(readonly ctx: ViewContext) {}

  show(run: PanelRun): void {
    const r = run.result;
    replace(
      this.root,
      summary(r),
      dataTable({
        id: 'memslots',
        caption: 'Memslots (in slot order, as the search scans them)',
        columns: [{ title: 'slot', numeric: true }, { title: 'gpa' }, { title: 'size', numeric: true }, { title: 'npages', numeric: true, priority: 3 }, { title: 'private (VMX)', priority: 2 }],
        rows: [...r.memslot_table.slots]
          .sort((a, b) => a.slot - b.slot)
          .map((s) => [String(s.slot), s.gpa, humanSize(s.npages * PAGE), fmtInt(s.npages), s.private ? 'yes' : 'no']),
      }),
    );
  }
}

/** 4 KiB, 640 KiB, 255 MiB, 1.5 GiB: the largest binary unit that leaves at least 1. */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

function summary(r: RunResult): HTMLElement {
  const t = r.memslot_table;
  const lookups = r.stats['memslot_lookups'] ?? 0;
  const compares = r.stats['memslot_compares'] ?? 0;
  const misses = r.stats['memslot_misses'] ?? 0;
  const highest = t.slots.reduce((m, s) => Math.max(m, s.slot), -1);
  const item = (name: string, value: string, key: string) => h('div', { class: 'stat', 'data-stat': key }, h('dt', null, name), h('dd', null, value));
  return h(
    'section',
    { class: 'memslot-summary', 'data-testid': 'memslot-summary' },
    h(
      'dl',
      { class: 'stat-grid' },
      item('nmemslots', fmtInt(t.nmemslots), 'nmemslots'),
      item('generation', fmtInt(t.generation), 'generation'),
      item('memslot_lookups', fmtInt(lookups), 'memslot_lookups'),
      item('memslot_compares', fmtInt(compares), 'memslot_compares'),
      item('memslot_misses', fmtInt(misses), 'memslot_misses'),
      item('compares per lookup', lookups === 0 ? '-' : fixed(compares / lookups, 2), 'compares_per_lookup'),
    ),
    // docs/kernel-paths.md §3 and docs/decisions.md "Private memslots".
    h(
      'p',
      { class: 'note', 'data-testid': 'memslot-explanation' },
      `In v3.0 and v3.1, __gfn_to_memslot scans the array linearly from slot 0 to nmemslots − 1 and stops at the first slot that holds the gfn. ` +
        `nmemslots is the highest slot id in use + 1, VMX's private slots included${highest >= 0 ? ` (here the highest is slot ${highest})` : ''}, ` +
        `so a gfn that no slot holds, such as an MMIO address, compares all ${fmtInt(t.nmemslots)} entries.`,
    ),
  );
}
