// Hover and completion for *.mmio.yaml (extension/scenario_help.ts) over the bundled examples:
// every key and enumerated value of every example has its schema documentation on hover; completion
// offers exactly the keys the schema allows at the cursor's place, the values of the key whose value
// is typed, the entry-bit tokens not yet in a flags string; nothing from a scenario is rendered as
// Markdown; each request parses the document once.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import * as yaml from 'yaml';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { completionsAt, escapeMarkdown, hoverAt } from '../extension/scenario_help';
import { EXIT_REASONS, FAULT_KINDS } from '../simulator/scenario/parse';
import { STATS } from '../simulator/trace/stats';
import { RACE_POINTS } from '../simulator/scenario/types';
import type { Schema } from './helpers/json_schema';

vi.mock('yaml', async (original) => {
  const real = await original<typeof import('yaml')>();
  return { ...real, parseDocument: vi.fn(real.parseDocument) };
});

const schema = JSON.parse(readFileSync('schemas/mmio-scenario.schema.json', 'utf8')) as Schema;
const defs = schema.definitions as Record<string, Schema>;
const props = schema.properties as Record<string, Schema>;
const keysOf = (s: Schema) => Object.keys(s.properties as object);

function examples(dir = 'examples'): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? examples(p) : /\.mmio\.yaml$/.test(n) ? [p] : [];
  });
}

/** Every enumerated value the schema documents, as `key=value` (the property or definition whose
 *  value it is: kernel, profile, cpl are definitions named as their keys) -> its descriptions. */
const ENUM_DOCS = new Map<string, string[]>();
(function collect(s: unknown, key: string): void {
  if (Array.isArray(s)) s.forEach((x) => collect(x, key));
  else if (s && typeof s === 'object') {
    const o = s as Schema;
    if (Array.isArray(o.enum)) (o.enum as unknown[]).forEach((v, i) => ENUM_DOCS.set(`${key}=${v}`, [...(ENUM_DOCS.get(`${key}=${v}`) ?? []), (o.enumDescriptions as string[])[i]!]));
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties' || k === 'definitions') for (const [name, sub] of Object.entries(v as Schema)) collect(sub, name);
      else collect(v, key);
    }
  }
})(schema, '');

/** Every key of a document with its value node and its path (list indices as []). */
function pairsOf(text: string): { key: string; path: string; at: number; value: Node | null }[] {
  const out: { key: string; path: string; at: number; value: Node | null }[] = [];
  const walk = (n: unknown, path: string): void => {
    if (isMap(n)) {
      for (const p of n.items) {
        if (!isScalar(p.key)) continue;
        const key = String(p.key.value);
        out.push({ key, path: `${path}.${key}`, at: p.key.range![0], value: p.value as Node | null });
        walk(p.value, `${path}.${key}`);
      }
    } else if (isSeq(n)) n.items.forEach((i) => walk(i, `${path}[]`));
  };
  walk(parseDocument(text).contents, '');
  return out;
}

/** Text with `insert` put at the first `anchor` (after it, or at `+delta`), and the offset of the
 *  cursor: at the `|` in `insert` (removed), else after the insert. */
function typed(text: string, anchor: string, insert: string, delta = anchor.length): [string, number] {
  const i = text.indexOf(anchor);
  expect(i, anchor).toBeGreaterThanOrEqual(0);
  const bar = insert.indexOf('|');
  const ins = insert.replace('|', '');
  return [text.slice(0, i + delta) + ins + text.slice(i + delta), i + delta + (bar < 0 ? ins.length : bar)];
}
const labels = (text: string, offset: number) => completionsAt(text, offset).map((c) => c.label);

const DOORBELL = readFileSync('examples/doorbell.mmio.yaml', 'utf8');
const SHADOW = readFileSync('examples/shadow-doorbell.mmio.yaml', 'utf8');

