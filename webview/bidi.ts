// Unicode bidirectional controls in scenario text (names, labels, units, device names) reorder the
// text after them: a unit with U+202E (RIGHT-TO-LEFT OVERRIDE) turns the Compare chart's
// `(-0.57 %, worse)` into `(% 0.57-)`, and a label can make a number read backwards. The panel shows
// each control as its code point instead (`⟨U+202E⟩`): nothing it displays can be reordered by the
// scenario, and a reader sees that the text holds one. panel.css also isolates (`unicode-bidi:
// isolate`) the elements that hold scenario text, so right-to-left letters keep to their own.

/** The explicit directional formatting characters (UAX #9 §2): embeddings and overrides
 *  (U+202A-U+202E), isolates (U+2066-U+2069), the marks LRM, RLM and ALM. */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

export function showBidiControls(s: string): string {
  return s.replace(BIDI_CONTROL, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`);
}
