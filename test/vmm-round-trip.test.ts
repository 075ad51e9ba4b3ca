// The split of the old device_userspace: one KVM_EXIT_MMIO costs the profile's vmm_round_trip (the
// round trip to a device that does nothing) plus the device's own `cost`, declared in the scenario
// (docs/cost-model.md, docs/decisions.md "The VMM round trip and a device's own cost").
import { describe, it, expect } from 'vitest';
import { parseScenario } from '../simulator/scenario/parse';
import type { Diagnostic } from '../simulator/scenario/types';
import { PROFILES_BY_NAME } from '../simulator/cost/profiles';
import { run, vm, NIC } from './helpers/scenario';

const W = PROFILES_BY_NAME['westmere-2011'];
const M = PROFILES_BY_NAME.modern;

// kvm-unit-tests commit 00bfecaa (Bonzini, 13 Dec 2012, x86/vmexit.c), one unnamed host:
// inl_from_kernel 7,237, inl_from_qemu 20,574, inl_from_pmtimer 24,615 cycles.
const USERSPACE_EXIT_2012 = 20574 - 7237; // 13,337: "the cost of exiting to userspace is 13000 cycles"
const PMTIMER_MODEL_2012 = 24615 - 20574; // 4,041: the PM timer's device model beyond a trivial device
// The profile's own inl_from_kernel path: transition + exit path + fetch (a 4-level walk with its 4
// lookups, then the code page's lookup) + decode + execute + in-kernel device.
const WESTMERE_INL_FROM_KERNEL = 2000 + 800 + (100 + 4 * (60 + 23 + 7) + (23 + 7)) + 1300 + 1100 + 600; // 6,290

describe('vmm_round_trip: the 2012 userspace exit at the profile\'s speed', () => {
  it('westmere-2011: 13,337 x 6,290 / 7,237 = 11,592 -> 11,600; modern: 13,337 x 2,940 / 7,237 = 5,418 -> 5,400', () => {
    expect(WESTMERE_INL_FROM_KERNEL).toBe(6290);
    expect(W.vmm_round_trip).toBe(Math.round((USERSPACE_EXIT_2012 * 6290) / 7237 / 100) * 100);
    expect(M.vmm_round_trip).toBe(Math.round((USERSPACE_EXIT_2012 * 2940) / 7237 / 100) * 100);
  });
});

/** The helper VM (test/helpers/scenario.ts) with the userspace NIC given `cost` text. */
const withCost = (cost: string, workload: string): string =>
  vm('v3.1', workload).replace('handler: userspace, registers', `handler: userspace, cost: ${cost}, registers`);

const doorbell = (n: number): string =>
  ['  - repeat: ' + n, '    steps:', `      - { write: ${NIC.replace(/0000$/, '0050')}, size: 4, value: 1 }`].join('\n');

describe('charging a userspace exit', () => {
  // The e1000 figure of examples/seed/netperf-tcp-rr.mmio.yaml: the PM timer's 4,041 cycles on this
  // profile, 4,041 x 6,290 / 7,237 = 3,512 -> 3,500.
  const E1000 = Math.round((PMTIMER_MODEL_2012 * WESTMERE_INL_FROM_KERNEL) / 7237 / 100) * 100;

  it('one exit costs vmm_round_trip + the device\'s cost: 11,600 + 3,500 = 15,100 cycles', () => {
    expect(E1000).toBe(3500);
    const r = run(withCost(String(E1000), doorbell(1)));
    expect(r.stats['userspace_exits']).toBe(1);
    expect(r.cycles.by_component.device_userspace).toBe(11600 + 3500);
  });

  it('without `cost` the device is trivial: vmm_round_trip alone, per exit', () => {
    const r = run(vm('v3.1', doorbell(3)));
    expect(r.stats['userspace_exits']).toBe(3);
    expect(r.cycles.by_component.device_userspace).toBe(3 * W.vmm_round_trip);
  });

  it('the cost is per access: 3 exits to a device of cost 3,500 cost 3 x 15,100', () => {
    const r = run(withCost('3500', doorbell(3)));
    expect(r.cycles.by_component.device_userspace).toBe(3 * 15100);
  });
});

describe('parsing `cost`', () => {
  const diagnostics = (text: string): Diagnostic[] => {
    const r = parseScenario(text, 'bad.mmio.yaml');
    return 'diagnostics' in r ? r.diagnostics : [];
  };
  const at = (text: string, needle: string): { line: number; col: number } => {
    const before = text.slice(0, text.indexOf(needle)).split('\n');
    return { line: before.length, col: before[before.length - 1]!.length + 1 };
  };
  const expectOne = (text: string, needle: string, message: string): void => {
    const d = diagnostics(text);
    expect(d.map((x) => x.message)).toEqual([message]);
    expect({ line: d[0]!.line, col: d[0]!.col }).toEqual(at(text, needle));
    expect(d[0]!.file).toBe('bad.mmio.yaml');
  };

  it('reads it into the device (0 when absent)', () => {
    const ok = parseScenario(withCost('4K', doorbell(1)), 'ok.mmio.yaml');
    expect('scenario' in ok && ok.scenario.devices.map((d) => [d.name, d.cost])).toEqual([['nic', 4096], ['lapic', 0], ['extra', 0]]);
  });

  it('a negative cost, at the value', () => {
    const text = withCost('-5', doorbell(1));
    expectOne(text, '-5,', 'devices[0].cost: must not be negative (got -5)');
  });

  it('a cost that is not a number, at the value', () => {
    const text = withCost('lots', doorbell(1));
    expectOne(text, 'lots, registers', 'devices[0].cost: expected an integer (e.g. 4096, 0x1000 or 4K), got lots');
  });

  it('a cost on an in-kernel device, at the value', () => {
    const text = vm('v3.1', doorbell(1)).replace('handler: kernel, registers', 'handler: kernel, cost: 900, registers');
    expectOne(text, '900', 'devices[1].cost: only a `handler: userspace` device has a cost: an in-kernel device is priced by the profile (device_kernel)');
  });
});
