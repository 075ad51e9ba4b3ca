import { describe, it, expect } from 'vitest';
import type { CostProfile } from '../simulator/cost/profile';
import { PROFILES_BY_NAME, profileByName } from '../simulator/cost/profiles';
import { PROFILES } from '../simulator/scenario/types';
import type { ProfileName } from '../simulator/scenario/types';

// Consistency of the two cost profiles with the anchors in /work/shared/reference/cost-anchors.md.
// All sums are computed here from the profile fields; the ranges are the anchors' own numbers
// (µs converted with the profile's ghz). See docs/cost-model.md for the reasoning behind each check.

type CostField = Exclude<keyof CostProfile, 'name' | 'ghz'>;
// A Record over CostField: the compiler rejects this object if the interface gains or loses a field.
const FIELD_SET: Record<CostField, true> = {
  vmexit_transition: true,
  exit_handler: true,
  guest_walk_setup: true,
  guest_pte_read: true,
  memslot_lookup: true,
  memslot_compare: true,
  memslot_compare_cold: true,
  lockless_walk_setup: true,
  lockless_spte_read: true,
  mmio_cache_op: true,
  mmu_lock: true,
  spte_write: true,
  shadow_page_alloc: true,
  shadow_page_zap: true,
  remote_tlb_flush: true,
  emulate_decode: true,
  emulate_execute: true,
  device_kernel: true,
  vmm_round_trip: true,
  host_page_fault: true,
  guest_ram_access: true,
  tlb_walk_ref: true,
  irq_inject: true,
  vcpu_wakeup: true,
  exit_pollution: true,
};
const COST_FIELDS = Object.keys(FIELD_SET) as CostField[];

const all = PROFILES.map((n) => [n, PROFILES_BY_NAME[n]] as [ProfileName, CostProfile]);
const P2011 = PROFILES_BY_NAME['westmere-2011'];
const PMOD = PROFILES_BY_NAME.modern;

/** Cycles of a duration in µs on this profile's TSC. */
const cyc = (p: CostProfile, us: number): number => us * 1000 * p.ghz;
/** µs of a cycle count on this profile's TSC. */
const usOf = (p: CostProfile, cycles: number): number => cycles / (p.ghz * 1000);

/** One memslot lookup that compares `compares` slots (v3.0/v3.1 linear __gfn_to_memslot). */
const lookup = (p: CostProfile, compares: number): number => p.memslot_lookup + compares * p.memslot_compare;
/** A 4-level FNAME(walk_addr_generic), one memslot lookup per gPTE; RAM slot found at the first compare. */
const guestWalk = (p: CostProfile): number => p.guest_walk_setup + 4 * (p.guest_pte_read + lookup(p, 1));
/** walk_shadow_page_get_mmio_spte over a 4-level shadow/EPT hierarchy. */
const locklessWalk = (p: CostProfile): number => p.lockless_walk_setup + 4 * p.lockless_spte_read;
/** The emulator's instruction fetch: a guest walk plus the memslot lookup of the code page itself. */
const insnFetch = (p: CostProfile): number => guestWalk(p) + lookup(p, 1);

/** (a) as stated in the brief: exit handler, lockless walk, decode, execute, in-kernel device, fetch walk. */
const inKernelMmioBrief = (p: CostProfile): number =>
  p.exit_handler + locklessWalk(p) + p.emulate_decode + p.emulate_execute + p.device_kernel + guestWalk(p);

/**
 * The whole v3.1 EPT_MISCONFIG handling (kvm_exit -> kvm_entry, transition excluded) for a warm MMIO
 * access whose vCPU MMIO cache misses, per kvm-mmio-reference §4.2/§4.7/§4.10 S5: quickly_check_mmio_pf
 * (miss), lockless walk, cache fill, fetch, decode, operand vcpu_mmio_gva_to_gpa (GVA match misses on a
 * direct MMU -> guest walk -> GPA match hits), execute, then the device.
 */
