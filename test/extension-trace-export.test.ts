// The trace exports (extension/trace_export.ts) on a real run of the doorbell example: the Chrome
// trace-event file Perfetto opens, the CSV (RFC 4180) and the JSON.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario, type RunResult } from '../simulator/index';
import { csvField } from '../shared/csv';
import { CSV_COLUMNS, cyclesToMicros, flameToFolded, traceToChromeTrace, traceToCsv, traceToJson, traceToTraceCmd, type ChromeTraceEvent } from '../extension/trace_export';

function doorbell(): RunResult {
  const parsed = parseScenario(readFileSync('examples/doorbell.mmio.yaml', 'utf8'), 'doorbell.mmio.yaml');
  if ('diagnostics' in parsed) throw new Error(parsed.diagnostics[0]!.message);
  return runScenario(parsed.scenario, { traceCapacity: 100_000, callPaths: true }); // as the panel runs it
}

const r = doorbell();

describe('folded stacks', () => {
  it('one `frame;frame count` line per call path, integer counts summing to the run total, newline-terminated', () => {
    const text = flameToFolded(r);
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^[^;]+(;[^;]+)* [1-9]\d*$/);
    expect(lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)).toBe(r.cycles.total);
    // 3.1.10 vmx.c handle_ept_misconfig: `ret = handle_mmio_page_fault_common(vcpu, gpa, true);`
    expect(lines.some((l) => l.startsWith('vcpu_enter_guest;vmx_handle_exit;handle_ept_misconfig;handle_mmio_page_fault_common;'))).toBe(true);
  });
});

