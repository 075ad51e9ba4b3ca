// The YAML-node reading machinery shared by all scenario sections: the reading context that collects
// diagnostics and positions, and the generic typed readers. Each reader reports its own problems
// (at the offending node) and returns null on error.

import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type YAMLMap,
} from 'yaml';
import { resolveAliases, type Aliases } from './aliases';
import { U64_MAX, hex, parseIntText } from './numbers';
import { KEPT_DIAGNOSTICS } from './diagnostic_cap';
import { closestName, didYouMean } from './suggest';
import type { Diagnostic, SourcePos } from './types';

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------------------------------------
// Reading context: diagnostics and positions

/** A YAML value being validated: its (alias-resolved) node, source range and dotted path. */
export interface Val {
  node: unknown;
  range: [number, number];
  path: string;
}

/** A mapping whose keys were checked against an allowed list. */
export interface Obj {
  v: Val;
  keys: Map<string, Val>;
  /** Allowed keys that an unknown key looks like a typo of (already reported, so not "missing"). */
  misspelled: Set<string>;
}

/** Nodes that aliases may expand to, per file: each use of an alias is validated again, so this
 *  bounds that work (see docs/limits.md for the number). */
export const MAX_ALIAS_NODES = 100_000;

/** Thrown (and caught in parseScenario) to stop validating a file whose aliases expand too far. */
export class TooManyAliases extends Error {}

export class Ctx {
  /** The first KEPT_DIAGNOSTICS problems; `count()` counts them all. */
  readonly diags: Diagnostic[] = [];
  private problems = 0;
  readonly aliases: Aliases;
  /** Nodes brought in by the aliases read so far. */
  expanded = 0;
  constructor(
    readonly text: string,
    readonly file: string,
    readonly lc: LineCounter,
    readonly doc: Document,
  ) {
    this.aliases = resolveAliases(doc.contents);
  }

  report(range: [number, number], message: string): void {
    if (this.problems >= KEPT_DIAGNOSTICS) {
      this.problems++;
      return;
    }
    // The library puts an error at the end of the text one character past it; keep ranges inside.
    const from = Math.min(range[0], this.text.length);
    const start = this.lc.linePos(from);
    // Block nodes end after their trailing newline; end the squiggle on the last real character.
    let end = Math.min(Math.max(from, range[1]), this.text.length);
    while (end > from && /\s/.test(this.text[end - 1]!)) end--;
    const stop = this.lc.linePos(end);
    this.problems++;
    this.diags.push({
      file: this.file,
      line: Math.max(start.line, 1),
      col: start.col,
      endLine: Math.max(stop.line, 1),
      endCol: stop.col,
      message,
    });
  }

  error(v: Val, message: string): void {
    this.report(v.range, v.path ? `${v.path}: ${message}` : message);
  }

  count(): number {
    return this.problems;
  }

  pos(v: Val): SourcePos {
    const p = this.lc.linePos(v.range[0]);
    return { line: Math.max(p.line, 1), col: p.col };
  }

  source(v: Val): string {
    return this.text.slice(v.range[0], v.range[1]).trim();
  }
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Wraps a YAML node; aliases are resolved but keep the alias's position (where the value is used). */
export function val(ctx: Ctx, node: unknown, path: string, fallback: [number, number]): Val {
  const range: [number, number] =
    isNode(node) && node.range ? [node.range[0], node.range[1]] : fallback;
  if (!isAlias(node)) return { node, range, path };
  const target = ctx.aliases.target.get(node) ?? null;
  ctx.expanded += ctx.aliases.size.get(node) ?? 1;
  if (ctx.expanded > MAX_ALIAS_NODES) {
    ctx.report(range, `${path || 'scenario'}: aliases expand to more than ${MAX_ALIAS_NODES} YAML nodes in this file (each use of \`*${node.source}\` repeats its anchor's nodes)`);
    throw new TooManyAliases();
  }
  return { node: target, range, path };
}

export function describe(ctx: Ctx, v: Val): string {
  if (isMap(v.node)) return 'a mapping';
  if (isSeq(v.node)) return 'a list';
  if (isScalar(v.node) && v.node.value === null) return 'nothing';
  return ctx.source(v) || 'nothing';
}

// ---------------------------------------------------------------------------------------------
// Generic readers: each reports its own problems and returns null on error

export function readObj(ctx: Ctx, v: Val, allowed: readonly string[]): Obj | null {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a mapping, got ${describe(ctx, v)}`);
    return null;
  }
  const keys = new Map<string, Val>();
  const misspelled = new Set<string>();
  for (const pair of (v.node as YAMLMap<unknown, unknown>).items) {
    const key = val(ctx, pair.key, v.path, v.range);
    const name = isScalar(key.node) ? key.node.value : undefined;
    if (typeof name !== 'string') {
      ctx.error(key, `keys must be names, got ${describe(ctx, key)}`);
      continue;
    }
    if (!allowed.includes(name)) {
      const guess = closestName(name, allowed);
      if (guess) misspelled.add(guess);
      const hint = guess ? `; did you mean \`${guess}\`?` : ` (expected one of: ${allowed.join(', ')})`;
      ctx.error(key, `unknown key \`${name}\`${hint}`);
      continue;
    }
    keys.set(name, val(ctx, pair.value, child(v.path, name), [key.range[1], key.range[1]]));
  }
  return { v, keys, misspelled };
}

