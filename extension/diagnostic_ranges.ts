// Positions from the simulator (1-based lines and columns, end column exclusive) as the editor's
// 0-based ranges, and the text of failed expectations. No vscode import: unit-tested directly.

import type { Diagnostic, ExpectResult } from '../simulator/index';

/** A 0-based range, end column exclusive (vscode.Range's convention). */
export interface Range0 {
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
}

/**
 * The editor range of a simulator diagnostic. An empty range (a GuestSetupError has a position
 * only) is widened to the rest of its line, so that the squiggle is visible.
 */
export function diagnosticRange(d: Pick<Diagnostic, 'line' | 'col' | 'endLine' | 'endCol'>, lineText: (line0: number) => string | undefined): Range0 {
  const startLine = Math.max(0, d.line - 1);
  const startCol = Math.max(0, d.col - 1);
  let endLine = Math.max(startLine, d.endLine - 1);
  let endCol = endLine === startLine ? Math.max(startCol, d.endCol - 1) : Math.max(0, d.endCol - 1);
  if (endLine === startLine && endCol === startCol) {
    const text = lineText(startLine);
    if (text !== undefined) {
      const end = text.trimEnd().length;
      if (end > startCol) endCol = end;
    }
    endLine = startLine;
  }
  return { startLine, startCol, endLine, endCol };
}

/** The range of an expectation's key (`exits.EPT_MISCONFIG`, quoted or not) on its line. */
export function expectRange(e: Pick<ExpectResult, 'line' | 'col' | 'path'>, lineText: (line0: number) => string | undefined): Range0 {
  const line = Math.max(0, e.line - 1);
  const start = Math.max(0, e.col - 1);
  const text = lineText(line) ?? '';
  const quote = text[start];
  let end = start + e.path.length;
  if (quote === '"' || quote === "'") {
    const close = text.indexOf(quote, start + 1);
    end = close > start ? close + 1 : end + 2;
  }
  return { startLine: line, startCol: start, endLine: line, endCol: end };
}

/** `exits.EPT_MISCONFIG: expected == 999, got 1000`. */
export function expectMessage(e: Pick<ExpectResult, 'path' | 'expected' | 'actual'>): string {
  const got = e.actual === null ? 'nothing (the report has no such value)' : String(e.actual);
  return `${e.path}: expected ${e.expected}, got ${got}`;
}
