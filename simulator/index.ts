// The simulator's public surface, for the CLI, the extension's worker, the webview and scripts.
export { parseScenario } from './scenario/parse';
export { runScenario, lookupPath, GuestSetupError } from './run/run';
export { formatRunText } from './report/text';
export type { RunResult } from './run/result';
export type { Scenario, ScenarioOverrides, Diagnostic } from './scenario/types';
