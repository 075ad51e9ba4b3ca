// Where the cycles went, per call path: a preallocated call-path tree that every charge lands in, as a
// sampling profiler on the host would attribute it, when the run asks for it (RunOptions.callPaths;
// otherwise every cursor method returns at once). The kernel paths call enter(fn) / leave() on the
// vCPU's cursor around the functions they model (fn: an id of simulator/kvm/kernel_functions.ts).
// No strings, objects or closures per event: typed arrays and numbers only.
//
// A charge costs the attribution nothing: the cycles a vCPU's clock gained since its cursor's `mark`
// belong to the cursor's current node, and are added to it at the next enter, leave or exit end (the
// node cannot change in between). Charges to a leaf node (at, at2, rootFrame) go there at once and
// move the mark with the clock; a clock that jumps by time waited, not charged, moves it too (skip).
//
// Bounds (docs/cost-model.md "Attribution"):
//  * at most CALL_PATH_CAPACITY nodes; an enter that would need a node beyond it stays on the current
//    node (the path folds into its parent) until the matching leave;
//  * per fault class, one self array over the same nodes; the class of an exit is known only when
//    it ends, so an exit's charges wait in its cursor's array over the nodes, with the list of nodes
//    it touched, and are folded into the class and line arrays at exit end; the run's self array
//    is the class arrays plus the charges outside exits, summed when the graph is built;
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

/** The tree, shared by the vCPUs, and the cycles per node. */
export class CallPath {
  readonly fn: Int32Array;
  readonly parent: Int32Array;
  readonly firstChild: Int32Array;
  readonly nextSibling: Int32Array;
  /** The child of each (node, function): [node * FRAME_COUNT + fn], -1 for none yet (one read per lookup). */
  private readonly childOf: Int32Array;
  /** Self cycles per node charged outside exits (guest time, the VMM's memslot updates). */
  readonly outside: Float64Array;
  /** Self cycles per (class, node): class * CALL_PATH_CAPACITY + node. Exits only. */
  readonly byClass: Float64Array;
  /** Per workload line, self cycles per node (allocated on the line's first charge). */
  byLine: (Float64Array | undefined)[] = [];
  nodes = 1;
  /** The most distinct nodes one exit charged. */
  maxExitPairs = 0;
  /** Leaves without an enter, and exits that ended off their base node: 0 in a correct model. */
  unbalanced = 0;
  private readonly cursors: CallCursor[] = [];

  /** `on` false: a run that does not attribute (RunOptions.callPaths); nothing is allocated and
   *  every cursor method returns at once. */
  constructor(readonly on = true) {
    const cap = on ? CALL_PATH_CAPACITY : 1;
    this.fn = new Int32Array(cap);
    this.parent = new Int32Array(cap);
    this.firstChild = new Int32Array(cap).fill(-1);
    this.nextSibling = new Int32Array(cap).fill(-1);
    this.childOf = new Int32Array(on ? CALL_PATH_CAPACITY * FRAME_COUNT : 0).fill(-1);
    this.outside = new Float64Array(cap);
    this.byClass = new Float64Array(on ? (CLASS_NONE + 1) * CALL_PATH_CAPACITY : 0);
    this.fn[0] = -1;
    this.parent[0] = -1;
  }

  /** The cursor of a vCPU (its clock and line place its charges). */
  cursor(owner: CursorOwner): CallCursor {
    const c = new CallCursor(this, owner);
    this.cursors.push(c);
    return c;
  }

  /** Size the per-line arrays for lines 0..lineEnd-1. */
  setLines(lineEnd: number): void {
    if (this.on) this.byLine = new Array<Float64Array | undefined>(lineEnd).fill(undefined);
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

  /** A frame directly under the root, whatever the current path (the VMM's time during an exit). */
  rootFrame(fnId: number): number {
    return this.on ? this.child(0, fnId) : 0;
  }

  /** The per-node array of workload line `line` (null outside 0..lineEnd-1); allocated once per line. */
  lineArray(line: number): Float64Array | null {
    if (line < 0 || line >= this.byLine.length) return null;
    let a = this.byLine[line];
    if (a === undefined) a = this.byLine[line] = new Float64Array(CALL_PATH_CAPACITY);
    return a;
  }

  /** Every cursor's cycles since its mark go to its current node (before the arrays are read). */
  flushAll(): void {
    for (const c of this.cursors) c.flush();
  }

  /** Self cycles per node over the whole run: outside exits plus every class. */
  self(): Float64Array {
    const out = this.outside.slice();
    for (let c = 0; c <= CLASS_NONE; c++) for (let i = 0; i < this.nodes; i++) out[i]! += this.byClass[c * CALL_PATH_CAPACITY + i]!;
    return out;
  }

  /** Forget the cycles (the tree stays); every cursor's mark moves to its clock. */
  reset(): void {
    this.outside.fill(0);
    this.byClass.fill(0);
    for (const a of this.byLine) a?.fill(0);
    for (const c of this.cursors) c.reset();
  }
}

/** What a cursor reads of its vCPU. */
export interface CursorOwner {
  readonly clock: number;
  readonly line: number;
}

/** One vCPU's place in the tree: plain fields, so that enter and leave are a few loads and stores. */
export class CallCursor {
  /** The current node, enters not yet left, and how many of those were folded. */
  cur = 0;
  depth = 0;
  private folded = 0;
  /** The owner's clock when its cycles were last placed: the cycles since belong to `cur`. */
  private mark = 0;
  /** Inside an exit: its charges wait in exitSelf (per node) for the exit's class. */
  private inExit = false;
  private readonly exitSelf: Float64Array;
  private readonly touched: Int32Array;
  private touchedLen = 0;
  /** The tree attributes (CallPath.on): every method returns at once when not. */
  private readonly on: boolean;

