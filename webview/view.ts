// What every view of the panel offers the shell (webview/app.ts).

import type { PanelRun, PanelState, ViewId } from '../shared/protocol';
import type { ShadowTables } from '../simulator/index';

export interface ViewContext {
  /** The panel's persisted state; change it, then call save(). */
  readonly state: PanelState;
  save(): void;
}

export interface View {
  readonly id: ViewId;
  readonly title: string;
  /** A codicon name. */
  readonly icon: string;
  /** The view's content, inside its tab panel. */
  readonly root: HTMLElement;
  /** Render a new run (the previous one is gone). */
  show(run: PanelRun): void;
  /** The view has nothing to show for this run (Compare without variants): the panel does not
   *  reopen on it. */
  isEmpty?(run: PanelRun): boolean;
  /** The shadow tables after a step arrived (answer to requestTables). */
  onTables?(step: number | null, tables: ShadowTables): void;
  /** The editor's cursor moved to this scenario line. */
  onHighlightLine?(line: number): void;
}
