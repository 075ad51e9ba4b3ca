// Everything the CLI prints goes through here: text from scenario files (names, labels, keys quoted
// in messages) must never reach the terminal raw. Control characters other than newline and tab,
// and the Unicode bidirectional overrides (which reorder what the reader sees), are printed as
// escapes instead (`\x1b`, `\u202e`).

const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
  });
}

export function writeOut(text: string): void {
  process.stdout.write(terminalSafe(text));
}

export function writeErr(text: string): void {
  process.stderr.write(terminalSafe(text));
}
