// Where the cycles went, per call path: a preallocated call-path tree that every charge lands in, as a
// sampling profiler on the host would attribute it. The kernel paths call enter(vcpu, fn) / leave(vcpu)
// around the functions they model (fn: an id of simulator/kvm/kernel_functions.ts); charge() adds to
// the current node of that vCPU. No strings, objects or closures per event: typed arrays only.
//
// Bounds (docs/cost-model.md "Attribution"):
//  * at most CALL_PATH_CAPACITY nodes; an enter that would need a node beyond it stays on the current
//    node (the path folds into its parent) until the matching leave;
//  * per fault class, one self array over the same nodes; the class of an exit is known only when
//    it ends, so an exit's charges wait in a per-vCPU array over the nodes, with the list of nodes
//    it touched, and are folded into the run, class and line arrays at exit end;
//  * per workload line, one self array over the nodes, allocated the first time the line charges.

import { FAULT_CLASSES } from '../kvm/fault_class';
import { FRAME_NAMES } from '../kvm/kernel_functions';

/** Function ids are below this (kvm/kernel_functions.ts F). */
const FRAME_COUNT = FRAME_NAMES.length;

export const CALL_PATH_CAPACITY = 1024;
/** The class index of an exit that gets no fault class (a CR3 load, an INVLPG). */
export const CLASS_NONE = FAULT_CLASSES.length;
/** The by_class key of such exits. */
export const CLASS_NONE_NAME = 'no-fault';

export class CallPath {
  readonly fn = new Int32Array(CALL_PATH_CAPACITY);
  readonly parent = new Int32Array(CALL_PATH_CAPACITY);
  readonly firstChild = new Int32Array(CALL_PATH_CAPACITY).fill(-1);
  readonly nextSibling = new Int32Array(CALL_PATH_CAPACITY).fill(-1);
  readonly self = new Float64Array(CALL_PATH_CAPACITY);
  /** The child of each (node, function): [node * FRAME_COUNT + fn], -1 for none yet (one read per lookup). */
  private readonly childOf = new Int32Array(CALL_PATH_CAPACITY * FRAME_COUNT).fill(-1);
  /** Self cycles per (class, node): class * CALL_PATH_CAPACITY + node. Exits only. */
  readonly byClass = new Float64Array((CLASS_NONE + 1) * CALL_PATH_CAPACITY);
  /** Per workload line, self cycles per node (allocated on the line's first charge). */
  byLine: (Float64Array | undefined)[] = [];
  nodes = 1;
  /** Per vCPU: the current node, enters not yet left, and how many of those were folded. */
  readonly cur: Int32Array;
  readonly depth: Int32Array;
  private readonly folded: Int32Array;
  /** Per vCPU: inside an exit (its charges wait in exitSelf for the exit's class), the cycles per
   *  node of the exit so far ([vcpu * CALL_PATH_CAPACITY + node]), and the nodes it touched. */
  private readonly inExit: Uint8Array;
  private readonly exitSelf: Float64Array;
  private readonly touched: Int32Array;
  private readonly touchedLen: Int32Array;
  /** The most distinct nodes one exit charged. */
  maxExitPairs = 0;
  /** Leaves without an enter, and exits that ended off their base node: 0 in a correct model. */
  unbalanced = 0;

  constructor(vcpus: number) {
    this.fn[0] = -1;
    this.parent[0] = -1;
    this.cur = new Int32Array(vcpus);
    this.depth = new Int32Array(vcpus);
    this.folded = new Int32Array(vcpus);
    this.inExit = new Uint8Array(vcpus);
    this.exitSelf = new Float64Array(vcpus * CALL_PATH_CAPACITY);
    this.touched = new Int32Array(vcpus * CALL_PATH_CAPACITY);
    this.touchedLen = new Int32Array(vcpus);
  }

  /** Size the per-line arrays for lines 0..lineEnd-1. */
  setLines(lineEnd: number): void {
    this.byLine = new Array<Float64Array | undefined>(lineEnd).fill(undefined);
  }

  /** The child of `p` for `fnId`, created on first use; `p` itself when the tree is full. */
  child(p: number, fnId: number): number {
    const k = p * FRAME_COUNT + fnId;
    let c = this.childOf[k]!;
    if (c >= 0) return c;
    if (this.nodes === CALL_PATH_CAPACITY) return p;
    c = this.nodes++;
    this.fn[c] = fnId;
    this.parent[c] = p;
    this.nextSibling[c] = this.firstChild[p]!;
    this.firstChild[p] = c;
    this.childOf[k] = c;
    return c;
  }

