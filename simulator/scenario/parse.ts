// Parser and validator for `*.mmio.yaml` scenario files. It turns YAML text into a `Scenario`, or
// into diagnostics that point at the offending YAML node. It never throws on bad input and never
// returns a Scenario when anything is wrong. No Node built-ins: this runs in browsers and workers.

import { LineCounter, isMap, isNode, isSeq, parseDocument } from 'yaml';
import { checkLayout, regions } from './checks';
import { capDiagnostics } from './diagnostic_cap';
import { textSizeProblem } from './file_size';
import { addedSlots, defaultMetric, physUses, readCompare, readMetric } from './compare';
import { readExpect } from './expect';
import { duplicateKeys } from './duplicate_keys';
import { readGuest } from './guest';
import { TOO_DEEP, flowTooDeep, treeTooDeep } from './nesting';
import { firstUnprintable } from './printable';
import { reportYamlProblems } from './yaml_errors';
import { Ctx, TooManyAliases, need, opt, readEnum, readObj, readString, val, type Val } from './reader';
import { KERNELS, type Diagnostic, type Kernel, type Scenario } from './types';
import { HOST_KEYS, MMU_KEYS, PKE_NEEDS_EPT, bypassProblems, readDevices, readHost, readMemslots, readMmu, readScheduler } from './vm';
import { highestSpace, readVcpus } from './workload';

export { EXIT_REASONS, FAULT_KINDS } from './expect';
export { FLAG_TOKENS } from './entry';
export { closestName } from './suggest';

// ---------------------------------------------------------------------------------------------
// Entry point

const TOP_KEYS = [
  'name', 'kernel', 'host', 'mmu', 'scheduler', 'memslots', 'devices', 'guest', 'workload', 'vcpus', 'expect',
  'metric', 'compare',
];

function defaultName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.mmio\.ya?ml$|\.ya?ml$/, '') || base;
}

function readScenario(ctx: Ctx, root: Val, file: string, opts: ParseOptions): Scenario | null {
  if (!isMap(root.node)) {
    ctx.error(root, 'a scenario must be a mapping with at least memslots, guest and workload');
    return null;
  }
  const top = readObj(ctx, root, TOP_KEYS)!;
  const section = (key: string, keys: readonly string[]) => {
    const v = top.keys.get(key);
    return v ? readObj(ctx, v, keys) : null;
  };
  const name = opt(top, 'name', (v) => readString(ctx, v), defaultName(file));
  const kernelV = top.keys.get('kernel');
  // null when invalid, so that the mmu checks that depend on the kernel do not cascade from it.
  const kernelRead = kernelV ? readEnum(ctx, kernelV, KERNELS) : (opts.defaultKernel ?? 'v3.1');
  const kernel = kernelRead ?? 'v3.1';
  const host = readHost(ctx, section('host', HOST_KEYS));
  const { mmu, tdp: tdpRead } = readMmu(ctx, section('mmu', MMU_KEYS), kernelRead);
  const scheduler = readScheduler(ctx, section('scheduler', ['seed', 'preempt']));

  const before = ctx.count();
  const memslotsV = need(ctx, top, 'memslots');
  const memslots = memslotsV ? readMemslots(ctx, memslotsV, host.maxphyaddr) : [];
  const devicesV = top.keys.get('devices');
  const devices = devicesV ? readDevices(ctx, devicesV, host.maxphyaddr) : [];
  checkLayout(ctx, [...memslots, ...devices]);
  // Coverage is checked only against a clean layout, so one bad memslot does not flag every mapping,
  // nor a misspelled `memslots:` or `devices:` key (reported once, as unknown) every mapping.
  const layoutKnown = !top.misspelled.has('memslots') && !top.misspelled.has('devices');
  const backing = ctx.count() === before && layoutKnown ? regions(memslots, devices) : null;

  const guestV = need(ctx, top, 'guest');
  const guestO = guestV ? readObj(ctx, guestV, ['paging', 'cpu', 'page_tables_top', 'code', 'mappings', 'os']) : null;
  const guest = guestO ? readGuest(ctx, guestO, host.maxphyaddr, backing) : null;
  // KVM offers protection keys to a guest only with EPT (no keys in shadow page tables).
  const cpuV = guestO?.keys.get('cpu');
  const pkeV = cpuV && isMap(cpuV.node) ? cpuV.node.get('cr4_pke', true) : undefined;
  if (guest?.cpu.cr4_pke && !mmu.tdp && cpuV) ctx.error(isNode(pkeV) ? val(ctx, pkeV, `${cpuV.path}.cr4_pke`, cpuV.range) : cpuV, `true needs mmu.tdp: true: ${PKE_NEEDS_EPT}`);

  const labels = new Map<string, Val>();
  const vcpus = readVcpus(ctx, top, host.maxphyaddr, labels, kernel, guestO?.keys.has('os') ?? false);
  const expectV = top.keys.get('expect');
  const expect = expectV ? readExpect(ctx, expectV, labels) : [];
  const metricV = top.keys.get('metric');
  const metric = metricV ? readMetric(ctx, metricV, labels) : defaultMetric();
  const compareV = top.keys.get('compare');
  const compare = compareV
    ? readCompare(ctx, compareV, {
        kernel: kernelRead,
        tdp: tdpRead,
        // Inherited by the variants only when valid itself (no cascade from a top-level error).
        bypass: mmu.bypass_guest_pf === true && kernelRead !== null && tdpRead !== null && bypassProblems(kernelRead, tdpRead).length === 0,
        pke: guest?.cpu.cr4_pke ?? false,
        memslots: memslotsV && isSeq(memslotsV.node) ? memslotsV.node.items.length : memslots.length,
        added: addedSlots(vcpus, memslots),
        uses: physUses(memslots, devices, guest, vcpus),
      })
    : [];

  if (ctx.count() > 0 || !guest) return null;
  // Address spaces: one per CR3 that mappings, `pte` steps or `cr3` steps name (at least one).
  const spaces = Math.max(guest.address_spaces, ...vcpus.map((v) => highestSpace(v.workload) + 1));
  return {
    file, name, kernel, host, mmu, scheduler,
    memslots: memslots.map((m) => m.decl),
    devices: devices.map((d) => d.decl),
    guest: { ...guest, address_spaces: spaces },
    vcpus, expect, metric, compare,
  };
}

