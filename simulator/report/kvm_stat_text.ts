// `perf kvm stat report [--event=vmexit|mmio|ioport] [--vcpu=N] [--key=sample|time]`, byte for byte
// (tools/perf/builtin-kvm.c: kvm_events_report_vcpu -> sort_result -> print_result; the key names
// from tools/perf/arch/x86/util/kvm-stat.c). The table itself is text.ts's perfKvmStatTable.

import type { KvmStatRow, RunResult } from '../run/result';
import { perfKvmStatTable, type PerfStats } from './text';

export const KVM_STAT_EVENTS = ['vmexit', 'mmio', 'ioport'] as const;
export type KvmStatEvent = (typeof KVM_STAT_EVENTS)[number];
export const KVM_STAT_KEYS = ['sample', 'time'] as const;
export type KvmStatKey = (typeof KVM_STAT_KEYS)[number];

export interface KvmStatOptions {
  event: KvmStatEvent;
  /** -1: all vCPUs (perf's default trace_vcpu). */
  vcpu: number;
  key: KvmStatKey;
}

/** kvm_reg_events_ops' events_ops->name, the first column's title. */
const EVENT_NAMES: Record<KvmStatEvent, string> = { vmexit: 'VM-EXIT', mmio: 'MMIO Access', ioport: 'IO Port Access' };

/** perf's EVENTS_CACHE_SIZE (1 << EVENTS_BITS, 12): events are hashed by `key & (size - 1)`. */
const EVENTS_CACHE_SIZE = 4096;

export interface KvmStatLine {
  name: string;
  stats: PerfStats;
}

interface Ranked extends KvmStatLine {
  mean: number; // cycles
  bucket: number;
  created: number;
}

/**
 * The rows perf prints, in its order. sort_result visits the events hash table bucket by bucket
 * (`key & (EVENTS_CACHE_SIZE - 1)`), each bucket newest first (list_add), and insert_to_result puts an
 * equal key to the right, so ties keep that visiting order. The keys: `sample` compares stats.n,
 * `time` compares stats.mean, both through a u64 (COMPARE_EVENT_KEY), so means compare truncated
 * to whole nanoseconds.
 */
export function kvmStatLines(r: RunResult, opts: KvmStatOptions): KvmStatLine[] {
  let ranked: Ranked[];
  if (opts.event === 'vmexit') {
    const exits = opts.vcpu === -1 ? r.exit_stats : (r.kvm_stat.vmexit_by_vcpu[opts.vcpu] ?? []);
    ranked = exits
      .filter((e) => e.count > 0)
      .map((e) => ({ name: e.reason, stats: e, mean: e.total_cycles / e.count, bucket: e.code & (EVENTS_CACHE_SIZE - 1), created: 0 }));
  } else {
    const table = opts.event === 'mmio' ? r.kvm_stat.mmio : r.kvm_stat.ioport;
    const rows: KvmStatRow[] = opts.vcpu === -1 ? table.all : (table.by_vcpu[opts.vcpu] ?? []);
    ranked = rows
      .filter((e) => e.count > 0)
      .map((e) => ({ name: e.key, stats: e, mean: e.mean_cycles, bucket: e.addr === null ? EVENTS_CACHE_SIZE : lowBits(e.addr), created: e.created }));
  }
  const ns = (cycles: number) => Math.trunc(cycles / r.cycles.ghz);
  const value = opts.key === 'sample' ? (e: Ranked) => e.stats.count : (e: Ranked) => ns(e.mean);
  ranked.sort((a, b) => value(b) - value(a) || a.bucket - b.bucket || b.created - a.created);
  return ranked.map((e) => ({ name: e.name, stats: e.stats }));
}

/** The low 12 bits of a hex address string (the hash bucket). */
function lowBits(hex: string): number {
  return parseInt(hex.replace(/^0x/, '').slice(-3) || '0', 16) & (EVENTS_CACHE_SIZE - 1);
}

/** What `perf kvm stat report` prints: print_result starts with "\n\n" and ends the footer with "\n\n". */
export function formatKvmStat(r: RunResult, opts: KvmStatOptions): string {
  return '\n\n' + perfKvmStatTable(r, EVENT_NAMES[opts.event], opts.vcpu, kvmStatLines(r, opts)) + '\n';
}
