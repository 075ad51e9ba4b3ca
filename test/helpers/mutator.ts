// Random mutants of scenario text, for the fuzzers (test/fuzz-*.test.ts). A mutation is plain data
// (a kind and where), applied by `mutate`, so that fast-check shrinks it and prints it readably.
import fc from 'fast-check';

/** Numbers a careless or hostile user might write where a number goes. */
export const EXTREME_NUMBERS = ['0', '-1', '1', '9007199254740992', '9007199254740993', '1e308', '-1e308', '1e-308', '0xffffffffffffffff', '0xffffffffffffffffff', '0x', '.nan', 'NaN', '.inf', '-.inf', '1.5', '0b1', '0o777', '4294967296', '1_000'];

/** Values for the settings whose combinations the parser checks against each other. */
export const SETTING_VALUES: Readonly<Record<string, readonly string[]>> = {
  kernel: ['v3.0', 'v3.1', 'v2.6', 'v9', '3.1', '"v3.1"', '', 'null', '[v3.1]', 'true', '~'],
  tdp: ['on', 'off', 'true', 'false', 'yes', 'no', '1', 'maybe', '', '[]'],
  mmio_caching: ['on', 'off', 'true', 'false', 'yes', '0', 'sometimes', '', '{}'],
};

/** YAML syntax that changes what follows it. */
export const YAML_TOKENS = ['&a ', '*a', '*nope', '[', ']', '{', '}', ': ', ':', '- ', '---\n', '...\n', '? ', '\t', '"', "'", '|\n', '>\n', '# ', '!!str ', '!!binary ', '!tag ', '%YAML 1.2\n', '<<: *a\n', ', '];

/** Controls and odd code points, some YAML forbids (NUL, C1, U+FFFE) and some it allows. */
const ODD_CHARS = ['\0', '\x07', '\x1b[2J', '\r', '\x7f', '\x85', '\x9b', '\u00a0', '\u200b', '\u202e', '\ufeff', '\ufffe', '\uffff', '\ud800', '\ud83d\ude00'];

export type Mutation =
  | { kind: 'delete-line' | 'duplicate-line'; at: number }
  | { kind: 'swap-lines'; at: number; with: number }
  | { kind: 'number'; at: number; value: string }
  | { kind: 'key'; at: number; how: number; extra: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'nest'; at: number; depth: number; open: '[' | '{ a: ' | '- ' }
  | { kind: 'truncate'; at: number }
  | { kind: 'setting'; key: string; value: string };

const pos = fc.nat({ max: 1_000_000 });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete-line' as const, 'duplicate-line' as const), at: pos }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: pos, with: pos }),
  fc.record({ kind: fc.constant('number' as const), at: pos, value: fc.constantFrom(...EXTREME_NUMBERS) }),
  fc.record({ kind: fc.constant('key' as const), at: pos, how: fc.nat({ max: 6 }), extra: fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_-') }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: pos,
    text: fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.constantFrom(...ODD_CHARS), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 4, unit: 'binary' })),
  }),
  fc.record({ kind: fc.constant('nest' as const), at: pos, depth: fc.integer({ min: 1, max: 400 }), open: fc.constantFrom('[' as const, '{ a: ' as const, '- ' as const) }),
  fc.record({ kind: fc.constant('truncate' as const), at: pos }),
  fc.constantFrom(...Object.keys(SETTING_VALUES)).chain((key) => fc.record({ kind: fc.constant('setting' as const), key: fc.constant(key), value: fc.constantFrom(...SETTING_VALUES[key]!) })),
);

/** One to four mutations, applied in turn. */
export const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

function pick<T>(xs: readonly T[], at: number): T | undefined {
  return xs.length === 0 ? undefined : xs[at % xs.length];
}

/** Every match of `re` (global) in `text`, as [index, match]. */
function matches(text: string, re: RegExp): [number, string][] {
  return [...text.matchAll(re)].map((m) => [m.index, m[0]]);
}

/** Names every JavaScript object inherits: a lookup by key that is not an own-property check finds them. */
const INHERITED_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

/** A near miss of `key`, or an unknown key: a letter dropped, swapped or changed in case, a plural, a name objects inherit, or another word. */
function nearMiss(key: string, how: number, extra: string): string {
  switch (how) {
    case 0:
      return key.length > 1 ? key.slice(0, -1) : extra;
    case 1:
      return key + 's';
    case 2:
      return key.length > 1 ? key[1]! + key[0]! + key.slice(2) : key + key;
    case 3:
      return key.toUpperCase();
    case 4:
      return key.replace('_', '-') + (key.includes('_') ? '' : '_');
    case 5:
      return INHERITED_NAMES[extra.length % INHERITED_NAMES.length]!;
    default:
      return extra;
  }
}

export function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n');
  const n = lines.length;
  const offset = m.kind === 'setting' ? 0 : m.at % (text.length + 1);
  switch (m.kind) {
    case 'delete-line':
      lines.splice(m.at % n, 1);
      return lines.join('\n');
    case 'duplicate-line':
      lines.splice(m.at % n, 0, lines[m.at % n]!);
      return lines.join('\n');
    case 'swap-lines': {
      const [i, j] = [m.at % n, m.with % n];
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 'number': {
      const hit = pick(matches(text, /-?\b(0x[0-9a-fA-F]+|\d+(\.\d+)?)[KMG]?\b/g), m.at);
      return hit ? text.slice(0, hit[0]) + m.value + text.slice(hit[0] + hit[1].length) : text;
    }
    case 'key': {
      const hit = pick(matches(text, /[A-Za-z_][A-Za-z0-9_]*(?=:)/g), m.at);
      return hit ? text.slice(0, hit[0]) + nearMiss(hit[1], m.how, m.extra) + text.slice(hit[0] + hit[1].length) : text;
    }
    case 'insert':
      return text.slice(0, offset) + m.text + text.slice(offset);
    case 'nest': {
      // Flow nesting opens `depth` brackets where a value starts; block nesting indents list items.
      const nested = m.open === '- ' ? Array.from({ length: m.depth }, (_, i) => ' '.repeat(2 * i) + '- ').join('\n') + 'x\n' : m.open.repeat(m.depth);
      return text.slice(0, offset) + nested + text.slice(offset);
    }
    case 'truncate':
      return text.slice(0, offset);
    case 'setting':
      return text.replace(new RegExp(`^(\\s*${m.key}:)[^\\n#]*`, 'm'), `$1 ${m.value}`);
  }
}

export function mutateAll(text: string, ms: readonly Mutation[]): string {
  return ms.reduce(mutate, text);
}

const LOCAL_RUNS = Number(process.env.FUZZ_RUNS);
const LOCAL = Number.isInteger(LOCAL_RUNS) && LOCAL_RUNS > 0;

/**
 * The runs and seed of a fuzz property: CI's fixed ones (seed 20261206), or FUZZ_RUNS and FUZZ_SEED
 * for the larger local mode (`npm run fuzz`). fast-check prints the seed and path of a failure, so
 * `FUZZ_SEED=<seed>` replays it.
 */
export function fuzzParams(ciRuns: number): { numRuns: number; seed: number } {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: LOCAL ? LOCAL_RUNS : ciRuns, seed: process.env.FUZZ_SEED && Number.isInteger(seed) ? seed : 20261206 };
}

/** A test's timeout: `ciMs` in CI; none to speak of in the local mode, whose length the user chose. */
export function fuzzTimeout(ciMs: number): number {
  return LOCAL ? 24 * 3600_000 : ciMs;
}
