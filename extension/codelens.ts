// CodeLens at the top of a scenario: Run, Compare (when it has a top-level `compare:`), Compare
// Kernels (every scenario), Inspect.

import * as vscode from 'vscode';
import { hasTopLevelKey, isScenarioDocument } from './scenario_files';

export class ScenarioCodeLens implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isScenarioDocument(doc)) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lens = (title: string, command: string, tooltip: string) => new vscode.CodeLens(top, { title, command, tooltip, arguments: [doc.uri] });
    const lenses = [lens('$(play) Run', 'mmuLab.runScenario', 'Run this scenario and show the results')];
    if (hasTopLevelKey(doc.getText(), 'compare', doc.languageId)) {
      lenses.push(lens('$(git-compare) Compare', 'mmuLab.compareVariants', 'Run the compare: variants side by side'));
    }
    lenses.push(lens('$(versions) Compare Kernels', 'mmuLab.compareKernels', 'Run this scenario under each modelled kernel in its MMU mode, side by side'));
    lenses.push(lens('$(type-hierarchy) Inspect', 'mmuLab.inspectShadowTables', "Show KVM's shadow page tables of this scenario"));
    return lenses;
  }
}

/** Scenario documents are YAML or JSON (by their file name); the provider checks the name itself. */
export const SCENARIO_SELECTOR: vscode.DocumentSelector = [{ language: 'yaml' }, { language: 'json' }, { pattern: '**/*.mmio.{yaml,json}' }];
