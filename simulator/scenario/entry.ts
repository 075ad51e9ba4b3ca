// Paging-entry bits: the space-separated tokens of a mapping's `flags`/`pte`/`pde`/`pdpte`/`pml4e`
// and of a `pte` step's `flags`, turned into the (lo, hi) halves of the entry's non-frame bits.

import { readString, type Ctx, type Val } from './reader';
import { didYouMean } from './suggest';
import type { EntryBits } from './types';

/** The named tokens and the bit each sets (nx is bit 63). */
const NAMED_BITS: ReadonlyMap<string, number> = new Map([
  ['p', 0], ['w', 1], ['u', 2], ['pwt', 3], ['pcd', 4], ['a', 5], ['d', 6], ['ps', 7], ['g', 8], ['nx', 63],
]);

/** Named entry-bit tokens, in bit order. */
export const FLAG_TOKENS: readonly string[] = [...NAMED_BITS.keys()];

/** Every token form, for suggestions and the "expected tokens" hint. */
const TOKEN_FORMS: readonly string[] = [...FLAG_TOKENS, 'bitN', 'pkey=N'];

/** Bits 62:59 hold the protection key. */
const PKEY_SHIFT = 59;
const PKEY_BITS = [59, 60, 61, 62];

/** The bits of a leaf entry when a mapping gives none: present, writable, accessed, dirty. */
export const DEFAULT_LEAF: EntryBits = { lo: 0x63, hi: 0 };

/** One token's meaning: the bits it owns (for the overlap check) and the value it puts there. */
interface TokenBits {
  owns: number[];
  value: bigint;
}

/**
 * Space-separated entry-bit tokens (an empty string is an entry with no bits: not present). Each bad
 * token is reported at its own column when possible; two tokens that set the same bit are an error.
 */
export function readEntryBits(ctx: Ctx, v: Val): EntryBits | null {
  const text = readString(ctx, v);
  if (text === null) return null;
  const owner = new Map<number, string>();
  const names = new Set<string>();
  let value = 0n;
  let ok = true;
  for (const t of tokenVals(ctx, v, text)) {
    const bits = tokenBits(ctx, t);
    if (!bits) {
      ok = false;
      continue;
    }
    const clash = bits.owns.find((b) => owner.has(b));
    if (names.has(t.name)) {
      ctx.error(t.v, `flag \`${t.name}\` is given twice`);
      ok = false;
    } else if (clash !== undefined) {
      const other = owner.get(clash)!;
      const both = other.startsWith('pkey=') && t.name.startsWith('pkey=') ? 'bits 62:59' : `bit ${clash}`;
      ctx.error(t.v, `flag \`${t.name}\` and \`${other}\` both set ${both}`);
      ok = false;
    }
    names.add(t.name);
    for (const b of bits.owns) if (!owner.has(b)) owner.set(b, t.name);
    value |= bits.value;
  }
  if (!ok) return null;
  return { lo: Number(value & 0xffffffffn), hi: Number(value >> 32n) };
}

function tokenBits(ctx: Ctx, t: { name: string; v: Val }): TokenBits | null {
  const named = NAMED_BITS.get(t.name);
  if (named !== undefined) return { owns: [named], value: 1n << BigInt(named) };
  const bit = /^bit([0-9]+)$/.exec(t.name);
  if (bit) {
    const n = Number(bit[1]);
    if (n > 63) {
      ctx.error(t.v, `flag \`${t.name}\`: the bit number must be between 0 and 63`);
      return null;
    }
    return { owns: [n], value: 1n << BigInt(n) };
  }
  const pkey = /^pkey=([0-9]+)$/.exec(t.name);
  if (pkey) {
    const n = Number(pkey[1]);
    if (n > 15) {
      ctx.error(t.v, `flag \`${t.name}\`: the protection key must be between 0 and 15`);
      return null;
    }
    return { owns: PKEY_BITS, value: BigInt(n) << BigInt(PKEY_SHIFT) };
  }
  const hint = didYouMean(t.name, TOKEN_FORMS) || ` (expected tokens from: ${TOKEN_FORMS.join(' ')})`;
  ctx.error(t.v, `unknown flag \`${t.name}\`${hint}`);
  return null;
}

/** Splits a flags string into tokens, each with the source range of that token if it can be found. */
function tokenVals(ctx: Ctx, v: Val, text: string): { name: string; v: Val }[] {
  const names = text.split(/\s+/).filter((s) => s !== '');
  const src = ctx.text.slice(v.range[0], v.range[1]);
  const found = [...src.matchAll(/[^\s"']+/g)];
  // Only trust source columns when the source tokens are exactly the value's (no escapes etc.).
  const exact = found.length === names.length && found.every((m, i) => m[0] === names[i]);
  return names.map((name, i) => {
    const m = found[i];
    const range: [number, number] =
      exact && m ? [v.range[0] + m.index!, v.range[0] + m.index! + name.length] : v.range;
    return { name, v: { ...v, range } };
  });
}
