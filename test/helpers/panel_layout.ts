// What breaks the panel's layout, checked inside the panel's own document (passed to Playwright's
// evaluate, so each function is self-contained): for the webview tests (test/webview/) and the
// end-to-end tests in a real workbench (test/e2e/).

/** Everything in the shown view that breaks the layout at this width, described for the failure
 *  message: the page or (unless allowed) an element inside it scrolling sideways, a data-table
 *  header or cell cut short or past the right edge, an event-list cell cut short without its text
 *  as tooltip. */
export function layoutProblems({ view, sidewaysAllowedInside }: { view: string; sidewaysAllowedInside: boolean }): string[] {
  const out: string[] = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) out.push(`the page scrolls sideways (${doc.scrollWidth} > ${doc.clientWidth})`);
  const panel = document.querySelector(`vscode-tab-panel[data-view="${view}"]`);
  if (!panel) return [...out, `no view ${view}`];
  const shown = (el: Element) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const where = (el: Element) => {
    const table = el.closest('[data-table]')?.getAttribute('data-table');
    const cls = typeof el.className === 'string' && el.className ? `.${el.className.split(' ').join('.')}` : '';
    return `${table ? `[data-table=${table}] ` : ''}${el.tagName.toLowerCase()}${cls} "${(el.textContent ?? '').trim().slice(0, 48)}"`;
  };
  for (const el of panel.querySelectorAll('*')) {
    if (sidewaysAllowedInside || !shown(el)) continue;
    const ox = getComputedStyle(el).overflowX;
    if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1) out.push(`scrolls sideways: ${where(el)} (${el.scrollWidth} > ${el.clientWidth})`);
  }
  // Data tables wrap or drop columns: a cell is never cut short.
  for (const cell of panel.querySelectorAll('vscode-table-cell, vscode-table-header-cell')) {
    if (!shown(cell) || (cell.textContent ?? '').trim() === '') continue;
    // The cell's text is slotted into the wrapper of its shadow tree, which clips it.
    for (const box of [cell, cell.shadowRoot?.querySelector('.wrapper')]) {
      if (box && box.scrollWidth > box.clientWidth + 1) out.push(`cut short: ${where(cell)} (${box.scrollWidth} > ${box.clientWidth})`);
    }
    const r = cell.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1 && !sidewaysAllowedInside) out.push(`out of view: ${where(cell)} (right edge ${Math.round(r.right)} > ${doc.clientWidth})`);
  }
  // The timeline's rows have a fixed height: a cell may be cut short if its tooltip has the full text.
  for (const cell of panel.querySelectorAll('.tl-row .tl-cell')) {
    const text = (cell.textContent ?? '').trim();
    if (!shown(cell) || text === '' || cell.scrollWidth <= cell.clientWidth + 1) continue;
    if (cell.getAttribute('title') !== text && cell.getAttribute('aria-label') !== text) out.push(`cut short without its full text: ${where(cell)} (${cell.scrollWidth} > ${cell.clientWidth})`);
  }
  return out;
}

/** The Compare view's variants that lack a visible column (in each side-by-side table that has
 *  variant columns) or a visible row (in the variants table), inside the panel's width. */
export function hiddenVariants(labels: readonly string[]): string[] {
  const out: string[] = [];
  const width = document.documentElement.clientWidth;
  const visible = (el: Element) => {
    const r = el.getBoundingClientRect();
    return el.getClientRects().length > 0 && r.width > 0 && r.left >= -0.5 && r.right <= width + 0.5;
  };
  const view = document.querySelector('vscode-tab-panel[data-view="compare"]');
  if (!view) return ['no Compare view'];
  for (const table of view.querySelectorAll('[data-table]')) {
    const id = table.getAttribute('data-table');
    const heads = [...table.querySelectorAll('vscode-table-header-cell')];
    if (id === 'compare') {
      const firsts = [...table.querySelectorAll('vscode-table-body vscode-table-row')].map((tr) => tr.querySelector('vscode-table-cell')!);
      for (const l of labels) if (!firsts.some((c) => (c.textContent ?? '').trim() === l && visible(c))) out.push(`${id}: no visible row for ${l}`);
      continue;
    }
    if (!heads.some((hc) => labels.includes((hc.textContent ?? '').trim()))) continue;
    for (const l of labels) if (!heads.some((hc) => (hc.textContent ?? '').trim() === l && visible(hc))) out.push(`${id}: the column of ${l} is not in view`);
  }
  return out;
}
