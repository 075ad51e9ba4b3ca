// PLACEHOLDER: being written.
import type { PanelRun } from '../../shared/protocol';
import { h } from '../dom';
import type { View, ViewContext } from '../view';

export class SummaryView implements View {
  readonly id = 'summary' as const;
  readonly title = 'summary';
  readonly icon = 'graph';
  readonly root = h('div');
  constructor(readonly ctx: ViewContext) {}
  show(run: PanelRun): void {
    void run;
  }
}
