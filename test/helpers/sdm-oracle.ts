// An independent statement of the Intel SDM's 4-level paging rules, for checking the walker. It is
// written from the SDM (vol. 3A, ch. 4 "Paging"), not from simulator/arch/x86/walker.ts, and works
// on whole 64-bit entries with BigInt: it is test code, not a hot path.
//
// Rules encoded (Intel, 4-level paging, 1-GByte pages supported, CR4.LA57 = 0):
//   §4.5.4 "Linear-Address Translation with 4-Level Paging": CR3[M-1:12] locates the PML4 table;
//     linear-address bits 47:39, 38:30, 29:21 and 20:12 index the PML4, PDPT, PD and PT; each entry's
//     bits M-1:12 locate the next table. PS = 1 in a PDPTE maps a 1-GByte page (bits M-1:30 of the
//     entry and linear bits 29:0); PS = 1 in a PDE maps a 2-MByte page (bits M-1:21, linear 20:0);
//     otherwise a PTE maps a 4-KByte page (bits M-1:12, linear 11:0). In a large-page entry bit 12 is
//     PAT, not an address bit. M = MAXPHYADDR.
//   Tables 4-15..4-20 and §4.5.4 on reserved bits: in every entry bits 51:M are reserved, and bit 63
//     (XD) when IA32_EFER.NXE = 0; bit 7 (PS) of a PML4E must be 0; bits 29:13 of a 1-GByte PDPTE and
//     bits 20:13 of a 2-MByte PDE are reserved. Bits 62:52 are ignored (62:59 are the protection key
//     of the entry mapping a page when CR4.PKE = 1). Bit 8 of a PML4E is ignored. The walk stops at the
//     first entry that is not present (P = 0) or has a reserved bit set, and reserved bits are
//     checked only in present entries.
//   §4.6.1 "Determination of Access Rights": a linear address is a user-mode address if U/S = 1 in
//     every paging-structure entry controlling it, otherwise supervisor-mode. It is writable if R/W = 1
//     in every entry; it is execute-disabled (with IA32_EFER.NXE = 1) if XD = 1 in any entry.
//     Supervisor-mode accesses (CPL < 3; every access here is explicit):
//       - data reads from a user-mode address: allowed unless CR4.SMAP = 1 and EFLAGS.AC = 0;
//         from a supervisor-mode address: allowed;
//       - data writes: to a user-mode address, as for reads with SMAP, then (CR0.WP = 1) only if
//         writable; to a supervisor-mode address, if CR0.WP = 0 any, else only writable ones;
//       - instruction fetches: from a user-mode address not allowed if CR4.SMEP = 1; with
//         IA32_EFER.NXE = 1 not from an execute-disabled address.
//     User-mode accesses (CPL = 3): only user-mode addresses; writes only writable ones; fetches
//     (IA32_EFER.NXE = 1) not from an execute-disabled address.
//   §4.6.2 "Protection Keys": with CR4.PKE = 1 (and IA-32e mode, implied here), for a user-mode
//     address with key i (bits 62:59 of the entry that maps the page), PKRU.ADi = 1 disallows all data
//     accesses; PKRU.WDi = 1 disallows user-mode writes, and supervisor-mode writes when CR0.WP = 1.
//     Instruction fetches are not affected. Keys of paging-structure entries that do not map the
//     page are ignored.
//   §4.7 "Page-Fault Exceptions", error code: P = 0 for a not-present entry, 1 for a reserved-bit or
//     access-rights violation; W/R = 1 for a write; U/S = 1 for a user-mode access; RSVD = 1 for a
//     reserved bit; I/D = 1 for an instruction fetch when CR4.SMEP = 1 or IA32_EFER.NXE = 1; PK = 1
//     for "a data access to a user-mode address with protection key disallowed by the value of the
//     PKRU register" (the flag describes the key check alone, so it is set even when another access
//     right is also violated).
//   §4.8 "Accessed and Dirty Flags": on a successful access the processor sets A in every
//     paging-structure entry used and, for a write, D in the entry that maps the page. This model
//     sets nothing for an access that faults.

export interface OracleCpu {
  cr3: number;
  cr0Wp: boolean;
  nx: boolean; // IA32_EFER.NXE
  smep: boolean; // CR4.SMEP
  smap: boolean; // CR4.SMAP
  pke: boolean; // CR4.PKE
  pkru: number;
  ac: boolean; // EFLAGS.AC
  maxphyaddr: number;
}

export interface OracleAccess {
  write: boolean;
  user: boolean; // CPL = 3
  fetch: boolean;
}

export type OracleResult =
  | { ok: true; gpa: bigint; pageSize: bigint; setAD: Map<number, bigint> }
  | { ok: false; errorCode: number };

const A = 1n << 5n;
const D = 1n << 6n;

