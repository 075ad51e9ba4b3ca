// The panel's shell: a header naming the run, one tab per view, and the routing of host messages.

import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-header/index.js';
import '@vscode-elements/elements/dist/vscode-table-header-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-tree/index.js';
import '@vscode-elements/elements/dist/vscode-tree-item/index.js';

import { INITIAL_STATE, VIEW_IDS, type HostMessage, type PanelRun, type PanelState, type ViewId } from '../shared/protocol';
import { h, icon, replace } from './dom';
import { loadState, onHostMessage, post, saveState } from './host';
import type { View, ViewContext } from './view';
import { SummaryView } from './views/summary';
import { ShadowView } from './views/shadow';
import { TimelineView } from './views/timeline';
import { MemslotsView } from './views/memslots';
import { CompareView } from './views/compare';
import { FlameView } from './views/flame';

export class App implements ViewContext {
  readonly state: PanelState;
  private readonly views: View[];
  private readonly tabs: HTMLElement;
  private readonly heading = h('div', { class: 'run-heading', 'data-testid': 'run-heading' });
  private readonly status = h('div', { class: 'run-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'status' });

  constructor(private readonly root: HTMLElement) {
    const saved = loadState();
    this.state = { ...INITIAL_STATE, ...saved, timeline: { ...INITIAL_STATE.timeline, ...saved?.timeline } };
    this.views = [new SummaryView(this), new ShadowView(this), new TimelineView(this), new MemslotsView(this), new CompareView(this), new FlameView(this)];
    this.tabs = h('vscode-tabs', { panel: true, 'data-testid': 'tabs' });
    for (const v of this.views) {
      this.tabs.appendChild(h('vscode-tab-header', { slot: 'header', 'data-view-tab': v.id, title: v.title, 'aria-label': v.title }, icon(v.icon), h('span', { class: 'tab-title' }, ' ', v.title)));
      this.tabs.appendChild(h('vscode-tab-panel', { 'data-view': v.id }, v.root));
    }
    this.tabs.addEventListener('vsc-tabs-select', (e) => {
      const i = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
      this.state.view = this.views[i]?.id ?? 'summary';
      this.save();
    });
    const exportButton = h('vscode-button', { secondary: true, 'data-testid': 'export-trace', title: 'Export the trace (JSON, CSV or Chrome trace)' }, icon('export'), ' Export Trace');
    exportButton.addEventListener('click', () => post({ type: 'exportTrace' }));
    replace(root, h('header', { class: 'run-header' }, this.heading, this.status, exportButton), this.tabs, h('p', { class: 'placeholder', 'data-testid': 'placeholder' }, 'Run a scenario (MMU Lab: Run MMIO Scenario) to see its results here.'));
    this.root.classList.add('no-run');
    this.select(this.state.view);
    onHostMessage((m) => this.receive(m));
    post({ type: 'ready', state: saved });
  }

  save(): void {
    saveState(this.state);
  }

  select(view: ViewId): void {
    const i = Math.max(0, VIEW_IDS.indexOf(view));
    (this.tabs as HTMLElement & { selectedIndex: number }).selectedIndex = i;
    this.state.view = VIEW_IDS[i]!;
    this.save();
  }

  private receive(m: HostMessage): void {
    switch (m.type) {
      case 'run': {
        const sameScenario = this.state.uri === m.run.uri;
        this.state.uri = m.run.uri;
        if (!sameScenario) {
          this.state.step = null;
          this.state.page = null;
          this.state.timeline = { ...INITIAL_STATE.timeline };
        }
        this.root.classList.remove('no-run');
        this.renderHeading(m.run);
        for (const v of this.views) v.show(m.run);
        // The tab the panel remembers may have nothing for this run: Summary rather than an empty tab.
        // (A view the host asks for, e.g. Compare Variants, comes after the run, in `showView`.)
        if (this.views.find((v) => v.id === this.state.view)?.isEmpty?.(m.run)) this.select('summary');
        this.setStatus('idle', '');
        this.save();
        return;
      }
      case 'status':
        this.setStatus(m.state, m.text);
        return;
      case 'tables':
        for (const v of this.views) v.onTables?.(m.step, m.tables);
        return;
      case 'highlightLine':
        for (const v of this.views) v.onHighlightLine?.(m.line);
        return;
      case 'showView':
        this.select(m.view);
        return;
    }
  }

  private renderHeading(run: PanelRun): void {
    const r = run.result;
    const mode = r.tdp ? 'EPT' : r.bypass_guest_pf ? 'shadow paging (ept=0), bypass_guest_pf' : 'shadow paging (ept=0)';
    replace(
      this.heading,
      h('h2', { 'data-testid': 'scenario-name' }, r.name),
      h('span', { class: 'run-meta', 'data-testid': 'run-meta' }, `${run.file} · kernel ${r.kernel} · ${mode} · ${r.profile} · ${r.vcpus} vCPU${r.vcpus === 1 ? '' : 's'}`),
    );
  }

  private setStatus(state: 'running' | 'error' | 'idle', text: string): void {
    this.status.dataset.state = state;
    replace(this.status, state === 'running' ? h('vscode-progress-ring', { 'aria-label': 'Running' }) : state === 'error' ? icon('error') : null, text);
  }
}
