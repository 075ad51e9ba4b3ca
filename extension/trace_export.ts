// The run's trace in four formats, for "MMU Lab: Export Trace": the events as JSON, as CSV (one
// row per event, for spreadsheets), as a Chrome trace-event file that Perfetto
// (ui.perfetto.dev) and chrome://tracing open, with one track per vCPU and each VM exit as a slice,
// and as `trace-cmd report` text (simulator/report/trace_cmd.ts) to diff against a real host's;
// and the run's cycles per call path as folded stacks (flamegraph.pl, speedscope, inferno).
// Pure functions of the RunResult: no vscode import, so they are unit-tested directly.

import { csvField } from '../shared/csv';
import { foldedStacks, formatTraceCmd, type RunResult, type TraceEventRecord } from '../simulator/index';

/** The file name Export Trace proposes beside the scenario: its name without `.mmio.yaml`/`.json`,
 *  plus the format's suffix. `file` is a file name, never decoded again; a separator in it (which a
 *  path segment cannot have, but a caller might pass) becomes `_`, so the name is one segment. */
export function exportFileName(file: string, suffix: string): string {
  return file.replace(/\.mmio\.(yaml|json)$/i, '').replace(/[/\\]/g, '_') + suffix;
}

/** Microseconds of the vCPU clock (cycles at the profile's frequency). */
export function cyclesToMicros(cycles: number, ghz: number): number {
  return cycles / (ghz * 1000);
}

// ---------------------------------------------------------------------------------------------
// Folded stacks (Brendan Gregg's stackcollapse format; the same text as `mmu-lab run --folded`)

/** The whole run's call paths, one `frame;frame count` line each; the counts sum to the run's total.
 *  Empty for a run without call paths (the panel's runs always have them: RunOptions.callPaths). */
export function flameToFolded(r: RunResult): string {
  return r.flame ? foldedStacks(r.flame.all).map((l) => l + '\n').join('') : '';
}

// ---------------------------------------------------------------------------------------------
// JSON

/** What the JSON export holds: the run's identity and its trace as the simulator reports it. */
export interface TraceJson {
  format: 'mmu-lab-trace';
  version: 1;
  file: string;
  name: string;
  kernel: string;
  tdp: boolean;
  profile: string;
  ghz: number;
  /** Events emitted in the whole run; `dropped` of them fell out of the trace buffer before these. */
  total: number;
  dropped: number;
  events: TraceEventRecord[];
}

export function traceToJson(r: RunResult): string {
  const out: TraceJson = {
    format: 'mmu-lab-trace',
    version: 1,
    file: r.file,
    name: r.name,
    kernel: r.kernel,
    tdp: r.tdp,
    profile: r.profile,
    ghz: r.cycles.ghz,
    total: r.trace.total,
    dropped: r.trace.dropped,
    events: r.trace.events,
  };
  return JSON.stringify(out);
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180: CRLF line ends; fields quoted and formulas neutralised by shared/csv.ts)

export const CSV_COLUMNS = ['seq', 'step', 'vcpu', 'cycles', 'time_us', 'name', 'class', 'line', 'fields'] as const;

