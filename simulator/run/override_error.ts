// Overrides passed to runScenario by a program, refused by the rules a `compare:` variant of the file
// follows (simulator/scenario/compare.ts overrideProblems): a typed error, not a run with the setting
// silently changed or a crash deep in the machine.

import { overrideProblems } from '../scenario/compare';
import type { Scenario, ScenarioOverrides } from '../scenario/types';

export class OverrideError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid overrides: ${problems.join('; ')}`);
    this.name = 'OverrideError';
  }
}

/** Throws OverrideError unless `o` is valid for `sc`. */
export function checkOverrides(sc: Scenario, o: ScenarioOverrides): void {
  const problems = overrideProblems(sc, o);
  if (problems.length > 0) throw new OverrideError(problems);
}
