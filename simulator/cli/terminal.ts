// Everything the CLI prints goes through here: text from scenario files (names, labels, keys quoted
// in messages) must never reach the terminal raw. The reports escape the scenario strings they
// insert (util/control_chars.ts lineSafe); this escapes what is left, keeping the output's own
// newlines and tabs.

import { terminalSafe } from '../util/control_chars';

export function writeOut(text: string): void {
  process.stdout.write(terminalSafe(text));
}

export function writeErr(text: string): void {
  process.stderr.write(terminalSafe(text));
}