describe('hover over the examples', () => {
  for (const file of examples()) {
    it(`documents every key and enumerated value of ${file}`, () => {
      const text = readFileSync(file, 'utf8');
      const pairs = pairsOf(text);
      expect(pairs.length).toBeGreaterThan(10);
      // Each place once (the seed benchmarks repeat the same step a thousand times), with each value.
      const seen = new Set<string>();
      for (const { key, path, at, value } of pairs) {
        const docs = isScalar(value) ? ENUM_DOCS.get(`${key}=${String(value.value)}`) : undefined;
        const place = `${path}=${docs ? String((value as { value: unknown }).value) : ''}`;
        if (seen.has(place)) continue;
        seen.add(place);
        // Register offsets (0x50) are data, not keys the schema names.
        if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(key)) continue;
        const h = hoverAt(text, at + 1);
        expect(h, `${file}: ${key}`).toBeDefined();
        if (key.startsWith('labels.')) expect(h!.markdown).not.toContain(key);
        else expect(h!.markdown.startsWith(`\`${key}\`\n\n`), `${file}: ${key}: ${h!.markdown}`).toBe(true);
        expect(text.slice(h!.start, h!.end)).toBe(key);
        expect(h!.markdown.length).toBeGreaterThan(key.length + 12);
        if (isScalar(value) && docs) {
          const v = hoverAt(text, value.range![0] + 1)!;
          expect(v.markdown.startsWith(`\`${String(value.value)}\`\n\n`), `${file}: ${key}: ${String(value.value)}`).toBe(true);
          expect(docs.some((d) => v.markdown.includes(escapeMarkdown(d))), `${file}: ${String(value.value)}: ${v.markdown}`).toBe(true);
        }
      }
    }, 60_000); // a parse per hover: the seed benchmarks are long, and the machine may be busy

  }

  it('gives the schema description of a key, escaped, with its values', () => {
    const h = hoverAt(DOORBELL, DOORBELL.indexOf('kernel:') + 2)!;
    const desc = (props.kernel as Schema).description as string;
    expect(h.markdown).toBe(`\`kernel\`\n\n${escapeMarkdown(desc)}\n\nValues: \`v3.0\` | \`v3.1\``);
    expect(DOORBELL.slice(h.start, h.end)).toBe('kernel');
  });

  it('gives an enumerated value its own meaning, then its key\'s', () => {
    const h = hoverAt(DOORBELL, DOORBELL.indexOf('v3.1') + 1)!;
    expect(h.markdown).toContain(escapeMarkdown((defs.kernel!.enumDescriptions as string[])[1]!));
    expect(h.markdown).toContain('`kernel`');
    const u = hoverAt(DOORBELL, DOORBELL.indexOf('handler: userspace') + 10)!;
    expect(u.markdown).toMatch(/^`userspace`\n\nKVM\\_EXIT\\_MMIO/);
  });

  it('documents exit reasons, fault classes and counters in expect:', () => {
    const at = (k: string) => hoverAt(DOORBELL, DOORBELL.indexOf(k) + 3)!.markdown;
    expect(at('exits.EPT_MISCONFIG')).toMatch(/^`exits\.EPT_MISCONFIG`\n\n.*VMX exit reason 49/);
    expect(at('faults.mmio-slow')).toContain('memslot searches miss');
    expect(at('stats.mmio_sptes_created')).toContain('mark\\_mmio\\_spte');
  });

  it('documents each entry-bit token of a flags string, bitN and pkey=N by their form', () => {
    const text = DOORBELL.replace('"p w pcd nx"', '"p w pcd nx bit52 pkey=3"');
    const at = (t: string) => hoverAt(text, text.indexOf(t, text.indexOf('"p w pcd')) + 1);
    expect(at('pcd')).toMatchObject({ markdown: expect.stringMatching(/^`pcd`\n\nPage\\-level cache disable/) });
    expect(text.slice(at('pcd')!.start, at('pcd')!.end)).toBe('pcd');
    expect(at('bit52')!.markdown).toMatch(/^`bitN`/);
    expect(at('pkey=3')!.markdown).toMatch(/^`pkey=N`/);
    expect(at(' nx')!.markdown).toMatch(/^`nx`\n\nNo\\-execute/);
  });

  it('picks the step kind from the step\'s keys: size in a read, memslot: delete\'s gpa', () => {
    const text = readFileSync('examples/stale-mmio-spte-after-slot-recreate.mmio.yaml', 'utf8');
    const del = text.indexOf('memslot: delete');
    expect(del).toBeGreaterThan(0);
    expect(hoverAt(text, del + 10)!.markdown).toContain('deletes a memslot');
    const read = hoverAt(DOORBELL, DOORBELL.indexOf('size: 8') + 1)!.markdown;
    expect(read).toContain('The access size in bytes');
  });

  it('puts nothing from the scenario into the Markdown: names, labels and unknown keys are not shown', () => {
    const evil = '<img src=x onerror=alert(1)>**bold**[link](command:x)';
    const text = DOORBELL.replace('name: Doorbell writes to an emulated NIC', `name: "${evil}"`)
      .replace('label: transaction', 'label: "<b>t</b>"')
      .replace('stats.mmio_sptes_created: 1', 'labels.<b>t</b>.count: 1000\n  "<i>x</i>": 1');
    const name = hoverAt(text, text.indexOf(evil) + 3)!;
    expect(name.markdown).toBe(`\`name\`\n\n${escapeMarkdown((props.name as Schema).description as string)}`);
    for (const probe of ['<b>t</b>"', 'labels.<b>', '<i>x</i>']) {
      const h = hoverAt(text, text.indexOf(probe) + 2);
      expect(h?.markdown ?? '', probe).not.toMatch(/<b>|<i>|<img/);
    }
    expect(hoverAt(text, text.indexOf('labels.<b>') + 2)!.markdown).toContain('iterations');
    expect(hoverAt(text, text.indexOf('"<i>x</i>"') + 2)).toBeUndefined();
  });
});

