// The scenario schema (schemas/mmio-scenario.schema.json) read as documentation: which keys a
// mapping may hold, what each key, enumerated value and entry-bit token means. The schema is the one
// source of this text: VS Code's JSON support shows the same descriptions for *.mmio.json, and
// scenario_help.ts shows them for *.mmio.yaml. No vscode import: unit-tested on its own.

import schemaJson from '../schemas/mmio-scenario.schema.json';

/** A JSON Schema node, as the file has it. */
export type Schema = { readonly [k: string]: unknown };

export const SCENARIO_SCHEMA = schemaJson as unknown as Schema;
const DEFINITIONS = SCENARIO_SCHEMA.definitions as Record<string, Schema>;

function deref(s: Schema): Schema {
  return typeof s.$ref === 'string' ? deref(DEFINITIONS[s.$ref.replace('#/definitions/', '')] ?? {}) : s;
}

/** The concrete schemas a value here may match: $ref followed, allOf and anyOf flattened. */
export function branches(s: Schema | undefined): Schema[] {
  if (!s) return [];
  const d = deref(s);
  const parts = [...((d.allOf as Schema[] | undefined) ?? []), ...((d.anyOf as Schema[] | undefined) ?? []), ...((d.oneOf as Schema[] | undefined) ?? [])];
  const own = d.properties || d.enum || d.type || d.tokenDescriptions ? [d] : [];
  // The root's oneOf (workload or vcpus) only names required keys: its branches add nothing.
  return [...own, ...parts.filter((p) => !p.required || p.properties || p.$ref || p.enum).flatMap(branches)];
}

/** The text that documents a place: its own description, else the one of what it refers to. */
export function describe(s: Schema | undefined): string | undefined {
  if (!s) return undefined;
  if (typeof s.description === 'string') return s.description;
  if (typeof s.$ref === 'string') return describe(deref(s));
  const all = s.allOf as Schema[] | undefined;
  return all?.length === 1 ? describe(all[0]) : undefined;
}

/** A value's branches that are objects (have properties). */
function objectBranches(s: Schema | undefined): Schema[] {
  return branches(s).filter((b) => b.properties || b.patternProperties);
}

/** The schema of key `key` in one object branch: a property, or the first pattern it matches. */
function propertyOf(branch: Schema, key: string): Schema | undefined {
  const props = (branch.properties ?? {}) as Record<string, Schema>;
  if (Object.hasOwn(props, key)) return props[key];
  for (const [pattern, s] of Object.entries((branch.patternProperties ?? {}) as Record<string, Schema>)) if (new RegExp(pattern, 'u').test(key)) return s;
  return undefined;
}

/** What the mapping already holds: its keys, and each key's scalar value (for choosing a branch). */
export type MapEntries = ReadonlyMap<string, unknown>;

/**
 * The object branches that fit a mapping's present keys: a step with `read` is a read step, a
 * `memslot: delete` a deletion. When none fits (a typo), every branch, so help still comes.
 */
export function fittingBranches(s: Schema | undefined, entries: MapEntries): Schema[] {
  const all = objectBranches(s);
  const fits = all.filter((b) =>
    [...entries].every(([k, v]) => {
      const p = propertyOf(b, k);
      if (!p) return false;
      const values = enumValues(p);
      return v === undefined || values.length === 0 || values.some((e) => String(e.value) === String(v));
    }),
  );
  return fits.length > 0 ? fits : all;
}

/** The schema of `key` in a mapping with these entries (the first fitting branch that has it). */
export function keySchema(s: Schema | undefined, key: string, entries: MapEntries): Schema | undefined {
  for (const b of fittingBranches(s, entries)) {
    const p = propertyOf(b, key);
    if (p) return p;
  }
  return undefined;
}

/** Whether `key` is one of the names the schema gives here (not only matched by a pattern). */
export function hasProperty(s: Schema | undefined, key: string): boolean {
  return objectBranches(s).some((b) => Object.hasOwn((b.properties ?? {}) as object, key));
}

/** The schema of an array's items. */
export function itemSchema(s: Schema | undefined): Schema | undefined {
  return branches(s).find((b) => b.items)?.items as Schema | undefined;
}

export interface Documented {
  readonly name: string;
  readonly doc: string;
}

/**
 * The keys a mapping with these entries may still take, each with its description, in schema order.
 * An empty mapping of several kinds (a step) is offered each kind's own key (read, write, ..., memslot).
 */
export function keysFor(s: Schema | undefined, entries: MapEntries): Documented[] {
  const out = new Map<string, string>();
  const fitting = fittingBranches(s, entries);
  const kindsOnly = entries.size === 0 && fitting.length > 1;
  for (const b of fitting) {
    const props = Object.entries((b.properties ?? {}) as Record<string, Schema>);
    for (const [k, p] of kindsOnly ? props.slice(0, 1) : props) {
      if (!entries.has(k) && !out.has(k)) out.set(k, describe(p) ?? '');
    }
  }
  return [...out].map(([name, doc]) => ({ name, doc }));
}

export interface EnumValue {
  readonly value: string | number | boolean;
  readonly doc: string;
}

/** The enumerated values a place takes (booleans as true and false), each with its description. */
export function enumValues(s: Schema | undefined): EnumValue[] {
  return branches(s).flatMap((b): EnumValue[] => {
    if (Array.isArray(b.enum)) {
      const docs = (b.enumDescriptions ?? []) as string[];
      return (b.enum as (string | number)[]).map((value, i) => ({ value, doc: docs[i] ?? describe(b) ?? '' }));
    }
    return b.type === 'boolean' ? [{ value: true, doc: '' }, { value: false, doc: '' }] : [];
  });
}

/** The entry-bit tokens a place takes (flags, pte, ...): token form (`p`, `bitN`, `pkey=N`) -> meaning. */
export function tokensOf(s: Schema | undefined): Readonly<Record<string, string>> | undefined {
  return branches(s).find((b) => b.tokenDescriptions)?.tokenDescriptions as Record<string, string> | undefined;
}

/** The form of a token in tokensOf's table: `bit52` is `bitN`, `pkey=3` is `pkey=N`. */
export function tokenForm(token: string): string {
  if (/^bit[0-9]+$/.test(token)) return 'bitN';
  if (/^pkey=[0-9]+$/.test(token)) return 'pkey=N';
  return token;
}
