// The messages between the extension host and the results panel, typed once for both sides (the
// way vscode-hexeditor keeps its shared/protocol.ts). The panel renders what it is sent; it never
// runs the simulator itself.

import type { CompareResult, RunResult, ShadowTables } from '../simulator/index';
import type { DocId } from './docs';

export type ViewId = 'summary' | 'shadow' | 'timeline' | 'memslots' | 'compare' | 'flame';
export const VIEW_IDS: readonly ViewId[] = ['summary', 'shadow', 'timeline', 'memslots', 'compare', 'flame'];

/** One run of a scenario as the panel shows it. */
export interface PanelRun {
  /** The scenario document's URI (string form), the key the host uses to re-run it. */
  uri: string;
  /** The file name shown to the user. */
  file: string;
  result: RunResult;
  /** The `compare:` variants, when the scenario has them and they were run. */
  compare: CompareResult | null;
}

/** What the panel keeps with getState/setState: enough to come back where the user was. */
export interface PanelState {
  uri: string | null;
  view: ViewId;
  /** The step whose shadow tables are shown (null: the end of the run). */
  step: number | null;
  /** The selected shadow page id, when one is. */
  page: number | null;
  timeline: TimelineFilter & { selectedSeq: number | null };
}

export interface TimelineFilter {
  /** A fault class, or '' for all. */
  cls: string;
  /** A vCPU id, or -1 for all. */
  vcpu: number;
  /** Text an event's address fields must contain (hex, case-insensitive), or ''. */
  address: string;
  /** Event names: words separated by spaces or commas; an event passes when its name contains one
   *  of them (case-insensitive), or '' for all. */
  name: string;
  /** Show the simulator's probes (events the kernel has no tracepoint for), or hide them. */
  probes: boolean;
}

export const INITIAL_STATE: PanelState = {
  uri: null,
  view: 'summary',
  step: null,
  page: null,
  timeline: { cls: '', vcpu: -1, address: '', name: '', probes: true, selectedSeq: null },
};

/** Host -> panel. */
export type HostMessage =
  /** A finished run: replaces whatever the panel showed. */
  | { type: 'run'; run: PanelRun }
  /** A run started (progress) or could not start (error text, e.g. "3 problems in doorbell.mmio.yaml"). */
  | { type: 'status'; state: 'running' | 'error' | 'idle'; text: string }
  /** The shadow tables after `step` (null: end of run), in answer to `requestTables`. */
  | { type: 'tables'; step: number | null; tables: ShadowTables }
  /** The editor's cursor is on this line of the scenario shown: highlight its events. */
  | { type: 'highlightLine'; line: number }
  /** Bring a view to the front ("Inspect Shadow Tables", "Compare Variants"). */
  | { type: 'showView'; view: ViewId };

/** Panel -> host. */
export type PanelMessage =
  /** The panel's script is running; `state` is what getState() held (null the first time). */
  | { type: 'ready'; state: PanelState | null }
  /** Select this line of the scenario in its editor (a timeline event was selected). */
  | { type: 'revealLine'; line: number }
  /** The shadow tables after `step` (null: end of run) are wanted. */
  | { type: 'requestTables'; step: number | null }
  /** Open the shadow tables after `step` as a read-only text document. */
  | { type: 'openTablesAsText'; step: number | null }
  /** Open VS Code's diff editor on the tables after two steps. */
  | { type: 'diffTables'; from: number | null; to: number | null }
  /** Put a table on the clipboard. */
  | { type: 'copy'; format: 'csv' | 'markdown'; text: string }
  /** Export the run's trace (the host asks where and in which format). */
  | { type: 'exportTrace' }
  /** Open a kernel function in its release source; the host opens only https URLs on the source
   *  hosts of shared/external_links.ts. */
  | { type: 'openExternal'; url: string }
  /** Open one of the reference documents shipped in the package (shared/docs.ts). */
  | { type: 'openDoc'; doc: DocId };
