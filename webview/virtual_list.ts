// A virtualized listbox: a scroll container whose spacer has the height of every row, and only the
// rows in view (plus an overscan) as DOM nodes. Rows have one fixed height, so the rows in view are
// arithmetic on scrollTop and nothing is measured; the row elements are made once and refilled
// (renderRow) as they scroll out at one end and back in at the other, so a 100,000-item list costs what a 40-item one does.
//
// The list owns the selection cursor (an index): arrows, PageUp/PageDown, Home/End move it, Enter
// or a click activates it. The caller maps indices to its items and renders them.

import { h } from './dom';

export interface VirtualListOptions {
  /** Pixels; must match the row's CSS height (the --row-height custom property is set from it). */
  rowHeight: number;
  /** Rows rendered above and below the viewport. */
  overscan?: number;
  /** Attributes of the scroll container (data-testid, aria-label, ...). */
  attrs?: Record<string, string>;
  /** Make one empty row element; called only when the pool grows. */
  createRow(): HTMLElement;
  /** Fill a pooled row element with item `index` (the element may have shown another item before). */
  renderRow(row: HTMLElement, index: number, selected: boolean): void;
  /** The cursor moved to `index` (keyboard, click or Enter); `activated` for click and Enter. */
  onSelect(index: number, activated: boolean): void;
}

/** Viewport height assumed while the list is hidden (its tab not shown): rows exist in the DOM anyway. */
const HIDDEN_VIEWPORT = 600;

