// Numbers as people read them, the same in the panel and in the editor's after-line text.

/** 1,234,567 */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 4.2 Mcycles */
export function fmtCycles(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} Gcycles`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)} Mcycles`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)} kcycles`;
  return `${Math.round(n)} cycles`;
}

/** +2.25 % */
export function fmtPct(n: number, digits = 2): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(digits)} %`;
}
