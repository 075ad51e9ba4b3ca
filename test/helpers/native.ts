// The native reference: the guest's workload on bare hardware, with no hypervisor. The same page
// tables are built in the same guest RAM, and the CPU's architectural walk (the shared walker, CPU
// style) runs directly on them; accesses go to RAM or to the devices. Virtualization must not change
// anything this observes.
import { HostMemory } from '../../simulator/host/physmem';
import { Memslot, Memslots } from '../../simulator/kvm/memslots';
import { MmioDevice } from '../../simulator/devices/mmio_device';
import { buildGuest, entryAddress, GuestRam } from '../../simulator/guest/page_tables';
import { GuestWalker, WALK_OK, type WalkCpu, type WalkMemory } from '../../simulator/arch/x86/walker';
import { PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK } from '../../simulator/arch/x86/paging';
import { frameHi, frameLo, frameOf, hex64 } from '../../simulator/arch/x86/u64';
import type { Scenario, Step } from '../../simulator/scenario/types';
import { LinuxGuest, type GuestCpuPort } from '../../simulator/guest/linux';
import { APIC_DEFAULT_PHYS_BASE } from '../../simulator/arch/x86/apic';

export interface NativeAccess {
  op: 'read' | 'write' | 'fetch';
  result: 'ok' | 'guest-fault';
  error_code: string | null;
  value: string | null;
}

class RamTables implements WalkMemory {
  lo = 0;
  hi = 0;
  constructor(private readonly ram: GuestRam) {}
  readEntry(gpa: number): boolean {
    ({ lo: this.lo, hi: this.hi } = this.ram.read64(gpa));
    return true;
  }
  setBits(gpa: number, bits: number, lo: number, hi: number): boolean {
    const e = this.ram.read64(gpa);
    if (e.lo !== lo || e.hi !== hi) return false;
    this.ram.write64(gpa, (lo | bits) >>> 0, hi);
    return true;
  }
}

/**
 * Every vCPU's workload, one step at a time in turn (the machine's round robin without preemption; a
 * ranged `touch` is a step per page there too), each CPU with its own CR3. A guest kernel's TLB
 * shootdown runs the target's handler at once, as the interrupt arrives; with no TLB, its flushes
 * change nothing, but its APIC accesses are the guest's like any other.
 */
