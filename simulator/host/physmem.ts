// Host physical memory: 4K frames allocated on demand from one growable arena, so that guest RAM,
// guest page tables (which live in guest RAM) and KVM's shadow pages are all real frames that the
// hardware model reads by host physical address. Frame contents start zeroed; a read of a frame
// nobody wrote returns 0. Memory grows only with frames actually used, never with run length.

import { grown } from '../util/grow';

const WORDS_PER_FRAME = 1024;
/** Host pfns start here so that pfn 0 (and a zero SPTE) never names a real frame. */
const FIRST_PFN = 0x100;
/** The most frames a first growth goes to at once (256 MiB of address space, touched only as used). */
export const RESERVE_MAX_FRAMES = 1 << 16;

export class HostMemory {
  /** The arena as 32-bit words (frame i at words [i*1024, i*1024+1024)) and as bytes. */
  words: Uint32Array;
  bytes: Uint8Array;
  private capacity: number;
  /** Frames the VM can come to use (0: not known): the first growth goes straight there. */
  private expected = 0;
  private used = 0;
  private freeStack: Int32Array;
  private freeTop = 0;
  /** 1 while a frame is allocated; a freed frame is 0 (the lockless-walk invariant checks this). */
  private live: Uint8Array;
  allocated = 0;
  /** Scratch output of read64 (avoids returning an object on the hot path). */
  lo = 0;
  hi = 0;
  /** Frames a memoized walk read (1 = watched): a fast path replays the walk while `writeGen` has not
   *  moved, and every store, allocation or free of a watched frame moves it (docs/decisions.md
   *  "Memoized walks"). No frame is watched with fast paths off, so the check never fires there. */
  private watched: Uint8Array;
  writeGen = 0;

  constructor(
    readonly maxphyaddr: number,
    initialFrames = 64,
  ) {
    this.capacity = initialFrames;
    this.words = new Uint32Array(initialFrames * WORDS_PER_FRAME);
    this.bytes = new Uint8Array(this.words.buffer);
    this.freeStack = new Int32Array(initialFrames);
    this.live = new Uint8Array(initialFrames);
    this.watched = new Uint8Array(initialFrames);
  }

  /** A memoized walk read frame `pfn`: from now on a change to it moves writeGen. */
  watch(pfn: number): void {
    this.watched[pfn - FIRST_PFN] = 1;
  }

  /** The arena's size in frames, used or not. */
  get capacityFrames(): number {
    return this.capacity;
  }

  /** The VM can come to use `frames` frames: when the arena must grow, it grows to that many (at
   *  most RESERVE_MAX_FRAMES) at once instead of doubling, so a run that touches them all copies
   *  the arena once, not at every doubling. A run that stays in the first frames never allocates
   *  them, and an allocation's pages are touched only as frames are used. */
  expect(frames: number): void {
    this.expected = Math.min(frames, RESERVE_MAX_FRAMES);
  }

  /** Allocate a zeroed frame; returns its host pfn. */
  allocFrame(): number {
    let idx: number;
    if (this.freeTop > 0) {
      idx = this.freeStack[--this.freeTop]!;
      if (this.watched[idx] !== 0) this.writeGen++;
      this.words.fill(0, idx * WORDS_PER_FRAME, (idx + 1) * WORDS_PER_FRAME);
    } else {
      if (this.used === this.capacity) this.grow();
      idx = this.used++;
    }
    const pfn = idx + FIRST_PFN;
    if ((pfn + 1) * 4096 > 2 ** this.maxphyaddr) throw new Error(`host memory exhausted below maxphyaddr ${this.maxphyaddr}`);
    this.live[idx] = 1;
    this.allocated++;
    return pfn;
  }

  freeFrame(pfn: number): void {
    const idx = pfn - FIRST_PFN;
    if (this.live[idx] !== 1) throw new Error(`double free of host pfn 0x${pfn.toString(16)}`);
    if (this.watched[idx] !== 0) this.writeGen++;
    this.live[idx] = 0;
    this.allocated--;
    this.freeStack[this.freeTop++] = idx;
  }

  isLive(pfn: number): boolean {
    return this.live[pfn - FIRST_PFN] === 1;
  }

  /** Word index of the 64-bit entry `index` (0..511) of frame `pfn`: lo at w, hi at w+1. */
  entryWord(pfn: number, index: number): number {
    return (pfn - FIRST_PFN) * WORDS_PER_FRAME + index * 2;
  }

  /** The frame holding word `w` (the inverse of entryWord). */
  pfnOfWord(w: number): number {
    return Math.floor(w / WORDS_PER_FRAME) + FIRST_PFN;
  }

  /** Byte offset of host physical address pfn:offset in the arena. */
  byteOffset(pfn: number, offset: number): number {
    return (pfn - FIRST_PFN) * 4096 + offset;
  }

  /** Read `size` (1, 2, 4, 8) little-endian bytes at pfn:offset into this.lo / this.hi. */
  read(pfn: number, offset: number, size: number): void {
    const b = this.bytes;
    let at = this.byteOffset(pfn, offset);
    if (size === 8 && (offset & 7) === 0) {
      const w = at >>> 2;
      this.lo = this.words[w]!;
      this.hi = this.words[w + 1]!;
      return;
    }
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < size; i++, at++) {
      if (i < 4) lo |= b[at]! << (8 * i);
      else hi |= b[at]! << (8 * (i - 4));
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  write(pfn: number, offset: number, size: number, lo: number, hi: number): void {
    if (this.watched[pfn - FIRST_PFN] !== 0) this.writeGen++;
    const b = this.bytes;
    let at = this.byteOffset(pfn, offset);
    if (size === 8 && (offset & 7) === 0) {
      const w = at >>> 2;
      this.words[w] = lo;
      this.words[w + 1] = hi;
      return;
    }
    for (let i = 0; i < size; i++, at++) b[at] = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
  }

  /** Store the 64-bit entry at word index `w` (entryWord): every SPTE store goes through here or write(). */
  store(w: number, lo: number, hi: number): void {
    if (this.watched[(w >>> 10)] !== 0) this.writeGen++;
    this.words[w] = lo;
    this.words[w + 1] = hi;
  }

  private grow(): void {
    const cap = Math.max(this.capacity * 2, this.expected);
    this.words = grown(this.words, cap * WORDS_PER_FRAME);
    this.bytes = new Uint8Array(this.words.buffer);
    this.freeStack = grown(this.freeStack, cap);
    this.live = grown(this.live, cap);
    this.watched = grown(this.watched, cap);
    this.capacity = cap;
  }

}
