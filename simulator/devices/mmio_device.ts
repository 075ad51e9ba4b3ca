// Emulated MMIO devices: a register file that reads return and writes update (each write counts as
// a doorbell). `kernel` devices sit on KVM's MMIO bus (like the local APIC or an ioeventfd);
// `userspace` devices are reached through KVM_EXIT_MMIO and the VMM.

import type { DeviceDecl, DeviceHandler } from '../scenario/types';

export class MmioDevice {
  readonly name: string;
  readonly gpa: number;
  readonly size: number;
  readonly handler: DeviceHandler;
  /** The VMM's device-model cycles per access (userspace devices; 0 = trivial). */
  readonly cost: number;
  /** Register bytes, one 4K chunk per page touched (a large BAR costs nothing until used). */
  private pages: (Uint8Array | undefined)[] = [];
  reads = 0;
  writes = 0;
  /** Scratch output of read(). */
  lo = 0;
  hi = 0;

  constructor(d: DeviceDecl) {
    this.name = d.name;
    this.gpa = d.gpa;
    this.size = d.size;
    this.handler = d.handler;
    this.cost = d.cost;
    for (const r of d.registers) this.store(r.offset, 8, r.lo, r.hi);
  }

  contains(gpa: number): boolean {
    return gpa >= this.gpa && gpa < this.gpa + this.size;
  }

  read(gpa: number, size: number): void {
    this.reads++;
    const off = gpa - this.gpa;
    const page = this.pages[Math.floor(off / 4096)];
    let lo = 0;
    let hi = 0;
    if (page) {
      const at = off & 4095;
      for (let i = 0; i < size; i++) {
        if (i < 4) lo |= page[at + i]! << (8 * i);
        else hi |= page[at + i]! << (8 * (i - 4));
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  write(gpa: number, size: number, lo: number, hi: number): void {
    this.writes++;
    this.store(gpa - this.gpa, size, lo, hi);
  }

  private store(off: number, size: number, lo: number, hi: number): void {
    const pi = Math.floor(off / 4096);
    let page = this.pages[pi];
    if (!page) page = this.pages[pi] = new Uint8Array(4096);
    const at = off & 4095;
    for (let i = 0; i < size; i++) page[at + i] = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
  }
}

/** The VM's devices, searched in declaration order. */
export class MmioBus {
  constructor(readonly devices: MmioDevice[]) {}

  find(gpa: number): MmioDevice | null {
    for (const d of this.devices) if (d.contains(gpa)) return d;
    return null;
  }
}