/** An event's fields as `k=v` pairs joined by spaces, in the tracepoint's field order. */
export function fieldsText(fields: TraceEventRecord['fields']): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export function traceToCsv(r: RunResult): string {
  const ghz = r.cycles.ghz;
  const rows = [CSV_COLUMNS.join(',')];
  for (const e of r.trace.events) {
    const cells = [
      String(e.seq),
      String(e.step),
      String(e.vcpu),
      String(e.cycles),
      cyclesToMicros(e.cycles, ghz).toFixed(3),
      e.name,
      e.class ?? '',
      String(e.line),
      fieldsText(e.fields),
    ];
    rows.push(cells.map(csvField).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------
// Chrome trace-event format (the JSON object form), as Perfetto imports it

export type ChromeArgs = Record<string, string | number | boolean>;

export type ChromeTraceEvent =
  | { name: string; ph: 'M'; pid: number; tid: number; args: ChromeArgs }
  | { name: string; cat: string; ph: 'X'; ts: number; dur: number; pid: number; tid: number; args: ChromeArgs }
  | { name: string; cat: string; ph: 'i'; s: 't'; ts: number; pid: number; tid: number; args: ChromeArgs };

export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: 'ns';
  otherData: Record<string, string | number | boolean>;
}

/** All events belong to one process: the VM. */
export const CHROME_PID = 1;

function eventArgs(e: TraceEventRecord): ChromeArgs {
  const args: ChromeArgs = { ...e.fields, seq: e.seq, step: e.step, line: e.line };
  if (e.class !== undefined) args.class = e.class;
  return args;
}

function instant(e: TraceEventRecord, ghz: number): ChromeTraceEvent {
  return { name: e.name, cat: 'kvm', ph: 'i', s: 't', ts: cyclesToMicros(e.cycles, ghz), pid: CHROME_PID, tid: e.vcpu, args: eventArgs(e) };
}

/**
 * Thread (vCPU) tracks with a name each; every VM exit, from its kvm_exit to the next kvm_entry of
 * the same vCPU, a complete event named by its exit reason (args: the fault class, the exit's
 * fields, source line); every other event an instant on its vCPU's track. A kvm_exit or kvm_entry
 * without its partner in the buffer (the trace keeps the run's last events only) is an instant too.
 */
export function traceToChromeTrace(r: RunResult): ChromeTrace {
  const ghz = r.cycles.ghz;
  const meta: ChromeTraceEvent[] = [{ name: 'process_name', ph: 'M', pid: CHROME_PID, tid: 0, args: { name: `MMU Lab: ${r.name}` } }];
  const vcpus = new Set<number>(Array.from({ length: r.vcpus }, (_, i) => i));
  for (const e of r.trace.events) vcpus.add(e.vcpu);
  for (const v of [...vcpus].sort((a, b) => a - b)) {
    meta.push({ name: 'thread_name', ph: 'M', pid: CHROME_PID, tid: v, args: { name: `vCPU ${v}` } });
    meta.push({ name: 'thread_sort_index', ph: 'M', pid: CHROME_PID, tid: v, args: { sort_index: v } });
  }

  // Output slots in event order; an exit's slot is filled when its kvm_entry arrives.
  const slots: (ChromeTraceEvent | null)[] = [];
  const open = new Map<number, { exit: TraceEventRecord; slot: number }>();
  for (const e of r.trace.events) {
    if (e.name === 'kvm_exit') {
      const prev = open.get(e.vcpu);
      if (prev) slots[prev.slot] = instant(prev.exit, ghz); // never happens: exits do not nest
      open.set(e.vcpu, { exit: e, slot: slots.length });
      slots.push(null);
    } else if (e.name === 'kvm_entry' && open.has(e.vcpu)) {
      const { exit, slot } = open.get(e.vcpu)!;
      open.delete(e.vcpu);
      const ts = cyclesToMicros(exit.cycles, ghz);
      const args = eventArgs(exit);
      const cls = e.class ?? exit.class;
      if (cls !== undefined) args.class = cls;
      const name = typeof exit.fields.reason === 'string' ? exit.fields.reason : 'kvm_exit';
      slots[slot] = { name, cat: 'vmexit', ph: 'X', ts, dur: cyclesToMicros(e.cycles, ghz) - ts, pid: CHROME_PID, tid: e.vcpu, args };
    } else {
      slots.push(instant(e, ghz));
    }
  }
  for (const { exit, slot } of open.values()) slots[slot] = instant(exit, ghz);

  return {
    traceEvents: [...meta, ...(slots as ChromeTraceEvent[])],
    displayTimeUnit: 'ns',
    otherData: {
      generator: 'MMU Lab',
      file: r.file,
      scenario: r.name,
      kernel: r.kernel,
      mmu: r.tdp ? 'EPT' : 'shadow paging',
      profile: r.profile,
      ghz: r.cycles.ghz,
      events_total: r.trace.total,
      events_dropped: r.trace.dropped,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// trace-cmd report text: every tracepoint of the run's kernel, simulator probes left out.

export function traceToTraceCmd(r: RunResult): string {
  return formatTraceCmd(r);
}
