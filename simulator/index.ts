// The simulator's public surface, for the CLI, the extension's worker, the webview and scripts.
export { parseScenario } from './scenario/parse';
export type { ParseOptions } from './scenario/parse';
export { runScenario, lookupPath, GuestSetupError } from './run/run';
export { formatRunText } from './report/text';
export type { RunResult, LineStats, TraceEventRecord, ExitStats, FaultClassStats, ExpectResult, FlameGraph, FlameNode, RunFlame } from './run/result';
export { foldedStacks } from './cost/flame';
export { kernelSourceUrl } from './kvm/kernel_functions';
export type { Scenario, ScenarioOverrides, Diagnostic } from './scenario/types';
export { compareScenario, assemble, variantsOf, runVariant, metricValue } from './run/compare';
export type { CompareResult, VariantResult } from './run/compare';
export { formatCompareText } from './report/compare_text';
export { formatShadowTablesText } from './report/shadow_text';
export type { ShadowTables, ShadowPageRecord, SpteRecord, SpteKind } from './kvm/mmu/inspect';
export type { SpteField } from './kvm/mmu/spte';
export { spteFields } from './kvm/mmu/spte';
