// PLACEHOLDER: being written.
import type { PanelRun } from '../../shared/protocol';
import { h } from '../dom';
import type { View, ViewContext } from '../view';

export class CompareView implements View {
  readonly id = 'compare' as const;
  readonly title = 'compare';
  readonly icon = 'git-compare';
  readonly root = h('div');
  constructor(readonly ctx: ViewContext) {}
  show(run: PanelRun): void {
    void run;
  }
}
