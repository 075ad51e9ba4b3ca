// schemas/mmio-scenario.schema.json (the editor's validation, hovers and completion for
// *.mmio.yaml and *.mmio.json) against the parser: every bundled example validates; what the
// parser rejects as unknown keys or bad enums the schema rejects too; its key lists and enums are
// the parser's. And the snippets expand to scenarios the parser accepts.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_OS_STATS } from '../simulator/guest/os_stats';
import { parse as parseYaml } from 'yaml';
import { parseScenario, runScenario } from '../simulator/index';
import { EXIT_REASONS, FAULT_KINDS } from '../simulator/scenario/parse';
import { STATS } from '../simulator/trace/stats';
import { COMPONENTS } from '../simulator/cost/profile';
import { KERNELS, PROFILES, RACE_POINTS } from '../simulator/scenario/types';
import { FLAG_TOKENS } from '../simulator/scenario/entry';
import { validate, type Schema } from './helpers/json_schema';

const schema = JSON.parse(readFileSync('schemas/mmio-scenario.schema.json', 'utf8')) as Schema;
const defs = schema.definitions as Record<string, Schema>;
const props = schema.properties as Record<string, Schema>;

function examples(dir = 'examples'): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? examples(p) : /\.mmio\.yaml$/.test(n) ? [p] : [];
  });
}

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const check = (yamlText: string) => validate(schema, parseYaml(yamlText));

/** Follows $ref and allOf wrappers down to the schema with the properties. */
function deref(s: Schema): Schema {
  if (typeof s.$ref === 'string') return deref(defs[s.$ref.replace('#/definitions/', '')]!);
  if (Array.isArray(s.allOf) && s.allOf.length === 1) return deref(s.allOf[0] as Schema);
  return s;
}
const keysOf = (s: Schema) => Object.keys((deref(s).properties ?? {}) as object).sort();

