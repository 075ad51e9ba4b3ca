// Real reports for the panel tests: the bundled examples run by the simulator, as the extension's
// worker would run them.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compareScenario, parseScenario, runScenario, type RunResult } from '../../simulator/index';
import type { PanelRun } from '../../shared/protocol';
import type { RunOptions } from '../../simulator/run/machine';

const ROOT = resolve(__dirname, '../..');

export function scenarioOf(text: string, file: string) {
  const p = parseScenario(text, file);
  if ('diagnostics' in p) throw new Error(p.diagnostics.map((d) => `${file}:${d.line}:${d.col}: ${d.message}`).join('\n'));
  return p.scenario;
}

export function exampleText(rel: string): string {
  return readFileSync(resolve(ROOT, rel), 'utf8');
}

/** Run a scenario's text as the panel's worker does (call paths on); `withCompare` also runs its `compare:` variants. */
export function panelRun(text: string, file: string, opts: RunOptions = {}, withCompare = false): PanelRun {
  const sc = scenarioOf(text, file);
  const result: RunResult = runScenario(sc, { traceCapacity: 100_000, callPaths: true, ...opts });
  return { uri: `file:///workspace/${file}`, file, result, compare: withCompare ? compareScenario(sc, undefined, true) : null };
}

export function examplePanelRun(rel: string, opts: RunOptions = {}, withCompare = false): PanelRun {
  return panelRun(exampleText(rel), rel, opts, withCompare);
}
