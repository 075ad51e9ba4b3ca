// Run in a child `node --expose-gc` (bundled by test/memory.test.ts), so that vitest's own heap does
// not mix into the figures: the heap a scenario file keeps alive after parseScenario, after compiling
// its workloads, and after the run, and the process's peak RSS. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { parseScenario } from '../../simulator/scenario/parse';
import { Compiler } from '../../simulator/run/program';
import { runScenario } from '../../simulator/run/run';

const gc = (globalThis as { gc?: () => void }).gc!;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
};
const [file, what = 'compile'] = process.argv.slice(2);
const text = readFileSync(file!, 'utf8');
const base = heap();
const parsed = parseScenario(text, file!);
const afterParse = heap() - base;
const out: Record<string, unknown> = { ok: 'scenario' in parsed, afterParse };
if ('scenario' in parsed) {
  const compiler = new Compiler();
  const programs = parsed.scenario.vcpus.map((v) => compiler.compile(v.workload));
  out.afterCompile = heap() - base;
  out.steps = programs.reduce((n, p) => n + p.length, 0);
  if (what === 'run') {
    const result = runScenario(parsed.scenario, { traceCapacity: 0 });
    out.afterRun = heap() - base;
    out.lines = result.lines.length;
  }
  (globalThis as { keep?: unknown }).keep = [parsed, compiler, programs];
}
out.peakRss = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify(out));
