// Issue 14 item 13: Copy as Markdown keeps every cell in its row and every label text: a bare CR
// (which Markdown takes as a line end) forged rows, and raw HTML passed into the Markdown.

import { describe, expect, it } from 'vitest';
import { markdownCell, toMarkdown } from '../webview/table_text';

describe('Copy as Markdown', () => {
  it('turns every line break, a bare CR too, into a space', () => {
    expect(markdownCell('a\rb')).toBe('a b');
    expect(markdownCell('a\r\nb\nc')).toBe('a b c');
    expect(markdownCell('x\r|---|\r| forged | row')).toBe('x \\|---\\| \\| forged \\| row');
  });

  it('escapes HTML-significant characters, pipes and backslashes', () => {
    expect(markdownCell('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(markdownCell('a & b')).toBe('a &amp; b');
    expect(markdownCell('&lt;')).toBe('&amp;lt;');
    expect(markdownCell('a|b\\c')).toBe('a\\|b\\\\c');
  });

  it('a table with a hostile label has exactly its rows, each with its cells', () => {
    const md = toMarkdown(['label', 'n'], [['a\r| forged | 1 |\r<b>x</b>', 1], ['ok', 2]], [false, true]);
    const lines = md.split(/\r\n|\r|\n/).filter((l) => l !== '');
    expect(lines).toEqual(['| label | n |', '|---|---:|', '| a \\| forged \\| 1 \\| &lt;b&gt;x&lt;/b&gt; | 1 |', '| ok | 2 |']);
  });
});
