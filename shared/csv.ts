// One CSV field, for every CSV MMU Lab writes (the panel's Copy as CSV, the trace export): RFC 4180
// quoting, and no formula injection. A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`,
// tab or CR as a formula, and scenario text (labels, units, names) reaches these cells, so such a
// cell gets a leading `'` and quotes (OWASP's advice). A cell that is a number as a whole (`-1,999`,
// `-0.39 %`, `+2.25%`, `-1.5e-3`) keeps its sign: a spreadsheet reads it as the number it is, and a
// lone `-` (the panel's "none") is no formula either. See docs/decisions.md.

/** A whole cell that is a number: a sign, digits (commas between thousands), a fraction, an
 *  exponent, a percent sign; or just a dash. */
const NUMBER = /^(?:[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?(?: ?%)?|-)$/i;

/** The characters a spreadsheet takes as the start of a formula (or that smuggle one in). */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(s: string): string {
  if (FORMULA_START.test(s) && !NUMBER.test(s)) return `"'${s.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