export function runNative(sc: Scenario): { accesses: NativeAccess[]; ram: GuestRam; tablePages: number[]; warnings: string[]; linux: LinuxGuest | null } {
  const host = new HostMemory(sc.host.maxphyaddr);
  const memslots = new Memslots();
  for (const m of sc.memslots) memslots.install(new Memslot(m.slot, m.gpa / 4096, m.size / 4096));
  const ram = new GuestRam(memslots, host);
  const guest = buildGuest(sc, ram, 1);
  const devices = sc.devices.map((d) => new MmioDevice(d));
  const walker = new GuestWalker(sc.host.maxphyaddr);
  const mem = new RamTables(ram);
  const c = sc.guest.cpu;
  const n = sc.vcpus.length;
  const cpus: WalkCpu[] = sc.vcpus.map(() => ({ cr3: guest.cr3s[0]!, cr0Wp: c.cr0_wp, nx: c.efer_nx, smep: c.cr4_smep, smap: c.cr4_smap, pke: c.cr4_pke, pkru: c.pkru, ac: c.eflags_ac }));
  const spaces = new Array<number>(n).fill(0);
  /** The CPU running now. */
  let cur = 0;
  const out: NativeAccess[] = [];
  let readLo = 0;
  let readHi = 0;
  /** True when the access faulted (walker.errorCode says why); a read leaves its bytes in readLo/readHi. */
  const access = (op: NativeAccess['op'], vpn: number, offset: number, size: number, cpl: number, lo: number, hi: number): boolean => {
    const pfec = (op === 'write' ? PFERR_WRITE_MASK : 0) | (op === 'fetch' ? PFERR_FETCH_MASK : 0) | (cpl === 3 ? PFERR_USER_MASK : 0);
    if (walker.walk(mem, cpus[cur]!, vpn, pfec, false) !== WALK_OK) {
      out.push({ op, result: 'guest-fault', error_code: '0x' + walker.errorCode.toString(16), value: null });
      return true;
    }
    const gpa = walker.gfn * 4096 + offset;
    let value: string | null = null;
    if (op !== 'fetch') {
      const dev = devices.find((d) => d.contains(gpa));
      if (op === 'write') {
        if (ram.isRam(gpa)) ram.write(gpa, size, lo, hi);
        else dev?.write(gpa, size, lo, hi);
        value = hex64(lo, hi);
      } else if (ram.isRam(gpa)) {
        const v = ram.read(gpa, size);
        ({ lo: readLo, hi: readHi } = v);
        value = hex64(v.lo, v.hi);
      } else if (dev) {
        dev.read(gpa, size);
        ({ lo: readLo, hi: readHi } = dev);
        value = hex64(dev.lo, dev.hi);
      } else value = hex64(0xffffffff, 0xffffffff);
    }
    out.push({ op, result: 'ok', error_code: null, value });
    return false;
  };
  // The guest OS steps: the same guest kernel (guest/linux.ts), its hands on bare hardware: no TLB
  // (INVLPG does nothing), CR3 loads switch the walker's root.
  const directMap = (gpa: number) => {
    const m = sc.guest.mappings.find((x) => (x.space ?? spaces[cur]) === spaces[cur] && gpa >= x.gpa && gpa < x.gpa + x.size);
    return m ? { vpn: m.gva.vpn + Math.floor((gpa - m.gpa) / 4096), offset: (gpa - m.gpa) % 4096 } : null;
  };
  const linux = sc.guest.os ? new LinuxGuest(sc.guest.os, ram, c.efer_nx, guest.cr3s.length, n, 0) : null;
  let sender = 0;
  const port: { -readonly [K in keyof GuestCpuPort]: GuestCpuPort[K] } = {
    errorCode: 0,
    lo: 0,
    hi: 0,
    userAccess(write, vpn, offset, lo, hi) {
      const fault = access(write ? 'write' : 'read', vpn, offset, 8, 3, lo, hi);
      this.errorCode = walker.errorCode;
      return fault;
    },
    kernelAccess(write, gpa, lo, hi) {
      const a = directMap(gpa);
      if (a === null || access(write ? 'write' : 'read', a.vpn, a.offset, 8, 0, lo, hi)) return false;
      if (!write) [this.lo, this.hi] = [readLo, readHi];
      return true;
    },
    invlpg() {},
    loadCr3(s) {
      spaces[cur] = s;
      cpus[cur]!.cr3 = guest.cr3s[s]!;
    },
    currentSpace: () => spaces[cur]!,
    cr3Of: (s) => guest.cr3s[s]!,
    cpu: () => cur,
    apicAccess(write, reg, value) {
      const a = directMap(APIC_DEFAULT_PHYS_BASE + reg);
      return a !== null && !access(write ? 'write' : 'read', a.vpn, a.offset, 4, 0, value >>> 0, 0);
    },
    takeIpi(t) {
      sender = cur;
      cur = t;
      return true;
    },
    resume() {
      cur = sender;
      return 0;
    },
    spin() {},
    warn(message) {
      warnings.push(message);
    },
  };
  const warnings: string[] = [];
  const run = (s: Step, page: number): void => {
    const cpl = 'cpl' in s && s.cpl !== null ? s.cpl : c.cpl;
    if (s.kind === 'read') access('read', s.gva.vpn, s.gva.offset, s.size, cpl, 0, 0);
    else if (s.kind === 'write') access('write', s.gva.vpn, s.gva.offset, s.size, cpl, s.lo, s.hi);
    else if (s.kind === 'fetch') access('fetch', s.gva.vpn, s.gva.offset, 1, cpl, 0, 0);
    else if (s.kind === 'cr3') cpus[cur]!.cr3 = guest.cr3s[(spaces[cur] = s.space)]!;
    else if (s.kind === 'touch') touchClean = linux!.touch(port, s.write, s.gva.vpn + page, s.gva.offset, s.lo, s.hi);
    else if (s.kind === 'fork') linux!.fork(port, s.child);
    else if (s.kind === 'vfork') linux!.vfork(port, s.space);
    else if (s.kind === 'munmap') linux!.munmap(port, s.gva.vpn, s.size / 4096);
    else if (s.kind === 'exit') linux!.exit(port, s.space);
    else if (s.kind === 'exec') linux!.exec(port, s.space);
    else if (s.kind === 'switch-mm') linux!.switchMm(port, s.space);
    else if (s.kind === 'interrupt' || s.kind === 'hlt') {
      // On bare hardware the interrupt (or the wake-up from HLT) changes no memory; its handler's APIC
      // writes are ordinary supervisor stores.
      if (s.eoi) access('write', s.eoi.vpn, s.eoi.offset, 4, 0, 0, 0);
      if (s.tmict) access('write', s.tmict.gva.vpn, s.tmict.gva.offset, 4, 0, s.tmict.count, 0);
    }
    else if (s.kind === 'pte') {
      const at = entryAddress(ram, guest.cr3s[s.space]!, s.gva.vpn, s.level);
      const m = sc.guest.mappings.find((x) => (x.space ?? s.space) === s.space && at >= x.gpa && at < x.gpa + x.size);
      if (at < 0 || !m) return;
      const old = ram.read64(at);
      const frame = s.gpa !== null ? s.gpa / 4096 : frameOf(old.lo, old.hi);
      const rel = at - m.gpa;
      access('write', m.gva.vpn + Math.floor(rel / 4096), rel % 4096, 8, 0, (s.bits.lo | frameLo(frame)) >>> 0, (s.bits.hi | frameHi(frame)) >>> 0);
    }
  };
  let touchClean = true;
  const next = new Array<number>(n).fill(0);
  const pages = new Array<number>(n).fill(0);
  for (let live = true; live; ) {
    live = false;
    for (let i = 0; i < n; i++) {
      const steps = sc.vcpus[i]!.workload;
      if (next[i]! >= steps.length) continue;
      live = true;
      cur = i;
      const s = steps[next[i]!]!;
      run(s, pages[i]!);
      // A ranged touch stays on its step while pages remain and the page just touched ended cleanly.
      if (s.kind === 'touch' && touchClean && pages[i]! + 1 < s.pages) pages[i]!++;
      else {
        pages[i] = 0;
        next[i]!++;
      }
    }
  }
  return { accesses: out, ram, tablePages: guest.tablePages, warnings, linux };
}
