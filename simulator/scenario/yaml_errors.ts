// The YAML library's errors and warnings as scenario diagnostics: one mistake, one message. Once the
// document's top-level node has ended (a stray line of text or a `- ` line before the first key ends
// it there), the library reports every later token on its own ("Unexpected scalar token in YAML
// stream", one per key, colon and value, up to the diagnostic cap). Those become one message at the
// first of them, naming where the node that ended began: that line holds the mistake.

import { isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { Ctx } from './reader';

interface YamlProblem {
  code: string;
  pos: [number, number];
  message: string;
}

/** The library's "after the document" errors: a token outside any node. */
const isStrayToken = (e: YamlProblem) => e.code === 'UNEXPECTED_TOKEN' && e.message.includes('in YAML stream');

export function reportYamlProblems(ctx: Ctx, doc: Document, text: string, lc: LineCounter): void {
  const problems: YamlProblem[] = [...doc.errors, ...doc.warnings];
  const stray = problems.find(isStrayToken);
  // From the line of the first stray token on, everything is a consequence of the one mistake.
  const cut = stray ? lc.lineStarts[lc.linePos(stray.pos[0]).line - 1]! : Infinity;
  for (const e of problems) if (e.pos[0] < cut) reportOne(ctx, e);
  if (!stray) return;
  const first = problems.filter((e) => e.pos[0] >= cut).reduce((a, b) => (b.pos[0] < a.pos[0] ? b : a));
  const token = text.slice(first.pos[0], Math.max(first.pos[0] + 1, first.pos[1])).split('\n')[0]!;
  ctx.report(first.pos, `YAML: \`${token}\` ${afterTopLevel(doc, lc)}`);
}

/** Why a token cannot come where it stands: what the document's top-level node is, and where it began. */
function afterTopLevel(doc: Document, lc: LineCounter): string {
  const node = doc.contents;
  if (!node || !node.range) return 'cannot stand here: the YAML document has ended before it';
  const at = lc.linePos(node.range[0]);
  const where = `line ${at.line}, column ${at.col}`;
  if (isScalar(node))
    return `cannot follow the text at ${where}: a top-level line that is neither a comment nor \`key: value\` makes the whole document that text (start it with \`#\` if it is a comment)`;
  if (isSeq(node))
    return `cannot follow the list that starts at ${where}: a scenario is a mapping of keys, and a top-level \`- \` line makes the document a list (start it with \`#\` if it is a comment)`;
  if (isMap(node)) return `cannot follow the mapping that starts at ${where}: it has ended before this line (check this line's indentation)`;
  return `cannot follow the YAML node that starts at ${where}`;
}

function reportOne(ctx: Ctx, e: YamlProblem): void {
  if (e.code === 'MULTIPLE_DOCS') ctx.report([e.pos[0], e.pos[0] + 3], 'a scenario file holds one YAML document: remove this `---` line and what follows it, or move that into a file of its own');
  // The lexer's marker for a flow collection cut off by a line indented too little; the library
  // quotes its internal character (U+0018) as if it were in the file.
  else if (e.message.includes('flow-error-end')) ctx.report(e.pos, 'YAML: a flow collection (`{ }` or `[ ]`) is not closed: its closing bracket must come before the end of the file or a line indented less than its contents');
  else ctx.report(e.pos, `YAML: ${e.message.split('\n')[0]}`);
}