export function need(ctx: Ctx, o: Obj, key: string): Val | null {
  const v = o.keys.get(key);
  if (!v && !o.misspelled.has(key)) ctx.error(o.v, `missing required key \`${key}\``);
  return v ?? null;
}

export function readList(ctx: Ctx, v: Val, what: string): Val[] | null {
  if (!isSeq(v.node)) {
    ctx.error(v, `expected a list of ${what}s, got ${describe(ctx, v)}`);
    return null;
  }
  return v.node.items.map((item, i) => val(ctx, item, `${v.path}[${i}]`, v.range));
}

export function readNonEmptyList(ctx: Ctx, v: Val, what: string): Val[] | null {
  const items = readList(ctx, v, what);
  if (items && items.length === 0) {
    ctx.error(v, `must list at least one ${what}`);
    return null;
  }
  return items;
}

/** An integer in [min, max]: a YAML int, or a string such as "0x1000", "4096" or "4K". */
export function readInt(ctx: Ctx, v: Val, min = 0n, max = U64_MAX): bigint | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  let n: bigint | null = null;
  if (typeof raw === 'bigint') n = raw;
  else if (typeof raw === 'string') n = parseIntText(raw);
  if (n === null) {
    const example = typeof raw === 'string' ? ' (e.g. 4096, 0x1000 or 4K)' : '';
    ctx.error(v, `expected an integer${example}, got ${describe(ctx, v)}`);
    return null;
  }
  if (n < 0n) {
    ctx.error(v, `must not be negative (got ${n})`);
    return null;
  }
  if (n > max && max === U64_MAX) {
    ctx.error(v, `${hex(n)} does not fit in 64 bits`);
    return null;
  }
  if (n < min || n > max) {
    const unbounded = max === U64_MAX || max === MAX_SAFE;
    const range = !unbounded ? `between ${min} and ${max}` : n < min ? `at least ${min}` : `at most ${max}`;
    ctx.error(v, `must be ${range} (got ${n})`);
    return null;
  }
  return n;
}

export function readBool(ctx: Ctx, v: Val): boolean | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'boolean') return raw;
  ctx.error(v, `expected true or false, got ${describe(ctx, v)}`);
  return null;
}

export function readString(ctx: Ctx, v: Val): string | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'string') return raw;
  ctx.error(v, `expected a string, got ${describe(ctx, v)}`);
  return null;
}

export function readEnum<T extends string>(ctx: Ctx, v: Val, options: readonly T[]): T | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  if (typeof raw === 'string' && (options as readonly string[]).includes(raw)) return raw as T;
  const got = describe(ctx, v);
  const hint = typeof raw === 'string' ? didYouMean(raw, options) : '';
  ctx.error(v, `expected one of ${options.join(', ')}, got ${got}${hint}`);
  return null;
}

/** Reads an optional key with `read`, or returns `fallback` when absent (or on error: the caller
 *  never builds a Scenario once a diagnostic exists, so the fallback only keeps checks going). */
export function opt<T>(o: Obj, key: string, read: (v: Val) => T | null, fallback: T): T {
  const v = o.keys.get(key);
  return v ? (read(v) ?? fallback) : fallback;
}

/** Reads a required key with `read`; null if missing or invalid. */
export function req<T>(ctx: Ctx, o: Obj, key: string, read: (v: Val) => T | null): T | null {
  const v = need(ctx, o, key);
  return v ? read(v) : null;
}

export function numOrNull(n: bigint | null): number | null {
  return n === null ? null : Number(n);
}