export interface ParseOptions {
  /** The kernel of a scenario without `kernel:` (default v3.1): an editor's "default kernel" setting. */
  defaultKernel?: Kernel;
}

/**
 * Where each line starts, from the text itself. The library's own counter (its `lineCounter` option)
 * misses the line breaks inside a plain scalar it cannot place (a comment line split by a stray `- `),
 * and every diagnostic after it then lands a line too early.
 */
function lineStarts(text: string): LineCounter {
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) lc.addNewLine(nl + 1);
  return lc;
}

/** A diagnostic at `at` found before the YAML library runs (so without its line counter). */
function located(text: string, file: string, at: number, message: string): { diagnostics: Diagnostic[] } {
  const line = text.slice(0, at).split('\n').length;
  const col = at - text.lastIndexOf('\n', at - 1);
  return { diagnostics: [{ file, line, col, endLine: line, endCol: col + 1, message }] };
}

/**
 * Parses and validates a scenario file. `file` is used in diagnostics and as the default name.
 * Returns the Scenario, or the problems found (never both, never throws): the first MAX_DIAGNOSTICS
 * by position, then one saying how many more. A file over MAX_FILE_BYTES is one problem, not parsed.
 */
export function parseScenario(text: string, file: string, opts: ParseOptions = {}): { scenario: Scenario } | { diagnostics: Diagnostic[] } {
  const tooBig = textSizeProblem(text);
  if (tooBig !== null) return { diagnostics: [{ file, line: 1, col: 1, endLine: 1, endCol: 1, message: tooBig }] };
  const bad = firstUnprintable(text);
  if (bad) return located(text, file, bad.at, `control character ${bad.code} is not allowed in YAML: remove it (write it as an escape such as "\\0" inside double quotes if it is meant)`);
  const deep = flowTooDeep(text);
  if (deep !== null) return located(text, file, deep, TOO_DEEP);
  const lc = lineStarts(text);
  let ctx: Ctx | null = null;
  try {
    const doc = parseDocument(text, {
      intAsBigInt: true,
      keepSourceTokens: false,
      prettyErrors: false,
      // Checked by duplicateKeys in linear time: the library's check is quadratic in the keys.
      uniqueKeys: false,
    });
    ctx = new Ctx(text, file, lc, doc);
    // Block nesting too deep for the library's recursion: one message, not one per level.
    const overflow = doc.errors.find((e) => e.message.includes('Maximum call stack size exceeded'));
    if (overflow) {
      ctx.report(overflow.pos, TOO_DEEP);
      return { diagnostics: reported(ctx) };
    }
    reportYamlProblems(ctx, doc, text, lc);
    // A syntax error leaves a partial tree: validating it would only add confusing follow-on errors.
    if (doc.errors.length > 0) return { diagnostics: reported(ctx) };
    const tooDeep = treeTooDeep(doc.contents);
    if (tooDeep) {
      ctx.report([tooDeep.range![0], tooDeep.range![0] + 1], TOO_DEEP);
      return { diagnostics: reported(ctx) };
    }
    // An alias without an anchor is a single mistake: reading on would only describe `*name` as a
    // value of the wrong type wherever it stands.
    const unknown = [...ctx.aliases.target].filter(([, t]) => !t);
    for (const [alias] of unknown) ctx.report([alias.range![0], alias.range![1]], `unknown alias \`*${alias.source}\`: no anchor \`&${alias.source}\` before it`);
    if (unknown.length > 0) return { diagnostics: reported(ctx) };
    for (const key of duplicateKeys(doc.contents)) {
      const range: [number, number] = [key.range![0], key.range![1]];
      ctx.report(range, `duplicate key \`${text.slice(range[0], range[1]).trim()}\``);
    }
    const scenario = readScenario(ctx, val(ctx, doc.contents, '', [0, text.length]), file, opts);
    if (scenario && ctx.count() === 0) return { scenario };
    return { diagnostics: reported(ctx) };
  } catch (e) {
    if (e instanceof TooManyAliases) return { diagnostics: reported(ctx!) };
    // A bug in the validator must still surface as a diagnostic, not an exception.
    const message = `internal error while reading the scenario: ${e instanceof Error ? e.message : String(e)}`;
    const diags = ctx?.diags ?? [];
    diags.push({ file, line: 1, col: 1, endLine: 1, endCol: 1, message });
    return { diagnostics: sorted(diags) };
  }
}

/** The problems found, by position: the first MAX_DIAGNOSTICS, then how many more. */
function reported(ctx: Ctx): Diagnostic[] {
  return capDiagnostics(sorted(ctx.diags), ctx.count());
}

function sorted(diags: Diagnostic[]): Diagnostic[] {
  return [...diags].sort((a, b) => a.line - b.line || a.col - b.col);
}
