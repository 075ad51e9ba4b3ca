// A tiny JSON Schema (draft-07) validator for the subset that schemas/mmio-scenario.schema.json
// uses: $ref to #/definitions, type, enum, properties, required, additionalProperties,
// patternProperties, items, minItems, allOf/anyOf/oneOf, pattern, minLength, minimum/maximum.
// Any other keyword throws, so the schema cannot grow a keyword these tests do not check.

export type Schema = { [k: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'definitions', 'default', 'markdownDescription', 'enumDescriptions', 'tokenDescriptions']);
const KEYWORDS = new Set([
  '$ref', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', 'minItems',
  'allOf', 'anyOf', 'oneOf', 'pattern', 'minLength', 'minimum', 'maximum',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    default:
      return typeOf(v) === t;
  }
}

function resolve(root: Schema, ref: string): Schema {
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  if (!m) throw new Error(`unsupported $ref ${ref}`);
  const target = (root.definitions as Record<string, Schema> | undefined)?.[m[1]!];
  if (!target) throw new Error(`unresolved $ref ${ref}`);
  return target;
}

/** Every violation, as `path: what`; an empty list means the value is valid. */
export function validate(root: Schema, value: unknown, schema: Schema = root, path = '$'): string[] {
  for (const k of Object.keys(schema)) {
    if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`unsupported JSON Schema keyword ${k} at ${path}`);
  }
  const errors: string[] = [];
  const err = (msg: string) => errors.push(`${path}: ${msg}`);
  if (typeof schema.$ref === 'string') errors.push(...validate(root, value, resolve(root, schema.$ref), path));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) {
      err(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return errors;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === value)) err(`expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) err(`${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) err(`shorter than ${schema.minLength}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) err(`${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) err(`${value} > maximum ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) err(`fewer than ${schema.minItems} items`);
    if (schema.items && typeof schema.items === 'object') value.forEach((v, i) => errors.push(...validate(root, v, schema.items as Schema, `${path}[${i}]`)));
  }
  if (hasType(value, 'object')) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, Schema>).map(([p, s]) => [new RegExp(p, 'u'), s] as const);
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) err(`missing required property ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      let matched = false;
      if (k in props) {
        matched = true;
        errors.push(...validate(root, v, props[k]!, `${path}.${k}`));
      }
      for (const [re, s] of patterns) {
        if (!re.test(k)) continue;
        matched = true;
        errors.push(...validate(root, v, s, `${path}.${k}`));
      }
      if (!matched && schema.additionalProperties === false) err(`unknown property ${k}`);
      else if (!matched && typeof schema.additionalProperties === 'object') errors.push(...validate(root, v, schema.additionalProperties as Schema, `${path}.${k}`));
    }
  }
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf as Schema[]) errors.push(...validate(root, value, s, path));
  if (Array.isArray(schema.anyOf)) {
    const results = (schema.anyOf as Schema[]).map((s) => validate(root, value, s, path));
    if (!results.some((r) => r.length === 0)) err(`matches none of anyOf: ${results.map((r) => r[0]).join(' | ')}`);
  }
  if (Array.isArray(schema.oneOf)) {
    const ok = (schema.oneOf as Schema[]).filter((s) => validate(root, value, s, path).length === 0).length;
    if (ok !== 1) err(`matches ${ok} of oneOf (exactly one required)`);
  }
  return errors;
}
