// Text from a scenario or a file name, made safe to put into a hover's Markdown: every ASCII
// punctuation character is backslash-escaped (CommonMark lets any of them be), so no image, link,
// code span, table cell, HTML tag, entity or `$(icon)` can come from a name; line breaks become
// spaces, so a name cannot start a block of its own. No vscode import: unit-tested directly.

export function mdText(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(/[!-/:-@[-`{-~]/g, '\\$&');
}
