// The timeline's swimlanes as data: one lane per vCPU on the common clock (every vCPU's clock starts
// at 0 and counts the same cycles), each event classified for drawing, and each exit a slice from
// its kvm_exit to the next kvm_entry of the same vCPU. Typed arrays, built once per filter change, so
// drawing and hit-testing are binary searches and loops over numbers.

import type { TraceEventRecord } from '../simulator/index';
import { EVENT_LIST } from '../simulator/trace/events';
import { RACE_POINTS } from '../simulator/scenario/types';

/** What an event is drawn as. */
export const K_TICK = 0; // an event inside or between exits: a tick
export const K_EXIT = 1; // kvm_exit: opens a slice
export const K_ENTRY = 2; // kvm_entry: closes it
export const K_RACE = 3; // vcpu_switch: the scheduler ran another vCPU at a race point
export const K_MMU_LOCK = 4; // vcpu_switch at the race point "about to take mmu_lock"
export const K_SRCU = 5; // srcu_synchronize_wait: a memslot update sleeps in synchronize_srcu_expedited

/** The race point index of "mmu_lock" (kvm/races.ts RACE_MMU_LOCK): the only mark of mmu_lock
 *  contention the simulator has (it charges mmu_lock uncontended and never spins on it). */
export const MMU_LOCK_POINT = RACE_POINTS.indexOf('mmu_lock');

/** Names the kernel has no tracepoint for: the simulator's probes (trace/events.ts `fn: true`). */
export const PROBE_NAMES: ReadonlySet<string> = new Set(EVENT_LIST.filter((e) => 'fn' in e && e.fn).map((e) => e.name));

export function isProbe(name: string): boolean {
  return PROBE_NAMES.has(name);
}

export function kindOf(e: TraceEventRecord): number {
  switch (e.name) {
    case 'kvm_exit':
      return K_EXIT;
    case 'kvm_entry':
      return K_ENTRY;
    case 'vcpu_switch':
      return e.fields.point === MMU_LOCK_POINT ? K_MMU_LOCK : K_RACE;
    case 'srcu_synchronize_wait':
      return K_SRCU;
    default:
      return K_TICK;
  }
}

export interface Lane {
  vcpu: number;
  /** Indices into the run's events, in seq order: one vCPU's clock, so `t` never decreases. */
  idx: Int32Array;
  /** Each event's cycles (its vCPU's clock). */
  t: Float64Array;
  kind: Uint8Array;
  probe: Uint8Array;
  /** Exit slices in time order: [start, end] cycles and the positions (in idx) of their first and
   *  last event (the kvm_exit, and the kvm_entry or the exit's last event when the trace ends first). */
  sliceStart: Float64Array;
  sliceEnd: Float64Array;
  sliceFirst: Int32Array;
  sliceLast: Int32Array;
  exits: number;
  races: number;
  waits: number;
}

export interface LaneModel {
  lanes: Lane[];
  /** Where the whole run starts: 0 (every vCPU's clock starts there), or, when the trace buffer
   *  dropped the run's first events, the earliest shown event. */
  start: number;
  /** The latest clock of any shown event (0 when none). */
  end: number;
}

/** Lanes for `vcpus` (in that order) holding the events at `shown` (ascending indices into
 *  `events`); `dropped`: the trace lost the run's first events. */
export function buildLanes(events: readonly TraceEventRecord[], shown: Int32Array, vcpus: readonly number[], dropped = false): LaneModel {
  const laneOf = new Map<number, number>();
  vcpus.forEach((v, i) => laneOf.set(v, i));
  const counts = new Int32Array(vcpus.length);
  for (let k = 0; k < shown.length; k++) {
    const l = laneOf.get(events[shown[k]!]!.vcpu);
    if (l !== undefined) counts[l]!++;
  }
  const lanes: Lane[] = vcpus.map((vcpu, i) => ({
    vcpu,
    idx: new Int32Array(counts[i]!),
    t: new Float64Array(counts[i]!),
    kind: new Uint8Array(counts[i]!),
    probe: new Uint8Array(counts[i]!),
    sliceStart: new Float64Array(0),
    sliceEnd: new Float64Array(0),
    sliceFirst: new Int32Array(0),
    sliceLast: new Int32Array(0),
    exits: 0,
    races: 0,
    waits: 0,
  }));
  const fill = new Int32Array(vcpus.length);
  let end = 0;
  let start = Infinity;
  for (let k = 0; k < shown.length; k++) {
    const i = shown[k]!;
    const e = events[i]!;
    const l = laneOf.get(e.vcpu);
    if (l === undefined) continue;
    const lane = lanes[l]!;
    const p = fill[l]!++;
    lane.idx[p] = i;
    lane.t[p] = e.cycles;
    const kind = kindOf(e);
    lane.kind[p] = kind;
    lane.probe[p] = PROBE_NAMES.has(e.name) ? 1 : 0;
    if (kind === K_EXIT) lane.exits++;
    else if (kind === K_RACE || kind === K_MMU_LOCK) lane.races++;
    else if (kind === K_SRCU) lane.waits++;
    if (e.cycles > end) end = e.cycles;
    if (e.cycles < start) start = e.cycles;
  }
  for (const lane of lanes) buildSlices(lane);
  return { lanes, start: dropped && start < end ? start : 0, end };
}

/** Pair each kvm_exit with the next kvm_entry of its lane. An exit whose entry is missing (filtered
 *  out, or past the end of the trace) ends at its last event before the next exit. */
function buildSlices(lane: Lane): void {
  const n = lane.exits;
  const start = new Float64Array(n);
  const end = new Float64Array(n);
  const first = new Int32Array(n);
  const last = new Int32Array(n);
  let s = -1;
  let open = false;
  for (let p = 0; p < lane.idx.length; p++) {
    const k = lane.kind[p]!;
    if (k === K_EXIT) {
      s++;
      open = true;
      start[s] = lane.t[p]!;
      first[s] = p;
    }
    if (!open) continue;
    end[s] = lane.t[p]!;
    last[s] = p;
    if (k === K_ENTRY) open = false;
  }
  lane.sliceStart = start;
  lane.sliceEnd = end;
  lane.sliceFirst = first;
  lane.sliceLast = last;
}

/** The first position in `a` (ascending) whose value is >= x. */
export function lowerBound(a: Float64Array | Int32Array, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The slice of `lane` that holds position `p`, or -1. */
export function sliceAt(lane: Lane, p: number): number {
  let lo = 0;
  let hi = lane.sliceFirst.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lane.sliceFirst[mid]! <= p) lo = mid + 1;
    else hi = mid;
  }
  const s = lo - 1;
  return s >= 0 && lane.sliceLast[s]! >= p ? s : -1;
}

/** A race point's name (scenario/types.ts RACE_POINTS), for the details pane. */
export function racePointName(point: unknown): string | null {
  return typeof point === 'number' ? (RACE_POINTS[point] ?? null) : null;
}