describe('the scenario schema', () => {
  it('uses draft-07', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  for (const file of examples()) {
    it(`accepts ${file}`, () => {
      const text = readFileSync(file, 'utf8');
      expect('scenario' in parseScenario(text, file)).toBe(true);
      expect(check(text)).toEqual([]);
    });
  }

  it('accepts the same scenario as JSON (*.mmio.json), addresses as hex strings', () => {
    // JSON has no hex: addresses and sizes are strings ("0xffff880000000000", "256M"), small counts numbers.
    const asJson = (_k: string, v: unknown) => (typeof v === 'bigint' ? (v > 1000n ? `0x${v.toString(16)}` : Number(v)) : v);
    const json = JSON.stringify(parseYaml(DOORBELL, { intAsBigInt: true }), asJson, 2);
    expect(json).toContain('"gva": "0xffffc90000000000"');
    expect('scenario' in parseScenario(json, 'doorbell.mmio.json')).toBe(true);
    expect(validate(schema, JSON.parse(json))).toEqual([]);
  });

  const rejected: [string, string, RegExp][] = [
    ['an unknown top-level key', DOORBELL + 'colour: blue\n', /unknown property colour/],
    ['a bad kernel', DOORBELL.replace('kernel: v3.1', 'kernel: v3.2'), /\$\.kernel.*expected one of/],
    ['an unknown host key', DOORBELL.replace('host: { maxphyaddr: 40,', 'host: { maxphyaddr: 40, cores: 2,'), /\$\.host: unknown property cores/],
    ['maxphyaddr out of range', DOORBELL.replace('maxphyaddr: 40', 'maxphyaddr: 60'), /\$\.host\.maxphyaddr/],
    ['a bad handler', DOORBELL.replace('handler: userspace', 'handler: qemu'), /handler.*expected one of/],
    ['a step with two kinds', DOORBELL.replace('{ compute: 20000 }', '{ compute: 20000, read: 0x0 }'), /workload\[0\]\.steps\[2\]: matches none of anyOf/],
    ['a step with no kind', DOORBELL.replace('{ compute: 20000 }', '{ comptue: 20000 }'), /workload\[0\]\.steps\[2\]/],
    ['an unknown expect path', DOORBELL.replace('exits.EPT_VIOLATION', 'exits.EPT_VIOLATON'), /unknown property exits\.EPT_VIOLATON/],
    ['a bad expect condition', DOORBELL.replace('">= 1"', '"about 1"'), /exits\.EPT_VIOLATION/],
    ['both workload and vcpus', DOORBELL + 'vcpus:\n  - workload: [ { compute: 1 } ]\n', /oneOf/],
    ['no memslots', DOORBELL.replace(/^memslots:\n.*\n/m, ''), /missing required property memslots/],
    ['a bad flag token', DOORBELL.replace('"p w pcd nx"', '"p w pcd xn"'), /flags/],
    ['a memslot delete with a size', DOORBELL.replace('  - { compute: 20000 }', '  - { compute: 20000 }\n  - { memslot: delete, slot: 0, size: 4K }'), /workload\[1\]/],
  ];
  for (const [what, text, why] of rejected) {
    it(`rejects ${what}, as the parser does`, () => {
      expect('diagnostics' in parseScenario(text, 'bad.mmio.yaml')).toBe(true);
      const errors = check(text);
      expect(errors.join('\n')).toMatch(why);
    });
  }

  // The parser's own key lists, read from its "unknown key" message ("expected one of: ..."),
  // against the schema's properties at the same place.
  const UNKNOWN = 'zzzzzzzz: 1';
  const keyLists: [string, (t: string) => string, () => string[]][] = [
    ['top level', (t) => `${t}${UNKNOWN}\n`, () => keysOf(schema)],
    ['host', (t) => t.replace('host: { maxphyaddr: 40,', `host: { ${UNKNOWN}, maxphyaddr: 40,`), () => keysOf(props.host!)],
    ['mmu', (t) => t.replace('mmu: { tdp: true,', `mmu: { ${UNKNOWN}, tdp: true,`), () => keysOf(props.mmu!)],
    ['scheduler', (t) => `${t}scheduler: { ${UNKNOWN} }\n`, () => keysOf(props.scheduler!)],
    ['a memslot', (t) => t.replace('{ slot: 0,', `{ ${UNKNOWN}, slot: 0,`), () => keysOf((props.memslots!.items as Schema))],
    ['a device', (t) => t.replace('{ name: nic,', `{ ${UNKNOWN}, name: nic,`), () => keysOf((props.devices!.items as Schema))],
    ['guest', (t) => t.replace('  paging: 4-level', `  paging: 4-level\n  ${UNKNOWN}`), () => keysOf(props.guest!)],
    ['guest.cpu', (t) => t.replace('cpu: { cr0_wp: true,', `cpu: { ${UNKNOWN}, cr0_wp: true,`), () => keysOf((deref(props.guest!).properties as Record<string, Schema>).cpu!)],
    ['guest.code', (t) => t.replace('  paging: 4-level', `  paging: 4-level\n  code: { ${UNKNOWN}, gva: 0xffff880000000000, gpa: 0x0 }`), () => keysOf((deref(props.guest!).properties as Record<string, Schema>).code!)],
    ['a mapping', (t) => t.replace('{ gva: 0xffffc90000000000,', `{ ${UNKNOWN}, gva: 0xffffc90000000000,`), () => keysOf(((deref(props.guest!).properties as Record<string, Schema>).mappings!.items as Schema))],
    ['a compare variant', (t) => `${t}compare:\n  - { label: a, ${UNKNOWN} }\n`, () => keysOf((props.compare!.items as Schema))],
  ];
  for (const [where, insert, schemaKeys] of keyLists) {
    it(`has the parser's keys for ${where}`, () => {
      const parsed = parseScenario(insert(DOORBELL), 'keys.mmio.yaml');
      const msg = ('diagnostics' in parsed ? parsed.diagnostics : []).map((d) => d.message).find((m) => m.includes('zzzzzzzz'));
      const listed = /expected one of: ([^)]*)\)/.exec(msg ?? '')?.[1];
      expect(listed, msg).toBeDefined();
      expect(schemaKeys()).toEqual(listed!.split(', ').sort());
    });
  }

  it("has the parser's step kinds, one branch each (memslot: add and delete apart)", () => {
    const parsed = parseScenario(DOORBELL.replace('{ compute: 20000 }', '{ zzzzzzzz: 1 }'), 'kinds.mmio.yaml');
    const msg = ('diagnostics' in parsed ? parsed.diagnostics : []).map((d) => d.message).find((m) => m.includes('a step needs exactly one of'))!;
    const kinds = /exactly one of (.*)$/.exec(msg)![1]!.split(', ');
    const branches = (defs.step!.anyOf as Schema[]).map((b) => (b.required as string[])[0]!);
    expect([...new Set(branches)].sort()).toEqual([...kinds].sort());
  });

  it("has the parser's enums: kernels, profiles, race points", () => {
    expect(defs.kernel!.enum).toEqual([...KERNELS]);
    expect(defs.profile!.enum).toEqual([...PROFILES]);
    const waitFor = (defs.step!.anyOf as Schema[]).find((b) => (b.required as string[])[0] === 'wait_for')!;
    const point = (((waitFor.properties as Record<string, Schema>).wait_for!.properties as Record<string, Schema>).point!);
    expect(point.enum).toEqual([...RACE_POINTS]);
  });

  it('accepts every expect path the parser accepts, and no other: one documented property each, labels by pattern', () => {
    const expectSchema = props.expect!;
    const named = [
      ...EXIT_REASONS.map((x) => `exits.${x}`),
      ...FAULT_KINDS.map((x) => `faults.${x}`),
      ...STATS.map((x) => `stats.${x}`),
      'cycles.total', 'cycles.elapsed', 'cycles.idle',
      ...COMPONENTS.map((x) => `cycles.by_component.${x}`),
      ...GUEST_OS_STATS.map((x) => `guest_os.${x}`),
    ];
    // Each exit reason, fault class, counter and component is its own property, with its own
    // description (what the editor's hover and completion show).
    const properties = expectSchema.properties as Record<string, Schema>;
    expect(Object.keys(properties)).toEqual(named);
    for (const [path, s] of Object.entries(properties)) expect((s.description as string).length, path).toBeGreaterThan(30);
    const accepts = (path: string) => validate(schema, { expect: { [path]: 1 } }, { type: 'object', properties: { expect: expectSchema } }).length === 0;
    const good = [...named, 'labels.transaction.count', 'labels.a.b.cycles'];
    expect(good.filter((p) => !accepts(p))).toEqual([]);
    const bad = ['exits.EPT', 'exits.INVD', 'exits.XSETBV', 'faults.mmio', 'stats.nope', 'cycles.by_component.cpu', 'cycles.all', 'labels.x', 'labels.x.total', 'exits', 'EPT_MISCONFIG', 'guest_os.cow', 'guest_os'];
    expect(bad.filter((p) => accepts(p))).toEqual([]);
  });

  it('documents every enumerated value (enumDescriptions) and every entry-bit token', () => {
    const enums: [string, Schema][] = [];
    const visit = (s: unknown, at: string): void => {
      if (Array.isArray(s)) s.forEach((x, i) => visit(x, `${at}[${i}]`));
      else if (s && typeof s === 'object') {
        const o = s as Schema;
        if (Array.isArray(o.enum)) enums.push([at, o]);
        for (const [k, v] of Object.entries(o)) visit(v, `${at}.${k}`);
      }
    };
    visit(schema, '$');
    expect(enums.length).toBeGreaterThan(10);
    for (const [at, s] of enums) {
      const descs = s.enumDescriptions as string[] | undefined;
      expect(descs?.length, at).toBe((s.enum as unknown[]).length);
      for (const d of descs!) expect(d.length, at).toBeGreaterThan(5);
    }
    expect(Object.keys(defs.flags!.tokenDescriptions as object)).toEqual([...FLAG_TOKENS, 'bitN', 'pkey=N']);
  });
});

