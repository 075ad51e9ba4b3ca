// Building DOM nodes. Everything from a scenario or a report is set as text (textContent or a text
// node), never parsed as markup: a scenario named "<img onerror=...>" shows those characters. Text
// and tooltips show bidi controls as their code points (webview/bidi.ts).

import { showBidiControls } from './bidi';

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** An element with attributes (false/null/undefined leave one out; true sets it empty) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs?: Attrs | null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element (charts). */
export function svg(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Attributes a reader sees (tooltips, screen-reader labels); data-* keep the text as it is. */
const SHOWN_ATTRS = new Set(['title', 'aria-label']);

export function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) el.removeAttribute(k);
    else el.setAttribute(k, v === true ? '' : SHOWN_ATTRS.has(k) ? showBidiControls(String(v)) : String(v));
  }
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(showBidiControls(String(c))) : c);
  }
}

/** Replace an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A codicon (from @vscode/codicons' stylesheet, loaded by the panel's HTML). */
export function icon(name: string, label?: string): HTMLElement {
  return h('vscode-icon', { name, label: label ?? null, 'aria-hidden': label ? null : 'true' });
}

/** Text that may wrap after each underscore (handle_mmio_page_fault_common, bypass_guest_pf) and,
 *  in a number too wide for its column, between digit groups (5,846,/837,874): text nodes with a
 *  <wbr> at each place (`wbr.digits` between digit groups). The text is unchanged but for bidi controls. */
export function wrappable(raw: string): Node {
  const text = showBidiControls(raw);
  const f = document.createDocumentFragment();
  let at = 0;
  for (const m of text.matchAll(/_|(?<=\d),(?=\d)/g)) {
    const end = m.index + 1;
    f.append(text.slice(at, end), h('wbr', { class: m[0] === ',' ? 'digits' : null }));
    at = end;
  }
  f.append(text.slice(at));
  return f;
}
