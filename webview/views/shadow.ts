// PLACEHOLDER: being written.
import type { PanelRun } from '../../shared/protocol';
import { h } from '../dom';
import type { View, ViewContext } from '../view';

export class ShadowView implements View {
  readonly id = 'shadow' as const;
  readonly title = 'Shadow tables';
  readonly icon = 'type-hierarchy';
  readonly root = h('div');
  constructor(readonly ctx: ViewContext) {}
  show(run: PanelRun): void {
    void run;
  }
}
