// The details pane of the timeline: every field of the selected event, its vCPU, time, line, fault
// class and, for an event inside an exit, that exit's span. Laid out as name/value pairs that wrap
// (values break anywhere), so nothing needs a horizontal scrollbar at any panel width.

import type { TraceEventRecord } from '../simulator/index';
import { decodeRole, roleText } from '../simulator/kvm/mmu/page_role';
import type { Kernel } from '../simulator/scenario/types';
import { h, replace } from './dom';
import { isProbe, racePointName } from './lanes';

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** The exit an event belongs to, when it is inside one: its kvm_exit and kvm_entry cycles. */
export interface ExitSpan {
  start: number;
  end: number;
  /** The kvm_entry closing it was seen (false: the trace or the filters end it early). */
  closed: boolean;
}

export class EventDetails {
  readonly element = h('section', { class: 'tl-details', 'data-testid': 'event-details', 'aria-label': 'Selected event', 'aria-live': 'polite' });
  /** The run's kernel: the layout a shadow page's role word is decoded in. */
  kernel: Kernel = 'v3.1';

  constructor() {
    this.show(null, null);
  }

  show(e: TraceEventRecord | null, exit: ExitSpan | null): void {
    if (!e) {
      replace(this.element, h('p', { class: 'empty' }, 'Select an event (click a lane or a row, or use the arrow keys) to see all its fields.'));
      delete this.element.dataset.seq;
      return;
    }
    this.element.dataset.seq = String(e.seq);
    const probe = isProbe(e.name);
    const rows: [string, string, string?][] = [
      ['vCPU', String(e.vcpu)],
      ['time', `${INT.format(e.cycles)} cycles`],
      ['line', e.line > 0 ? String(e.line) : '—'],
      ['class', e.class ?? '—'],
      ['step', e.step < 0 ? 'setup' : String(e.step)],
      ['seq', String(e.seq)],
    ];
    if (exit) rows.push(['exit', `${INT.format(exit.start)} → ${INT.format(exit.end)} (${INT.format(exit.end - exit.start)} cycles${exit.closed ? '' : ', no kvm_entry shown'})`]);
    const fieldRows: HTMLElement[] = [];
    for (const k in e.fields) {
      const v = e.fields[k]!;
      let text = String(v);
      if (e.name === 'vcpu_switch' && k === 'point') {
        const name = racePointName(v);
        if (name) text += ` (${name})`;
      }
      // The kvm_mmu_* page events carry the role word; KVM_MMU_PAGE_PRINTK prints it decoded too.
      if (k === 'role' && e.name.startsWith('kvm_mmu_')) text += ` (${roleText(decodeRole(Number(v), this.kernel))})`;
      fieldRows.push(h('dt', { 'data-field': k }, k), h('dd', { 'data-field': k }, text));
    }
    replace(
      this.element,
      h(
        'h3',
        { class: 'tl-details-title' },
        h('span', { class: 'tl-details-name', 'data-testid': 'details-name' }, e.name),
        ' ',
        h('span', { class: probe ? 'tl-badge probe' : 'tl-badge tracepoint', 'data-testid': 'details-kind' }, probe ? 'probe' : 'tracepoint'),
      ),
      h('dl', { class: 'tl-details-list' }, ...rows.flatMap(([k, v]) => [h('dt', { 'data-key': k }, k), h('dd', { 'data-key': k }, v)]), ...fieldRows),
      e.fields && Object.keys(e.fields).length === 0 ? h('p', { class: 'empty tl-details-nofields' }, 'No fields.') : null,
    );
  }
}
