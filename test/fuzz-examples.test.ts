// Random mutants of every bundled example (issue 14): the parser answers each with a scenario or
// located diagnostics, never a throw; a mutant that parses runs (every `compare:` variant) to a
// result or a documented error. CI runs a fixed seed; `npm run fuzz` many more (test/helpers/mutator.ts).
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseScenario, runVariant, selectVariants, variantsOf, type Scenario, type VariantSelection } from '../simulator/index';
import { Machine } from '../simulator/run/machine';
import { workOf } from '../simulator/run/work_budget';
import { fuzzParams, fuzzTimeout, mutateAll, mutations } from './helpers/mutator';
import { expectLocated, expectResultOrDocumentedError } from './helpers/fuzz_checks';

const DIRS = ['../examples/', '../examples/seed/'].map((d) => new URL(d, import.meta.url));
const EXAMPLES = DIRS.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.mmio.yaml'))
    .map((f) => ({ file: f, text: readFileSync(new URL(f, dir), 'utf8') })),
);

/**
 * Mutants whose workloads ask for more simulation than this (µs, all variants, at the work budget's
 * step costs) are set up (budget check, guest page tables, memslots) but not run, so that a mutant
 * asking for a long run cannot make the fuzzer slow. The largest example asks for about 2.2e6 over
 * its four variants (kernbench), so most mutants of the small examples run in full.
 */
const RUN_WORK_US = 250_000;

/** The variants a mutant runs: its `compare:` section (or itself), or Compare Kernels' selections as the CLI's `compare --kernels/--tdp` makes them. */
const selection = fc.constantFrom<VariantSelection | null>(null, null, {}, { kernels: ['v3.0', 'v3.1'], tdp: [false, true] }, { kernels: ['v3.0'] }, { tdp: [true] });

function runAll(sc: Scenario, text: string, sel: VariantSelection | null): void {
  const variants = expectResultOrDocumentedError(() => (sel === null ? variantsOf(sc) : selectVariants(sc, sel)), text);
  if (variants instanceof Error) return;
  const work = variants.length * sc.vcpus.reduce((us, v) => us + workOf(v.workload), 0);
  for (const v of variants) {
    const r = expectResultOrDocumentedError(() => (work <= RUN_WORK_US ? runVariant(sc, v.overrides) : new Machine(sc, { overrides: v.overrides })), text);
    if (!(r instanceof Error) && 'cycles' in r) expect(Number.isFinite(r.cycles.elapsed) && r.cycles.elapsed >= 0, `elapsed ${r.cycles.elapsed}`).toBe(true);
  }
}

const example = fc.constantFrom(...EXAMPLES);

describe('random mutants of the examples', () => {
  it('has every example to mutate', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(11);
  });

  it('parse to a scenario or to located, readable diagnostics, never a throw', () => {
    fc.assert(
      fc.property(example, mutations, (ex, ms) => {
        const text = mutateAll(ex.text, ms);
        const r = parseScenario(text, ex.file);
        if ('diagnostics' in r) expectLocated(r.diagnostics, text);
        else expect(r.scenario.vcpus.length).toBeGreaterThan(0);
      }),
      fuzzParams(400),
    );
  }, fuzzTimeout(120_000));

  it('that parse run every variant (the file\'s, or Compare Kernels\') to a result or a documented error', () => {
    let ran = 0;
    fc.assert(
      fc.property(example, mutations, selection, (ex, ms, sel) => {
        const text = mutateAll(ex.text, ms);
        const r = parseScenario(text, ex.file);
        if ('diagnostics' in r) return;
        ran++;
        runAll(r.scenario, text, sel);
      }),
      fuzzParams(60),
    );
    expect(ran).toBeGreaterThan(0); // the mutants are not all refused: the run is exercised
  }, fuzzTimeout(300_000));
});

describe('what the example fuzzer found', () => {
  // A mutant truncated after `  - {` ended its diagnostic one column past the end of the text (the
  // YAML library reports an unclosed collection at offset text.length, one character wide).
  it.each([
    ['{', [1, 2, 1, 2]],
    ['a: "', [1, 5, 1, 5]],
    ['memslots:\n  - {', [2, 6, 2, 6]],
  ])('%j: the diagnostic ends inside the text', (text, range) => {
    const r = parseScenario(text, 'cut.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('parsed');
    expect(r.diagnostics.map((d) => [d.line, d.col, d.endLine, d.endCol])).toEqual([range]);
    expectLocated(r.diagnostics, text);
  });

  // A stray `- ` inside a comment (its remainder became a plain scalar running into the next line):
  // the YAML library's line counter missed that line break, so every later diagnostic was a line early.
  it('places diagnostics after a broken multi-line scalar on their own lines', () => {
    const text = '# a\n- x\nb.\nname: n\nkernel: v3.1\n';
    const r = parseScenario(text, 'stray.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('parsed');
    // (The library's own line counter put the `:` of line 4 on line 3.) The tokens after the list
    // are one message since (yaml_errors.ts), at the first of them.
    expect(r.diagnostics.map((d) => [d.line, d.col, d.message])).toEqual([
      [3, 1, 'YAML: Unexpected scalar at node end'],
      [4, 5, 'YAML: `:` cannot follow the list that starts at line 2, column 1: a scenario is a mapping of keys, and a top-level `- ` line makes the document a list (start it with `#` if it is a comment)'],
    ]);
    expectLocated(r.diagnostics, text);
  });

  // A flow mapping cut off by a less indented line: the library's lexer marks it with U+0018 and its
  // message quoted that internal character as a token of the file.
  it('says a flow collection is not closed, without the lexer\'s internal marker', () => {
    const text = '- 1\na:\n  - {%\n';
    const r = parseScenario(text, 'flow.mmio.yaml');
    if (!('diagnostics' in r)) throw new Error('parsed');
    expect(r.diagnostics.map((d) => d.message).join('\n')).not.toMatch(/\u0018|flow-error-end/);
    // The unclosed flow mapping follows a token that cannot come after the top-level list: that one
    // mistake is the one message (yaml_errors.ts).
    expect(r.diagnostics.map((d) => [d.line, d.col, d.message])).toEqual([[2, 1, 'YAML: `a` cannot follow the list that starts at line 1, column 1: a scenario is a mapping of keys, and a top-level `- ` line makes the document a list (start it with `#` if it is a comment)']]);
    expectLocated(r.diagnostics, text);
  });
});
