// Hostile YAML (issue 14): work linear in the file, and one located message per mistake.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import * as yaml from 'yaml';
import { duplicateKeys } from '../simulator/scenario/duplicate_keys';
import { parseScenario } from '../simulator/scenario/parse';
import type { Diagnostic } from '../simulator/scenario/types';

// Wraps parseDocument so that the options the parser passes can be checked.
vi.mock('yaml', async (importOriginal) => {
  const real = await importOriginal<typeof import('yaml')>();
  return { ...real, parseDocument: vi.fn(real.parseDocument) };
});

const BASE = readFileSync(new URL('../examples/doorbell.mmio.yaml', import.meta.url), 'utf8');

function diagnostics(text: string): [number, number, string][] {
  const r = parseScenario(text, 'bad.mmio.yaml');
  if (!('diagnostics' in r)) throw new Error('expected diagnostics');
  return r.diagnostics.map((d: Diagnostic) => [d.line, d.col, d.message]);
}

function loc(text: string, needle: string, from = 0): [number, number] {
  const at = text.indexOf(needle, from);
  if (at < 0) throw new Error(`test bug: ${JSON.stringify(needle)} not in text`);
  const before = text.slice(0, at).split('\n');
  return [before.length, before[before.length - 1]!.length + 1];
}

function replaced(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`test bug: ${JSON.stringify(from)} not in text`);
  return text.replace(from, to);
}

