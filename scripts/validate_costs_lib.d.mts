// Types of scripts/validate_costs_lib.mjs, for test/cost-validation.test.ts.
import type { CostProfile, RunResult, Scenario, Diagnostic } from '../simulator/index';

/** The part of the simulator's public surface the generator uses. */
export interface ValidationSim {
  parseScenario(text: string, file: string): { scenario: Scenario } | { diagnostics: Diagnostic[] };
  runScenario(sc: Scenario, opts: object): RunResult;
  profileByName(name: 'westmere-2011' | 'modern'): CostProfile;
}
export interface ValidationCase {
  id: string;
  title: string;
  tdp: boolean;
  reason: string;
  workload: string;
}
export interface ValidationReference {
  case: string;
  profile: 'westmere-2011' | 'modern';
  kind: 'roundtrip' | 'handling';
  value: number | [number, number];
  what: string;
  source: string;
  independent: boolean;
}
export declare const BEGIN: string;
export declare const END: string;
export declare const PROFILE_NAMES: string[];
export declare const CASES: ValidationCase[];
export declare const REFERENCES: ValidationReference[];
export declare function measure(sim: ValidationSim): Record<string, Record<string, { min: number; transition: number; ghz: number }>>;
export declare function validationTable(sim: ValidationSim): string;
export declare function replaceTable(doc: string, table: string): string;
export declare function currentTable(doc: string): string;
