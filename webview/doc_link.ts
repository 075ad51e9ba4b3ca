// A link to a reference document shipped in the package (shared/docs.ts). A webview cannot open a
// file itself: the link posts `openDoc` and the host opens the document in the Markdown preview.
// The click stops here, before the webview's own link handling would treat `#` as "scroll to top".

import { DOCS, type DocId } from '../shared/docs';
import { h } from './dom';
import { post } from './host';

export function docLink(doc: DocId, text: string = DOCS[doc].title): HTMLElement {
  const a = h('a', { class: 'doc-link', href: '#', 'data-doc': doc, title: `Open ${DOCS[doc].file} in the Markdown preview` }, text);
  a.addEventListener('click', (e) => {
    e.preventDefault();
    e.stopPropagation();
    post({ type: 'openDoc', doc });
  });
  return a;
}
