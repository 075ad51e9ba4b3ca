// The text of an "Open as Text" tables document (tables_document.ts), kept apart from VS Code so it
// is unit-tested. The file name, the scenario's URI and the messages (which quote the scenario's
// keys and values) are scenario text: each goes through lineSafe, so none can forge a line of the
// document or carry raw control characters into what a user copies from it.

import { formatShadowTablesText, lineSafe } from '../simulator/index';
import type { Outcome } from './simulator_client';
import type { ScenarioSource } from './worker/requests';
import { stepText } from './tables_uri';

export function tablesDocumentText(
  file: string,
  scenario: string,
  step: number | null,
  source: Pick<ScenarioSource, 'defaultKernel' | 'profile'>,
  outcome: Outcome,
): string {
  const name = lineSafe(file);
  const header = [
    `MMU Lab · ${name} · shadow tables ${stepText(step)}`,
    `Scenario: ${lineSafe(scenario)} (default kernel ${source.defaultKernel}, cost profile: ${source.profile})`,
    '',
  ].join('\n');
  switch (outcome.kind) {
    case 'tables':
      return `${header}\n${formatShadowTablesText(outcome.tables)}`;
    case 'diagnostics':
      return `${header}\nThe scenario cannot run:\n${outcome.diagnostics.map((d) => `  ${name}:${d.line}:${d.col}: ${lineSafe(d.message)}`).join('\n')}\n`;
    case 'error':
      return `${header}\nThe simulator failed:\n${lineSafe(outcome.message)}\n`;
    default:
      return `${header}\n(cancelled)\n`;
  }
}

/** The document when the scenario cannot be read at all. */
export function unreadableText(file: string, message: string): string {
  return `${lineSafe(file)}: cannot read the scenario: ${lineSafe(message)}\n`;
}
