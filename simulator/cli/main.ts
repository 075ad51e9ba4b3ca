// `mmu-lab run FILE... [--json | --folded | --trace-cmd [-e EVENT]...] [--kernel v3.0|v3.1] [--tdp on|off] [--bypass-guest-pf on|off] [--accesses] [--trace] [--call-paths] [--no-fast-paths]`
// `mmu-lab compare FILE [--kernels v3.0,v3.1] [--tdp on,off] [--json]`
// The only simulator module that touches Node: it reads files and prints. Exit status: 0 when every
// expectation holds, 1 when one fails, 2 for bad input (the worst over all files).

import { writeErr, writeOut } from './terminal';
import { foldedStacks } from '../cost/flame';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { printDiagnostics, readScenarioFile } from './scenario_file';
import { runScenario, GuestSetupError, OverrideError } from '../run/run';
import { formatRunText } from '../report/text';
import { formatTraceCmd, selectTracepoints } from '../report/trace_cmd';
import { formatCompareText } from '../report/compare_text';
import { statCommand } from './stat';
import { assemble } from '../run/compare';
import { VariantError, selectVariants, type Variant, type VariantSelection } from '../run/kernel_variants';
import type { RunResult } from '../run/result';
import type { Diagnostic, Kernel, ScenarioOverrides } from '../scenario/types';
import { KERNELS } from '../scenario/types';
import { jsonSafe, lineSafe } from '../util/control_chars';

/** The override flags as given, for a message about them. */
function flagsText(o: ScenarioOverrides): string {
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  const flags: string[] = [];
  if (o.kernel !== undefined) flags.push(`--kernel ${o.kernel}`);
  if (o.tdp !== undefined) flags.push(`--tdp ${onOff(o.tdp)}`);
  if (o.bypass_guest_pf !== undefined) flags.push(`--bypass-guest-pf ${onOff(o.bypass_guest_pf)}`);
  return flags.join(' ');
}

const USAGE = `usage: mmu-lab run FILE... [--json | --folded] [--kernel v3.0|v3.1] [--tdp on|off] [--bypass-guest-pf on|off] [--accesses] [--trace]
                    [--call-paths] [--trace-cmd [-e EVENT]...] [--no-fast-paths]
       mmu-lab compare FILE [--kernels ${KERNELS.join(',')}] [--tdp on,off] [--json]
         (compare: the file's compare: variants; with --kernels/--tdp, or when it has none, the file
         under each kernel (default: all) in each MMU mode (default: the file's own))
       mmu-lab stat FILE [--event=vmexit|mmio|ioport] [--vcpu=N] [--key=sample|time]`;

interface Args {
  files: string[];
  json: boolean;
  /** Print the run's folded call stacks (flamegraph.pl input) instead of the report. */
  folded: boolean;
  accesses: boolean;
  /** False with --no-fast-paths: every access through the full model (the reference for the fast paths). */
  fastPaths: boolean;
  /** Attribute the cycles to kernel call paths: the report's `flame` in --json (--folded implies it). */
  callPaths: boolean;
  /** Include the trace events (the last 10,000) in --json output; otherwise only their totals. */
  trace: boolean;
  /** Print the trace buffer as \`trace-cmd report\` text instead of the text report. */
  traceCmd: boolean;
  /** The -e values (trace-cmd's event selection); empty: every tracepoint. */
  events: string[];
  overrides: ScenarioOverrides;
}

function parseArgs(argv: string[]): Args | string {
  const [cmd, ...rest] = argv;
  if (cmd !== 'run') return USAGE;
  const a: Args = { files: [], json: false, folded: false, accesses: false, fastPaths: true, callPaths: false, trace: false, traceCmd: false, events: [], overrides: {} };
  for (let i = 0; i < rest.length; i++) {
    const s = rest[i]!;
    if (s === '--json') a.json = true;
    else if (s === '--folded') a.folded = true;
    else if (s === '--accesses') a.accesses = true;
    else if (s === '--call-paths') a.callPaths = true;
    else if (s === '--no-fast-paths') a.fastPaths = false;
    else if (s === '--trace') a.trace = true;
    else if (s === '--trace-cmd') a.traceCmd = true;
    else if (s === '-e') {
      const ev = rest[++i];
      if (ev === undefined || ev === '') return `-e takes an event: system:event, system:*, system or event\n${USAGE}`;
      a.events.push(ev);
    }
    else if (s === '--kernel') {
      const k = rest[++i];
      if (!KERNELS.includes(k as never)) return `--kernel takes ${KERNELS.join(' or ')}\n${USAGE}`;
      a.overrides.kernel = k as ScenarioOverrides['kernel'];
    } else if (s === '--tdp') {
      const v = rest[++i];
      if (v !== 'on' && v !== 'off') return `--tdp takes on or off\n${USAGE}`;
      a.overrides.tdp = v === 'on';
    } else if (s === '--bypass-guest-pf') {
      const v = rest[++i];
      if (v !== 'on' && v !== 'off') return `--bypass-guest-pf takes on or off\n${USAGE}`;
      a.overrides.bypass_guest_pf = v === 'on';
    } else if (s.startsWith('-')) return `unknown option ${s}\n${USAGE}`;
    else a.files.push(s);
  }
  if (a.files.length === 0) return USAGE;
  if (a.events.length > 0 && !a.traceCmd) return `-e selects events for --trace-cmd\n${USAGE}`;
  if (a.traceCmd && a.json) return `--trace-cmd and --json are exclusive\n${USAGE}`;
  if (a.traceCmd) {
    const sel = selectTracepoints(a.events);
    if (typeof sel === 'string') return `${sel}\n${USAGE}`;
  }
  if (a.json && a.folded) return `--json and --folded cannot be combined\n${USAGE}`;
  if (a.traceCmd && a.folded) return `--trace-cmd and --folded are exclusive\n${USAGE}`;
  return a;
}