export class VirtualList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  /** Holds the rendered rows in order; translated to the first rendered row's offset. */
  private readonly window: HTMLElement;
  /** The rendered rows, in DOM (and visual) order: items first, first + 1, ... */
  private readonly rows: { el: HTMLElement; index: number; version: number }[] = [];
  /** Rows out of the DOM since the view shrank, kept for when it grows again. */
  private readonly spare: { el: HTMLElement; index: number; version: number }[] = [];
  private readonly idPrefix: string;
  private readonly overscan: number;
  private count = 0;
  private first = 0;
  /** Bumped by refresh(): a row rendered at an older version is refilled even if its index matches. */
  private version = 0;
  private frame = 0;
  private viewport = 0;
  /** A scroll request made while hidden, applied once the list has a size. */
  private pendingScroll: { index: number; center: boolean } | null = null;
  /** The cursor: the selected index, or -1. */
  selected = -1;

  constructor(private readonly o: VirtualListOptions) {
    this.overscan = o.overscan ?? 8;
    this.spacer = h('div', { class: 'vlist-spacer' });
    this.window = h('div', { class: 'vlist-window', role: 'presentation' });
    this.element = h('div', { class: 'vlist', role: 'listbox', tabindex: 0, ...o.attrs }, this.spacer, this.window);
    this.element.style.setProperty('--row-height', `${o.rowHeight}px`);
    this.idPrefix = `${o.attrs?.['data-testid'] ?? 'vlist'}-row`;
    this.element.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('[data-index]');
      if (row && this.window.contains(row)) this.select(Number(row.dataset.index), true);
    });
    // The viewport's height is read here (and on scroll), never in between writes.
    new ResizeObserver(() => {
      this.viewport = this.element.clientHeight;
      if (this.viewport > 0 && this.pendingScroll !== null) {
        const { index, center } = this.pendingScroll;
        this.pendingScroll = null;
        this.scrollToIndex(index, center);
      }
      this.schedule();
    }).observe(this.element);
  }

  get length(): number {
    return this.count;
  }

  /** New items (count may change); the cursor is reset to `selected`. */
  setCount(count: number, selected = -1): void {
    this.count = count;
    this.selected = selected < count ? selected : -1;
    this.spacer.style.height = `${count * this.o.rowHeight}px`;
    this.refresh();
  }

  /** Re-render the rows in view now (the items changed, or how they look). */
  refresh(): void {
    this.version++;
    this.render();
  }

  /** Indices of the rows entirely or partly in the viewport: [first, end). */
  visibleRange(): [number, number] {
    const rh = this.o.rowHeight;
    const top = this.element.scrollTop;
    const height = this.viewport || HIDDEN_VIEWPORT;
    return [Math.min(this.count, Math.floor(top / rh)), Math.min(this.count, Math.ceil((top + height) / rh))];
  }

  /** Scroll so that `index` is in view (least movement), or centred when `center`. */
  scrollToIndex(index: number, center = false): void {
    if (index < 0 || index >= this.count) return;
    if (this.viewport === 0) {
      this.pendingScroll = { index, center };
      return;
    }
    const rh = this.o.rowHeight;
    const top = this.element.scrollTop;
    const rowTop = index * rh;
    let next = top;
    if (center) next = rowTop - (this.viewport - rh) / 2;
    else if (rowTop < top) next = rowTop;
    else if (rowTop + rh > top + this.viewport) next = rowTop + rh - this.viewport;
    if (next !== top) this.element.scrollTop = Math.max(0, next);
    this.render();
  }

  /** Move the cursor (and tell the owner). */
  select(index: number, activated: boolean): void {
    if (this.count === 0) return;
    const i = Math.max(0, Math.min(this.count - 1, index));
    const prev = this.selected;
    this.selected = i;
    this.o.onSelect(i, activated);
    // Only the rows losing and gaining the selection are refilled.
    for (const row of this.rows) if (row.index === prev || row.index === i) row.version = -1;
    this.scrollToIndex(i);
    if (this.viewport === 0) this.render(); // scrollToIndex only deferred the scroll
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const rh = this.o.rowHeight;
    const [vFirst, vEnd] = this.visibleRange();
    const first = Math.max(0, vFirst - this.overscan);
    const n = Math.max(0, Math.min(this.count, vEnd + this.overscan) - first);
    const rows = this.rows;
    // Scrolling by a few rows moves the rows that left the view to the other end, so the rows still
    // in view keep their content (no new text to lay out) and DOM order stays the visual order.
    const delta = first - this.first;
    if (delta > 0 && delta < rows.length) {
      const moved = rows.splice(0, delta);
      for (const r of moved) this.window.appendChild(r.el);
      rows.push(...moved);
    } else if (delta < 0 && -delta < rows.length) {
      const moved = rows.splice(rows.length + delta, -delta);
      for (let k = moved.length - 1; k >= 0; k--) this.window.insertBefore(moved[k]!.el, this.window.firstChild);
      rows.unshift(...moved);
    }
    while (rows.length < n) {
      const row = this.spare.pop() ?? { el: this.o.createRow(), index: -1, version: -1 };
      row.el.setAttribute('role', 'option');
      this.window.appendChild(row.el);
      rows.push(row);
    }
    while (rows.length > n) {
      const row = rows.pop()!;
      row.el.remove();
      this.spare.push(row);
    }
    if (first !== this.first || n === 0) this.window.style.transform = `translateY(${first * rh}px)`;
    this.first = first;
    let active: string | null = null;
    for (let k = 0; k < n; k++) {
      const row = rows[k]!;
      const index = first + k;
      if (row.index !== index || row.version !== this.version) {
        row.index = index;
        row.version = this.version;
        row.el.dataset.index = String(index);
        row.el.id = `${this.idPrefix}-${index}`;
        this.o.renderRow(row.el, index, index === this.selected);
      }
      if (index === this.selected) active = row.el.id;
    }
    if (active) this.element.setAttribute('aria-activedescendant', active);
    else this.element.removeAttribute('aria-activedescendant');
  }

  private onKey(e: KeyboardEvent): void {
    if (this.count === 0) return;
    const page = Math.max(1, Math.floor((this.viewport || HIDDEN_VIEWPORT) / this.o.rowHeight) - 1);
    const at = this.selected < 0 ? this.visibleRange()[0] - 1 : this.selected;
    let next: number;
    switch (e.key) {
      case 'ArrowDown':
        next = at + 1;
        break;
      case 'ArrowUp':
        next = this.selected < 0 ? this.visibleRange()[0] : at - 1;
        break;
      case 'PageDown':
        next = at + page;
        break;
      case 'PageUp':
        next = at - page;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = this.count - 1;
        break;
      case 'Enter':
        if (this.selected >= 0) this.select(this.selected, true);
        e.preventDefault();
        return;
      default:
        return;
    }
    e.preventDefault();
    this.select(next, false);
  }
}
