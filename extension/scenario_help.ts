// Editing help for *.mmio.yaml without another extension: what to show when hovering a place of a
// scenario, and what to offer for completion there. Given the document's text and an offset, it
// parses the text once with the `yaml` package (whose nodes carry source ranges), walks down to the
// node at the offset (one child per level, so linear in the document) and reads the schema there
// (scenario_schema.ts). Hover text is Markdown made from the schema's descriptions; nothing from
// the scenario is put in it, except names the schema itself has (a key, an enumerated value, a
// token), so no markup can come from a file. No vscode import: unit-tested on its own.
// This runs on the extension host thread at every hover and completion: a text the parser refuses
// for its size or nesting (docs/limits.md) gets no help, rather than a parse that blocks typing or
// runs out of stack.

import { isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { textSizeProblem } from '../simulator/scenario/file_size';
import { flowTooDeep } from '../simulator/scenario/nesting';
import {
  SCENARIO_SCHEMA, describe, enumValues, hasProperty, itemSchema, keySchema, keysFor, tokenForm, tokensOf, type MapEntries, type Schema,
} from './scenario_schema';

export interface Hover {
  /** Markdown, from the schema only. */
  readonly markdown: string;
  /** The hovered key, value or token, as offsets into the text. */
  readonly start: number;
  readonly end: number;
}

export type CompletionKind = 'key' | 'value' | 'token';

export interface Completion {
  readonly label: string;
  readonly kind: CompletionKind;
  /** Markdown, from the schema only. */
  readonly documentation: string;
  readonly insertText: string;
  /** The text the completion replaces (the word at the cursor), as offsets. */
  readonly start: number;
  readonly end: number;
}

/** Escapes every character Markdown could read as markup. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~&]/g, '\\$&');
}

/** `name` as inline code (its text is shown as is; a name with a backtick is escaped text instead). */
function code(name: string): string {
  return /[`\n]/.test(name) ? escapeMarkdown(name) : `\`${name}\``;
}

function docMarkdown(title: string, doc: string | undefined, values?: readonly string[]): string {
  const parts = [code(title)];
  if (doc) parts.push(escapeMarkdown(doc));
  if (values && values.length > 0) parts.push(`Values: ${values.map(code).join(' | ')}`);
  return parts.join('\n\n');
}

/** A place in the document: the node there and the schema it is checked against. */
type Hit =
  | { kind: 'key'; node: Node; key: string; schema: Schema | undefined; entries: MapEntries }
  | { kind: 'value'; node: Node; key: string | undefined; schema: Schema | undefined };

/** Whether `offset` is in a node: a scalar up to just after its end (the cursor after a word), a
 *  mapping or list before its end (a block's end is the next line's start, which is not in it). */
const inside = (n: Node | null | undefined, offset: number): n is Node =>
  !!n?.range && n.range[0] <= offset && (offset < n.range[1] || (offset === n.range[1] && isScalar(n)));

function keyName(pair: Pair): string | undefined {
  return isScalar(pair.key) && pair.key.value !== null ? String(pair.key.value) : undefined;
}

/** A mapping's keys and their scalar values (all but `skip`, the pair being completed). */
function entriesOf(map: YAMLMap, skip?: Pair): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const p of map.items) {
    const k = p === skip ? undefined : keyName(p);
    if (k !== undefined) out.set(k, isScalar(p.value) ? p.value.value ?? undefined : undefined);
  }
  return out;
}

/** The key or value at `offset`, walking down from the document's root. */
function locate(root: Node | null, offset: number): Hit | undefined {
  let node: Node | null = root;
  let schema: Schema | undefined = SCENARIO_SCHEMA;
  let key: string | undefined;
  for (;;) {
    if (isMap(node)) {
      const map: YAMLMap = node;
      const pair = map.items.find((p) => inside(p.key as Node, offset)) ?? map.items.find((p) => inside(p.value as Node, offset));
      if (!pair) return undefined;
      const name = keyName(pair);
      if (inside(pair.key as Node, offset)) return name === undefined ? undefined : { kind: 'key', node: pair.key as Node, key: name, schema, entries: entriesOf(map, pair) };
      key = name;
      schema = name === undefined ? undefined : keySchema(schema, name, entriesOf(map));
      node = pair.value as Node;
    } else if (isSeq(node)) {
      const item = node.items.find((i) => inside(i as Node, offset)) as Node | undefined;
      if (!item) return undefined;
      schema = itemSchema(schema);
      node = item;
    } else if (isScalar(node)) {
      return { kind: 'value', node, key, schema };
    } else {
      return undefined;
    }
  }
}

/** The token of a space-separated scalar (flags) around `offset`, as offsets into the text. */
function tokenAt(text: string, node: Node, offset: number): { token: string; start: number; end: number } | undefined {
  const [from, to] = node.range!;
  const isTokenChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9=]/.test(c);
  let start = offset;
  let end = offset;
  while (start > from && isTokenChar(text[start - 1])) start--;
  while (end < to && isTokenChar(text[end])) end++;
  return start < end ? { token: text.slice(start, end), start, end } : undefined;
}

