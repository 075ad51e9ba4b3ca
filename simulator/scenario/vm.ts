// The VM description: the host, mmu and scheduler settings, and the memslots and devices that make
// up the guest-physical address space.

import { isMap, isScalar, type YAMLMap } from 'yaml';
import { readPhysRange } from './address';
import type { Placed } from './checks';
import { PAGE_4K, hex, sizeText, splitU64 } from './numbers';
import {
  MAX_SAFE,
  describe,
  need,
  numOrNull,
  opt,
  readBool,
  readEnum,
  readInt,
  readList,
  readNonEmptyList,
  readObj,
  readString,
  req,
  val,
  type Ctx,
  type Obj,
  type Val,
} from './reader';
import { COST_FIELDS, type CostField, type CostOverrides } from '../cost/profile';
import { PROFILES, type DeviceDecl, type DeviceHandler, type Kernel, type MemslotDecl, type Scenario } from './types';

const DEFAULT_MAXPHYADDR = 40;

export const HOST_KEYS = ['maxphyaddr', 'profile', 'costs'];
export const MMU_KEYS = ['tdp', 'mmio_caching', 'bypass_guest_pf', 'oos_shadow', 'enable_vpid'];

/** The host's MAXPHYADDR, as the top-level `host` and a `compare:` variant's `host` take it. */
export function readMaxphyaddr(ctx: Ctx, v: Val): number | null {
  return numOrNull(readInt(ctx, v, 36n, 52n));
}

// ---------------------------------------------------------------------------------------------
// Top-level sections

export function readHost(ctx: Ctx, o: Obj | null): Scenario['host'] {
  if (!o) return { maxphyaddr: DEFAULT_MAXPHYADDR, profile: 'westmere-2011', costs: {} };
  const v = o.keys.get('maxphyaddr');
  // An invalid maxphyaddr is replaced by the largest, so it causes no "beyond maxphyaddr" cascade.
  const maxphyaddr = v ? (readMaxphyaddr(ctx, v) ?? 52) : DEFAULT_MAXPHYADDR;
  const costsV = o.keys.get('costs');
  return { maxphyaddr, profile: opt(o, 'profile', (x) => readEnum(ctx, x, PROFILES), 'westmere-2011'), costs: costsV ? readCosts(ctx, costsV) : {} };
}

/** `host.costs`: cycle costs that replace the profile's (what-if runs; the sensitivity table of
 *  docs/seed-replication.md). Whole cycles, at most 10^9 each. */
function readCosts(ctx: Ctx, v: Val): CostOverrides {
  const o = readObj(ctx, v, COST_FIELDS);
  const costs: CostOverrides = {};
  if (!o) return costs;
  for (const [k, x] of o.keys) {
    const n = readInt(ctx, x, 0n, 1_000_000_000n);
    if (n !== null) costs[k as CostField] = Number(n);
  }
  return costs;
}

/** `kernel` is null when the scenario's kernel is invalid (then only the tdp rule is checked).
 *  `tdp` is the value read (null when invalid), for the checks of `compare:` variants. */
export function readMmu(ctx: Ctx, o: Obj | null, kernel: Kernel | null): { mmu: Scenario['mmu']; tdp: boolean | null } {
  if (!o) return { mmu: { tdp: true, mmio_caching: true, bypass_guest_pf: null, oos_shadow: true, enable_vpid: true }, tdp: true };
  const tdpV = o.keys.get('tdp');
  const tdp = tdpV ? readBool(ctx, tdpV) : true;
  const mmio_caching = opt(o, 'mmio_caching', (v) => readBool(ctx, v), true);
  // mmu.c (3.0.1, 3.1): `static int oos_shadow = 1;` `module_param(oos_shadow, bool, 0644);`
  const oos_shadow = opt(o, 'oos_shadow', (v) => readBool(ctx, v), true);
  // vmx.c (3.0.1:53, 3.1.10:52): `static int __read_mostly enable_vpid = 1;` `module_param_named(vpid, enable_vpid, bool, 0444);`
  const enable_vpid = opt(o, 'enable_vpid', (v) => readBool(ctx, v), true);
  const bypassV = o.keys.get('bypass_guest_pf');
  const bypass = bypassV ? readBool(ctx, bypassV) : null;
  if (bypassV && bypass === true) {
    const why = bypassProblems(kernel, tdp);
    if (why.length > 0) ctx.error(bypassV, `true is not possible: ${why.join(', and ')}`);
  }
  return { mmu: { tdp: tdp ?? true, mmio_caching, bypass_guest_pf: bypass, oos_shadow, enable_vpid }, tdp };
}

/** Why `bypass_guest_pf: true` is impossible with this kernel and tdp (null: unknown, not judged). */
/** Why `guest.cpu.cr4_pke` needs EPT (said by the scenario, `compare:` and Compare Kernels checks alike). */
export const PKE_NEEDS_EPT = 'KVM does not offer protection keys with shadow paging';

export function bypassProblems(kernel: Kernel | null, tdp: boolean | null): string[] {
  // bypass_guest_pf only ever existed for shadow paging in the v3.0 era.
  const why: string[] = [];
  if (kernel === 'v3.1') why.push('kernel v3.1 no longer has it (the 2011 MMIO series removed it; use kernel: v3.0)');
  if (tdp === true) why.push('VMX forces it off when EPT is in use (tdp: true; use tdp: false)');
  return why;
}

