// Reading a scenario file for a CLI command: its text parsed, or each problem printed as
// `file:line:col: error: message` (a file that cannot be read is one such line).

import { writeErr } from './terminal';
import { lineSafe } from '../util/control_chars';
import { readFileSync, statSync } from 'node:fs';
import { parseScenario } from '../scenario/parse';
import { fileSizeProblem } from '../scenario/file_size';
import type { Diagnostic, Scenario } from '../scenario/types';

/** One line per problem: the message quotes the file's keys and values, whose line breaks must not
 *  start a line of their own (an editor's problem matcher would read it as another problem). */
export function printDiagnostics(ds: Diagnostic[]): void {
  for (const d of ds) writeErr(`${lineSafe(d.file)}:${d.line}:${d.col}: error: ${lineSafe(d.message)}\n`);
}

/** The scenario in `file` with its text, or null after printing why not (the caller exits 2). */
export function readScenarioFile(file: string): { text: string; scenario: Scenario } | null {
  let text: string;
  try {
    // Judged before reading, so a huge file is never loaded.
    const tooBig = fileSizeProblem(statSync(file).size);
    if (tooBig !== null) {
      writeErr(`${file}:1:1: error: ${tooBig}\n`);
      return null;
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    writeErr(`${file}: cannot read: ${(e as Error).message}\n`);
    return null;
  }
  const parsed = parseScenario(text, file);
  if ('diagnostics' in parsed) {
    printDiagnostics(parsed.diagnostics);
    return null;
  }
  return { text, scenario: parsed.scenario };
}
