// The machine a run was measured on: figures from a shared, loaded 2-core VM mean little without it.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

/** The CPU model from /proc/cpuinfo, or what Node reports when that file is not readable. */
function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

export const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

export function machineInfo() {
  return { cpu: cpuModel(), cores: availableParallelism(), node: process.version, platform: `${process.platform} ${process.arch}` };
}