describe('completion', () => {
  it('inside mmu: offers exactly the mmu keys the schema allows that are not there yet', () => {
    const [text, at] = typed(DOORBELL, 'mmio_caching: true', ', ');
    const offered = completionsAt(text, at);
    expect(offered.map((c) => c.label).sort()).toEqual(keysOf(defs.mmu!).filter((k) => k !== 'tdp' && k !== 'mmio_caching').sort());
    expect(offered.every((c) => c.kind === 'key' && c.insertText === `${c.label}: ` && c.start === at && c.end === at)).toBe(true);
    expect(offered.find((c) => c.label === 'oos_shadow')!.documentation).toContain(escapeMarkdown('The oos_shadow module parameter'));
  });

  it('in a block mapping (guest:), the keys of guest not yet present, at the line\'s indentation', () => {
    const [text, at] = typed(DOORBELL, '  paging: 4-level\n', '  |\n');
    expect(labels(text, at).sort()).toEqual(keysOf(props.guest!).filter((k) => !['paging', 'cpu', 'mappings'].includes(k)).sort());
    // A word typed so far is replaced: the item's range covers it.
    const [text2, at2] = typed(DOORBELL, '  paging: 4-level\n', '  co|\n');
    const code = completionsAt(text2, at2).find((c) => c.label === 'code')!;
    expect([code.start, code.end]).toEqual([at2 - 2, at2]);
  });

  it('at the top level, the scenario keys not yet present', () => {
    const [text, at] = typed(DOORBELL, DOORBELL, '');
    const top = labels(text + 'c', at + 1);
    expect(top.sort()).toEqual(keysOf(schema).filter((k) => !pairsOf(DOORBELL).some((p) => p.key === k && DOORBELL.includes(`\n${k}:`) || DOORBELL.startsWith(`${k}:`))).sort());
    expect(top).toContain('compare');
    expect(top).not.toContain('kernel');
  });

  it('in a step: a new step is offered the step kinds; a read its size, cpl and raise', () => {
    const [text, at] = typed(DOORBELL, '      - { compute: 20000 }\n', '      - |\n');
    const kinds = [...new Set((defs.step!.anyOf as Schema[]).map((b) => (b.required as string[])[0]!))];
    expect(labels(text, at).sort()).toEqual(kinds.sort());
    const [text2, at2] = typed(DOORBELL, '{ read: 0xffff880000100000', ', ');
    expect(labels(text2, at2).sort()).toEqual(['cpl', 'raise']);
    const [text3, at3] = typed(DOORBELL, '{ write: 0xffffc90000000050', ', ', '{ write: 0xffffc90000000050, size: 4, value: 1'.length);
    expect(labels(text3, at3).sort()).toEqual(['cpl', 'raise']);
  });

  it('in expect: every exit reason, fault class, counter and cycle path, documented', () => {
    const [text, at] = typed(DOORBELL, 'expect:\n', '  exits.EPT_V\n', 'expect:\n'.length);
    const offered = completionsAt(text, at - 1);
    const paths = offered.map((c) => c.label);
    for (const x of EXIT_REASONS) if (!['EPT_MISCONFIG', 'EPT_VIOLATION'].includes(x)) expect(paths).toContain(`exits.${x}`);
    expect(paths).not.toContain('exits.EPT_MISCONFIG'); // already there
    for (const f of FAULT_KINDS) if (f !== 'mmio-slow') expect(paths).toContain(`faults.${f}`);
    for (const s of STATS) if (s !== 'mmio_sptes_created') expect(paths).toContain(`stats.${s}`);
    expect(paths).toContain('cycles.by_component.mmio_cache');
    // The range is the whole dotted word, so the editor filters `exits.EPT_V` against the paths.
    const v = offered.find((c) => c.label === 'exits.EPT_VIOLATION');
    expect(v).toBeUndefined(); // it is in the file already
    const ws = offered.find((c) => c.label === 'exits.WBINVD')!;
    expect(text.slice(ws.start, ws.end)).toBe('exits.EPT_V');
    expect(ws.documentation).toContain('VMX exit reason 54');
  });

  it('values: kernels, profiles, handlers, race points, booleans', () => {
    const value = (anchor: string, delta: number) => {
      const i = DOORBELL.indexOf(anchor) + delta;
      return labels(DOORBELL, i);
    };
    expect(value('kernel: v3.1', 'kernel: v3.'.length)).toEqual(['v3.0', 'v3.1']);
    expect(value('profile: westmere-2011', 'profile: w'.length)).toEqual(['westmere-2011', 'modern']);
    expect(value('handler: userspace', 'handler: u'.length)).toEqual(['kernel', 'userspace']);
    expect(value('tdp: true', 'tdp: t'.length)).toEqual(['true', 'false']);
    const [text, at] = typed(DOORBELL, '      - { compute: 20000 }\n', '      - { wait_for: { vcpu: 1, point: m| } }\n');
    const points = completionsAt(text, at);
    expect(points.map((c) => c.label)).toEqual([...RACE_POINTS]);
    expect(points.find((c) => c.label === 'mmu_lock')!.documentation).toContain('About to take mmu\\_lock');
    const [text2, at2] = typed(DOORBELL, 'kernel: v3.1', '|', 'kernel: '.length);
    expect(labels(text2.replace('kernel: v3.1', 'kernel: '), at2)).toEqual(['v3.0', 'v3.1']);
  });

  it('in a flags string, the entry-bit tokens it does not have yet', () => {
    const [text, at] = typed(DOORBELL, '"p w pcd nx', ' ');
    const offered = completionsAt(text, at);
    expect(offered.map((c) => c.label)).toEqual(['u', 'pwt', 'a', 'd', 'ps', 'g', 'bitN', 'pkey=N']);
    expect(offered.find((c) => c.label === 'pkey=N')!.insertText).toBe('pkey=');
    // In shadow-doorbell's level keys too.
    const i = SHADOW.search(/(pte|pde|flags): "/);
    expect(i).toBeGreaterThan(0);
    const q = SHADOW.indexOf('"', i) + 1;
    expect(labels(SHADOW.slice(0, q) + ' ' + SHADOW.slice(q), q)).toContain('g');
  });

  it('offers nothing in comments, scalars without choices, or unknown mappings', () => {
    expect(completionsAt(DOORBELL, 5)).toEqual([]); // in the leading comment
    const [text, at] = typed(DOORBELL, 'name: Doorbell', ' x', 'name: Doorbell'.length);
    expect(completionsAt(text, at)).toEqual([]);
    const [text2, at2] = typed(DOORBELL, DOORBELL, 'colour:\n  ');
    expect(completionsAt(text2, at2)).toEqual([]);
  });
});

describe('any text', () => {
  it('never throws; ranges lie in the text; no markup reaches the Markdown', () => {
    const piece = fc.constantFrom('kernel', 'mmu', 'tdp', 'flags', 'expect', 'exits.EPT_MISCONFIG', 'steps', 'read', 'memslot', 'delete', 'point', '<b>', '`', '*', ':', ': ', ', ', '- ', '{ ', ' }', '[', ']', '"', "'", '\n', '\r\n', '  ', '\t', '#', '&a ', '*a', '---\n', '|', '? ', 'p w', 'bit5', 'pkey=2');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.nat(), (pieces, n) => {
        const text = pieces.join('');
        const offset = n % (text.length + 1);
        const h = hoverAt(text, offset);
        if (h) {
          expect(h.start).toBeGreaterThanOrEqual(0);
          expect(h.end).toBeLessThanOrEqual(text.length);
          expect(h.markdown).not.toMatch(/<b>/);
        }
        for (const c of completionsAt(text, offset)) {
          expect(c.start).toBeLessThanOrEqual(offset);
          expect(c.end).toBeGreaterThanOrEqual(offset);
          expect(c.end).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('cost', () => {
  it('parses the document once per hover and once per completion', () => {
    const parse = vi.mocked(yaml.parseDocument);
    parse.mockClear();
    hoverAt(DOORBELL, DOORBELL.indexOf('kernel:') + 1);
    expect(parse).toHaveBeenCalledTimes(1);
    parse.mockClear();
    completionsAt(...typed(DOORBELL, 'mmio_caching: true', ', '));
    expect(parse).toHaveBeenCalledTimes(1);
  });
});

// Issue 14 item 9: hover and completion run on the host thread; a text the scenario parser refuses
// before reading (over 1 MiB, or flow collections nested past 200 levels) is not parsed for them.
// On main both were parsed (a 10 MB text for every hover; 10,000 `[` ran the library out of stack).
describe('refused texts get no help and no parse', () => {
  const at = DOORBELL.indexOf('kernel:') + 1;
  it('a text over the 1 MiB cap: no hover, no completion, no parse', () => {
    const huge = DOORBELL + '#' + 'x'.repeat(1 << 20) + '\n';
    const parse = vi.mocked(yaml.parseDocument);
    parse.mockClear();
    expect(hoverAt(huge, at)).toBeUndefined();
    expect(completionsAt(...typed(huge, 'mmio_caching: true', ', '))).toEqual([]);
    expect(parse).not.toHaveBeenCalled();
    // The same text under the cap has its hover (the guard is the size, not the comment).
    expect(hoverAt(DOORBELL + '#' + 'x'.repeat(1000) + '\n', at)).toBeDefined();
  });
  it('multi-byte text counts in UTF-8 bytes, as the parser counts it', () => {
    const wide = DOORBELL + '#' + 'é'.repeat(600_000) + '\n'; // 600,001 characters, 1.2 MB
    expect(hoverAt(wide, at)).toBeUndefined();
  });
  it('flow nesting past the limit: no hover, no exception', () => {
    const deep = DOORBELL + 'x: ' + '['.repeat(10_000) + '\n';
    const parse = vi.mocked(yaml.parseDocument);
    parse.mockClear();
    expect(() => hoverAt(deep, at)).not.toThrow();
    expect(hoverAt(deep, at)).toBeUndefined();
    expect(parse).not.toHaveBeenCalled();
  });
});
