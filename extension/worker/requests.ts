// The simulator's side of the worker protocol: one request in, one response out. Platform-neutral
// (it imports only the simulator), so the Node worker_threads entry (node_main.ts) and the Web
// Worker entry for VS Code for the Web (web_main.ts) share it.

import {
  GuestSetupError,
  KERNELS,
  VariantError,
  assemble,
  kernelVariants,
  parseScenario,
  runScenario,
  runVariant,
  variantsOf,
  type CompareResult,
  type Diagnostic,
  type RunResult,
  type Scenario,
  type ScenarioOverrides,
  type ShadowTables,
  type Variant,
} from '../../simulator/index';

/** The cost profile setting: the scenario's own `host.profile`, or one that replaces it. */
export type ProfileSetting = 'scenario' | 'westmere-2011' | 'modern';

/** What every request carries: the scenario text and the settings it is read and run with. */
export interface ScenarioSource {
  /** The document's URI (string form); echoed for the caller, not read. */
  uri: string;
  /** The file name used in diagnostics and as the default scenario name. */
  file: string;
  text: string;
  /** The kernel of a scenario without `kernel:`. */
  defaultKernel: 'v3.0' | 'v3.1';
  profile: ProfileSetting;
}

export type WorkerRequest =
  /** Run the scenario; keep the last `traceCapacity` trace events. */
  | ({ id: number; kind: 'run'; traceCapacity: number } & ScenarioSource)
  /** Run its `compare:` variants (the scenario alone when it has none); with `kernels`, the scenario
   *  under every modelled kernel in its own MMU mode instead (Compare Kernels). */
  | ({ id: number; kind: 'compare'; kernels?: boolean } & ScenarioSource)
  /** The shadow tables after workload step `step` (null: at the end of the run). */
  | ({ id: number; kind: 'tables'; step: number | null } & ScenarioSource)
  /** Parse only: the problems while typing and the Testing view's expectations. */
  | ({ id: number; kind: 'check' } & ScenarioSource);

/** An `expect:` entry as the Testing view shows it (1-based position of its key). */
export interface CheckedExpectation {
  path: string;
  text: string;
  line: number;
  col: number;
}

export type WorkerResponse =
  | { id: number; kind: 'result'; result: RunResult }
  | { id: number; kind: 'compare'; result: CompareResult }
  | { id: number; kind: 'tables'; step: number | null; tables: ShadowTables }
  /** The scenario cannot run: parse errors, or a VM that cannot be built (GuestSetupError). */
  | { id: number; kind: 'diagnostics'; diagnostics: Diagnostic[] }
  /** What a `check` found: the parse's problems (capped as the parser caps them) and, when the text
   *  parses, its expectations (null when it does not). Never the Scenario itself: the host needs no more. */
  | { id: number; kind: 'checked'; diagnostics: Diagnostic[]; expectations: CheckedExpectation[] | null }
  /** A bug: the simulator threw something it should not have. */
  | { id: number; kind: 'error'; message: string };

export function handleRequest(req: WorkerRequest): WorkerResponse {
  const { id } = req;
  try {
    const parsed = parseScenario(req.text, req.file, { defaultKernel: req.defaultKernel });
    if (req.kind === 'check') {
      if ('diagnostics' in parsed) return { id, kind: 'checked', diagnostics: parsed.diagnostics, expectations: null };
      const expectations = parsed.scenario.expect.map((e) => ({ path: e.path, text: e.text, line: e.pos.line, col: e.pos.col }));
      return { id, kind: 'checked', diagnostics: [], expectations };
    }
    if ('diagnostics' in parsed) return { id, kind: 'diagnostics', diagnostics: parsed.diagnostics };
    const sc = parsed.scenario;
    const overrides: ScenarioOverrides = req.profile === 'scenario' ? {} : { profile: req.profile };
    try {
      switch (req.kind) {
        case 'run':
          return { id, kind: 'result', result: runScenario(sc, { overrides, traceCapacity: req.traceCapacity, callPaths: true }) };
        case 'tables': {
          // The simulator is deterministic: running up to the step again gives the tables as they were then.
          const opts = req.step === null ? { overrides, traceCapacity: 0 } : { overrides, traceCapacity: 0, stopAfterStep: req.step };
          return { id, kind: 'tables', step: req.step, tables: runScenario(sc, opts).shadow_tables };
        }
        case 'compare':
          return compare(id, sc, req.profile, req.file, req.kernels === true);
      }
    } catch (e) {
      if (e instanceof GuestSetupError) return { id, kind: 'diagnostics', diagnostics: [setupDiagnostic(req.file, e)] };
      if (e instanceof VariantError) return { id, kind: 'diagnostics', diagnostics: [{ file: req.file, line: 1, col: 1, endLine: 1, endCol: 1, message: e.message }] };
      throw e;
    }
  } catch (e) {
    return { id, kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

/** A GuestSetupError has a position but no extent: the range is empty, and the editor widens it. */
export function setupDiagnostic(file: string, e: GuestSetupError, prefix = ''): Diagnostic {
  return { file, line: e.line, col: e.col, endLine: e.line, endCol: e.col, message: prefix + e.message };
}

/** Every variant in turn; a variant whose VM cannot be built is reported under its label (as the CLI does). */
function compare(id: number, sc: Scenario, profile: ProfileSetting, file: string, kernels: boolean): WorkerResponse {
  // The setting replaces the scenario's own host.profile; a variant's `host.profile` still wins.
  const base: Scenario = profile === 'scenario' ? sc : { ...sc, host: { ...sc.host, profile } };
  const variants: Variant[] = kernels ? kernelVariants(base, KERNELS, [base.mmu.tdp]) : variantsOf(base);
  const runs: RunResult[] = [];
  const problems: Diagnostic[] = [];
  for (const v of variants) {
    try {
      runs.push(runVariant(base, v.overrides, true)); // (the Flame view's differential mode)
    } catch (e) {
      if (!(e instanceof GuestSetupError)) throw e;
      problems.push(setupDiagnostic(file, e, `${v.label}: `));
    }
  }
  if (problems.length > 0) return { id, kind: 'diagnostics', diagnostics: problems };
  return { id, kind: 'compare', result: assemble(base, runs, variants) };
}