  /** The node a leaf function `fnId` called now would charge: one call instead of enter, charge,
   *  leave, for functions that call nothing modelled (the current node while folded). */
  at(vcpu: number, fnId: number): number {
    const p = this.cur[vcpu]!;
    return this.folded[vcpu]! > 0 ? p : this.child(p, fnId);
  }

  /** The same for a leaf `b` called by `a` (gfn_to_memslot -> __gfn_to_memslot). */
  at2(vcpu: number, a: number, b: number): number {
    const p = this.cur[vcpu]!;
    if (this.folded[vcpu]! > 0) return p;
    const c = this.child(p, a);
    return c === p ? p : this.child(c, b);
  }

  /** A frame directly under the root, whatever the current path (the VMM's time during an exit). */
  rootFrame(fnId: number): number {
    return this.child(0, fnId);
  }

  enter(vcpu: number, fnId: number): void {
    this.depth[vcpu]!++;
    if (this.folded[vcpu]! > 0) {
      this.folded[vcpu]!++;
      return;
    }
    const p = this.cur[vcpu]!;
    const c = this.child(p, fnId);
    if (c === p) this.folded[vcpu] = 1;
    else this.cur[vcpu] = c;
  }

  leave(vcpu: number): void {
    if (this.depth[vcpu] === 0) {
      this.unbalanced++;
      return;
    }
    this.depth[vcpu]!--;
    if (this.folded[vcpu]! > 0) this.folded[vcpu]!--;
    else this.cur[vcpu] = this.parent[this.cur[vcpu]!]!;
  }

  charge(vcpu: number, line: number, cycles: number): void {
    this.chargeNode(vcpu, line, this.cur[vcpu]!, cycles);
  }

  chargeNode(vcpu: number, line: number, node: number, cycles: number): void {
    if (this.inExit[vcpu] !== 0) {
      if (cycles === 0) return; // (a zero charge must not list its node twice)
      const k = vcpu * CALL_PATH_CAPACITY + node;
      const v = this.exitSelf[k]!;
      if (v === 0) this.touched[vcpu * CALL_PATH_CAPACITY + this.touchedLen[vcpu]!++] = node;
      this.exitSelf[k] = v + cycles;
      return;
    }
    this.self[node]! += cycles;
    const a = this.lineArray(line);
    if (a !== null) a[node]! += cycles;
  }

  /** The per-node array of workload line `line` (null outside 0..lineEnd-1); allocated once per line. */
  private lineArray(line: number): Float64Array | null {
    if (line < 0 || line >= this.byLine.length) return null;
    let a = this.byLine[line];
    if (a === undefined) a = this.byLine[line] = new Float64Array(CALL_PATH_CAPACITY);
    return a;
  }

  /** An exit starts on `vcpu`: its charges are also kept until exitEnd gives their class. */
  exitBegin(vcpu: number): void {
    this.inExit[vcpu] = 1;
  }

  /** The exit, on workload line `line`, ended with fault class `cls` (-1: none): its cycles per node go
   *  to the run, the class and the line. The stack must be back where it started. */
  exitEnd(vcpu: number, cls: number, line: number): void {
    const row = (cls < 0 ? CLASS_NONE : cls) * CALL_PATH_CAPACITY;
    const at = vcpu * CALL_PATH_CAPACITY;
    const lineSelf = this.lineArray(line);
    const n = this.touchedLen[vcpu]!;
    if (n > this.maxExitPairs) this.maxExitPairs = n;
    for (let i = 0; i < n; i++) {
      const node = this.touched[at + i]!;
      const cycles = this.exitSelf[at + node]!;
      this.exitSelf[at + node] = 0;
      this.self[node]! += cycles;
      this.byClass[row + node]! += cycles;
      if (lineSelf !== null) lineSelf[node]! += cycles;
    }
    this.touchedLen[vcpu] = 0;
    this.inExit[vcpu] = 0;
    if (this.depth[vcpu] !== 0) this.unbalanced++;
  }

  reset(): void {
    this.self.fill(0);
    this.byClass.fill(0);
    for (const a of this.byLine) a?.fill(0);
    this.exitSelf.fill(0);
    this.touchedLen.fill(0);
    this.inExit.fill(0);
  }
}