const mmioExitHandling = (p: CostProfile, device: number): number =>
  p.exit_handler +
  p.mmio_cache_op +
  locklessWalk(p) +
  p.mmio_cache_op +
  insnFetch(p) +
  p.emulate_decode +
  (p.mmio_cache_op + guestWalk(p) + p.mmio_cache_op) +
  p.emulate_execute +
  device;

describe('cost profiles: shape', () => {
  it('has exactly the two named profiles, each under its own name', () => {
    expect(Object.keys(PROFILES_BY_NAME).sort()).toEqual([...PROFILES].sort());
    for (const [name, p] of all) {
      expect(p.name).toBe(name);
      expect(profileByName(name)).toBe(p);
    }
  });

  it('rejects an unknown profile name', () => {
    expect(() => profileByName('pentium4' as ProfileName)).toThrow(/unknown cost profile/);
    expect(() => profileByName('toString' as ProfileName)).toThrow(/unknown cost profile/);
  });

  it('defines every field, and no other, as a positive integer (ghz a positive number; exit_pollution 0: off)', () => {
    for (const [, p] of all) {
      expect(Object.keys(p).sort()).toEqual(['ghz', 'name', ...COST_FIELDS].sort());
      expect(Number.isFinite(p.ghz)).toBe(true);
      expect(p.ghz).toBeGreaterThan(0);
      for (const f of COST_FIELDS) {
        const v = p[f];
        expect(Number.isInteger(v), `${p.name}.${f} = ${v} is not an integer`).toBe(true);
        // The exit's indirect cost has no per-exit source (docs/cost-model.md): off unless host.costs sets it.
        if (f === 'exit_pollution') expect(v, `${p.name}.${f}`).toBe(0);
        else expect(v, `${p.name}.${f}`).toBeGreaterThan(0);
      }
    }
  });

  it('uses the SplitX X5570 clock for 2011 and a Skylake-SP-range clock for modern', () => {
    expect(P2011.ghz).toBe(2.93);
    expect(PMOD.ghz).toBeGreaterThanOrEqual(2.0); // cost-anchors §1: modern host 2.0–3.5 GHz
    expect(PMOD.ghz).toBeLessThanOrEqual(3.5);
  });

  it('is frozen', () => {
    for (const [, p] of all) expect(Object.isFrozen(p)).toBe(true);
  });
});

describe('cost profiles: modern is not slower than 2011', () => {
  const fields: CostField[] = ['vmexit_transition', 'emulate_decode', 'emulate_execute'];
  it('on hardware transitions and emulation, in cycles and in time', () => {
    for (const f of fields) {
      expect(PMOD[f], f).toBeLessThanOrEqual(P2011[f]);
      expect(usOf(PMOD, PMOD[f]), f).toBeLessThanOrEqual(usOf(P2011, P2011[f]));
    }
    const emu = (p: CostProfile) => p.emulate_decode + p.emulate_execute;
    expect(usOf(PMOD, emu(PMOD))).toBeLessThanOrEqual(usOf(P2011, emu(P2011)));
  });
});

