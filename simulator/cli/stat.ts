// `mmu-lab stat FILE [--event=vmexit|mmio|ioport] [--vcpu=N] [--key=sample|time]`: runs the scenario
// and prints one table as `perf kvm stat report` would (report/kvm_stat_text.ts). Exit status 0, or
// 2 for bad input (an unknown option or value, a vCPU the scenario does not have, a bad file).

import { writeErr, writeOut } from './terminal';
import { printDiagnostics, readScenarioFile } from './scenario_file';
import { runScenario, GuestSetupError } from '../run/run';
import { formatKvmStat, KVM_STAT_EVENTS, KVM_STAT_KEYS, type KvmStatOptions } from '../report/kvm_stat_text';

interface StatArgs {
  file: string;
  opts: KvmStatOptions;
}

/** Options as perf takes them: `--event=mmio` or `--event mmio`; `-k` for `--key`. */
function parseStatArgs(argv: string[], usage: string): StatArgs | string {
  const opts: KvmStatOptions = { event: 'vmexit', vcpu: -1, key: 'sample' };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]!;
    const eq = s.indexOf('=');
    const name = s.startsWith('--') && eq > 0 ? s.slice(0, eq) : s;
    const take = (): string | undefined => (s.startsWith('--') && eq > 0 ? s.slice(eq + 1) : argv[++i]);
    if (name === '--event') {
      const v = take();
      if (!KVM_STAT_EVENTS.includes(v as never)) return `--event takes ${KVM_STAT_EVENTS.join(', ')} (got ${JSON.stringify(v ?? '')})\n${usage}`;
      opts.event = v as KvmStatOptions['event'];
    } else if (name === '--key' || name === '-k') {
      const v = take();
      if (!KVM_STAT_KEYS.includes(v as never)) return `--key takes ${KVM_STAT_KEYS.join(' or ')} (got ${JSON.stringify(v ?? '')})\n${usage}`;
      opts.key = v as KvmStatOptions['key'];
    } else if (name === '--vcpu') {
      const v = take();
      if (v === undefined || !/^\d+$/.test(v)) return `--vcpu takes a vCPU number (0, 1, ...) (got ${JSON.stringify(v ?? '')})\n${usage}`;
      opts.vcpu = Number(v);
    } else if (s.startsWith('-')) return `unknown option ${JSON.stringify(s)}\n${usage}`;
    else files.push(s);
  }
  if (files.length !== 1) return usage;
  return { file: files[0]!, opts };
}

export function statCommand(argv: string[], usage: string): number {
  const args = parseStatArgs(argv, usage);
  if (typeof args === 'string') {
    writeErr(args + '\n');
    return 2;
  }
  const { file, opts } = args;
  const read = readScenarioFile(file);
  if (read === null) return 2;
  const scenario = read.scenario;
  const vcpus = scenario.vcpus.length;
  if (opts.vcpu >= vcpus) {
    writeErr(`--vcpu ${opts.vcpu}: ${file} has ${vcpus} vCPU${vcpus === 1 ? '' : 's'} (0${vcpus > 1 ? `..${vcpus - 1}` : ''})\n${usage}\n`);
    return 2;
  }
  try {
    writeOut(formatKvmStat(runScenario(scenario), opts));
    return 0;
  } catch (e) {
    if (!(e instanceof GuestSetupError)) throw e;
    printDiagnostics([{ file, line: e.line, col: e.col, endLine: e.line, endCol: e.col, message: e.message }]);
    return 2;
  }
}