describe('Chrome trace', () => {
  const t = traceToChromeTrace(r);
  const events = t.traceEvents;
  const slices = events.filter((e): e is Extract<ChromeTraceEvent, { ph: 'X' }> => e.ph === 'X');
  const exits = r.trace.events.filter((e) => e.name === 'kvm_exit');
  const entries = r.trace.events.filter((e) => e.name === 'kvm_entry');

  it('is the JSON object form with ns display and the run in otherData', () => {
    expect(t.displayTimeUnit).toBe('ns');
    expect(t.otherData).toMatchObject({ scenario: 'Doorbell writes to an emulated NIC', kernel: 'v3.1', events_total: r.trace.total, events_dropped: 0 });
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it('names the process and each vCPU thread', () => {
    const meta = events.filter((e) => e.ph === 'M');
    expect(meta).toContainEqual({ name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'MMU Lab: Doorbell writes to an emulated NIC' } });
    expect(meta).toContainEqual({ name: 'thread_name', ph: 'M', pid: 1, tid: 0, args: { name: 'vCPU 0' } });
  });

  it('has every event well-formed: ph, ts, pid, tid; dur on slices; s on instants', () => {
    const bad = events.filter(
      (e) =>
        !['M', 'X', 'i'].includes(e.ph) ||
        e.pid !== 1 ||
        !Number.isInteger(e.tid) ||
        (e.ph !== 'M' && !(Number.isFinite(e.ts) && e.ts >= 0)) ||
        (e.ph === 'X' && !(Number.isFinite(e.dur) && e.dur >= 0)) ||
        (e.ph === 'i' && e.s !== 't'),
    );
    expect(bad).toEqual([]);
  });

  it('makes one slice per exit, named by its reason, from kvm_exit to kvm_entry', () => {
    // The buffer holds the whole run: 1001 exits (2 EPT violations, 999 misconfigurations).
    expect(r.trace.dropped).toBe(0);
    expect(exits).toHaveLength(1001);
    expect(slices).toHaveLength(exits.length);
    expect(slices.filter((s) => s.name === 'EPT_MISCONFIG')).toHaveLength(r.exits.EPT_MISCONFIG!);
    expect(slices.filter((s) => s.name === 'EPT_VIOLATION')).toHaveLength(r.exits.EPT_VIOLATION!);
    const ghz = r.cycles.ghz;
    slices.forEach((s, i) => {
      expect(s.ts).toBeCloseTo(cyclesToMicros(exits[i]!.cycles, ghz), 9);
      expect(s.dur).toBeCloseTo(cyclesToMicros(entries[i]!.cycles - exits[i]!.cycles, ghz), 9);
      expect(s.dur).toBeGreaterThan(0);
      expect(s.tid).toBe(exits[i]!.vcpu);
    });
  });

  it('puts the fault class on each slice; the classes add up to the run\'s fault counts', () => {
    const byClass: Record<string, number> = {};
    for (const s of slices) byClass[String(s.args.class)] = (byClass[String(s.args.class)] ?? 0) + 1;
    expect(byClass).toEqual({ 'mmio-cache': 999, 'mmio-slow': 1, map: 1 });
    // All misconfigurations take the same path. Their memslot searches (the emulator's fetch walk,
    // all in slot 0) find entry 0 cold after the doorbell before returned to the VMM, except the first
    // misconfig: the first RAM read's fault warmed it just before (docs/decisions.md "Cold memslot
    // scans"). So two durations, 998 and 1, apart by one cold compare: 111 - 7 = 104 cycles.
    const misconfigs = slices.filter((s) => s.name === 'EPT_MISCONFIG' && s.args.class === 'mmio-cache');
    const durs = [...new Set(misconfigs.map((s) => s.dur.toFixed(6)))].map(Number).sort((a, b) => a - b);
    expect(durs.length).toBe(2);
    expect(misconfigs.filter((s) => s.dur.toFixed(6) === durs[0]!.toFixed(6)).length).toBe(1);
    expect((durs[1]! - durs[0]!) * 2930).toBeCloseTo(104, 1); // µs x 2,930 cycles/µs (westmere-2011)
  });

  it('makes every other event an instant on its vCPU, in order', () => {
    const instants = events.filter((e) => e.ph === 'i');
    expect(instants).toHaveLength(r.trace.events.length - exits.length - entries.length);
    expect(instants.some((e) => e.name === 'kvm_exit' || e.name === 'kvm_entry')).toBe(false);
    const perThread = new Map<number, number>();
    let backwards = 0;
    for (const e of events) {
      if (e.ph === 'M') continue;
      if (e.ts < (perThread.get(e.tid) ?? 0)) backwards++;
      perThread.set(e.tid, e.ts);
    }
    expect(backwards).toBe(0);
  });

  it('keeps an exit cut in half by the buffer window as an instant', () => {
    // The buffer starts after an exit's kvm_exit and ends after another's kvm_exit.
    const from = r.trace.events.findIndex((e) => e.name === 'kvm_entry');
    const to = r.trace.events.map((e) => e.name).lastIndexOf('kvm_exit');
    const cut = { ...r, trace: { ...r.trace, events: r.trace.events.slice(from, to + 1) } };
    const timed = traceToChromeTrace(cut).traceEvents.filter((e) => e.ph !== 'M');
    expect(timed[0]).toMatchObject({ ph: 'i', name: 'kvm_entry' });
    expect(timed[timed.length - 1]).toMatchObject({ ph: 'i', name: 'kvm_exit' });
    expect(timed.filter((e) => e.ph === 'X')).toHaveLength(exits.length - 2);
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes and line breaks (RFC 4180), and only those', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
  });

  it('has the header, one CRLF-terminated row per event, and the fields as k=v', () => {
    const csv = traceToCsv(r);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = csv.slice(0, -2).split('\r\n');
    expect(rows[0]).toBe(CSV_COLUMNS.join(','));
    expect(rows).toHaveLength(r.trace.events.length + 1);
    const exit = r.trace.events.findIndex((e) => e.name === 'kvm_exit');
    const cells = rows[exit + 1]!.split(',');
    const e = r.trace.events[exit]!;
    expect(cells.slice(0, 8)).toEqual([String(e.seq), String(e.step), '0', String(e.cycles), cyclesToMicros(e.cycles, r.cycles.ghz).toFixed(3), 'kvm_exit', e.class, String(e.line)]);
    expect(cells[8]).toBe(`reason=${e.fields.reason} rip=${e.fields.rip} info1=${e.fields.info1}`);
  });

  it('round-trips a hostile field through a standard CSV reading', () => {
    const hostile = { ...r, trace: { ...r.trace, events: [{ ...r.trace.events[0]!, name: 'x,"y"\r\nz', fields: { a: 'b c', d: 1 } }] } };
    const csv = traceToCsv(hostile);
    // A minimal RFC 4180 reader.
    const rows: string[][] = [];
    let row: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < csv.length; i++) {
      const c = csv[i]!;
      if (quoted) {
        if (c === '"' && csv[i + 1] === '"') (cell += '"'), i++;
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') row.push(cell), (cell = '');
      else if (c === '\r' && csv[i + 1] === '\n') row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
      else cell += c;
    }
    expect(rows).toHaveLength(2);
    expect(rows[1]![5]).toBe('x,"y"\r\nz');
    expect(rows[1]![8]).toBe('a=b c d=1');
  });
});

describe('JSON', () => {
  it('round-trips the events and says what run they are from', () => {
    const back = JSON.parse(traceToJson(r));
    expect(back).toMatchObject({ format: 'mmu-lab-trace', version: 1, file: 'doorbell.mmio.yaml', kernel: 'v3.1', tdp: true, ghz: r.cycles.ghz, total: r.trace.total, dropped: 0 });
    expect(back.events).toEqual(r.trace.events);
  });
});

describe('trace-cmd report text', () => {
  const text = traceToTraceCmd(r);
  const lines = text.trimEnd().split('\n');

  it('has one line per tracepoint event kept, none for the simulator probes', () => {
    const probes = new Set(['guest_page_fault', '__direct_map', 'kvm_mmu_zap_all', 'kvm_flush_remote_tlbs', '__kvm_set_memory_region', 'mmu_spte_get_lockless', 'ept_misconfig_inspect_spte', 'vcpu_switch', 'srcu_synchronize_wait']);
    expect(lines[0]).toBe(`# mmu-lab v3.1: 0 earlier events dropped by the trace buffer; ${r.trace.events.length} kept`);
    expect(lines[1]).toBe('cpus=1');
    expect(lines.length - 2).toBe(r.trace.events.filter((e) => !probes.has(e.name)).length);
  });

  it("prints the doorbell's userspace exits as kvm.h:32 does, and its MMIO writes as kvm.h:172", () => {
    // include/trace/events/kvm.h: "reason %s (%d)" (KVM_EXIT_MMIO = 6); "mmio %s len %u gpa 0x%llx val 0x%llx"
    expect(lines.filter((l) => l.endsWith(' kvm_userspace_exit:   reason KVM_EXIT_MMIO (6)')).length).toBe(r.trace.events.filter((e) => e.name === 'kvm_userspace_exit').length);
    expect(lines.some((l) => l.endsWith(' kvm_mmio:             mmio write len 4 gpa 0xfebf0050 val 0x1'))).toBe(true);
  });
});
