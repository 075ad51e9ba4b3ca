// Issue 14 item 16: the panel shows every explicit bidi control in scenario text as its code point.

import { describe, expect, it } from 'vitest';
import { showBidiControls } from '../webview/bidi';

describe('showBidiControls', () => {
  it('shows each explicit directional formatting character, and only those', () => {
    const controls = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    for (const c of controls) expect(showBidiControls(`a${String.fromCodePoint(c)}b`)).toBe(`a⟨U+${c.toString(16).toUpperCase().padStart(4, '0')}⟩b`);
    expect(showBidiControls('tps (-0.57 %) שלום ‌ – µs')).toBe('tps (-0.57 %) שלום ‌ – µs');
  });
});
