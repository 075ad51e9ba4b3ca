// Parser and validator for `*.mmio.yaml` scenario files. It turns YAML text into a `Scenario`, or
// into diagnostics that point at the offending YAML node. It never throws on bad input and never
// returns a Scenario when anything is wrong. No Node built-ins: this runs in browsers and workers.

import { LineCounter, isMap, isNode, isSeq, parseDocument } from 'yaml';
import { checkLayout, regions } from './checks';
import { capDiagnostics } from './diagnostic_cap';
import { MAX_FILE_BYTES, fileSizeProblem, utf8Bytes } from './file_size';
import { addedSlots, defaultMetric, physUses, readCompare, readMetric } from './compare';
import { readExpect } from './expect';
import { readGuest } from './guest';
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
  // Coverage is checked only against a clean layout, so one bad memslot does not flag every mapping.
  const backing = ctx.count() === before ? regions(memslots, devices) : null;

  const guestV = need(ctx, top, 'guest');
  const guestO = guestV ? readObj(ctx, guestV, ['paging', 'cpu', 'page_tables_top', 'code', 'mappings']) : null;
  const guest = guestO ? readGuest(ctx, guestO, host.maxphyaddr, backing) : null;
  // KVM offers protection keys to a guest only with EPT (no keys in shadow page tables).
  const cpuV = guestO?.keys.get('cpu');
  const pkeV = cpuV && isMap(cpuV.node) ? cpuV.node.get('cr4_pke', true) : undefined;
  if (guest?.cpu.cr4_pke && !mmu.tdp && cpuV) ctx.error(isNode(pkeV) ? val(ctx, pkeV, `${cpuV.path}.cr4_pke`, cpuV.range) : cpuV, `true needs mmu.tdp: true: ${PKE_NEEDS_EPT}`);

  const labels = new Map<string, Val>();
  const vcpus = readVcpus(ctx, top, host.maxphyaddr, labels, kernel);
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

/** Reports a YAML parser error or warning. Duplicate keys are positioned on the first character
 *  only, so the range is widened to the whole (plain) key. */
function reportYaml(ctx: Ctx, e: { code: string; pos: [number, number]; message: string }): void {
  if (e.code === 'DUPLICATE_KEY') {
    const key = /^[^\s:,{}[\]]+/.exec(ctx.text.slice(e.pos[0]))?.[0] ?? ctx.text.slice(e.pos[0], e.pos[1]);
    ctx.report([e.pos[0], e.pos[0] + key.length], `duplicate key \`${key}\``);
  } else {
    ctx.report(e.pos, `YAML: ${e.message.split('\n')[0]}`);
  }
}

/**
 * Parses and validates a scenario file. `file` is used in diagnostics and as the default name.
 * Returns the Scenario, or the problems found (never both, never throws): the first MAX_DIAGNOSTICS
 * by position, then one saying how many more. A file over MAX_FILE_BYTES is one problem, not parsed.
 */
export interface ParseOptions {
  /** The kernel of a scenario without `kernel:` (default v3.1): an editor's "default kernel" setting. */
  defaultKernel?: Kernel;
}

export function parseScenario(text: string, file: string, opts: ParseOptions = {}): { scenario: Scenario } | { diagnostics: Diagnostic[] } {
  // Longer than the limit in UTF-16 units is longer in UTF-8 bytes too; only a close call is counted.
  const tooBig = fileSizeProblem(text.length > MAX_FILE_BYTES ? text.length : text.length * 3 > MAX_FILE_BYTES ? utf8Bytes(text) : 0);
  if (tooBig !== null) return { diagnostics: [{ file, line: 1, col: 1, endLine: 1, endCol: 1, message: tooBig }] };
  const lc = new LineCounter();
  let ctx: Ctx | null = null;
  try {
    const doc = parseDocument(text, {
      intAsBigInt: true,
      keepSourceTokens: false,
      prettyErrors: false,
      uniqueKeys: true,
      lineCounter: lc,
    });
    ctx = new Ctx(text, file, lc, doc);
    for (const e of [...doc.errors, ...doc.warnings]) reportYaml(ctx, e);
    // A syntax error leaves a partial tree: validating it would only add confusing follow-on errors.
    if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { diagnostics: reported(ctx) };
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