function bitsOf(v: bigint, hi: number, lo: number): bigint {
  return (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}
function range(hi: number, lo: number): bigint {
  return hi < lo ? 0n : ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}
function has(v: bigint, bit: number): boolean {
  return ((v >> BigInt(bit)) & 1n) === 1n;
}

type Kind = 'PML4E' | 'PDPTE' | 'PDE' | 'PTE';
const KINDS: readonly { kind: Kind; idxHi: number; idxLo: number }[] = [
  { kind: 'PML4E', idxHi: 47, idxLo: 39 },
  { kind: 'PDPTE', idxHi: 38, idxLo: 30 },
  { kind: 'PDE', idxHi: 29, idxLo: 21 },
  { kind: 'PTE', idxHi: 20, idxLo: 12 },
];

/** The reserved bits of an entry of this kind (PS as found in the entry). */
export function sdmReservedMask(kind: Kind, ps: boolean, maxphyaddr: number, nxe: boolean, kvm2011 = false): bigint {
  let m = range(51, maxphyaddr);
  if (!nxe) m |= 1n << 63n;
  if (kind === 'PML4E') m |= 1n << 7n;
  // Not the SDM: KVM's software walk of 3.0.1/3.1.10 (reset_rsvds_bits_mask) reserves `rsvd_bits(7, 8)`
  // in a PML4E and in a PDPTE that maps a table, where the CPU ignores bit 8.
  if (kvm2011 && (kind === 'PML4E' || (kind === 'PDPTE' && !ps))) m |= 1n << 8n;
  if (kind === 'PDPTE' && ps) m |= range(29, 13);
  if (kind === 'PDE' && ps) m |= range(20, 13);
  return m;
}

/** Translate `gva` (bits 47:0 used) for `access` under `cpu`; `tables` maps entry addresses to entries (absent = 0). */
export function sdmTranslate(tables: Map<number, bigint>, cpu: OracleCpu, gva: bigint, access: OracleAccess, kvm2011 = false): OracleResult {
  const M = cpu.maxphyaddr;
  const errorBase = (access.write ? 2 : 0) | (access.user ? 4 : 0) | (access.fetch && (cpu.nx || cpu.smep) ? 16 : 0);

  // Walk: collect the entries used, stop at not-present or reserved.
  const used: { addr: number; value: bigint }[] = [];
  let tableBase = BigInt(cpu.cr3) & range(M - 1, 12);
  let pageSize = 0n;
  let frameBase = 0n;
  for (const { kind, idxHi, idxLo } of KINDS) {
    const addr = tableBase + bitsOf(gva, idxHi, idxLo) * 8n;
    const value = tables.get(Number(addr)) ?? 0n;
    used.push({ addr: Number(addr), value });
    if (!has(value, 0)) return { ok: false, errorCode: errorBase };
    const ps = (kind === 'PDPTE' || kind === 'PDE') && has(value, 7);
    if ((value & sdmReservedMask(kind, ps, M, cpu.nx, kvm2011)) !== 0n) {
      return { ok: false, errorCode: errorBase | 1 | 8 };
    }
    if (kind === 'PTE' || ps) {
      const offsetBits = kind === 'PDPTE' ? 30 : kind === 'PDE' ? 21 : 12;
      pageSize = 1n << BigInt(offsetBits);
      frameBase = value & range(M - 1, offsetBits);
      break;
    }
    tableBase = value & range(M - 1, 12);
  }

  // Access rights of the translation (§4.6.1).
  const userAddress = used.every((e) => has(e.value, 2));
  const writable = used.every((e) => has(e.value, 1));
  const executeDisabled = cpu.nx && used.some((e) => has(e.value, 63));
  let allowed: boolean;
  if (!access.user) {
    if (access.fetch) {
      allowed = !(cpu.smep && userAddress) && !executeDisabled;
    } else {
      const smapBlocks = userAddress && cpu.smap && !cpu.ac;
      allowed = !smapBlocks && (!access.write || !cpu.cr0Wp || writable);
    }
  } else {
    allowed = userAddress && (!access.write || writable) && !(access.fetch && executeDisabled);
  }

  // Protection keys (§4.6.2): the key of the entry that maps the page.
  let keyDenies = false;
  if (cpu.pke && userAddress && !access.fetch) {
    const key = Number(bitsOf(used[used.length - 1]!.value, 62, 59));
    const ad = ((cpu.pkru >>> (2 * key)) & 1) === 1;
    const wd = ((cpu.pkru >>> (2 * key + 1)) & 1) === 1;
    keyDenies = ad || (wd && access.write && (access.user || cpu.cr0Wp));
  }

  if (!allowed || keyDenies) return { ok: false, errorCode: errorBase | 1 | (keyDenies ? 32 : 0) };

  // Success: A in every entry used, D in the entry mapping the page on a write (§4.8).
  const setAD = new Map<number, bigint>();
  used.forEach((e, i) => setAD.set(e.addr, A | (access.write && i === used.length - 1 ? D : 0n)));
  return { ok: true, gpa: frameBase | (gva & (pageSize - 1n)), pageSize, setAD };
}
