// PLACEHOLDER: being written.
import type { PanelRun } from '../../shared/protocol';
import { h } from '../dom';
import type { View, ViewContext } from '../view';

export class TimelineView implements View {
  readonly id = 'timeline' as const;
  readonly title = 'timeline';
  readonly icon = 'history';
  readonly root = h('div');
  constructor(readonly ctx: ViewContext) {}
  show(run: PanelRun): void {
    void run;
  }
}