  constructor(
    private readonly tree: CallPath,
    private readonly owner: CursorOwner,
  ) {
    this.on = tree.on;
    this.exitSelf = new Float64Array(tree.on ? CALL_PATH_CAPACITY : 0);
    this.touched = new Int32Array(tree.on ? CALL_PATH_CAPACITY : 0);
  }

  /** The node a leaf function `fnId` called now would charge: one call instead of enter, charge,
   *  leave, for functions that call nothing modelled (the current node while folded). */
  at(fnId: number): number {
    if (!this.on) return 0;
    return this.folded > 0 ? this.cur : this.tree.child(this.cur, fnId);
  }

  /** The same for a leaf `b` called by `a` (gfn_to_memslot -> __gfn_to_memslot). */
  at2(a: number, b: number): number {
    if (!this.on) return 0;
    const p = this.cur;
    if (this.folded > 0) return p;
    const c = this.tree.child(p, a);
    return c === p ? p : this.tree.child(c, b);
  }

  enter(fnId: number): void {
    if (!this.on) return;
    this.flush();
    this.depth++;
    if (this.folded > 0) {
      this.folded++;
      return;
    }
    const p = this.cur;
    const c = this.tree.child(p, fnId);
    if (c === p) this.folded = 1;
    else this.cur = c;
  }

  leave(): void {
    if (!this.on) return;
    this.flush();
    if (this.depth === 0) {
      this.tree.unbalanced++;
      return;
    }
    this.depth--;
    if (this.folded > 0) this.folded--;
    else this.cur = this.tree.parent[this.cur]!;
  }

  /** `cycles` about to be charged to the owner go to `node` (CallPath leaf nodes), not to `cur`. */
  leaf(node: number, cycles: number): void {
    if (!this.on) return;
    this.mark += cycles;
    this.add(node, cycles);
  }

  /** The owner's clock is about to jump by `cycles` it waited, which no node is charged. */
  skip(cycles: number): void {
    this.mark += cycles; // (harmless when off)
  }

  /** The cycles since the mark go to the current node. */
  flush(): void {
    if (!this.on) return;
    const now = this.owner.clock;
    const cycles = now - this.mark;
    if (cycles === 0) return;
    this.mark = now;
    this.add(this.cur, cycles);
  }

  private add(node: number, cycles: number): void {
    if (this.inExit) {
      if (cycles === 0) return; // (a zero charge must not list its node twice)
      const v = this.exitSelf[node]!;
      if (v === 0) this.touched[this.touchedLen++] = node;
      this.exitSelf[node] = v + cycles;
      return;
    }
    const tree = this.tree;
    tree.outside[node]! += cycles;
    const a = tree.lineArray(this.owner.line);
    if (a !== null) a[node]! += cycles;
  }

  /** An exit starts: its charges are also kept until exitEnd gives their class. */
  exitBegin(): void {
    if (!this.on) return;
    this.flush();
    this.inExit = true;
  }

  /** The exit, on workload line `line`, ended with fault class `cls` (-1: none): its cycles per node go
   *  to the class and the line. The stack must be back where it started. */
  exitEnd(cls: number, line: number): void {
    if (!this.on) return;
    this.flush();
    const tree = this.tree;
    const row = (cls < 0 ? CLASS_NONE : cls) * CALL_PATH_CAPACITY;
    const lineSelf = tree.lineArray(line);
    const n = this.touchedLen;
    if (n > tree.maxExitPairs) tree.maxExitPairs = n;
    const exitSelf = this.exitSelf;
    for (let i = 0; i < n; i++) {
      const node = this.touched[i]!;
      const cycles = exitSelf[node]!;
      exitSelf[node] = 0;
      tree.byClass[row + node]! += cycles;
      if (lineSelf !== null) lineSelf[node]! += cycles;
    }
    this.touchedLen = 0;
    this.inExit = false;
    if (this.depth !== 0) tree.unbalanced++;
  }

  /** Counters were reset and the owner's clock set to 0. */
  reset(): void {
    this.mark = 0;
    this.exitSelf.fill(0); // (empty when off)
    this.touchedLen = 0;
    this.inExit = false;
  }
}
