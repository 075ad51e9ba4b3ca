// Guest virtual addresses are printed canonical (Intel SDM Vol. 1 §3.3.7.1: bits 63 through 47 of a
// 64-bit linear address are all 0 or all 1), in the run's trace (the panel's Timeline, `--trace`,
// the Chrome trace export) and in the access log: a code fetch at the default code address is
// 0xffffffff81000000 (the x86-64 kernel text, __START_KERNEL_map + 16 MiB), never 0xfffff81000000.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from './helpers/scenario';
import { runScenario } from '../simulator/run/run';
import { traceToChromeTrace } from '../extension/trace_export';

const EXAMPLES = readdirSync('examples', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.mmio.yaml'));
/** Trace fields that hold a guest virtual address (kvm_exit/kvm_emulate_insn rip, the walker's addr). */
const VIRTUAL = new Set(['rip', 'addr', 'gva']);

function canonical(hex: string): boolean {
  const v = BigInt(hex);
  const top = v >> 47n; // bits 63..47
  return top === 0n || top === 0x1ffffn;
}

describe('guest virtual addresses are canonical in every output', () => {
  it('the default code address: kvm_exit and kvm_emulate_insn rip 0xffffffff81000000', () => {
    const file = 'examples/doorbell.mmio.yaml';
    const r = runScenario(scenario(readFileSync(file, 'utf8'), file), { traceCapacity: 100_000 });
    const rips = new Set(r.trace.events.filter((e) => e.name === 'kvm_exit' || e.name === 'kvm_emulate_insn').map((e) => e.fields.rip));
    expect(rips.has('0xffffffff81000000')).toBe(true); // the first instruction; the next ones follow it
    for (const rip of rips) expect(rip).toMatch(/^0xffffffff81000[0-9a-f]{3}$/);
    const chrome = JSON.stringify(traceToChromeTrace(r));
    expect(chrome).toContain('0xffffffff81000000');
    expect(chrome).not.toMatch(/"0xfffff81000000"/);
  });

  for (const file of EXAMPLES) {
    it(`${file}: every rip, addr and gva in the trace and the access log`, () => {
      const path = join('examples', file);
      const r = runScenario(scenario(readFileSync(path, 'utf8'), path), { traceCapacity: 100_000, accesses: true });
      const seen: string[] = [];
      for (const e of r.trace.events) for (const [k, v] of Object.entries(e.fields)) if (VIRTUAL.has(k) && typeof v === 'string') seen.push(v);
      for (const a of r.accesses ?? []) for (const [k, v] of Object.entries(a)) if (VIRTUAL.has(k) && typeof v === 'string') seen.push(v);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((v) => !canonical(v))).toEqual([]);
    });
  }
});
