// The bare baselines: what plain JavaScript over typed arrays does for the same work the simulator
// models, measured in the same process, so the simulator's rows can be read as ratios to them (the
// way /work/shared/reference/cost-anchors.md §7.2 measured them: a 4-level walk over Uint32Array
// tables, 512 entries per level, random VA over 256 MiB; a direct-mapped soft TLB with a tag compare).
// Each function runs `ops` operations and returns a checksum, so the loop cannot be optimised away.

const PAGES = 65536; // 256 MiB of 4K pages: the random VAs' range
const SAMPLE = 4096; // distinct random pages a run cycles through

/** A deterministic xorshift32, so every run walks the same pages. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
}

/**
 * Page tables in one Uint32Array: table t's entry i at t * 512 + i, an entry `frame << 12 | 1`
 * (present) with `frame` the next table's index (or, in a leaf, a frame number nothing reads).
 * `map(vpn, leaf)` builds the 4-level path of one page; returns the root table's index.
 */
class Tables {
  constructor(capacity) {
    this.mem = new Uint32Array(capacity * 512);
    this.count = 0;
    this.root = this.alloc();
  }
  alloc() {
    return this.count++;
  }
  map(vpn, leaf, tableAt = (t) => t) {
    let t = this.root;
    for (let shift = 27; shift > 0; shift -= 9) {
      const slot = tableAt(t) * 512 + ((vpn >>> shift) & 511);
      if ((this.mem[slot] & 1) === 0) this.mem[slot] = (this.alloc() << 12) | 1;
      t = this.mem[slot] >>> 12;
    }
    this.mem[tableAt(t) * 512 + (vpn & 511)] = (leaf << 12) | 1;
  }
}

/** 4-level walk of `vpn` in the tables at `mem` from `root`; -1 when an entry is not present. */
function walk(mem, root, vpn) {
  let t = root;
  for (let shift = 27; shift >= 0; shift -= 9) {
    const e = mem[t * 512 + ((vpn >>> shift) & 511)];
    if ((e & 1) === 0) return -1;
    t = e >>> 12;
  }
  return t;
}

function randomPages() {
  const next = rng(0x9e3779b9);
  const vpns = new Uint32Array(SAMPLE);
  for (let i = 0; i < SAMPLE; i++) vpns[i] = next() % PAGES;
  return vpns;
}

/** 1D: a guest (or shadow) 4-level walk, as a CPU does with shadow paging. */
export function walk1d() {
  const vpns = randomPages();
  const pt = new Tables(200);
  for (const v of vpns) pt.map(v, v + 1);
  const { mem, root } = pt;
  return (ops) => {
    let sum = 0;
    for (let i = 0; i < ops; i++) sum += walk(mem, root, vpns[i & (SAMPLE - 1)]);
    return sum;
  };
}

/**
 * 2D: the guest's 4-level walk with every guest-physical address it uses (the four tables' and the
 * final page's) translated by a 4-level EPT walk: 24 memory references, as the hardware does.
 * Guest tables live at guest frames 0.., guest data pages from frame 1024 up; the EPT maps every
 * guest frame, a guest table's to the host table that holds it.
 */
export function walk2d() {
  const vpns = randomPages();
  const guest = new Tables(200); // guest table t is at guest frame t
  for (const v of vpns) guest.map(v, 1024 + v);
  const ept = new Tables(400);
  const hostBase = 400; // host frame of guest table t: hostBase + t (in one shared array below)
  for (let t = 0; t < guest.count; t++) ept.map(t, hostBase + t);
  for (const v of vpns) ept.map(1024 + v, 500_000 + v);
  const mem = new Uint32Array((hostBase + guest.count) * 512);
  mem.set(ept.mem.subarray(0, ept.count * 512));
  mem.set(guest.mem.subarray(0, guest.count * 512), hostBase * 512);
  const eptRoot = ept.root;
  const gRoot = guest.root;
  return (ops) => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      const vpn = vpns[i & (SAMPLE - 1)];
      let gframe = gRoot;
      for (let shift = 27; shift >= 0; shift -= 9) {
        const hframe = walk(mem, eptRoot, gframe); // the guest table's guest-physical frame
        const e = mem[hframe * 512 + ((vpn >>> shift) & 511)];
        gframe = e >>> 12;
      }
      sum += walk(mem, eptRoot, gframe); // the data page's
    }
    return sum;
  };
}

/** A direct-mapped software TLB of 4096 entries (tag compare, then the frame): every lookup hits. */
export function softTlb() {
  const SETS = 4096;
  const tags = new Int32Array(SETS).fill(-1);
  const frames = new Uint32Array(SETS);
  const next = rng(0x51ed270b);
  const vpns = new Uint32Array(SETS);
  for (let i = 0; i < SETS; i++) {
    vpns[i] = ((next() & 15) << 12) | i; // one page per set, anywhere in the 256 MiB
    tags[i] = vpns[i];
    frames[i] = vpns[i] + 1;
  }
  for (let i = SETS - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = vpns[i];
    vpns[i] = vpns[j];
    vpns[j] = t;
  }
  return (ops) => {
    let sum = 0;
    for (let i = 0; i < ops; i++) {
      const vpn = vpns[i & (SETS - 1)];
      const set = vpn & (SETS - 1);
      sum += tags[set] === vpn ? frames[set] : -1;
    }
    return sum;
  };
}

/**
 * A memslot search that misses every slot (an MMIO address): the linear scan of 3.x's
 * __gfn_to_memslot over an array of slot objects (base_gfn, npages), as the simulator keeps them.
 */
export function memslotScan(slots) {
  const array = [];
  for (let i = 0; i < slots; i++) array.push({ base_gfn: 0x100000 + i * 512, npages: 1 });
  const gfn = 0xfebf0;
  return (ops) => {
    let found = 0;
    for (let i = 0; i < ops; i++) {
      for (let s = 0; s < array.length; s++) {
        const m = array[s];
        if (gfn >= m.base_gfn && gfn < m.base_gfn + m.npages) {
          found++;
          break;
        }
      }
    }
    return found - ops; // -ops: every search missed
  };
}