/** The text's YAML tree, or null for a text the scenario parser refuses before reading it (over
 *  the file-size cap, or flow collections nested past the limit). */
function treeOf(text: string): Node | null {
  if (textSizeProblem(text) !== null || flowTooDeep(text) !== null) return null;
  try {
    return parseDocument(text, { uniqueKeys: false }).contents;
  } catch {
    return null; // block nesting deep enough to exhaust the library's stack
  }
}

/** The hover at `offset`: a key's description, an enumerated value's or entry-bit token's meaning. */
export function hoverAt(text: string, offset: number): Hover | undefined {
  const hit = locate(treeOf(text), offset);
  if (!hit) return undefined;
  if (hit.kind === 'key') {
    const s = keySchema(hit.schema, hit.key, hit.entries);
    const doc = describe(s);
    if (!s || doc === undefined) return undefined;
    const [start, end] = hit.node.range!;
    // A key matched by a pattern (labels.<label>.count) is not a name the schema has: its meaning only.
    const named = hasProperty(hit.schema, hit.key);
    const values = enumValues(s).map((v) => String(v.value));
    return { markdown: named ? docMarkdown(hit.key, doc, values) : escapeMarkdown(doc), start, end };
  }
  const [start, end] = hit.node.range!;
  const tokens = tokensOf(hit.schema);
  if (tokens) {
    const t = tokenAt(text, hit.node, offset);
    const meaning = t && tokens[tokenForm(t.token)];
    if (t && meaning !== undefined) return { markdown: docMarkdown(tokenForm(t.token), meaning), start: t.start, end: t.end };
  }
  const value = isScalar(hit.node) ? hit.node.value : undefined;
  const e = enumValues(hit.schema).find((v) => String(v.value) === String(value));
  const keyDoc = describe(hit.schema);
  if (e && e.doc) return { markdown: [docMarkdown(String(e.value), e.doc), ...(hit.key === undefined ? [] : ['---', docMarkdown(hit.key, keyDoc)])].join('\n\n'), start, end };
  if (keyDoc === undefined || hit.key === undefined) return undefined;
  return { markdown: docMarkdown(hit.key, keyDoc), start, end };
}

/** Stands for the word being typed while the document is parsed for completion. */
const MARKER = 'mmulab__cursor__';
const isWordChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_.=-]/.test(c);

/**
 * The completions at `offset`: the keys the mapping there may still take (in a step, those of its
 * kind), the enumerated values of the key whose value it is, or the entry-bit tokens of a flags
 * string. The word at the cursor is replaced by a marker (with a colon when it stands alone on its
 * line, where YAML needs one to make it a key), the text is parsed once, and the marker's place in
 * the tree says what it is.
 */
export function completionsAt(text: string, offset: number): Completion[] {
  let start = offset;
  let end = offset;
  while (start > 0 && isWordChar(text[start - 1])) start--;
  while (end < text.length && isWordChar(text[end])) end++;
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const lineEnd = text.indexOf('\n', end) < 0 ? text.length : text.indexOf('\n', end);
  const before = text.slice(lineStart, start);
  const after = text.slice(end, lineEnd);
  const alone = /^\s*(-\s+)*$/.test(before) && /^\s*(#.*)?$/.test(after);
  const marked = text.slice(0, start) + MARKER + (alone ? ':' : '') + text.slice(end);
  const hit = locate(treeOf(marked), start);
  if (!hit) return [];
  const range = { start, end };

  if (hit.kind === 'key') {
    if (hit.key !== MARKER) return [];
    // A key typed over (`tdp|: true`) keeps its colon.
    const suffix = /^\s*:/.test(after) ? '' : ': ';
    return keysFor(hit.schema, hit.entries).map((k) => ({ label: k.name, kind: 'key', documentation: docMarkdown(k.name, k.doc), insertText: k.name + suffix, ...range }));
  }
  const value = isScalar(hit.node) ? hit.node.value : undefined;
  if (typeof value !== 'string' || !value.includes(MARKER)) return [];
  const tokens = tokensOf(hit.schema);
  if (tokens) {
    const present = new Set(value.split(/\s+/).filter((t) => t && !t.includes(MARKER)).map(tokenForm));
    return Object.entries(tokens)
      .filter(([form]) => !present.has(form) || form === 'bitN')
      .map(([form, doc]) => ({ label: form, kind: 'token', documentation: docMarkdown(form, doc), insertText: form.replace(/N$/, ''), ...range }));
  }
  if (value !== MARKER) return [];
  return enumValues(hit.schema).map((v) => ({ label: String(v.value), kind: 'value', documentation: v.doc ? docMarkdown(String(v.value), v.doc) : '', insertText: String(v.value), ...range }));
}