describe('duplicate keys, in linear time', () => {
  it("turns off the YAML library's quadratic duplicate-key check", () => {
    const spy = vi.mocked(yaml.parseDocument);
    spy.mockClear();
    parseScenario(BASE, 'ok.mmio.yaml');
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![1]).toMatchObject({ uniqueKeys: false });
  });

  it('reports a duplicate in a block mapping at the second key', () => {
    const text = replaced('kernel: v3.1\n', 'kernel: v3.1\nname: again\n');
    expect(diagnostics(text)).toEqual([[...loc(text, 'name: again'), 'duplicate key `name`']]);
  });

  it('reports a duplicate in a flow mapping at the second key, also when spelled differently', () => {
    const text = replaced('{ slot: 0, gpa: 0x0, size: 256M }', '{ slot: 0, gpa: 0x0, size: 256M, 0x10: 1, 16: 2 }');
    // 16 and 0x10 are the same integer; the unknown keys are reported too, each once.
    const diags = diagnostics(text);
    expect(diags).toContainEqual([...loc(text, '16: 2'), 'duplicate key `16`']);
    expect(diags.filter((d) => d[2].startsWith('duplicate'))).toHaveLength(1);
  });

  it('finds the one duplicate among 40,000 keys, in block and flow mappings', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}`);
    const blockText = keys.map((k) => `${k}: 1`).join('\n') + '\nk123: 2\n';
    const block = yaml.parseDocument(blockText, { uniqueKeys: false });
    expect(duplicateKeys(block.contents).map((k) => [String((k as yaml.Scalar).value), k.range![0]])).toEqual([['k123', blockText.lastIndexOf('k123: 2')]]);
    const flowText = `{ ${keys.map((k) => `${k}: 1`).join(', ')}, k7: 2 }`;
    const flow = yaml.parseDocument(flowText, { uniqueKeys: false });
    expect(duplicateKeys(flow.contents).map((k) => k.range![0])).toEqual([flowText.lastIndexOf('k7: 2')]);
  }, 60_000); // the YAML library alone takes seconds for 80,000 keys on a loaded machine
});

describe('aliases: bounded by the nodes they expand to', () => {
  // The issue's file: 2,000 steps under `&s`, then 999 repeats that each use `*s` (121 KB, 9 s a parse).
  const steps = '      - { read: 0xffff880000100000, size: 8 }\n'.repeat(2000);
  const uses = '  - { repeat: 1, steps: *s }\n'.repeat(999);
  const bomb = BASE.replace(/^workload:\n[\s\S]*?^expect:\n/m, `workload:\n  - repeat: 1\n    steps: &s\n${steps}${uses}expect:\n`);

  it('stops at the use of `*s` that passes 100,000 nodes, with one located message', () => {
    expect(bomb.length).toBeGreaterThan(120_000);
    // Each use brings 10,001 nodes (the list; a mapping and two keys and values per step): the 10th passes.
    let at = bomb.indexOf('*s');
    for (let i = 1; i < 10; i++) at = bomb.indexOf('*s', at + 1);
    expect(diagnostics(bomb)).toEqual([
      [...loc(bomb, '*s', at), "workload[10].steps: aliases expand to more than 100000 YAML nodes in this file (each use of `*s` repeats its anchor's nodes)"],
    ]);
  });

  it('refuses an alias inside the node it names', () => {
    const text = replaced('kernel: v3.1\n', 'kernel: v3.1\nscheduler: &loop { seed: *loop }\n');
    expect(diagnostics(text)).toEqual([
      [...loc(text, '*loop'), "scheduler.seed: aliases expand to more than 100000 YAML nodes in this file (each use of `*loop` repeats its anchor's nodes)"],
    ]);
  });

  it('still reads a file that shares steps through an alias', () => {
    const shared = replaced(
      '    steps:\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { read: 0xffff880000100000, size: 8 }\n      - { compute: 20000 }\n',
      '    steps: &burst\n      - { write: 0xffffc90000000050, size: 4, value: 1 }\n      - { read: 0xffff880000100000, size: 8 }\n      - { compute: 20000 }\n  - { repeat: 2, steps: *burst }\n',
    );
    const r = parseScenario(shared, 'shared.mmio.yaml');
    if (!('scenario' in r)) throw new Error(JSON.stringify(r.diagnostics));
    const [first, second] = r.scenario.vcpus[0]!.workload as { steps: unknown }[];
    expect(second!.steps).toEqual(first!.steps);
    expect(r.scenario.vcpus[0]!.workload).toHaveLength(2);
  });

  it('names an alias without an anchor, once, and nothing else', () => {
    const text = replaced('name: Doorbell writes to an emulated NIC', 'name: *nope');
    expect(diagnostics(text)).toEqual([[...loc(text, '*nope'), 'unknown alias `*nope`: no anchor `&nope` before it']]);
  });
});

describe('one mistake, one message that names it', () => {
  const TOO_DEEP = 'nested more than 200 levels deep (no scenario needs that many; the YAML reader would run out of stack)';

  it('names a second YAML document, without the library’s API advice', () => {
    const text = BASE + '---\nname: second\n';
    expect(diagnostics(text)).toEqual([[...loc(text, '---\n'), 'a scenario file holds one YAML document: remove this `---` line and what follows it, or move that into a file of its own']]);
  });

  it('names nesting too deep for the YAML reader: 10,000 `[`', () => {
    expect(diagnostics('['.repeat(10_000))).toEqual([[1, 201, TOO_DEEP]]);
    expect(diagnostics(`# a comment\nname: ${'['.repeat(10_000)}`)).toEqual([[2, 207, TOO_DEEP]]);
    // Brackets inside quotes, comments and plain scalars open nothing.
    const b = '['.repeat(300);
    let text = replaced('name: Doorbell writes to an emulated NIC', `name: "${b}" # ${'{'.repeat(300)}`);
    text = replaced('label: transaction', `label: t${b}`, text);
    const r = parseScenario(text, 'brackets.mmio.yaml');
    if (!('scenario' in r)) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.scenario.name).toBe(b);
  });

  it('names block nesting too deep, at the first collection past 200 levels', () => {
    const text = Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}a${i}:`).join('\n') + ' 1\n';
    expect(diagnostics(text)).toEqual([[201, 201, TOO_DEEP]]);
  });

  // Found by the example fuzzer: one stray line before the first key ended the document there, and
  // the library then reported every later key, colon and value (100 messages and "and 64 more").
  it('a stray line before the first key: one message, at the first key after it, naming that line', () => {
    const apic = readFileSync(new URL('../examples/apic-eoi.mmio.yaml', import.meta.url), 'utf8');
    const asText = apic.replace('# (offset', 'x # (offset');
    expect(diagnostics(asText)).toEqual([
      [6, 1, 'YAML: `name` cannot follow the text at line 2, column 1: a top-level line that is neither a comment nor `key: value` makes the whole document that text (start it with `#` if it is a comment)'],
    ]);
    const asList = apic.replace('# (offset', '- # (offset');
    expect(diagnostics(asList)).toEqual([
      [6, 1, 'YAML: `name` cannot follow the list that starts at line 2, column 1: a scenario is a mapping of keys, and a top-level `- ` line makes the document a list (start it with `#` if it is a comment)'],
    ]);
  });

  it('reports only the misspelled `memslot:`, not every mapping as unbacked', () => {
    const text = replaced('memslots:\n', 'memslot:\n');
    expect(diagnostics(text)).toEqual([[...loc(text, 'memslot:'), 'unknown key `memslot`; did you mean `memslots`?']]);
  });
});

describe('characters YAML does not allow', () => {
  it.each([
    ['a raw NUL', '\0', 'U+0000'],
    ['an escape (ANSI)', '\x1b', 'U+001B'],
    ['DEL', '\x7f', 'U+007F'],
    ['a C1 control', '\x9b', 'U+009B'],
  ])('reports %s in a name once, at its line and column', (_what, char, code) => {
    const text = replaced('emulated NIC', `emulated${char}NIC`);
    expect(diagnostics(text)).toEqual([
      [...loc(text, char), `control character ${code} is not allowed in YAML: remove it (write it as an escape such as "\\0" inside double quotes if it is meant)`],
    ]);
  });

  it('accepts tab, CR LF and NEL, and an escaped NUL in double quotes', () => {
    const text = replaced('name: Doorbell writes to an emulated NIC\n', 'name: "Doorbell\\0\tNIC\u0085"\r\n');
    const r = parseScenario(text, 'ok.mmio.yaml');
    if (!('scenario' in r)) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.scenario.name).toBe('Doorbell\0\tNIC\u0085');
  });
});
