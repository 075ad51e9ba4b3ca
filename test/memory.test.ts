// Memory a scenario costs: a compiled workload is bytes per step (typed arrays), not objects per
// step, and the CLI runs the largest file it accepts in a bounded heap (docs/limits.md, "Memory").
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildSync } from 'esbuild';
import { MAX_FILE_BYTES } from '../simulator/scenario/file_size';
import { blockOfReads, flowOfReads } from './helpers/large_files';

let dir = '';
let probe = '';

beforeAll(() => {
  if (!existsSync('dist/cli.js')) execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'mmu-lab-memory-'));
  // Measured in a child of its own, so that vitest's heap does not mix into the figures.
  probe = join(dir, 'memory_probe.cjs');
  buildSync({ entryPoints: ['test/helpers/memory_probe.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: probe, logLevel: 'warning' });
});

interface Measured {
  ok: boolean;
  afterParse: number;
  afterCompile: number;
  steps: number;
}

function measure(text: string): Measured {
  const file = join(dir, 'reads.mmio.yaml');
  writeFileSync(file, text);
  const p = spawnSync(process.execPath, ['--expose-gc', probe, file], { encoding: 'utf8' });
  expect(p.stderr).toBe('');
  return JSON.parse(p.stdout) as Measured;
}

describe('memory per step', () => {
  it('a 1 MiB file of reads keeps under 150 bytes a step parsed, 80 more compiled', () => {
    const { text, steps } = blockOfReads();
    expect(text.length).toBeLessThanOrEqual(MAX_FILE_BYTES);
    expect(text.length).toBeGreaterThan(MAX_FILE_BYTES - 16);
    const m = measure(text);
    expect(m.ok).toBe(true);
    expect(m.steps).toBe(steps);
    // Measured: 122 bytes a step parsed (a Step and its position; the kind string and the address
    // object are shared), 62.5 compiled (an opcode byte, seven float64 operands, an int32 line, a
    // code-slot byte). Before: 201 and 110 (a string, an address and a code-slot object per step,
    // and number[] operands while compiling).
    expect(m.afterParse / steps).toBeLessThan(150);
    expect((m.afterCompile - m.afterParse) / steps).toBeLessThan(80);
  }, 120_000);
});

describe('the CLI in a bounded heap', () => {
  it('runs the worst-shape 1 MiB file (one flow list of reads) with a 320 MB old space', () => {
    const { text } = flowOfReads();
    const file = join(dir, 'flow.mmio.yaml');
    writeFileSync(file, text);
    const p = spawnSync(process.execPath, ['--max-old-space-size=320', 'dist/cli.js', 'run', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/elapsed/);
  }, 120_000);
});
