import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';
import { PROFILES } from '../simulator/scenario/types';

// Every constant of every cost profile carries exactly one tag of its own (docs/cost-model.md,
// "Tags"): verified, derived, estimate or unsupported. A new CostProfile field without a row there
// fails here, as does a row without exactly one tag per profile, or a comment in
// simulator/cost/profiles.ts whose leading tag differs from the doc's.

const TAGS = ['verified', 'derived', 'estimate', 'unsupported'];
const DOC = readFileSync('docs/cost-model.md', 'utf8');
const SOURCE = readFileSync('simulator/cost/profiles.ts', 'utf8');

/** The rows of the "### Tags" table: field -> the tag cells (westmere-2011, modern), in order. */
export function tagRows(doc: string): { field: string; cells: string[] }[] {
  const start = doc.indexOf('\n### Tags\n');
  if (start < 0) throw new Error('docs/cost-model.md has no "### Tags" section');
  const rest = doc.slice(start + 1);
  const end = rest.search(/\n##+ /);
  const section = end < 0 ? rest : rest.slice(0, end);
  const header = section.split('\n').find((l) => l.startsWith('| Field |'));
  if (!header) throw new Error('the Tags table has no header row');
  const cols = header.split('|').slice(1, -1).map((c) => c.trim());
  const idx = PROFILES.map((p) => cols.indexOf(p));
  if (idx.some((i) => i < 0)) throw new Error(`the Tags table needs one column per profile (${PROFILES.join(', ')}); header: ${header}`);
  return section
    .split('\n')
    .filter((l) => /^\| `/.test(l))
    .map((l) => {
      const cells = l.split('|').slice(1, -1).map((c) => c.trim());
      return { field: cells[0]!.replace(/`/g, ''), cells: idx.map((i) => cells[i]!) };
    });
}

/** The leading tag of each value's comment in profiles.ts, per profile object. */
function sourceTags(source: string): Record<string, Record<string, string | null>> {
  const out: Record<string, Record<string, string | null>> = {};
  for (const block of source.split(/\nconst [A-Z0-9_]+: CostProfile = \{\n/).slice(1)) {
    const body = block.slice(0, block.indexOf('\n};'));
    const name = /name: '([^']+)'/.exec(body)?.[1];
    if (!name) throw new Error('a profile object without a name line');
    const tags: Record<string, string | null> = {};
    for (const line of body.split('\n')) {
      const m = /^\s+(\w+): [^/]+\/\/ (\w+):/.exec(line) ?? /^\s+(\w+): /.exec(line);
      if (m && m[1] !== 'name') tags[m[1]!] = m[2] ?? null;
    }
    out[name] = tags;
  }
  return out;
}

describe('cost constant tags (docs/cost-model.md "Tags")', () => {
  const rows = tagRows(DOC);

  for (const p of PROFILES) {
    const keys = Object.keys(PROFILES_BY_NAME[p]).filter((k) => k !== 'name');
    it(`${p}: every CostProfile field has exactly one row`, () => {
      for (const k of keys) expect(rows.filter((r) => r.field === k).length, `rows for ${k}`).toBe(1);
      for (const r of rows) expect(keys, `row ${r.field} names no field`).toContain(r.field);
    });
    it(`${p}: every row carries exactly one tag`, () => {
      const i = PROFILES.indexOf(p);
      for (const r of rows) expect(TAGS, `${r.field} (${p}): "${r.cells[i]}"`).toContain(r.cells[i]);
    });
  }

  it('every value in simulator/cost/profiles.ts starts its comment with the same tag as the doc', () => {
    const src = sourceTags(SOURCE);
    expect(Object.keys(src).sort()).toEqual([...PROFILES].sort());
    for (const p of PROFILES) {
      const i = PROFILES.indexOf(p);
      const keys = Object.keys(PROFILES_BY_NAME[p]).filter((k) => k !== 'name');
      expect(Object.keys(src[p]!).sort(), `fields of ${p} in profiles.ts`).toEqual([...keys].sort());
      for (const r of rows) expect(src[p]![r.field], `${r.field} (${p}) in profiles.ts`).toBe(r.cells[i]);
    }
  });

  // The relabellings this table records, each against the source it was checked with (see the
  // row's text): SplitX states the 2011 transition (verified); remote_tlb_flush and
  // device_userspace rest on secondary or contradicted sources (unsupported).
  it('records the checked relabellings', () => {
    const tag = (f: string, p: number) => rows.find((r) => r.field === f)!.cells[p];
    expect(tag('vmexit_transition', 0)).toBe('verified');
    expect(tag('vmexit_transition', 1)).toBe('estimate');
    expect(tag('remote_tlb_flush', 0)).toBe('unsupported');
    // device_userspace (unsupported) became vmm_round_trip, derived from kvm-unit-tests 00bfecaa.
    expect(rows.find((r) => r.field === 'device_userspace')).toBeUndefined();
    expect(tag('vmm_round_trip', 0)).toBe('derived');
    expect(tag('vmm_round_trip', 1)).toBe('derived');
  });
});
