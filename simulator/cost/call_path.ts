// Where the cycles went, per call path: a preallocated call-path tree that every charge lands in, as a
// sampling profiler on the host would attribute it. The kernel paths call enter(vcpu, fn) / leave(vcpu)
// around the functions they model (fn: an id of simulator/kvm/kernel_functions.ts); charge() adds to
// the current node of that vCPU. No strings, objects or closures per event: typed arrays only.
//
// Bounds (docs/cost-model.md "Attribution"):
//  * at most CALL_PATH_CAPACITY nodes; an enter that would need a node beyond it stays on the current
//    node (the path folds into its parent) until the matching leave;
//  * per fault class, one self array over the same nodes; the class of an exit is known only when
//    it ends, so an exit's charges wait in a per-vCPU scratch of EXIT_SCRATCH (node, cycles) pairs and
//    are folded into the class arrays at exit end (a further distinct node adds to the last pair);
//  * per workload line, one self array over the nodes, allocated the first time the line charges.

import { FAULT_CLASSES } from '../kvm/fault_class';

export const CALL_PATH_CAPACITY = 1024;
export const EXIT_SCRATCH = 64;
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
  /** Self cycles per (class, node): class * CALL_PATH_CAPACITY + node. Exits only. */
  readonly byClass = new Float64Array((CLASS_NONE + 1) * CALL_PATH_CAPACITY);
  /** Per workload line, self cycles per node (allocated on the line's first charge). */
  byLine: (Float64Array | undefined)[] = [];
  nodes = 1;
  /** Per vCPU: the current node, enters not yet left, and how many of those were folded. */
  readonly cur: Int32Array;
  readonly depth: Int32Array;
  private readonly folded: Int32Array;
  /** Per vCPU: inside an exit (charges also go to the scratch), and the scratch itself. */
  private readonly inExit: Uint8Array;
  private readonly scratchNode: Int32Array;
  private readonly scratchCycles: Float64Array;
  private readonly scratchLen: Int32Array;
  private readonly saved: Int32Array;
  private readonly savedFolded: Int32Array;
  private readonly savedDepth: Int32Array;
  /** Leaves without an enter, and exits that ended off their base node: 0 in a correct model. */
  unbalanced = 0;

  constructor(vcpus: number) {
    this.fn[0] = -1;
    this.parent[0] = -1;
    this.cur = new Int32Array(vcpus);
    this.depth = new Int32Array(vcpus);
    this.folded = new Int32Array(vcpus);
    this.inExit = new Uint8Array(vcpus);
    this.scratchNode = new Int32Array(vcpus * EXIT_SCRATCH);
    this.scratchCycles = new Float64Array(vcpus * EXIT_SCRATCH);
    this.scratchLen = new Int32Array(vcpus);
    this.saved = new Int32Array(vcpus);
    this.savedFolded = new Int32Array(vcpus);
    this.savedDepth = new Int32Array(vcpus);
  }

  /** Size the per-line arrays for lines 0..lineEnd-1. */
  setLines(lineEnd: number): void {
    this.byLine = new Array<Float64Array | undefined>(lineEnd).fill(undefined);
  }

  enter(vcpu: number, fnId: number): void {
    this.depth[vcpu]!++;
    if (this.folded[vcpu]! > 0) {
      this.folded[vcpu]!++;
      return;
    }
    const p = this.cur[vcpu]!;
    let c = this.firstChild[p]!;
    while (c >= 0 && this.fn[c] !== fnId) c = this.nextSibling[c]!;
    if (c < 0) {
      if (this.nodes === CALL_PATH_CAPACITY) {
        this.folded[vcpu] = 1;
        return;
      }
      c = this.nodes++;
      this.fn[c] = fnId;
      this.parent[c] = p;
      this.nextSibling[c] = this.firstChild[p]!;
      this.firstChild[p] = c;
    }
    this.cur[vcpu] = c;
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

  /** Enter `fnId` as a child of the root, whatever the current path (the VMM's time during an exit
   *  is not under a kernel function); leaveRootFrame returns to the path. One at a time per vCPU. */
  enterRootFrame(vcpu: number, fnId: number): void {
    this.saved[vcpu] = this.cur[vcpu]!;
    this.savedFolded[vcpu] = this.folded[vcpu]!;
    this.savedDepth[vcpu] = this.depth[vcpu]!;
    this.cur[vcpu] = 0;
    this.folded[vcpu] = 0;
    this.depth[vcpu] = 0;
    this.enter(vcpu, fnId);
  }

  leaveRootFrame(vcpu: number): void {
    this.leave(vcpu);
    if (this.depth[vcpu] !== 0) this.unbalanced++;
    this.cur[vcpu] = this.saved[vcpu]!;
    this.folded[vcpu] = this.savedFolded[vcpu]!;
    this.depth[vcpu] = this.savedDepth[vcpu]!;
  }

  charge(vcpu: number, line: number, cycles: number): void {
    const node = this.cur[vcpu]!;
    this.self[node]! += cycles;
    if (line >= 0 && line < this.byLine.length) {
      let a = this.byLine[line];
      if (a === undefined) a = this.byLine[line] = new Float64Array(CALL_PATH_CAPACITY); // once per line
      a[node]! += cycles;
    }
    if (this.inExit[vcpu] === 0) return;
    const base = vcpu * EXIT_SCRATCH;
    const n = this.scratchLen[vcpu]!;
    for (let i = n - 1; i >= 0; i--) {
      if (this.scratchNode[base + i] === node) {
        this.scratchCycles[base + i]! += cycles;
        return;
      }
    }
    if (n === EXIT_SCRATCH) {
      this.scratchCycles[base + n - 1]! += cycles; // bound reached: the exit's last distinct node takes it
      return;
    }
    this.scratchNode[base + n] = node;
    this.scratchCycles[base + n] = cycles;
    this.scratchLen[vcpu] = n + 1;
  }

  /** An exit starts on `vcpu`: its charges are also kept until exitEnd gives their class. */
  exitBegin(vcpu: number): void {
    this.inExit[vcpu] = 1;
    this.scratchLen[vcpu] = 0;
  }

  /** The exit ended with fault class `cls` (-1: none). The stack must be back where it started. */
  exitEnd(vcpu: number, cls: number): void {
    const row = (cls < 0 ? CLASS_NONE : cls) * CALL_PATH_CAPACITY;
    const base = vcpu * EXIT_SCRATCH;
    for (let i = 0; i < this.scratchLen[vcpu]!; i++) this.byClass[row + this.scratchNode[base + i]!]! += this.scratchCycles[base + i]!;
    this.scratchLen[vcpu] = 0;
    this.inExit[vcpu] = 0;
    if (this.depth[vcpu] !== 0) this.unbalanced++;
  }

  reset(): void {
    this.self.fill(0);
    this.byClass.fill(0);
    for (const a of this.byLine) a?.fill(0);
    this.scratchLen.fill(0);
    this.inExit.fill(0);
  }
}