interface CompareArgs {
  file: string;
  json: boolean;
  selection: VariantSelection;
}

/** A comma-separated list of values from `allowed`, each once; null when it is not one. */
function readList<T extends string>(text: string | undefined, allowed: readonly T[]): T[] | null {
  if (text === undefined || text === '') return null;
  const items = text.split(',');
  if (items.some((x) => !allowed.includes(x as T)) || new Set(items).size !== items.length) return null;
  return items as T[];
}

function parseCompareArgs(argv: string[]): CompareArgs | string {
  const a: CompareArgs = { file: '', json: false, selection: {} };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]!;
    if (s === '--json') a.json = true;
    else if (s === '--kernels') {
      const ks = readList<Kernel>(argv[++i], KERNELS);
      if (!ks) return `--kernels takes a comma-separated list of ${KERNELS.join(', ')} (each once)\n${USAGE}`;
      a.selection.kernels = ks;
    } else if (s === '--tdp') {
      const modes = readList(argv[++i], ['on', 'off'] as const);
      if (!modes) return `--tdp takes on, off, or on,off\n${USAGE}`;
      a.selection.tdp = modes.map((m) => m === 'on');
    } else if (s.startsWith('-')) return `unknown option ${s}\n${USAGE}`;
    else files.push(s);
  }
  if (files.length !== 1) return USAGE;
  a.file = files[0]!;
  return a;
}

/** `compare FILE [--kernels ...] [--tdp ...] [--json]`: every variant on its own worker thread, at most one per core. */
async function compare(argv: string[]): Promise<number> {
  const args = parseCompareArgs(argv);
  if (typeof args === 'string') {
    writeErr(args + '\n');
    return 2;
  }
  const { file, json, selection } = args;
  const read = readScenarioFile(file);
  if (read === null) return 2;
  const { text, scenario: sc } = read;
  let variants: Variant[];
  try {
    variants = selectVariants(sc, selection);
  } catch (e) {
    if (!(e instanceof VariantError)) throw e;
    writeErr(`${lineSafe(file)}: error: ${lineSafe(e.message)}\n`);
    return 2;
  }
  const runs: RunResult[] = new Array(variants.length);
  const errors: (Diagnostic | undefined)[] = new Array(variants.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < variants.length) {
      const index = next++;
      const msg = await new Promise<{ result?: RunResult; error?: { message: string; line: number; col: number } }>((resolve, reject) => {
        const w = new Worker(join(__dirname, 'compare-worker.js'), { workerData: { text, file, index, selection } });
        w.once('message', resolve);
        w.once('error', reject);
      });
      if (msg.error) errors[index] = { file, line: msg.error.line, col: msg.error.col, endLine: msg.error.line, endCol: msg.error.col, message: `${variants[index]!.label}: ${msg.error.message}` };
      else runs[index] = msg.result!;
    }
  };
  await Promise.all(Array.from({ length: Math.min(variants.length, availableParallelism()) }, lane));
  const failed = errors.filter((d): d is Diagnostic => d !== undefined);
  if (failed.length > 0) {
    printDiagnostics(failed); // in variant order, whichever worker finished first
    return 2;
  }
  const result = assemble(sc, runs, variants);
  writeOut(json ? jsonSafe(JSON.stringify(result)) + '\n' : formatCompareText(result));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') return compare(argv.slice(1));
  if (argv[0] === 'stat') return statCommand(argv.slice(1), USAGE);
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    writeErr(args + '\n');
    return 2;
  }
  let status = 0;
  for (const file of args.files) {
    const read = readScenarioFile(file);
    if (read === null) {
      status = 2;
      continue;
    }
    try {
      const r = runScenario(read.scenario, { overrides: args.overrides, accesses: args.accesses, fastPaths: args.fastPaths, callPaths: args.callPaths || args.folded });
      if (!args.trace && !args.traceCmd) r.trace.events = [];
      if (args.traceCmd) writeOut(formatTraceCmd(r, selectTracepoints(args.events) as Set<string>));
      else if (args.folded) writeOut(foldedStacks(r.flame!.all).map((l) => l + '\n').join(''));
      else if (args.json) writeOut(jsonSafe(JSON.stringify(r)) + '\n');
      else writeOut(formatRunText(r, { accesses: args.accesses }) + '\n');
      if (r.expect.some((e) => !e.ok)) status = Math.max(status, 1);
    } catch (e) {
      if (e instanceof GuestSetupError) {
        printDiagnostics([{ file, line: e.line, col: e.col, endLine: e.line, endCol: e.col, message: e.message }]);
        status = 2;
      } else if (e instanceof OverrideError) {
        // The flags change the scenario as a `compare:` variant does; the machine checks them by the same rules.
        writeErr(`${lineSafe(file)}: error: with ${flagsText(args.overrides)}: ${lineSafe(e.problems.join('; '))}\n`);
        status = 2;
      } else throw e;
    }
  }
  return status;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
