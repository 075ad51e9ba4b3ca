// PLACEHOLDER: being written.
import type { PanelRun } from '../../shared/protocol';
import { h } from '../dom';
import type { View, ViewContext } from '../view';

export class MemslotsView implements View {
  readonly id = 'memslots' as const;
  readonly title = 'memslots';
  readonly icon = 'database';
  readonly root = h('div');
  constructor(readonly ctx: ViewContext) {}
  show(run: PanelRun): void {
    void run;
  }
}
