// Scenario text (names, labels, units, expectation paths, file names) in the simulator's text
// outputs: control characters and Unicode bidi controls are shown as visible escapes, never
// written raw. A raw ESC or C1 CSI drives a terminal, CR overwrites a line, LF or a line separator
// forges a line that a reader or a script (perf/trace-cmd tooling, grep) takes as real, and a bidi
// override reorders what the reader sees. Notation: `\xNN` up to U+00FF, `\uNNNN` above (as in JS
// and C). A backslash itself stays as it is, so the text stays readable (docs/decisions.md).

/** Everything escaped: C0 (with LF, CR, TAB), DEL, C1, the line and paragraph separators, and the
 *  bidi marks, embeddings, overrides and isolates. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The same set without LF and TAB: for text whose own lines and columns are meant (the CLI's output). */
const CONTROL_CHARS_BUT_LF_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
}

/** A scenario string made safe for one field of one line of text: every control character escaped. */
export function lineSafe(text: string): string {
  return text.replace(CONTROL_CHARS, escape);
}

/** Text made safe for a terminal, keeping its line breaks and tabs (the CLI's whole output, whose
 *  scenario strings lineSafe has already escaped). */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL_CHARS_BUT_LF_TAB, escape);
}

/** JSON text (JSON.stringify's) with every such character written as a JSON `\uNNNN` escape:
 *  JSON.stringify leaves DEL, C1, U+2028/9 and the bidi controls raw, and terminalSafe's `\x9b`
 *  would make the JSON invalid. Outside strings JSON text is ASCII without controls, so this only
 *  touches strings, which parse back to exactly what they were. */
export function jsonSafe(json: string): string {
  return json.replace(CONTROL_CHARS, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