// ---------------------------------------------------------------------------------------------

/** A snippet body with every placeholder at its default (the first choice of a choice list). */
function expand(body: string[]): string {
  return body
    .join('\n')
    .replace(/\$\{\d+\|([^,|]*)[^|]*\|\}/g, '$1')
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\d+/g, '');
}

describe('the snippets', () => {
  const snippets = JSON.parse(readFileSync('snippets/mmio-scenario.code-snippets', 'utf8')) as Record<string, { prefix: string | string[]; body: string[]; description: string }>;
  const byPrefix = (p: string) => Object.values(snippets).find((s) => [s.prefix].flat().includes(p))!;
  const scenario = expand(byPrefix('mmio-scenario').body);
  const indent = (text: string, by: string) => text.split('\n').map((l) => (l ? by + l : l)).join('\n');

  it('has the prefixes the docs name', () => {
    for (const p of ['mmio-scenario', 'mmio-device', 'mmio-repeat', 'mmio-expect', 'mmio-compare']) expect(byPrefix(p), p).toBeDefined();
  });

  it('mmio-scenario is a valid scenario, and valid against the schema', () => {
    const parsed = parseScenario(scenario, 'snippet.mmio.yaml');
    expect('diagnostics' in parsed ? parsed.diagnostics : []).toEqual([]);
    expect(check(scenario)).toEqual([]);
  });

  it('mmio-scenario is valid with every choice', () => {
    for (const [kernel, tdp, handler] of [['v3.0', 'false', 'kernel'], ['v3.1', 'false', 'userspace'], ['v3.0', 'true', 'kernel']]) {
      const text = scenario.replace('kernel: v3.1', `kernel: ${kernel}`).replace('tdp: true', `tdp: ${tdp}`).replace('handler: userspace', `handler: ${handler}`);
      const parsed = parseScenario(text, 'snippet.mmio.yaml');
      expect('diagnostics' in parsed ? parsed.diagnostics : [], text).toEqual([]);
    }
  });

  it('mmio-device, mmio-repeat, mmio-expect and mmio-compare fit into it', () => {
    const device = indent(expand(byPrefix('mmio-device').body), '  ');
    const repeat = indent(expand(byPrefix('mmio-repeat').body), '  ');
    let text = scenario.replace('devices:\n', `devices:\n${device}\n`);
    text = text.replace(/\n*$/, '\n') + repeat.replace(/\n*$/, '\n');
    text = text + expand(byPrefix('mmio-expect').body) + expand(byPrefix('mmio-compare').body);
    const parsed = parseScenario(text, 'snippets.mmio.yaml');
    expect('diagnostics' in parsed ? parsed.diagnostics : [], text).toEqual([]);
    expect(check(text)).toEqual([]);
    if ('scenario' in parsed) {
      expect(parsed.scenario.devices).toHaveLength(2);
      expect(parsed.scenario.compare).toHaveLength(3);
      const r = runScenario(parsed.scenario, { traceCapacity: 0 });
      expect(r.expect.filter((e) => !e.ok)).toEqual([]);
    }
  });
});