describe('cost profiles: consistency with the anchors', () => {
  // (a) perf kvm stat EPT_MISCONFIG minimum, in-kernel MMIO: ≈0.8–2.6 µs (cost-anchors §1, §2.2).
  it.each(all)('(a) %s: in-kernel EPT_MISCONFIG handling lands in 0.8–2.6 µs', (_n, p) => {
    for (const c of [inKernelMmioBrief(p), mmioExitHandling(p, p.device_kernel)]) {
      expect(c).toBeGreaterThanOrEqual(cyc(p, 0.8));
      expect(c).toBeLessThanOrEqual(cyc(p, 2.6));
    }
  });

  // (b) kvm-unit-tests commit 00bfecaa (Bonzini, 13 Dec 2012, x86/vmexit.c; host not named), one
  // machine: inl_from_kernel 7,237 cycles (an IN emulated in KVM, ELCR in the kernel), inl_from_qemu
  // 20,574 (the same IN from an unclaimed port: KVM_EXIT_IO to QEMU and back), "the cost of exiting to
  // userspace is 13000 cycles": 20,574 - 7,237 = 13,337. Rule: that host is set against the profile by
  // the same-machine inl_from_kernel, priced with the profile's own constants (transition, exit path,
  // fetch, decode, execute, in-kernel device); vmm_round_trip = 13,337 x that / 7,237, to 100 cycles.
  const inlFromKernel = (p: CostProfile): number =>
    p.vmexit_transition + p.exit_handler + insnFetch(p) + p.emulate_decode + p.emulate_execute + p.device_kernel;
  it.each(all)('(b) %s: vmm_round_trip is the 2012 userspace exit (13,337 cycles) at this profile\'s speed', (n, p) => {
    // 2011: 2,000 + 800 + 490 + 1,300 + 1,100 + 600 = 6,290; modern: 800 + 650 + 360 + 400 + 330 + 400 = 2,940.
    expect(inlFromKernel(p)).toBe(n === 'westmere-2011' ? 6290 : 2940);
    const scaled = (13337 * inlFromKernel(p)) / 7237; // 11,591.7 / 5,418.1
    expect(Math.abs(p.vmm_round_trip - scaled)).toBeLessThanOrEqual(50);
    // So the same-machine ratio holds: inl_from_qemu / inl_from_kernel = 20,574 / 7,237 = 2.843.
    const ratio = (inlFromKernel(p) + p.vmm_round_trip) / inlFromKernel(p);
    expect(Math.abs(ratio - 20574 / 7237)).toBeLessThanOrEqual(0.02);
  });

  // perf kvm stat EPT_MISCONFIG averages of 13–37 µs (§2.2) mix device models and scheduling tails; a
  // userspace exit to a trivial device must sit below them and above an in-kernel one.
  it.each(all)('(b) %s: a userspace MMIO exit to a trivial device lies between an in-kernel one and the perf averages', (_n, p) => {
    const user = mmioExitHandling(p, p.vmm_round_trip);
    expect(user).toBeGreaterThan(2 * mmioExitHandling(p, p.device_kernel));
    expect(user).toBeLessThan(cyc(p, 13));
  });

  // (c) Bonzini 2014, Sandy Bridge Xeon: 2,300–3,200 cycles per emulated instruction before the
  // speedups, 720–1,100 after (§2.4). The measured count includes the instruction fetch.
  const emuRange: Record<ProfileName, [number, number]> = { 'westmere-2011': [2300, 3200], modern: [720, 1100] };
  it.each(all)('(c) %s: decode + execute, with and without the fetch, is in the era range', (n, p) => {
    const [lo, hi] = emuRange[n];
    const core = p.emulate_decode + p.emulate_execute;
    for (const c of [core, core + insnFetch(p)]) {
      expect(c).toBeGreaterThanOrEqual(lo);
      expect(c).toBeLessThanOrEqual(hi);
    }
  });

  // (d) Mammedov 2014, linear search_memslot: avg 28–30 cycles when lookups mostly hit the first
  // slot (13 or 117 slots), 460 at 117 slots randomised (≈ (117+1)/2 = 59 compares), max 13,000.
  it.each(all)('(d) %s: memslot lookup reproduces the linear-search figures it was derived from', (_n, p) => {
    const perCompare = (460 - 30) / (59 - 1); // 7.41
    expect(p.memslot_compare).toBe(Math.round(perCompare));
    expect(p.memslot_lookup).toBe(30 - p.memslot_compare);
    expect(lookup(p, 1)).toBeGreaterThanOrEqual(28);
    expect(lookup(p, 1)).toBeLessThanOrEqual(30);
    expect(Math.abs(lookup(p, 59) - 460) / 460).toBeLessThanOrEqual(0.1);
    expect(lookup(p, 117)).toBeLessThanOrEqual(13000); // a warm full scan stays below the (cold) maximum
  });

  // Mammedov's maxima, 1,450 cycles at 13 slots and 13,000 at 117, grow with the slot count: the
  // slope (13,000 - 1,450) / (117 - 13) = 111.06 cycles is a slot compared cold; the fixed part,
  // 1,450 - 13 x 111.06 = 6, is within the warm 23. A cold scan of all 117 and of all 13 slots
  // reproduces both maxima within 2 %.
  it.each(all)('(d) %s: a cold memslot compare is the slope of the linear-search maxima', (_n, p) => {
    expect(p.memslot_compare_cold).toBe(Math.round((13000 - 1450) / (117 - 13)));
    const coldScan = (k: number) => p.memslot_lookup + k * p.memslot_compare_cold;
    expect(Math.abs(coldScan(117) - 13000) / 13000).toBeLessThanOrEqual(0.02);
    expect(Math.abs(coldScan(13) - 1450) / 1450).toBeLessThanOrEqual(0.02);
  });

  // (e) SplitX: 2,000 cycles direct exit cost on the X5570; modern 500–1,000 (§1, §2.1).
  it('(e) VM exit transition: ≈2,000 cycles on 2011, 500–1,000 modern', () => {
    expect(P2011.vmexit_transition).toBeGreaterThanOrEqual(1900);
    expect(P2011.vmexit_transition).toBeLessThanOrEqual(2100);
    expect(PMOD.vmexit_transition).toBeGreaterThanOrEqual(500);
    expect(PMOD.vmexit_transition).toBeLessThanOrEqual(1000);
    // A whole SKX vmcall round trip (1,529–1,559 cycles, §2.1) holds the transition and the fixed path.
    expect(PMOD.vmexit_transition + PMOD.exit_handler).toBeLessThanOrEqual(1559);
  });

  // Secondary checks against weaker anchors.
  it.each(all)('%s: an MMIO SPTE hit (lockless walk + cache fill) costs ≈100–300 cycles [U]', (_n, p) => {
    const hit = locklessWalk(p) + p.mmio_cache_op;
    expect(hit).toBeGreaterThanOrEqual(100);
    expect(hit).toBeLessThanOrEqual(300);
  });

  it.each(all)('%s: a 4-level guest walk with its memslot lookups costs a few hundred cycles [U]', (_n, p) => {
    expect(guestWalk(p)).toBeGreaterThanOrEqual(200);
    expect(guestWalk(p)).toBeLessThan(1000);
  });

  // perf kvm stat EPT_VIOLATION averages 3–9 µs (§2.2). v3.x tdp_page_fault for a fresh RAM page:
  // exit path, 3 memslot lookups (mapping_level, gfn_to_pfn, rmap_add), GUP, mmu_lock, one leaf SPTE.
  it.each(all)('%s: an EPT violation that faults in a fresh host page lands in 3–9 µs', (_n, p) => {
    const c = p.exit_handler + 3 * lookup(p, 1) + p.host_page_fault + p.mmu_lock + p.spte_write;
    expect(c).toBeGreaterThanOrEqual(cyc(p, 3));
    expect(c).toBeLessThanOrEqual(cyc(p, 9));
  });

  it('modern mmu_lock is within the measured 23.7–31.9 TSC per uncontended pair [M]', () => {
    expect(PMOD.mmu_lock).toBeGreaterThanOrEqual(23.7);
    expect(PMOD.mmu_lock).toBeLessThanOrEqual(31.9);
  });

  // Bonzini 2022: discarding and rebuilding TDP roots costs ≈41,875 extra cycles (§2.1). Tearing down
  // and rebuilding even a minimal 4-level hierarchy plus one remote flush must fit inside it.
  it('modern shadow-page costs fit inside the measured MMU-reset cost', () => {
    const rebuild = 4 * (PMOD.shadow_page_zap + PMOD.shadow_page_alloc + PMOD.spte_write) + PMOD.remote_tlb_flush;
    expect(rebuild).toBeLessThan(46754 - 4879);
  });
});