export function readScheduler(ctx: Ctx, o: Obj | null): Scenario['scheduler'] {
  if (!o) return { seed: 1, preempt: 0 };
  return {
    seed: opt(o, 'seed', (v) => numOrNull(readInt(ctx, v, 0n, MAX_SAFE)), 1),
    preempt: opt(o, 'preempt', (v) => readProbability(ctx, v), 0),
  };
}

function readProbability(ctx: Ctx, v: Val): number | null {
  const raw = isScalar(v.node) ? v.node.value : undefined;
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof n !== 'number' || !(n >= 0 && n <= 1)) {
    ctx.error(v, `expected a number between 0 and 1, got ${describe(ctx, v)}`);
    return null;
  }
  return n;
}

export function readMemslots(ctx: Ctx, v: Val, maxphyaddr: number): Placed<MemslotDecl>[] {
  const out: Placed<MemslotDecl>[] = [];
  const seen = new Map<number, string>();
  for (const item of readNonEmptyList(ctx, v, 'memslot') ?? []) {
    const o = readObj(ctx, item, ['slot', 'gpa', 'size', 'readonly']);
    if (!o) continue;
    const before = ctx.count();
    const slotV = need(ctx, o, 'slot');
    const slot = slotV ? numOrNull(readInt(ctx, slotV, 0n, 31n)) : null;
    if (slotV && slot !== null && seen.has(slot)) {
      ctx.error(slotV, `slot ${slot} is already used by ${seen.get(slot)}`);
    } else if (slot !== null) seen.set(slot, item.path);
    const range = readPhysRange(ctx, o, PAGE_4K, maxphyaddr);
    const readonly = opt(o, 'readonly', (x) => readBool(ctx, x), false);
    // Only clean entries take part in the overlap and coverage checks (no cascades).
    if (ctx.count() === before && slot !== null && range) {
      const decl = { slot, gpa: Number(range.gpa), size: Number(range.size), readonly, pos: ctx.pos(item) };
      out.push({ decl, v: item });
    }
  }
  return out;
}

export function readDevices(ctx: Ctx, v: Val, maxphyaddr: number): Placed<DeviceDecl>[] {
  const out: Placed<DeviceDecl>[] = [];
  const names = new Map<string, string>();
  for (const item of readList(ctx, v, 'device') ?? []) {
    const o = readObj(ctx, item, ['name', 'gpa', 'size', 'handler', 'cost', 'registers']);
    if (!o) continue;
    const before = ctx.count();
    const nameV = need(ctx, o, 'name');
    const name = nameV ? readString(ctx, nameV) : null;
    if (nameV && name !== null) {
      if (name.trim() === '') ctx.error(nameV, 'must not be empty');
      else if (names.has(name)) ctx.error(nameV, `device name \`${name}\` is already used by ${names.get(name)}`);
      else names.set(name, item.path);
    }
    const handler = req(ctx, o, 'handler', (x) => readEnum<DeviceHandler>(ctx, x, ['kernel', 'userspace']));
    const cost = readDeviceCost(ctx, o, handler);
    const range = readPhysRange(ctx, o, PAGE_4K, maxphyaddr);
    const regsV = o.keys.get('registers');
    const registers = regsV ? readRegisters(ctx, regsV, range?.size ?? null) : [];
    if (ctx.count() === before && name !== null && handler !== null && range) {
      const decl = { name, gpa: Number(range.gpa), size: Number(range.size), handler, cost, registers, pos: ctx.pos(item) };
      out.push({ decl, v: item });
    }
  }
  return out;
}

/** `cost`: the VMM's device-model cycles per access, on top of the profile's vmm_round_trip. Only a
 *  userspace device has a VMM device model; absent, the device is trivial (0). */
function readDeviceCost(ctx: Ctx, o: Obj, handler: DeviceHandler | null): number {
  const v = o.keys.get('cost');
  if (!v) return 0;
  if (handler === 'kernel') {
    ctx.error(v, 'only a `handler: userspace` device has a cost: an in-kernel device is priced by the profile (device_kernel)');
    return 0;
  }
  return numOrNull(readInt(ctx, v, 0n, MAX_SAFE)) ?? 0;
}

/** Register offsets are checked against the device size only when that size is valid. */
function readRegisters(ctx: Ctx, v: Val, size: bigint | null): DeviceDecl['registers'] {
  if (!isMap(v.node)) {
    ctx.error(v, `expected a mapping of byte offset to value, got ${describe(ctx, v)}`);
    return [];
  }
  const out: DeviceDecl['registers'] = [];
  for (const pair of (v.node as YAMLMap<unknown, unknown>).items) {
    const key = val(ctx, pair.key, v.path, v.range);
    key.path = `${v.path}.${ctx.source(key)}`;
    const offset = readInt(ctx, key);
    if (offset !== null && offset % 8n !== 0n) {
      ctx.error(key, `register offset ${hex(offset)} is not a multiple of 8`);
    } else if (offset !== null && size !== null && offset >= size) {
      ctx.error(key, `register offset ${hex(offset)} is beyond the device size ${sizeText(size!)}`);
    } else if (offset !== null && out.some((r) => r.offset === Number(offset))) {
      ctx.error(key, `register offset ${hex(offset)} is given twice`);
    }
    const value = readInt(ctx, val(ctx, pair.value, key.path, [key.range[1], key.range[1]]));
    if (offset !== null && value !== null) out.push({ offset: Number(offset), ...splitU64(value) });
  }
  return out;
}
