// YAML 1.2 allows only printable characters in a stream (spec production c-printable): tab, LF,
// CR and the rest of Unicode less the C0 and C1 controls (but NEL), DEL, U+FFFE and U+FFFF. The YAML
// library accepts them anyway, so a raw NUL would otherwise pass into names and labels.

const NOT_PRINTABLE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]/;

/** The offset and code point of the first character YAML forbids, or null. */
export function firstUnprintable(text: string): { at: number; code: string } | null {
  const m = NOT_PRINTABLE.exec(text);
  if (!m) return null;
  return { at: m.index, code: `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` };
}
